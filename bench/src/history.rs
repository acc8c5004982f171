//! The history suite: the whole market's history at real size (`--scale full`: 5,300 stocks
//! × 22 years of weekdays ≈ 30 M bars), on a PostgreSQL server of its own (durable, sized
//! as a researcher's machine would be, restarted for the cold reads).
//!
//! - **Backfill**: one Tushare-shaped CSV file per year, day by day as a download by trade
//!   date writes them, `stockdb import daily` into one database and `psql \copy` into a
//!   second, the two taking turns first, year after year as the tables grow.
//! - **Disk**: `stock_daily` as the schema lays it out, beside the same rows packed at
//!   fillfactor 100 (the `psql \copy` database, rewritten).
//! - **The daily increment** (`increment`).
//! - **Reads** (`history_reads`): warm and cold.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{Datelike as _, NaiveDate, Weekday};
use data_engineering::{
    PgDailyPartitions, PgStockRepository, PgSyncRepository, StockDaily, StockInfo,
    StockRepository as _,
};
use serde::Serialize;
use shared_db::{Db, DbConfig, ManualClock};
use test_support::cluster::Cluster;
use tushare::{ImportKind, ImportOptions, NoProgress, import_csv};

use crate::SEED;
use crate::history_reads::HistoryRead;
use crate::imports::psql_copy;
use crate::increment::{Increment, increment};
use crate::layout::Layout;
use crate::report::Target;
use crate::stats::{PeakRss, Ratio, rss_bytes, timed};

/// The last year of the history; the increment's days follow it.
const LAST_YEAR: i32 = 2025;

/// The history server's settings, after the throwaway defaults of test clusters: durable
/// again, with the memory and WAL room a database of this size is given.
const SERVER_SETTINGS: &str = "\nfsync = on\nsynchronous_commit = on\nfull_page_writes = on\n\
    shared_buffers = '2GB'\neffective_cache_size = '12GB'\nmaintenance_work_mem = '512MB'\n\
    max_wal_size = '4GB'\ncheckpoint_timeout = '15min'\n";

/// How much history the suite builds.
#[derive(Debug, Clone)]
pub(crate) struct Scale {
    pub(crate) stocks: usize,
    pub(crate) years: i32,
    /// Trading days of the increment.
    pub(crate) days: usize,
    /// Calls per read path, warm.
    pub(crate) calls: usize,
    /// Calls per read path, cold (each after a restart and an eviction).
    pub(crate) cold_calls: usize,
    pub(crate) layout: Layout,
}

/// What the suite measured.
#[derive(Debug, Serialize)]
pub(crate) struct History {
    pub(crate) stocks: usize,
    pub(crate) years: i32,
    pub(crate) layout: Layout,
    pub(crate) bars: u64,
    pub(crate) server_settings: &'static str,
    pub(crate) backfill: Backfill,
    pub(crate) disk: Disk,
    pub(crate) increment: Increment,
    pub(crate) reads: Vec<HistoryRead>,
}

/// One year's file, both ways.
#[derive(Debug, Serialize)]
pub(crate) struct YearFile {
    pub(crate) year: i32,
    pub(crate) lines: u64,
    /// Bars in the table before the file.
    pub(crate) rows_before: u64,
    pub(crate) import_s: f64,
    pub(crate) psql_s: f64,
    /// `stockdb import`'s peak resident memory above what the process held before it
    /// (0 once the allocator keeps what earlier years freed), and the peak itself.
    pub(crate) import_peak_rss_increase_mib: f64,
    pub(crate) import_peak_rss_mib: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Backfill {
    pub(crate) files: Vec<YearFile>,
    pub(crate) import_s: f64,
    pub(crate) psql_s: f64,
    /// Lines/s of the whole backfill, import over `psql \copy`.
    pub(crate) import_over_psql: f64,
    /// The same, year by year (each year a pair).
    pub(crate) import_over_psql_by_year: Ratio,
    pub(crate) peak_rss_increase_mib: f64,
}

/// `stock_daily`'s heap and indexes, summed over its partitions if it has any.
#[derive(Debug, Serialize)]
pub(crate) struct Disk {
    /// Each leaf table with its storage options.
    pub(crate) layout: String,
    pub(crate) heap_bytes: i64,
    pub(crate) index_bytes: i64,
    pub(crate) packed_heap_bytes: i64,
    pub(crate) packed_index_bytes: i64,
    /// Heap and indexes over the packed ones.
    pub(crate) over_packed: f64,
    pub(crate) heap_over_packed: f64,
}

/// The history server and its two databases.
pub(crate) struct Server {
    pub(crate) cluster: Cluster,
}

impl Server {
    pub(crate) fn url(&self, database: &str) -> String {
        self.cluster.url_of(database)
    }

