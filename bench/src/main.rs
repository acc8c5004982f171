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

mod args;
mod audit;
mod boards;
mod copy;
mod history;
mod history_reads;
mod imports;
mod increment;
mod layout;
mod ledger;
mod reads;
mod report;
mod stats;
mod structure;
mod writes;

use anyhow::Context as _;
use clap::Parser;
use data_engineering::{PgDailyPartitions, PgStockRepository, StockRepository as _};
use shared_db::{Db, DbConfig, url_with_database};
use sqlx::{Connection as _, PgConnection};

use self::args::{BenchArgs, Settings, Suite};
use self::stats::{Timing, timed};

/// The local PostgreSQL server of the project's machines, used when neither
/// `TEST_DATABASE_URL` nor `DATABASE_URL` is set.
const LOCAL_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Trading days per stock in the generated data.
pub(crate) const DAYS: usize = 200;
/// Quarterly reports per stock.
pub(crate) const QUARTERS: u32 = 4;
/// The seed of every generated value.
pub(crate) const SEED: u64 = 20_241_124;

fn main() -> anyhow::Result<()> {
    let args = BenchArgs::parse();
    if cfg!(debug_assertions) {
        println!("note: a debug build; its figures only show that every path runs");
    }
    let settings = Settings::new(&args);
    let runtime = tokio::runtime::Runtime::new()?;
    let name = format!("stockdb_bench_{}", std::process::id());
    // Stopped and removed when dropped, after the run.
    let citus = if args.citus {
        Some(runtime.block_on(citus_cluster(&name))?)
    } else {
        None
    };
    let server = match &citus {
        Some(cluster) => cluster.coordinator.url_of("postgres"),
        None => ["TEST_DATABASE_URL", "DATABASE_URL"]
            .into_iter()
            .find_map(|key| std::env::var(key).ok().filter(|url| !url.is_empty()))
            .unwrap_or_else(|| LOCAL_SERVER_URL.to_owned()),
    };
    // An older schema beside the newest, for the audit statistics.
    let name_v3 = format!("{name}_v{}", args.audit_baseline);
    let audit = settings.suites.contains(&Suite::Audit);
    let result = runtime.block_on(async {
        let db = database(&server, &name, args.schema, citus.is_none()).await?;
        let v3 = if audit {
            Some(database(&server, &name_v3, Some(args.audit_baseline), true).await?)
        } else {
            None
        };
        let report = Bench {
            db: db.clone(),
            url: url_with_database(&server, &name)?,
            settings,
        }
        .run(v3.as_ref())
        .await;
        db.close().await;
        if let Some(v3) = v3 {
            v3.close().await;
        }
        report
    });
    if citus.is_none() {
        for name in [name, name_v3] {
            runtime.block_on(admin(
                &server,
                &format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
            ))?;
        }
    }
    let mut report = result?;
    report.command = std::env::args().collect::<Vec<_>>().join(" ");
    if citus.is_some() {
        let target = "Citus: a coordinator and two workers on this machine; stock_daily and \
                      stock_finance distributed by third_code, stock_info a reference table";
        println!("\non {target}");
        report.machine.insert("target", target.to_owned());
    }
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\nwrote {}", path.display());
    }
    Ok(())
}

/// A Citus coordinator and two workers, with database `name` on every node, migrated and
/// distributed.
async fn citus_cluster(name: &str) -> anyhow::Result<test_support::cluster::CitusCluster> {
    let cluster = test_support::cluster::CitusCluster::new(2).await;
    cluster.create_database(name).await;
    let url = cluster.coordinator.url_of(name);
    let runner = migration::MigrationRunner::connect(&url).await?;
    runner.up(None).await?;
    runner.close().await?;
    let pool = sqlx::PgPool::connect(&url).await?;
    let placed = migration::distribute(&pool).await?;
    pool.close().await;
    anyhow::ensure!(placed.pending().count() == 0, "not distributed: {placed:?}");
    Ok(cluster)
}

