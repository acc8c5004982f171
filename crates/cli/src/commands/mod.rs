//! The `stockdb` commands: arguments, dispatch and the process's exit status.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on stdout and stderr"
)]

mod args;
mod boards;
mod budget;
mod calls;
mod concepts;
mod db;
mod demo;
mod demo_boards;
mod import;
mod llm;
mod market;
mod output;
mod retention;
mod scheduler;
mod scores;
mod structure;
mod sync;
mod target;
mod traces;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::target::Target;

/// stockdb: the persistence layer of the A-share research assistant, from the command line.
///
/// Without DATABASE_URL (or --database-url), stockdb runs its own PostgreSQL cluster in
/// --data-dir, with the server binaries installed on this machine, started on demand.
#[derive(Debug, Parser)]
#[command(name = "stockdb", version, propagate_version = true)]
struct Cli {
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
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a realistic sample (stocks, daily bars, finance, research traces) through the
    /// import paths, then show a tour of the queries. Start here.
    Demo(demo::DemoArgs),
    /// Manage the embedded PostgreSQL cluster; check any database's health.
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
        command: market::StockCommand,
    },
    /// Daily bars of one stock, as stored or adjusted for splits and dividends.
    Daily(market::DailyArgs),
    /// Financial indicators of one stock, or of the market, as stored or as known on a day.
    Finance(market::FinanceArgs),
    /// The trading calendar: whether a day is open, the trading days around it or in a
    /// range.
    Calendar(structure::CalendarArgs),
    /// One stock on one day as known that day: open, listed, halted, limit prices, name
    /// (ST) and whether it could trade.
    Status(structure::StatusArgs),
    /// Each open day of one stock in a range: traded, halted, not synced or not listed.
    Days(structure::DaysArgs),
    /// An index's members on a day as known then, or their stretches in it.
    Universe(structure::UniverseArgs),
    /// One stock's dividend plans and share changes.
    Dividends(structure::DividendsArgs),
    /// Data-quality checks (exit 1 when one finds a problem).
    Check {
        #[command(subcommand)]
        command: structure::CheckCommand,
    },
    /// LLM configurations: list, set (key from stdin or the environment), activate,
    /// deactivate, delete, reencrypt.
    Llm {
        #[command(subcommand)]
        command: llm::LlmCommand,
    },
    /// A day's limit-up pool: the stocks that closed at their limit-up price, most
    /// consecutive boards first (or the broken-board pool, or yesterday's limit-ups today).
    LimitUp(boards::LimitUpArgs),
    /// A day's dragon-tiger list (龙虎榜): listings by reason, most net buying first.
    DragonTiger(boards::DayArgs),
    /// A day's sector fund flows, most net inflow first.
    SectorFlow(boards::SectorFlowArgs),
    /// Concept heat and limit-up stocks with their boards (the earlier service's daily
    /// report): read them, or compute a day's.
    Insight {
        #[command(subcommand)]
        command: boards::InsightCommand,
    },
    /// Concept boards: all of them, one board's stocks, or the boards a stock is in.
    Concepts(concepts::ConceptsArgs),
    /// The scheduler's jobs and their runs (shared with the earlier service).
    Scheduler {
        #[command(subcommand)]
        command: scheduler::SchedulerCommand,
    },
    /// Sync tasks and failures.
    Sync {
        #[command(subcommand)]
        command: sync::SyncCommand,
    },
    /// Research sessions and their traces.
    Sessions {
        #[command(subcommand)]
        command: traces::SessionsCommand,
    },
    /// Audit statistics of LLM and external API calls.
    Audit {
        #[command(subcommand)]
        command: traces::AuditCommand,
    },
    /// Retention of the audit logs: drop old monthly partitions, blank old text.
    Retention {
        #[command(subcommand)]
        command: retention::RetentionCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Initialize (first time) and start the embedded cluster.
    Start,
    /// Stop the embedded cluster.
    Stop,
    /// Show the embedded cluster's state and where it lives.
    Status,
    /// Print the database URL stockdb uses (starting the embedded cluster if needed).
    Url,
    /// Whether the database (DATABASE_URL or the embedded cluster) is reachable, at the
    /// schema version this build expects and matching its golden print, and how busy the
    /// pool is. Exits 1 when unhealthy; starts, migrates and changes nothing.
    Health,
    /// `stock_daily`'s yearly partitions: maintenance (run it daily from a scheduler),
    /// then where they stand. Splits the partition the conversion to schema version 14
    /// made into years, makes this year's and next year's, moves the bars the default
    /// partition caught into their years, packs closed years at fill factor 100. Online;
    /// a run killed half way is finished by the next.
    Partitions {
        /// Show the partitions only; change nothing.
        #[arg(long)]
        status: bool,
    },
    /// On a Citus coordinator: distribute `stock_daily` and `stock_finance` by stock
    /// (co-located) and copy `stock_info` to every node, online, table by table; what is
    /// done already is skipped. Lists the plan and asks first unless --yes.
    Distribute {
        /// Show the workers and the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

/// Parses the arguments, runs the command on a multi-threaded runtime and maps the
/// outcome to the exit status.
pub(crate) fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let args = Cli::parse();
    init_logging(args.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        // Whoever read the output went away: nothing to say, and nobody to say it to.
        Err(err) if is_broken_pipe(&err) => ExitCode::from(BROKEN_PIPE_STATUS),
        Err(err) => {
            // Errors quote input (file names, values, what the database said): their
            // control characters are shown escaped, their line breaks kept.
            eprintln!("error: {}", output::clean_lines(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Whether `err` is a write of the report to a closed pipe. (Only that: a database
/// connection cut by the server fails with a broken pipe too, and that is an error.)
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<migration::MigrateError>(),
            Some(migration::MigrateError::Output(io)) if io.kind() == std::io::ErrorKind::BrokenPipe
        )
    })
}

/// Status of a process whose output pipe was closed (128 + SIGPIPE), as shells report it
/// for tools killed by the signal.
const BROKEN_PIPE_STATUS: u8 = 141;

/// Ends the process quietly, with [`BROKEN_PIPE_STATUS`], when whoever reads stdout has
/// gone away (`stockdb daily … | head`), as other Unix tools do. Rust ignores SIGPIPE, so
/// `println!` (or `eprintln!`, when stderr goes to the same pipe) panics on the closed pipe
/// instead: this hook turns that one panic into the quiet exit and leaves every other panic
/// to the default hook.
fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let printing = message.starts_with("failed printing to stdout")
            || message.starts_with("failed printing to stderr");
        if printing && message.contains("Broken pipe") {
            std::process::exit(i32::from(BROKEN_PIPE_STATUS));
        }
        default(info);
    }));
}

