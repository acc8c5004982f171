//! The history suite's reads: each path against the same SQL on a bare connection, warm
//! (after warm-up calls, and each key read once more right before its timed pair: 30 M
//! bars do not fit in the cache, and whichever side read a key first would pay for its
//! pages) and cold: before every cold call the server
//! is stopped (its shared buffers go) and the database's files are evicted from the
//! kernel's page cache (`dd iflag=nocache`, i.e. `posix_fadvise(DONTNEED)`, after
//! `fdatasync`), then started again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use data_engineering::baseline::reads;
use data_engineering::{
    Adjust, PgStockDailyRepository, PgStockFinanceRepository, StockDailyRepository as _,
    StockFinanceRepository as _, StockInfo, ThirdCode,
};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::Serialize;
use shared_db::Db;
use sqlx::postgres::PgRow;
use sqlx::{Column as _, Connection as _, PgConnection, Row as _, TypeInfo as _};

use crate::SEED;
use crate::history::{Scale, Server, sql, weekdays, years};
use crate::reads::{ReadPath, WARM_UP, compare_warm, fill_point_in_time, point_in_time_floor};
use crate::stats::Latency;

/// The cross-section's window, in the stock's own bars.
const WINDOW: u32 = 20;

/// One read path, warm and cold.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryRead {
    pub(crate) name: &'static str,
    pub(crate) warm: ReadPath,
    pub(crate) cold: ReadPath,
}

/// The read paths.
#[derive(Debug, Clone, Copy)]
enum ReadKind {
    TenYearsOfOneStock,
    LatestBar,
    MarketOnADayWithNames,
    CrossSectionReturns,
    FinanceMarketAsOf,
    OneYearForwardAdjusted,
}

const PATHS: [(ReadKind, &str); 6] = [
    (ReadKind::TenYearsOfOneStock, "one stock's 10 years"),
    (ReadKind::LatestBar, "latest bar of one stock"),
    (
        ReadKind::MarketOnADayWithNames,
        "whole market on a day, with names",
    ),
    (
        ReadKind::CrossSectionReturns,
        "20-bar returns of every stock on a day",
    ),
    (
        ReadKind::FinanceMarketAsOf,
        "point-in-time finance of the market",
    ),
    (
        ReadKind::OneYearForwardAdjusted,
        "one stock's year, forward-adjusted",
    ),
];

/// The keys call `i` reads.
struct Keys {
    codes: Vec<ThirdCode>,
    days: Vec<NaiveDate>,
    finance_days: Vec<NaiveDate>,
    last_day: NaiveDate,
}

impl Keys {
    fn new(stocks: &[StockInfo], scale: &Scale, calls: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(SEED);
        let days: Vec<NaiveDate> = years(scale).flat_map(weekdays).collect();
        let last_day = days.last().copied().unwrap_or_default();
        // Days late enough for a full window; finance days within the fixture's reports.
        let late = &days[(WINDOW as usize).min(days.len().saturating_sub(1))..];
        let first_report = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default();
        Self {
            codes: (0..calls)
                .map(|_| stocks[rng.random_range(0..stocks.len())].third_code.clone())
                .collect(),
            days: (0..calls)
                .map(|_| late[rng.random_range(0..late.len())])
                .collect(),
            finance_days: (0..calls)
                .map(|_| first_report + chrono::Duration::days(rng.random_range(0..3_650)))
                .collect(),
            last_day,
        }
    }

    fn years_back(&self, years: i32) -> NaiveDate {
        self.last_day
            .checked_sub_months(chrono::Months::new(12 * years.unsigned_abs()))
            .unwrap_or(self.last_day)
    }
}

