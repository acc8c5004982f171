//! The `stockdb` commands: arguments, where the database is, and dispatch.

mod demo;
mod import;
mod output;
mod queries;

use std::path::PathBuf;

use anyhow::Context as _;
use app::Stockdb;
use app::embedded::{ClusterState, EmbeddedCluster};
use app::llm_platform::SecretCipher;
use clap::{Parser, Subcommand};
use shared_db::{Db, DbConfig, redact_url};

/// stockdb: the persistence layer of the A-share research assistant, from the command line.
///
/// Without DATABASE_URL (or --database-url), stockdb runs its own PostgreSQL cluster in
/// --data-dir, with the server binaries installed on this machine, started on demand.
#[derive(Debug, Parser)]
#[command(name = "stockdb", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The database; without it, the embedded cluster in --data-dir is used.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Where the embedded cluster lives [default: $STOCKDB_DATA_DIR, /var/lib/stockdb as
    /// root, else ~/.local/share/stockdb].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of tables (queries).
    #[arg(long, global = true)]
    json: bool,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a realistic sample (stocks, daily bars, finance, research traces) through the
    /// import paths, then show a tour of the queries. Start here.
    Demo(demo::DemoArgs),
    /// Manage the embedded PostgreSQL cluster.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Run migrations (the same engine as `cargo xtask migrate`).
    Migrate {
        #[command(subcommand)]
        command: migration::MigrateCommand,
    },
    /// Import a Tushare-format CSV file as a resumable sync task.
    Import(import::ImportArgs),
    /// Stock list queries.
    Stock {
        #[command(subcommand)]
        command: queries::StockCommand,
    },
    /// Daily bars of one stock.
    Daily(queries::DailyArgs),
    /// Financial indicators of one stock.
    Finance(queries::FinanceArgs),
    /// Sync tasks and failures.
    Sync {
        #[command(subcommand)]
        command: queries::SyncCommand,
    },
    /// Research sessions and their traces.
    Sessions {
        #[command(subcommand)]
        command: queries::SessionsCommand,
    },
    /// Audit statistics of LLM and external API calls.
    Audit {
        #[command(subcommand)]
        command: queries::AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Initialize (first time) and start the embedded cluster.
    Start,
    /// Stop the embedded cluster.
    Stop,
    /// Show the embedded cluster's state and where it lives.
    Status,
    /// Print the database URL stockdb uses (starting the embedded cluster if needed).
    Url,
}

/// Logs go to stderr; `RUST_LOG` overrides `-v`.
pub(crate) fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,sqlx=warn",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}

/// Runs the command.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    let target = Target {
        database_url: cli.database_url.clone(),
        data_dir: cli.data_dir.clone(),
    };
    let json = cli.json;
    match cli.command {
        Command::Db { command } => db_command(&target, command, json).await,
        Command::Migrate { command } => {
            let url = if command.needs_database() {
                Some(target.url().await?)
            } else {
                None
            };
            command.run(url.as_deref(), &mut std::io::stdout()).await?;
            Ok(())
        }
        Command::Demo(args) => demo::run(&target, &args, json).await,
        Command::Import(args) => import::run(&target.open().await?, &args, json).await,
        Command::Stock { command } => queries::stock(&target.open().await?, command, json).await,
        Command::Daily(args) => queries::daily(&target.open().await?, &args, json).await,
        Command::Finance(args) => queries::finance(&target.open().await?, &args, json).await,
        Command::Sync { command } => queries::sync(&target.open().await?, command, json).await,
        Command::Sessions { command } => {
            queries::sessions(&target.open().await?, command, json).await
        }
        Command::Audit { command } => queries::audit(&target.open().await?, command, json).await,
    }
}

/// Where the database is: a URL, or the embedded cluster.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
}

impl Target {
    fn cluster(&self) -> anyhow::Result<EmbeddedCluster> {
        let dir = self
            .data_dir
            .clone()
            .unwrap_or_else(EmbeddedCluster::default_data_dir);
        Ok(EmbeddedCluster::new(dir)?)
    }

    /// True when stockdb manages the database itself.
    pub(crate) fn is_embedded(&self) -> bool {
        self.database_url.is_none()
    }

    /// The database URL, starting (and migrating) the embedded cluster when that is the
    /// target.
    pub(crate) async fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                let cluster = self.cluster()?;
                let url = cluster.ensure_started().await.with_context(|| {
                    format!(
                        "starting the embedded cluster in {}",
                        cluster.data_dir().display()
                    )
                })?;
                // The embedded database is stockdb's own: keep it at the latest schema.
                let runner = migration::MigrationRunner::connect(&url).await?;
                let applied = runner.up(None).await;
                runner.close().await?;
                applied?;
                Ok(url)
            }
        }
    }

    /// Connects, with `STOCKDB_SECRET_KEY` for LLM API keys when it is set.
    pub(crate) async fn open(&self) -> anyhow::Result<Stockdb> {
        let url = self.url().await?;
        let config = DbConfig::new(&url).with_application_name("stockdb-cli");
        let db = Db::connect(&config)
            .await
            .with_context(|| format!("connecting to {}", redact_url(&url)))?;
        Ok(Stockdb::from_db(db, SecretCipher::from_env()?))
    }
}

async fn db_command(target: &Target, command: DbCommand, json: bool) -> anyhow::Result<()> {
    if let (DbCommand::Url, Some(url)) = (&command, &target.database_url) {
        println!("{}", redact_url(url));
        return Ok(());
    }
    anyhow::ensure!(
        target.is_embedded() || matches!(command, DbCommand::Url),
        "`stockdb db {}` manages the embedded cluster; DATABASE_URL is set, so it is not in use",
        format!("{command:?}").to_lowercase()
    );
    let cluster = target.cluster()?;
    match command {
        DbCommand::Start => {
            target.url().await?;
            println!(
                "embedded cluster running in {}",
                cluster.data_dir().display()
            );
        }
        DbCommand::Stop => {
            cluster.stop()?;
            println!(
                "embedded cluster stopped ({})",
                cluster.data_dir().display()
            );
        }
        DbCommand::Status => {
            let state = match cluster.state() {
                ClusterState::Uninitialized => "not initialized",
                ClusterState::Stopped => "stopped",
                ClusterState::Running => "running",
            };
            if json {
                output::print_json(&serde_json::json!({
                    "state": state,
                    "data_dir": cluster.data_dir(),
                    "url": cluster.url(),
                    "log": cluster.log_file(),
                }))?;
            } else {
                println!(
                    "state:    {state}\ndata dir: {}\nurl:      {}\nlog:      {}",
                    cluster.data_dir().display(),
                    cluster.url(),
                    cluster.log_file().display()
                );
            }
        }
        DbCommand::Url => println!("{}", target.url().await?),
    }
    Ok(())
}