/// Logs go to stderr; `RUST_LOG` overrides `-v`.
fn init_logging(verbose: u8) {
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
async fn run(cli: Cli) -> anyhow::Result<()> {
    let target = Target::new(cli.database_url.clone(), cli.data_dir.clone());
    let json = cli.json;
    match cli.command {
        Command::Db { command } => db::run(&target, command, json).await,
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
        Command::Stock { command } => market::stock(&target.open().await?, command, json).await,
        Command::Daily(args) => market::daily(&target.open().await?, &args, json).await,
        Command::Finance(args) => market::finance(&target.open().await?, &args, json).await,
        Command::Calendar(args) => structure::calendar(&target.open().await?, &args, json).await,
        Command::Status(args) => structure::status(&target.open().await?, &args, json).await,
        Command::Days(args) => structure::days(&target.open().await?, &args, json).await,
        Command::Universe(args) => structure::universe(&target.open().await?, &args, json).await,
        Command::Dividends(args) => structure::dividends(&target.open().await?, &args, json).await,
        Command::Check { command } => structure::check(&target.open().await?, command, json).await,
        Command::Sync { command } => sync::run(&target.open().await?, command, json).await,
        Command::LimitUp(args) => boards::limit_up(&target.open().await?, &args, json).await,
        Command::DragonTiger(args) => {
            boards::dragon_tiger(&target.open().await?, &args, json).await
        }
        Command::SectorFlow(args) => boards::sector_flow(&target.open().await?, &args, json).await,
        Command::Insight { command } => boards::insight(&target.open().await?, command, json).await,
        Command::Concepts(args) => concepts::run(&target.open().await?, &args, json).await,
        Command::Scheduler { command } => {
            scheduler::run(&target.open().await?, command, json).await
        }
        // A new key needs no database: nothing is started or connected.
        Command::Llm {
            command: llm::LlmCommand::Keygen,
        } => llm::keygen(json),
        Command::Llm { command } => llm::run(&target.open().await?, command, json).await,
        Command::Sessions { command } => {
            traces::sessions(&target.open().await?, command, json).await
        }
        Command::Audit { command } => traces::audit(&target.open().await?, command, json).await,
        Command::Retention { command } => {
            retention::run(&target.open().await?, command, json).await
        }
    }
}