impl ReadKind {
    async fn repository(self, db: &Db, keys: &Keys, i: usize) -> anyhow::Result<()> {
        let daily = PgStockDailyRepository::new(db.clone());
        let (code, day) = (&keys.codes[i], keys.days[i]);
        match self {
            Self::TenYearsOfOneStock => {
                daily
                    .get_by_third_code_and_date_range(code, keys.years_back(10), keys.last_day)
                    .await?;
            }
            Self::LatestBar => drop(daily.get_latest_by_third_code(code).await?),
            Self::MarketOnADayWithNames => drop(daily.get_all_by_trade_date(day).await?),
            Self::CrossSectionReturns => drop(daily.get_window_returns(day, WINDOW).await?),
            Self::FinanceMarketAsOf => {
                PgStockFinanceRepository::new(db.clone())
                    .get_market_as_of(keys.finance_days[i])
                    .await?;
            }
            Self::OneYearForwardAdjusted => {
                let forward = Adjust::Forward { anchor: None };
                daily
                    .get_adjusted(code, keys.years_back(1), keys.last_day, forward)
                    .await?;
            }
        }
        Ok(())
    }

    /// The same SQL as a prepared statement on a bare connection, every value decoded as
    /// its column's type, as any client reading them does (the repository's own text
    /// where it has one: `data_engineering::baseline::reads`).
    async fn floor(self, conn: &mut PgConnection, keys: &Keys, i: usize) -> anyhow::Result<()> {
        let (code, day) = (keys.codes[i].as_str(), keys.days[i]);
        let query = match self {
            Self::TenYearsOfOneStock => sqlx::query(
                "SELECT * FROM stock_daily WHERE third_code = $1 AND trade_date BETWEEN $2 AND $3 \
                 ORDER BY trade_date",
            )
            .bind(code)
            .bind(keys.years_back(10))
            .bind(keys.last_day),
            Self::LatestBar => sqlx::query(reads::latest())
                .bind(code)
                .bind(reads::recent(chrono::Utc::now().date_naive())),
            Self::MarketOnADayWithNames => sqlx::query(
                "SELECT d.*, s.name FROM stock_daily d LEFT JOIN stock_info s ON s.third_code = d.third_code \
                 WHERE d.trade_date = $1 ORDER BY d.third_code",
            )
            .bind(day),
            Self::CrossSectionReturns => sqlx::query(reads::window_returns())
                .bind(day)
                .bind(i64::from(WINDOW))
                .bind(day - chrono::Days::new(2 * u64::from(WINDOW) + 30)),
            Self::FinanceMarketAsOf => {
                sqlx::query(point_in_time_floor(false)).bind(keys.finance_days[i])
            }
            Self::OneYearForwardAdjusted => sqlx::query(reads::adjusted())
                .bind(code)
                .bind(keys.years_back(1))
                .bind(keys.last_day)
                .bind(keys.last_day)
                .bind(reads::recent(keys.last_day))
                .bind(reads::recent(keys.years_back(1))),
        };
        decode_all(&query.fetch_all(conn).await?)
    }
}

/// Decodes every value of `rows` as its column's type, as a client of the bare SQL would:
/// for 2,610 bars of 28 columns that is about 2 ms of a 5.6 ms read, which a floor that
/// only received the rows would leave out. A type it does not know is an error, never
/// skipped.
fn decode_all(rows: &[PgRow]) -> anyhow::Result<()> {
    use std::hint::black_box;
    for row in rows {
        for (idx, column) in row.columns().iter().enumerate() {
            match column.type_info().name() {
                "FLOAT8" => drop(black_box(row.try_get::<Option<f64>, _>(idx)?)),
                "TEXT" | "VARCHAR" => drop(black_box(row.try_get::<Option<String>, _>(idx)?)),
                "DATE" => drop(black_box(row.try_get::<Option<NaiveDate>, _>(idx)?)),
                "INT4" => drop(black_box(row.try_get::<Option<i32>, _>(idx)?)),
                "INT8" => drop(black_box(row.try_get::<Option<i64>, _>(idx)?)),
                "BOOL" => drop(black_box(row.try_get::<Option<bool>, _>(idx)?)),
                other => anyhow::bail!(
                    "the floor does not decode column {} of type {other}",
                    column.name()
                ),
            }
        }
    }
    Ok(())
}

