//! `cargo xtask bench`: the write and read paths of stockdb measured side by side with
//! raw `COPY` and the naive SeaORM path, on the same generated data, in one run.
//!
//! Every figure is a ratio against a baseline measured in the same run, on a fresh
//! database that is dropped at the end.

mod copy;
mod stats;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::NaiveDate;
use data_engineering::baseline::{
    insert_many_dailies, insert_many_finance, max_rows_per_statement,
};
use data_engineering::{
    PgStockDailyRepository, PgStockFinanceRepository, PgStockRepository, StockDaily,
    StockDailyRepository, StockFinance, StockFinanceRepository, StockRepository, ThirdCode,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use shared_db::{Db, DbConfig};
use sqlx::{Connection as _, PgConnection};

use self::copy::{binary_payload, copy_in, daily_fields, finance_fields, text_payload};
use self::stats::{Latency, PeakRss, Timing, rss_bytes, timed};

/// `cargo xtask bench` options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BenchArgs {
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

const DAYS: usize = 200;
const QUARTERS: u32 = 4;
const SEED: u64 = 20_241_124;
/// Research sessions the `list_sessions` path reads from.
const SESSIONS: usize = 100_000;
/// Unrecorded calls before each read path, so connection set-up and first-time statement
/// preparation are not counted.
const WARM_UP: usize = 10;

#[derive(Debug, Serialize)]
struct Report {
    command: String,
    machine: BTreeMap<&'static str, String>,
    rows: BTreeMap<&'static str, u64>,
    writes: BTreeMap<&'static str, Timing>,
    naive_finance_1000_row_batches: String,
    reads: BTreeMap<&'static str, ReadPath>,
    memory: Memory,
    ratios: BTreeMap<&'static str, f64>,
    targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
struct ReadPath {
    repository: Latency,
    floor: Latency,
    p99_over_floor: f64,
}

#[derive(Debug, Serialize)]
struct Memory {
    rows: u64,
    rss_before_mib: f64,
    peak_rss_mib: f64,
    peak_increase_mib: f64,
}

#[derive(Debug, Serialize)]
struct Target {
    what: String,
    measured: f64,
    goal: String,
    met: bool,
}

pub(crate) fn run(args: &BenchArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let quick = args.quick;
    if cfg!(debug_assertions) && !quick {
        // Figures of an unoptimised build say nothing: measure the release build.
        println!("re-running in the release profile");
        let status = std::process::Command::new(
            std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()),
        )
        .args(["run", "--quiet", "--release", "--package", "xtask", "--"])
        .args(std::env::args().skip(1))
        .status()
        .context("running the release build")?;
        anyhow::ensure!(status.success(), "the release benchmark failed ({status})");
        return Ok(());
    }
    if cfg!(debug_assertions) {
        println!("note: a debug build (--quick); its figures only show that every path runs");
    }
    let rows = args.rows.unwrap_or(if quick { 50_000 } else { 1_000_000 });
    let finance_rows = args
        .finance_rows
        .unwrap_or(if quick { 2_000 } else { 20_000 });
    let settings = Settings {
        stocks: (rows / DAYS).max(1),
        finance_stocks: (finance_rows / QUARTERS as usize).max(1),
        repeat: args.repeat.unwrap_or(if quick { 1 } else { 3 }).max(1),
        calls: args.calls.unwrap_or(if quick { 50 } else { 500 }).max(1),
    };
    let server = crate::db::server_url();
    runtime.block_on(crate::db::ensure_server(&server))?;
    let name = format!("stockdb_bench_{}", std::process::id());
    let url = test_support::with_database(&server, &name);
    runtime.block_on(admin(&server, &format!(r#"CREATE DATABASE "{name}""#)))?;
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
    print_report(&report);
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

#[derive(Debug, Clone, Copy)]
struct Settings {
    stocks: usize,
    finance_stocks: usize,
    repeat: usize,
    calls: usize,
}

struct Bench {
    db: Db,
    settings: Settings,
}

impl Bench {
    async fn sql(&self, sql: &str) -> anyhow::Result<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Empties `table` and flushes dirty pages, so every "new rows" run starts alike.
    async fn reset(&self, table: &str) -> anyhow::Result<()> {
        self.sql(&format!("TRUNCATE {table}")).await?;
        self.sql("CHECKPOINT").await
    }

    /// Clears the dead rows an earlier update run left and flushes dirty pages, so every
    /// "all conflicts" run starts alike (as every "new rows" run starts from `reset`).
    async fn settle(&self, table: &str) -> anyhow::Result<()> {
        self.sql(&format!("VACUUM {table}")).await?;
        self.sql("CHECKPOINT").await
    }

    /// Runs `prepare` (untimed) then `work` (timed), `repeat` times.
    async fn measure(
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

    async fn run(&self) -> anyhow::Result<Report> {
        let s = self.settings;
        eprintln!(
            "generating {} stocks × {DAYS} days and {} × {QUARTERS} reports",
            s.stocks, s.finance_stocks
        );
        let stocks = app::sample::stocks(s.stocks.max(s.finance_stocks), SEED);
        let days = app::sample::trading_days(
            NaiveDate::from_ymd_opt(2024, 1, 2).unwrap_or_default(),
            DAYS,
        );
        let dailies: Vec<StockDaily> =
            app::sample::daily_bars(&stocks[..s.stocks], &days, SEED).collect();
        let changed_dailies: Vec<StockDaily> = dailies.iter().map(perturb_daily).collect();
        let last_quarter = NaiveDate::from_ymd_opt(2024, 9, 30).unwrap_or_default();
        let reports =
            app::sample::finance_reports(&stocks[..s.finance_stocks], QUARTERS, last_quarter, SEED);
        let changed_reports: Vec<StockFinance> = reports.iter().map(perturb_finance).collect();

        let stock_repo = PgStockRepository::new(self.db.clone());
        let daily_repo = PgStockDailyRepository::new(self.db.clone());
        let finance_repo = PgStockFinanceRepository::new(self.db.clone());
        stock_repo.save_all(stocks.clone()).await?;

        let mut writes = BTreeMap::new();
        let n = dailies.len();
        eprintln!("stock_daily: {n} rows");
        writes.insert(
            "daily_repository_new",
            self.measure(
                "repository, new rows",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| {
                    daily_repo
                        .save_all(dailies.clone())
                        .await
                        .map(drop)
                        .map_err(Into::into)
                },
            )
            .await?,
        );
        // Alternate between two versions of every row, so each run really updates them all.
        writes.insert(
            "daily_repository_conflict",
            self.measure(
                "repository, all conflicts (values changed)",
                n,
                async |_| self.settle("stock_daily").await,
                async |run| {
                    let rows = if run % 2 == 0 {
                        &changed_dailies
                    } else {
                        &dailies
                    };
                    let report = daily_repo.save_all(rows.clone()).await?;
                    anyhow::ensure!(
                        report.updated == n as u64,
                        "expected {n} updates, got {report:?}"
                    );
                    Ok(())
                },
            )
            .await?,
        );
        writes.insert(
            "daily_repository_identical",
            self.measure(
                "repository, all conflicts (values identical)",
                n,
                async |_| self.sql("CHECKPOINT").await,
                async |_| {
                    let current = if s.repeat % 2 == 1 {
                        &changed_dailies
                    } else {
                        &dailies
                    };
                    let report = daily_repo.save_all(current.clone()).await?;
                    anyhow::ensure!(
                        report.unchanged == n as u64,
                        "expected {n} unchanged, got {report:?}"
                    );
                    Ok(())
                },
            )
            .await?,
        );
        let text = text_payload(&dailies, daily_fields);
        let binary = binary_payload(&dailies, daily_fields);
        writes.insert(
            "daily_copy_text",
            self.measure(
                "COPY text",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| copy_in(self.db.pool(), "stock_daily", "", &text).await,
            )
            .await?,
        );
        writes.insert(
            "daily_copy_binary",
            self.measure(
                "COPY binary",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| copy_in(self.db.pool(), "stock_daily", "(FORMAT binary)", &binary).await,
            )
            .await?,
        );
        drop((text, binary));
        writes.insert(
            "daily_naive_new",
            self.measure(
                "naive insert_many, 1,000-row batches, new rows",
                n,
                async |_| self.reset("stock_daily").await,
                async |_| {
                    insert_many_dailies(&self.db, &dailies, 1_000)
                        .await
                        .map_err(Into::into)
                },
            )
            .await?,
        );
        writes.insert(
            "daily_naive_conflict",
            self.measure(
                "naive insert_many, all conflicts",
                n,
                async |_| self.settle("stock_daily").await,
                async |run| {
                    let rows = if run % 2 == 0 {
                        &changed_dailies
                    } else {
                        &dailies
                    };
                    insert_many_dailies(&self.db, rows, 1_000)
                        .await
                        .map_err(Into::into)
                },
            )
            .await?,
        );

        let f = reports.len();
        eprintln!("stock_finance: {f} rows");
        writes.insert(
            "finance_repository_new",
            self.measure(
                "repository, new rows",
                f,
                async |_| self.reset("stock_finance").await,
                async |_| {
                    finance_repo
                        .save_all(reports.clone())
                        .await
                        .map(drop)
                        .map_err(Into::into)
                },
            )
            .await?,
        );
        writes.insert(
            "finance_repository_conflict",
            self.measure(
                "repository, all conflicts",
                f,
                async |_| self.settle("stock_finance").await,
                async |run| {
                    let rows = if run % 2 == 0 {
                        &changed_reports
                    } else {
                        &reports
                    };
                    finance_repo
                        .save_all(rows.clone())
                        .await
                        .map(drop)
                        .map_err(Into::into)
                },
            )
            .await?,
        );
        let text = text_payload(&reports, finance_fields);
        writes.insert(
            "finance_copy_text",
            self.measure(
                "COPY text",
                f,
                async |_| self.reset("stock_finance").await,
                async |_| copy_in(self.db.pool(), "stock_finance", "", &text).await,
            )
            .await?,
        );
        let (_, finance_columns) = data_engineering::baseline::column_counts();
        let naive_batch = max_rows_per_statement(finance_columns);
        writes.insert(
            "finance_naive_new",
            self.measure(
                &format!("naive insert_many, {naive_batch}-row batches"),
                f,
                async |_| self.reset("stock_finance").await,
                async |_| {
                    insert_many_finance(&self.db, &reports, naive_batch)
                        .await
                        .map_err(Into::into)
                },
            )
            .await?,
        );
        self.reset("stock_finance").await?;
        let naive_1000 = match insert_many_finance(&self.db, &reports, 1_000).await {
            Ok(()) => "succeeded".to_owned(),
            Err(err) => format!("fails: {}", error_chain(&err)),
        };
        eprintln!("  naive insert_many, 1,000-row batches: {naive_1000}");

        eprintln!("peak memory of one repository save of {n} rows");
        self.reset("stock_daily").await?;
        let input = dailies.clone();
        let before = rss_bytes();
        let sampler = PeakRss::start();
        daily_repo.save_all(input).await?;
        let peak = sampler.finish();
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let memory = Memory {
            rows: n as u64,
            rss_before_mib: mib(before),
            peak_rss_mib: mib(peak),
            peak_increase_mib: mib(peak.saturating_sub(before)),
        };

        // The read paths run on the full tables.
        finance_repo
            .save_all(missing_latest_quarter(&reports, last_quarter))
            .await?;
        let synced: Vec<ThirdCode> = stocks
            .iter()
            .step_by(2)
            .map(|st| st.third_code.clone())
            .collect();
        stock_repo
            .update_last_finance_sync_date(
                &synced,
                NaiveDate::from_ymd_opt(2024, 10, 20).unwrap_or_default(),
            )
            .await?;
        // Research sessions for the list_sessions path, generated server-side: the
        // measurement is the read, not the fixture.
        self.sql(&format!(
            "INSERT INTO research_sessions (id, symbol, status, selected_experts, options, trigger_source, \
                                            created_at, completed_at, duration_ms) \
             SELECT gen_random_uuid(), (SELECT array_agg(third_code ORDER BY id) FROM stock_info)[1 + i % {n_stocks}], \
                    'completed', '[\"fundamental\", \"technical\"]'::jsonb, '{{\"depth\": 2}}'::jsonb, 'scheduler', \
                    timestamp '2024-01-01' + i * interval '5 minutes', \
                    timestamp '2024-01-01' + i * interval '5 minutes' + interval '40 seconds', 40000 \
             FROM generate_series(1, {SESSIONS}) i",
            n_stocks = stocks.len(),
        ))
        .await?;
        self.sql("VACUUM ANALYZE").await?;
        let reads = self.reads(&stocks[..s.stocks], &days, last_quarter).await?;

        let rows = BTreeMap::from([
            ("stock_daily", n as u64),
            ("stock_finance", f as u64),
            ("stock_info", stocks.len() as u64),
        ]);
        let ratio = |a: &str, b: &str| writes[a].rows_per_s / writes[b].rows_per_s;
        let mut ratios = BTreeMap::from([
            (
                "daily_new_over_copy_text",
                ratio("daily_repository_new", "daily_copy_text"),
            ),
            (
                "daily_new_over_copy_binary",
                ratio("daily_repository_new", "daily_copy_binary"),
            ),
            (
                "daily_conflict_over_copy_text",
                ratio("daily_repository_conflict", "daily_copy_text"),
            ),
            (
                "daily_conflict_over_copy_binary",
                ratio("daily_repository_conflict", "daily_copy_binary"),
            ),
            (
                "daily_new_over_naive",
                ratio("daily_repository_new", "daily_naive_new"),
            ),
            (
                "daily_conflict_over_naive",
                ratio("daily_repository_conflict", "daily_naive_conflict"),
            ),
            (
                "finance_new_over_copy_text",
                ratio("finance_repository_new", "finance_copy_text"),
            ),
            (
                "finance_conflict_over_copy_text",
                ratio("finance_repository_conflict", "finance_copy_text"),
            ),
            (
                "finance_new_over_naive",
                ratio("finance_repository_new", "finance_naive_new"),
            ),
        ]);
        for (name, read) in &reads {
            ratios.insert(name, read.p99_over_floor);
        }
        let target = |what: &str, measured: f64, goal: f64, at_least: bool| Target {
            what: what.to_owned(),
            measured,
            goal: format!("{} {goal}", if at_least { ">=" } else { "<=" }),
            met: if at_least {
                measured >= goal
            } else {
                measured <= goal
            },
        };
        let mut targets = vec![
            target(
                "new-row upsert / COPY text (rows/s)",
                ratios["daily_new_over_copy_text"],
                0.8,
                true,
            ),
            target(
                "new-row upsert / COPY binary (rows/s)",
                ratios["daily_new_over_copy_binary"],
                0.8,
                true,
            ),
            target(
                "all-conflict upsert / COPY text (rows/s)",
                ratios["daily_conflict_over_copy_text"],
                0.5,
                true,
            ),
            target(
                "all-conflict upsert / COPY binary (rows/s)",
                ratios["daily_conflict_over_copy_binary"],
                0.5,
                true,
            ),
            target(
                "repository / naive SeaORM, new rows (rows/s)",
                ratios["daily_new_over_naive"],
                1.5,
                true,
            ),
        ];
        for (name, read) in &reads {
            targets.push(target(
                &format!("{name}: p99 / floor p99"),
                read.p99_over_floor,
                2.0,
                false,
            ));
        }
        Ok(Report {
            command: String::new(),
            machine: machine(),
            rows,
            writes,
            naive_finance_1000_row_batches: naive_1000,
            reads,
            memory,
            ratios,
            targets,
        })
    }

    async fn reads(
        &self,
        stocks: &[data_engineering::StockInfo],
        days: &[NaiveDate],
        last_quarter: NaiveDate,
    ) -> anyhow::Result<BTreeMap<&'static str, ReadPath>> {
        let daily_repo = PgStockDailyRepository::new(self.db.clone());
        let stock_repo = PgStockRepository::new(self.db.clone());
        // The floor: the same SQL as a prepared statement on one dedicated connection.
        let mut conn = self.db.pool().acquire().await?;
        let mut rng = StdRng::seed_from_u64(SEED);
        let calls = self.settings.calls;
        let first_day = days.first().copied().unwrap_or_default();
        let year_end = first_day + chrono::Duration::days(364);
        let codes: Vec<ThirdCode> = (0..calls + WARM_UP)
            .map(|_| stocks[rng.random_range(0..stocks.len())].third_code.clone())
            .collect();
        let market_days: Vec<NaiveDate> = (0..calls + WARM_UP)
            .map(|_| days[rng.random_range(0..days.len())])
            .collect();
        let threshold = NaiveDate::from_ymd_opt(2024, 11, 1).unwrap_or_default();
        eprintln!("read paths: {calls} calls each, after {WARM_UP} warm-up calls");

        let mut reads = BTreeMap::new();
        let path = compare(
            calls,
            async |i| {
                let rows = daily_repo.get_by_third_code_and_date_range(&codes[i], first_day, year_end).await?;
                anyhow::ensure!(rows.len() == days.len(), "expected a year of bars");
                Ok(())
            },
            async |i| {
                sqlx::query(
                    "SELECT * FROM stock_daily WHERE third_code = $1 AND trade_date BETWEEN $2 AND $3 \
                     ORDER BY trade_date",
                )
                .bind(codes[i].as_str())
                .bind(first_day)
                .bind(year_end)
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;
        reads.insert("one_stock_one_year", path);

        let path = compare(
            calls,
            async |i| Ok(daily_repo.get_latest_by_third_code(&codes[i]).await.map(drop)?),
            async |i| {
                sqlx::query("SELECT * FROM stock_daily WHERE third_code = $1 ORDER BY trade_date DESC LIMIT 1")
                    .bind(codes[i].as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                Ok(())
            },
        )
        .await?;
        reads.insert("latest_bar_of_one_stock", path);

        let path = compare(
            calls,
            async |i| {
                let market = daily_repo.get_all_by_trade_date(market_days[i]).await?;
                anyhow::ensure!(market.len() == stocks.len(), "expected the whole market");
                Ok(())
            },
            async |i| {
                sqlx::query(
                    "SELECT d.*, s.name FROM stock_daily d LEFT JOIN stock_info s ON s.third_code = d.third_code \
                     WHERE d.trade_date = $1 ORDER BY d.third_code",
                )
                .bind(market_days[i])
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;
        reads.insert("whole_market_on_one_day", path);

        let path = compare(
            calls,
            async |_| Ok(stock_repo.get_missing_finance_stocks(last_quarter, threshold, 200).await.map(drop)?),
            async |_| {
                sqlx::query(
                    "SELECT s.third_code FROM stock_info s WHERE NOT EXISTS (SELECT 1 FROM stock_finance f \
                     WHERE f.third_code = s.third_code AND f.end_date = $1) AND (s.last_finance_sync_date IS NULL \
                     OR s.last_finance_sync_date < $2) ORDER BY s.third_code LIMIT $3",
                )
                .bind(last_quarter)
                .bind(threshold)
                .bind(200i64)
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;
        reads.insert("missing_finance_stocks", path);

        // The newest page of one stock's sessions, out of 100,000 sessions.
        let session_repo = coordinator::PgResearchSessionRepository::new(self.db.clone());
        let page = shared_db::Page::first(20)?;
        let path = compare(
            calls,
            async |i| {
                let filter = coordinator::SessionFilter {
                    symbol: Some(codes[i].to_string()),
                    ..coordinator::SessionFilter::default()
                };
                use coordinator::ResearchSessionRepository as _;
                session_repo.list_sessions(&filter, page).await?;
                Ok(())
            },
            async |i| {
                sqlx::query(
                    "SELECT * FROM research_sessions WHERE symbol = $1 ORDER BY created_at DESC, id DESC \
                     LIMIT $2 OFFSET $3",
                )
                .bind(codes[i].as_str())
                .bind(20i64)
                .bind(0i64)
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;
        reads.insert("list_sessions_of_one_stock", path);
        Ok(reads)
    }
}

/// Times `calls` calls of the repository and of the floor, interleaved, after
/// [`WARM_UP`] unrecorded calls of each. Call `i` uses key `i`.
async fn compare(
    calls: usize,
    mut repository: impl AsyncFnMut(usize) -> anyhow::Result<()>,
    mut floor: impl AsyncFnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<ReadPath> {
    for i in 0..WARM_UP {
        repository(calls + i).await?;
        floor(calls + i).await?;
    }
    let (mut repo_samples, mut floor_samples) =
        (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for i in 0..calls {
        let start = Instant::now();
        repository(i).await?;
        repo_samples.push(start.elapsed());
        let start = Instant::now();
        floor(i).await?;
        floor_samples.push(start.elapsed());
    }
    Ok(read_path(&repo_samples, &floor_samples))
}

fn read_path(repo: &[Duration], floor: &[Duration]) -> ReadPath {
    let (repository, floor) = (Latency::new(repo), Latency::new(floor));
    ReadPath {
        p99_over_floor: repository.p99_ms / floor.p99_ms,
        repository,
        floor,
    }
}

/// The same bar with every price moved by 0.1 %, so an upsert really changes it.
fn perturb_daily(daily: &StockDaily) -> StockDaily {
    let mut changed = daily.clone();
    for name in [
        "open", "high", "low", "close", "amount", "total_mv", "circ_mv",
    ] {
        let value = changed.value(name).flatten().map(|v| v * 1.001);
        changed.set_value(name, value);
    }
    changed
}

fn perturb_finance(report: &StockFinance) -> StockFinance {
    let mut changed = report.clone();
    changed.roe = Some(changed.roe.unwrap_or(0.0) + 0.01);
    changed
}

/// The reports, minus the latest quarter of every third stock (not published yet).
fn missing_latest_quarter(reports: &[StockFinance], last_quarter: NaiveDate) -> Vec<StockFinance> {
    reports
        .iter()
        .enumerate()
        .filter(|(idx, r)| {
            !(r.end_date == last_quarter && (idx / QUARTERS as usize).is_multiple_of(3))
        })
        .map(|(_, r)| r.clone())
        .collect()
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        // Some errors already print their source; say each thing once.
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

fn machine() -> BTreeMap<&'static str, String> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let mem = read("/proc/meminfo")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    BTreeMap::from([
        ("cpu", cpu),
        (
            "cores",
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "memory",
            mem.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
        ),
        ("os", read("/proc/sys/kernel/osrelease").trim().to_owned()),
    ])
}

fn print_report(r: &Report) {
    println!("\n## Writes (median of runs; rows/s at the median)\n");
    println!("| measurement | rows | median s | min s | rows/s |");
    println!("|---|---:|---:|---:|---:|");
    for (name, t) in &r.writes {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.0} |",
            t.rows, t.median_s, t.min_s, t.rows_per_s
        );
    }
    println!(
        "\nnaive stock_finance insert_many in 1,000-row batches: {}",
        r.naive_finance_1000_row_batches
    );
    println!("\n## Reads (ms)\n");
    println!("| path | calls | repo p50 | repo p99 | floor p50 | floor p99 | p99 / floor |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, p) in &r.reads {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} |",
            p.repository.calls,
            p.repository.p50_ms,
            p.repository.p99_ms,
            p.floor.p50_ms,
            p.floor.p99_ms,
            p.p99_over_floor
        );
    }
    println!(
        "\n## Memory\n\nsave_all of {} stock_daily rows: RSS {:.0} MiB before (input rows held), peak {:.0} MiB, +{:.0} MiB during the save",
        r.memory.rows, r.memory.rss_before_mib, r.memory.peak_rss_mib, r.memory.peak_increase_mib
    );
    println!("\n## Targets\n");
    println!("| target | measured | goal | met |");
    println!("|---|---:|---|---|");
    for t in &r.targets {
        println!(
            "| {} | {:.2} | {} | {} |",
            t.what,
            t.measured,
            t.goal,
            if t.met { "yes" } else { "NO" }
        );
    }
}