    /// A pool on `database`, as a service opens one.
    pub(crate) async fn connect(&self, database: &str) -> anyhow::Result<Db> {
        Ok(Db::connect(
            &DbConfig::new(self.url(database))
                .with_max_connections(4)
                .with_application_name("stockdb-bench"),
        )
        .await?)
    }

    async fn create(&self, database: &str) -> anyhow::Result<Db> {
        test_support::cluster::sql(
            &self.url("postgres"),
            &format!("CREATE DATABASE {database}"),
        )
        .await;
        let runner = migration::MigrationRunner::connect(&self.url(database)).await?;
        runner.up(None).await?;
        runner.close().await?;
        self.connect(database).await
    }
}

/// Runs the suite on a server of its own, removed at the end.
pub(crate) async fn run(scale: &Scale) -> anyhow::Result<History> {
    let server = Server {
        cluster: Cluster::primary_with(SERVER_SETTINGS),
    };
    let (db, copy) = (
        server.create("history").await?,
        server.create("history_copy").await?,
    );
    // Both databases on one clock, the increment's year open (fillfactor 40) and the
    // history's closed, whatever the machine's date. Each gets the history's years made
    // before the backfill: `stockdb import` would make them as it goes, `psql \copy`
    // would put every bar in the default partition.
    let clock = Arc::new(ManualClock::new(
        NaiveDate::from_ymd_opt(LAST_YEAR + 1, 6, 30)
            .and_then(|day| day.and_hms_opt(12, 0, 0))
            .ok_or_else(|| anyhow::anyhow!("no mid-year after {LAST_YEAR}"))?,
    ));
    let (db, copy) = (db.with_clock(clock.clone()), copy.with_clock(clock));
    let (first, last) = (*years(scale).start(), LAST_YEAR + 1);
    for db in [&db, &copy] {
        PgDailyPartitions::new(db.clone())
            .prepare(
                NaiveDate::from_ymd_opt(first, 1, 1).unwrap_or_default(),
                NaiveDate::from_ymd_opt(last, 1, 1).unwrap_or_default(),
            )
            .await?;
        scale.layout.apply(db).await?;
    }
    let stocks = sample::stocks(scale.stocks, SEED);
    for db in [&db, &copy] {
        PgStockRepository::new(db.clone())
            .save_all(stocks.clone())
            .await?;
    }
    let backfill = backfill(&db, &server.url("history_copy"), &stocks, scale).await?;
    // As autovacuum would have, after the backfill.
    for db in [&db, &copy] {
        sql(db, "VACUUM ANALYZE stock_daily").await?;
    }
    let increment = increment(&db, &copy, &stocks, LAST_YEAR, scale.days).await?;
    let disk = disk(&db, &copy).await?;
    copy.close().await;
    sql(&db, "DROP DATABASE history_copy WITH (FORCE)").await?;
    let bars = backfill.files.iter().map(|f| f.lines).sum();
    db.close().await;
    let reads = crate::history_reads::run(&server, &stocks, scale).await?;
    Ok(History {
        stocks: scale.stocks,
        years: scale.years,
        layout: scale.layout,
        bars,
        server_settings: SERVER_SETTINGS,
        backfill,
        disk,
        increment,
        reads,
    })
}

/// Runs `statement` (set-up and housekeeping, not a measured path) on `db`.
pub(crate) async fn sql(db: &Db, statement: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The weekdays of `year` (the generated market trades every weekday).
pub(crate) fn weekdays(year: i32) -> Vec<NaiveDate> {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .into_iter()
        .flat_map(|first| first.iter_days())
        .take_while(|day| day.year() == year)
        .filter(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

/// The years of the history, oldest first.
pub(crate) fn years(scale: &Scale) -> std::ops::RangeInclusive<i32> {
    LAST_YEAR - scale.years + 1..=LAST_YEAR
}

/// The bars of `stocks` on `days`, day by day (every stock of a day, then the next day),
/// as a download by trade date writes them.
pub(crate) fn bars_by_day(stocks: &[StockInfo], days: &[NaiveDate], seed: u64) -> Vec<StockDaily> {
    let by_stock: Vec<StockDaily> = sample::daily_bars(stocks, days, seed).collect();
    let n = days.len();
    (0..n)
        .flat_map(|day| (0..stocks.len()).map(move |stock| stock * n + day))
        .filter_map(|idx| by_stock.get(idx).cloned())
        .collect()
}

/// Writes `year`'s file (every `stock_daily` column) to `path`; its line count.
fn write_year(path: &Path, stocks: &[StockInfo], year: i32) -> anyhow::Result<u64> {
    let bars = bars_by_day(stocks, &weekdays(year), SEED ^ year.unsigned_abs() as u64);
    let out = std::io::BufWriter::new(std::fs::File::create(path)?);
    Ok(tushare::write_daily_columns(
        out,
        bars,
        StockDaily::VALUE_FIELDS,
    )?)
}

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn backfill(
    db: &Db,
    copy_url: &str,
    stocks: &[StockInfo],
    scale: &Scale,
) -> anyhow::Result<Backfill> {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("stockdb_history_{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0)?;
    let sync = PgSyncRepository::new(db.clone());
    let mut files = Vec::new();
    let mut rows_before = 0;
    for (k, year) in years(scale).enumerate() {
        let path = scratch.0.join(format!("daily_{year}.csv"));
        let lines = write_year(&path, stocks, year)?;
        let (mut import_s, mut psql_s, mut peak, mut rss_mib) = (0.0, 0.0, 0.0, 0.0);
        // The two take turns going first, so a year's drift hits both alike.
        for side in if k % 2 == 0 { [0, 1] } else { [1, 0] } {
            sql(db, "CHECKPOINT").await?;
            if side == 0 {
                let before = rss_bytes();
                let rss = PeakRss::start();
                let (elapsed, summary) = timed(async || {
                    let options = ImportOptions::new(ImportKind::Daily, &path);
                    import_csv(&sync, &options, &NoProgress, &AtomicBool::new(false)).await
                })
                .await?;
                let top = rss.finish();
                peak = top.saturating_sub(before) as f64 / (1024.0 * 1024.0);
                rss_mib = top as f64 / (1024.0 * 1024.0);
                anyhow::ensure!(
                    summary.rows == lines && summary.rejected == 0,
                    "{year}: expected {lines} rows, got {summary:?}"
                );
                import_s = elapsed.as_secs_f64();
            } else {
                let (elapsed, ()) = timed(async || psql_copy(copy_url, &path)).await?;
                psql_s = elapsed.as_secs_f64();
            }
        }
        std::fs::remove_file(&path)?;
        eprintln!(
            "  {year}: {lines} lines onto {rows_before}: import {:.0} lines/s, psql \\copy {:.0} lines/s, \
             import's peak RSS {rss_mib:.0} MiB (+{peak:.0})",
            lines as f64 / import_s,
            lines as f64 / psql_s
        );
        files.push(YearFile {
            year,
            lines,
            rows_before,
            import_s,
            psql_s,
            import_peak_rss_increase_mib: peak,
            import_peak_rss_mib: rss_mib,
        });
        rows_before += lines;
    }
    let (import_s, psql_s) = (
        files.iter().map(|f| f.import_s).sum::<f64>(),
        files.iter().map(|f| f.psql_s).sum::<f64>(),
    );
    let import_times: Vec<f64> = files.iter().map(|f| f.import_s).collect();
    let psql_times: Vec<f64> = files.iter().map(|f| f.psql_s).collect();
    Ok(Backfill {
        import_over_psql: psql_s / import_s,
        // Same lines each pair: the throughput ratio is the time ratio, inverted.
        import_over_psql_by_year: Ratio::speedup(&import_times, &psql_times),
        peak_rss_increase_mib: files
            .iter()
            .map(|f| f.import_peak_rss_increase_mib)
            .fold(0.0, f64::max),
        files,
        import_s,
        psql_s,
    })
}

/// The tables holding `stock_daily`'s rows (`relid`): its partitions, or itself.
const LEAVES: &str = "(SELECT relid FROM pg_partition_tree('stock_daily') WHERE isleaf \
     UNION ALL SELECT 'stock_daily'::regclass \
     WHERE NOT EXISTS (SELECT FROM pg_partition_tree('stock_daily'))) leaves";

/// Heap and index bytes of `stock_daily`'s leaf tables.
async fn sizes(db: &Db) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT coalesce(sum(pg_table_size(relid)), 0)::int8, \
                coalesce(sum(pg_indexes_size(relid)), 0)::int8 FROM {LEAVES}"
    )))
    .fetch_one(db.pool())
    .await?)
}

