//! Project chores that cargo alone does not express. Run `cargo xtask --help`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on stdout and stderr"
)]

mod bench;
mod ci;
mod citus;
mod db;
mod test_image;
mod tidy;

use clap::{Parser, Subcommand};

/// The URL used when neither `--database-url` nor `DATABASE_URL` is given: the local
/// PostgreSQL server of the project's machines.
pub(crate) const LOCAL_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Parser)]
#[command(about = "stockdb project chores")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run migrations against DATABASE_URL.
    Migrate {
        /// The database to migrate.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
        #[command(subcommand)]
        command: migration::MigrateCommand,
    },
    /// Manage the local development server and test databases.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Measure the write and read paths against their baselines: runs the `bench` crate in
    /// release (in the dev profile with --quick, which only checks that every path runs).
    /// Arguments after `bench` are the benchmark's (`cargo xtask bench --help`).
    Bench {
        /// The benchmark's arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the PostgreSQL image the tests run containers of (no registry needed).
    TestImage(test_image::TestImageArgs),
    /// Install Citus into the machine's PostgreSQL 15 when missing (from
    /// ../shared/vendor/citus; root): the Citus tests need it.
    Citus,
    /// What CI runs: make sure PostgreSQL is up, then fmt, clippy and the test suite, the
    /// quick benchmark and the demo; then the suite again against test containers.
    Ci,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx::postgres::notice=warn".into()),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Migrate {
            database_url,
            command,
        } => runtime.block_on(async {
            command
                .run(database_url.as_deref(), &mut std::io::stdout())
                .await
                .map_err(anyhow::Error::from)
        }),
        Command::Db { command } => runtime.block_on(command.run()),
        Command::Bench { args } => bench::run(&args),
        Command::TestImage(args) => test_image::run(&args),
        Command::Citus => citus::ensure(),
        Command::Ci => ci::run(&runtime),
    }
}