/// Every path warm then cold, on database `history` of `server`.
pub(crate) async fn run(
    server: &Server,
    stocks: &[StockInfo],
    scale: &Scale,
) -> anyhow::Result<Vec<HistoryRead>> {
    let db = server.connect("history").await?;
    eprintln!("reads: filling the point-in-time reports");
    fill_point_in_time(&db).await?;
    sql(&db, "VACUUM ANALYZE").await?;
    let keys = Keys::new(stocks, scale, scale.calls.max(scale.cold_calls) + WARM_UP);
    let files = database_dir(server, &db).await?;
    let mut conn = floor_connection(server).await?;
    let mut warm = Vec::new();
    for (path, name) in PATHS {
        eprintln!("reads, warm: {name}");
        let read = compare_warm(
            scale.calls,
            async |i| path.repository(&db, &keys, i).await,
            async |i| path.floor(&mut conn, &keys, i).await,
        )
        .await?;
        warm.push(read);
    }
    conn.close().await?;
    db.close().await;
    let mut reads = Vec::new();
    for ((path, name), warm) in PATHS.into_iter().zip(warm) {
        eprintln!("reads, cold: {name}");
        let (mut repository, mut floor) = (Vec::new(), Vec::new());
        for i in 0..scale.cold_calls {
            cold_start(server, &files)?;
            let db = server.connect("history").await?;
            repository.push(time(async || path.repository(&db, &keys, i).await).await?);
            db.close().await;
            cold_start(server, &files)?;
            let mut conn = floor_connection(server).await?;
            floor.push(time(async || path.floor(&mut conn, &keys, i).await).await?);
            conn.close().await?;
        }
        let (repository, floor) = (Latency::new(&repository), Latency::new(&floor));
        reads.push(HistoryRead {
            name,
            warm,
            cold: ReadPath {
                p99_over_floor: repository.p99_ms / floor.p99_ms,
                repository,
                floor,
            },
        });
    }
    Ok(reads)
}

/// The floor's connection: one of its own, with the session settings stockdb's pool
/// starts with (`jit = off` among them), so that the floor and the repository ask the
/// same server the same thing.
async fn floor_connection(server: &Server) -> anyhow::Result<PgConnection> {
    let options = shared_db::DbConfig::new(server.url("history")).connect_options()?;
    Ok(PgConnection::connect_with(&options).await?)
}

async fn time(f: impl AsyncFnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let start = Instant::now();
    f().await?;
    Ok(start.elapsed())
}

/// The directory holding the files of `db`'s database.
async fn database_dir(server: &Server, db: &Db) -> anyhow::Result<PathBuf> {
    let oid: i64 =
        sqlx::query_scalar("SELECT oid::int8 FROM pg_database WHERE datname = current_database()")
            .fetch_one(db.pool())
            .await?;
    Ok(server.cluster.data_dir().join("base").join(oid.to_string()))
}

/// Stops the server, evicts `dir`'s files from the page cache, starts it again.
fn cold_start(server: &Server, dir: &Path) -> anyhow::Result<()> {
    server.cluster.stop();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        // The catalogs' small files may stay: the data is what a cold read waits for.
        if std::fs::metadata(&path)?.len() < 64 * 1024 {
            continue;
        }
        // Dirty pages are not dropped: written back first.
        std::fs::File::open(&path)?.sync_data()?;
        // GNU dd's documented way to drop a file's cache: posix_fadvise(DONTNEED).
        let status = std::process::Command::new("dd")
            .arg(format!("if={}", path.display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()?;
        anyhow::ensure!(status.success(), "dd failed to evict {}", path.display());
    }
    server.cluster.start();
    Ok(())
}

pub(crate) fn print(reads: &[HistoryRead]) {
    println!(
        "\n| read (ms) | warm p50 | warm p99 | floor p99 | ratio | cold p50 | cold p99 | floor cold p99 | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in reads {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} |",
            r.name,
            r.warm.repository.p50_ms,
            r.warm.repository.p99_ms,
            r.warm.floor.p99_ms,
            r.warm.p99_over_floor,
            r.cold.repository.p50_ms,
            r.cold.repository.p99_ms,
            r.cold.floor.p99_ms,
            r.cold.p99_over_floor
        );
    }
}