/// `stock_daily` as laid out, against the copy database's rewritten at fillfactor 100.
async fn disk(db: &Db, copy: &Db) -> anyhow::Result<Disk> {
    let layout: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT string_agg(c.relname || ' ' || coalesce(array_to_string(c.reloptions, ','), \
                'fillfactor=100'), '; ' ORDER BY c.relname) \
         FROM {LEAVES} JOIN pg_class c ON c.oid = leaves.relid"
    )))
    .fetch_one(db.pool())
    .await?;
    let (heap_bytes, index_bytes) = sizes(db).await?;
    eprintln!("disk: packing the copy at fillfactor 100");
    let leaves: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT relid::regclass::text FROM {LEAVES}"
    )))
    .fetch_all(copy.pool())
    .await?;
    for leaf in leaves {
        sql(copy, &format!("ALTER TABLE {leaf} SET (fillfactor = 100)")).await?;
    }
    sql(copy, "VACUUM FULL stock_daily").await?;
    let (packed_heap_bytes, packed_index_bytes) = sizes(copy).await?;
    Ok(Disk {
        layout,
        over_packed: (heap_bytes + index_bytes) as f64
            / (packed_heap_bytes + packed_index_bytes) as f64,
        heap_over_packed: heap_bytes as f64 / packed_heap_bytes as f64,
        heap_bytes,
        index_bytes,
        packed_heap_bytes,
        packed_index_bytes,
    })
}