/// Creates database `name` on `server` (unless `create` is false: it exists, migrated) and
/// migrates it to `version` (default: the newest).
async fn database(
    server: &str,
    name: &str,
    version: Option<usize>,
    create: bool,
) -> anyhow::Result<Db> {
    let url = url_with_database(server, name)?;
    if create {
        admin(server, &format!(r#"CREATE DATABASE "{name}""#))
            .await
            .with_context(|| {
                format!(
                    "creating the benchmark's database on {}",
                    shared_db::redact_url(server)
                )
            })?;
        let runner = migration::MigrationRunner::connect(&url).await?;
        runner.up(version).await?;
        runner.close().await?;
    }
    Ok(Db::connect(
        &DbConfig::new(&url)
            .with_max_connections(4)
            .with_application_name("stockdb-bench"),
    )
    .await?)
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
    /// The database's URL, for `psql`.
    pub(crate) url: String,
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

    /// Runs `prepare` (untimed) then `work` (timed), once: for the naive paths, many
    /// times slower than the others, whose figures only give an order of magnitude.
    pub(crate) async fn measure<T>(
        &self,
        label: &str,
        rows: usize,
        prepare: impl AsyncFn(usize) -> anyhow::Result<T>,
        work: impl AsyncFn(usize, T) -> anyhow::Result<()>,
    ) -> anyhow::Result<Timing> {
        let mut timings = self
            .interleave_runs(
                1,
                &[(label, rows)],
                async |_, run| prepare(run).await,
                async |_, run, input| work(run, input).await,
            )
            .await?;
        Ok(timings.remove(0))
    }

    /// Measures several paths, `sides` (a label and its rows each), interleaved: run 1 of
    /// every side, then run 2 of every side, and so on (A B A B …, never A A B B), so that
    /// a shared machine's drift hits every side alike. Before each timed `work(side, run,
    /// input)`, an untimed `prepare(side, run)` sets the table up and makes the input
    /// (e.g. the clone a repository call consumes). One timing per side, in `sides` order.
    pub(crate) async fn interleave<T>(
        &self,
        sides: &[(&str, usize)],
        prepare: impl AsyncFn(usize, usize) -> anyhow::Result<T>,
        work: impl AsyncFn(usize, usize, T) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Timing>> {
        self.interleave_runs(self.settings.repeat, sides, prepare, work)
            .await
    }

    async fn interleave_runs<T>(
        &self,
        repeat: usize,
        sides: &[(&str, usize)],
        prepare: impl AsyncFn(usize, usize) -> anyhow::Result<T>,
        work: impl AsyncFn(usize, usize, T) -> anyhow::Result<()>,
    ) -> anyhow::Result<Vec<Timing>> {
        let mut runs = vec![Vec::new(); sides.len()];
        for run in 0..repeat {
            for (side, (label, _)) in sides.iter().enumerate() {
                let input = prepare(side, run).await?;
                let (elapsed, ()) = timed(async || work(side, run, input).await).await?;
                eprintln!("  {label}: run {} {:.2} s", run + 1, elapsed.as_secs_f64());
                runs[side].push(elapsed);
            }
        }
        Ok(sides
            .iter()
            .zip(&runs)
            .map(|((_, rows), runs)| Timing::new(*rows as u64, runs))
            .collect())
    }

    async fn run(&self, v3: Option<&Db>) -> anyhow::Result<report::Report> {
        let data = writes::Data::generate(&self.settings);
        // The bars are the open year's, as a service writes them: their years' partitions
        // are made on a clock at their last day (at the open year's fill factor, where
        // updates stay HOT), not on today's, by which their year is closed and packed.
        if let (Some(&first), Some(&last)) = (data.days.first(), data.days.last()) {
            let then = last.and_hms_opt(18, 0, 0).context("a time of day")?;
            let clock = std::sync::Arc::new(shared_db::ManualClock::new(then));
            PgDailyPartitions::new(self.db.with_clock(clock))
                .prepare(first, last)
                .await?;
        }
        if let Some(fillfactor) = self.settings.fillfactor {
            // Storage parameters are the leaves': a partitioned table has none of its own.
            let leaves: Vec<String> = sqlx::query_scalar(
                "SELECT relid::regclass::text FROM pg_partition_tree('stock_daily') \
                 WHERE isleaf UNION ALL SELECT 'stock_finance'",
            )
            .fetch_all(self.db.pool())
            .await?;
            for table in leaves {
                self.sql(&format!(
                    "ALTER TABLE {table} SET (fillfactor = {fillfactor})"
                ))
                .await?;
            }
        }
        let runs = |suite| self.settings.suites.contains(&suite);
        let writes = if runs(Suite::Writes) {
            let (daily, memory) = self.daily_writes(&data).await?;
            Some((daily, self.finance_writes(&data).await?, memory))
        } else {
            PgStockRepository::new(self.db.clone())
                .save_all(data.stocks.clone())
                .await?;
            None
        };
        let imports = if runs(Suite::Imports) {
            Some(self.imports(&data).await?)
        } else {
            None
        };
        let reads = if runs(Suite::Reads) {
            self.fill_for_reads(&data).await?;
            Some(self.reads(&data).await?)
        } else {
            None
        };
        let audit = if let (true, Some(v3)) = (runs(Suite::Audit), v3) {
            Some(self.audit(v3).await?)
        } else {
            None
        };
        // After the audit suite: it refills the LLM log its own way.
        let ledger = if runs(Suite::Ledger) {
            Some(self.ledger().await?)
        } else {
            None
        };
        // Last: it adds bars and stocks of its own.
        let structure = if runs(Suite::Structure) {
            Some(self.structure().await?)
        } else {
            None
        };
        let boards = if runs(Suite::Boards) {
            Some(self.boards().await?)
        } else {
            None
        };
        // On a server of its own.
        let history = if runs(Suite::History) {
            Some(history::run(&self.settings.history).await?)
        } else {
            None
        };
        Ok(report::Report::new(
            &data,
            report::Results {
                fillfactor: self.fillfactor().await?,
                // On Citus the coordinator's table is a shell: its shards are measured.
                stock_daily_bytes: sqlx::query_scalar(if self.db.is_citus().await? {
                    "SELECT citus_total_relation_size('stock_daily')"
                } else {
                    "SELECT pg_total_relation_size('stock_daily')"
                })
                .fetch_one(self.db.pool())
                .await?,
                writes,
                imports,
                reads,
                audit,
                ledger,
                structure,
                boards,
                history,
            },
        ))
    }

    /// `stock_daily`'s fillfactor, as the run measured it.
    async fn fillfactor(&self) -> anyhow::Result<String> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce(array_to_string(reloptions, ','), 'fillfactor=100 (default)') \
             FROM pg_class WHERE oid = 'stock_daily'::regclass",
        )
        .fetch_one(self.db.pool())
        .await?)
    }
}
