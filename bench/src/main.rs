//! The stockdb benchmark (`cargo xtask bench` runs it in release): the write and read
//! paths measured side by side with raw `COPY`, the naive SeaORM path and the same SQL on
//! a bare connection, on the same generated data, in one run.
//!
//! Every figure is a ratio against a baseline measured in the same run, on a fresh
//! database that is dropped at the end. The rooms: `writes` (each table's write paths),
//! `reads` (the read paths), `report` (results, ratios, targets and their printing),
//! `copy` (the `COPY` baselines) and `stats` (timings and memory).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on stdout and logs progress on stderr"
)]

mod copy;
mod reads;
mod report;
mod stats;
mod writes;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use shared_db::{Db, DbConfig, url_with_database};
use sqlx::{Connection as _, PgConnection};

use self::stats::{Timing, timed};

/// The local PostgreSQL server of the project's machines, used when neither
/// `TEST_DATABASE_URL` nor `DATABASE_URL` is set.
const LOCAL_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The benchmark's options.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench",
    about = "stockdb's write and read paths against their baselines"
)]
struct BenchArgs {
    /// `stock_daily` rows (stocks × 200 trading days); default 1,000,000 (50,000 with --quick).
    #[arg(long)]
    rows: Option<usize>,
    /// `stock_finance` rows (stocks × 4 quarters); default 20,000 (2,000 with --quick).
    #[arg(long)]
    finance_rows: Option<usize>,
    /// Repetitions of each write measurement (default 3; 1 with --quick).
    #[arg(long)]
    repeat: Option<usize>,
    /// Calls per read path (default 500; 50 with --quick).
    #[arg(long)]
    calls: Option<usize>,
    /// A small, fast run (CI keeps the benchmark from rotting with it).
    #[arg(long)]
    quick: bool,
    /// Also write every figure and ratio as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

/// Trading days per stock in the generated data.
pub(crate) const DAYS: usize = 200;
/// Quarterly reports per stock.
pub(crate) const QUARTERS: u32 = 4;
/// The seed of every generated value.
pub(crate) const SEED: u64 = 20_241_124;

/// How much work the run does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) stocks: usize,
    pub(crate) finance_stocks: usize,
    pub(crate) repeat: usize,
    pub(crate) calls: usize,
}

impl Settings {
    fn new(args: &BenchArgs) -> Self {
        let quick = args.quick;
        let rows = args.rows.unwrap_or(if quick { 50_000 } else { 1_000_000 });
        let finance_rows = args
            .finance_rows
            .unwrap_or(if quick { 2_000 } else { 20_000 });
        Self {
            stocks: (rows / DAYS).max(1),
            finance_stocks: (finance_rows / QUARTERS as usize).max(1),
            repeat: args.repeat.unwrap_or(if quick { 1 } else { 3 }).max(1),
            calls: args.calls.unwrap_or(if quick { 50 } else { 500 }).max(1),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = BenchArgs::parse();
    if cfg!(debug_assertions) {
        println!("note: a debug build; its figures only show that every path runs");
    }
    let settings = Settings::new(&args);
    let runtime = tokio::runtime::Runtime::new()?;
    let server = ["TEST_DATABASE_URL", "DATABASE_URL"]
        .into_iter()
        .find_map(|key| std::env::var(key).ok().filter(|url| !url.is_empty()))
        .unwrap_or_else(|| LOCAL_SERVER_URL.to_owned());
    let name = format!("stockdb_bench_{}", std::process::id());
    let url = url_with_database(&server, &name)?;
    runtime
        .block_on(admin(&server, &format!(r#"CREATE DATABASE "{name}""#)))
        .with_context(|| {
            format!(
                "creating the benchmark's database on {}",
                shared_db::redact_url(&server)
            )
        })?;
    let result = runtime.block_on(async {
        let runner = migration::MigrationRunner::connect(&url).await?;
        runner.up(None).await?;
        runner.close().await?;
        let db = Db::connect(
            &DbConfig::new(&url)
                .with_max_connections(4)
                .with_application_name("stockdb-bench"),
        )
        .await?;
        let report = Bench {
            db: db.clone(),
            settings,
        }
        .run()
        .await;
        db.close().await;
        report
    });
    runtime.block_on(admin(
        &server,
        &format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
    ))?;
    let mut report = result?;
    report.command = std::env::args().collect::<Vec<_>>().join(" ");
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

async fn admin(server: &str, sql: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(server).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// The benchmark's database and settings, and the helpers every suite uses.
pub(crate) struct Bench {
    pub(crate) db: Db,
    pub(crate) settings: Settings,
}

impl Bench {
    /// Runs `sql` (fixture set-up and housekeeping, not a measured path).
    pub(crate) async fn sql(&self, sql: &str) -> anyhow::Result<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Empties `table` and flushes dirty pages, so every "new rows" run starts alike.
    pub(crate) async fn reset(&self, table: &str) -> anyhow::Result<()> {
        self.sql(&format!("TRUNCATE {table}")).await?;
        self.sql("CHECKPOINT").await
    }

    /// Clears the dead rows an earlier update run left and flushes dirty pages, so every
    /// "all conflicts" run starts alike (as every "new rows" run starts from `reset`).
    pub(crate) async fn settle(&self, table: &str) -> anyhow::Result<()> {
        self.sql(&format!("VACUUM {table}")).await?;
        self.sql("CHECKPOINT").await
    }

    /// Runs `prepare` (untimed) then `work` (timed), `repeat` times.
    pub(crate) async fn measure(
        &self,
        label: &str,
        rows: usize,
        prepare: impl AsyncFn(usize) -> anyhow::Result<()>,
        work: impl AsyncFn(usize) -> anyhow::Result<()>,
    ) -> anyhow::Result<Timing> {
        let mut runs = Vec::new();
        for run in 0..self.settings.repeat {
            prepare(run).await?;
            let (elapsed, ()) = timed(async || work(run).await).await?;
            eprintln!("  {label}: run {} {:.2} s", run + 1, elapsed.as_secs_f64());
            runs.push(elapsed);
        }
        Ok(Timing::new(rows as u64, &runs))
    }

    async fn run(&self) -> anyhow::Result<report::Report> {
        let data = writes::Data::generate(self.settings);
        let (daily, memory) = self.daily_writes(&data).await?;
        let finance = self.finance_writes(&data).await?;
        self.fill_for_reads(&data).await?;
        let reads = self.reads(&data).await?;
        Ok(report::Report::new(&data, daily, finance, memory, reads))
    }
}