impl History {
    /// The targets, as measured.
    pub(crate) fn targets(&self) -> Vec<Target> {
        let mut targets = vec![
            Target::value_at_least(
                "history: backfill, stockdb import / psql \\copy (lines/s)",
                self.backfill.import_over_psql,
                1.0,
            ),
            Target::at_most(
                "history: increment insert / COPY into staging (time, median day)",
                self.increment.insert.over_staging.median,
                2.0,
            ),
            Target::at_most(
                "history: increment merge / COPY into staging (time, median day)",
                self.increment.merge.over_staging.median,
                3.0,
            ),
            Target::at_most(
                "history: stock_daily disk / packed at fillfactor 100",
                self.disk.over_packed,
                1.3,
            ),
        ];
        for read in &self.reads {
            targets.push(Target::at_most(
                format!("history: {} warm p99 / floor p99", read.name),
                read.warm.p99_over_floor,
                1.5,
            ));
        }
        targets
    }

    pub(crate) fn print(&self) {
        let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
        println!(
            "\n## History: {} stocks × {} years = {} bars, layout {:?} (a server of its own:{})\n",
            self.stocks,
            self.years,
            self.bars,
            self.layout,
            self.server_settings.replace('\n', " ")
        );
        println!(
            "| year | lines | onto rows | import lines/s | psql \\copy lines/s | import / psql | import peak RSS MiB (+) |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for f in &self.backfill.files {
            println!(
                "| {} | {} | {} | {:.0} | {:.0} | {:.2} | {:.0} (+{:.0}) |",
                f.year,
                f.lines,
                f.rows_before,
                f.lines as f64 / f.import_s,
                f.lines as f64 / f.psql_s,
                f.psql_s / f.import_s,
                f.import_peak_rss_mib,
                f.import_peak_rss_increase_mib
            );
        }
        let b = &self.backfill;
        println!(
            "\nbackfill: import {:.0} s, psql \\copy {:.0} s: {:.2} (by year {})",
            b.import_s, b.psql_s, b.import_over_psql, b.import_over_psql_by_year
        );
        let d = &self.disk;
        println!(
            "disk: {} — heap {:.0} MiB + indexes {:.0} MiB; packed at fillfactor 100: {:.0} + {:.0} MiB; \
             {:.2} (heap {:.2})",
            d.layout,
            mib(d.heap_bytes),
            mib(d.index_bytes),
            mib(d.packed_heap_bytes),
            mib(d.packed_index_bytes),
            d.over_packed,
            d.heap_over_packed
        );
        let i = &self.increment;
        println!(
            "\nincrement, {} days of {} bars (ms) | p50 | p99 | / staging | / logged staging | / bare SQL |\n|---|---:|---:|---:|---:|---:|",
            i.days, i.bars_per_day
        );
        for (name, step) in [
            ("insert (save_all)", &i.insert),
            ("merge (merge_all)", &i.merge),
        ] {
            println!(
                "| {name} | {:.1} | {:.1} | {} | {} | {} |",
                step.repository.p50_ms,
                step.repository.p99_ms,
                step.over_staging,
                step.over_logged_staging,
                step.over_bare_sql
            );
            for (floor, l) in [
                ("COPY into staging", &step.staging_floor),
                ("COPY into logged staging", &step.logged_staging),
                ("bare SQL", &step.bare_sql),
            ] {
                println!("| … {floor} | {:.1} | {:.1} | | | |", l.p50_ms, l.p99_ms);
            }
        }
        crate::history_reads::print(&self.reads);
    }
}
