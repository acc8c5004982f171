//! The read suite: each repository read path against the same SQL as a prepared statement
//! on one dedicated connection (no pool, no ORM, rows not decoded), call by call.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use coordinator::{PgResearchSessionRepository, ResearchSessionRepository as _, SessionFilter};
use data_engineering::{
    Adjust, PgStockDailyRepository, PgStockFinanceRepository, PgStockRepository,
    StockDailyRepository, StockFinance, StockFinanceRepository, StockRepository, ThirdCode,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use shared_db::Page;

use crate::copy::{binary_payload, daily_fields};
use crate::stats::Latency;
use crate::writes::{Data, LAST_QUARTER};
use crate::{Bench, QUARTERS, SEED};

/// Report periods per stock in the point-in-time fixture.
const PIT_PERIODS: u32 = 40;
/// Research sessions the `list_sessions` path reads from.
const SESSIONS: usize = 100_000;
/// Unrecorded calls before each read path, so connection set-up and first-time statement
/// preparation are not counted.
pub(crate) const WARM_UP: usize = 10;
/// The day half of the stocks last synced their finance.
const SYNCED_ON: NaiveDate = NaiveDate::from_ymd_opt(2024, 10, 20).expect("a valid date");
/// The threshold of the missing-finance read.
const THRESHOLD: NaiveDate = NaiveDate::from_ymd_opt(2024, 11, 1).expect("a valid date");

/// One read path: the repository against the floor.
#[derive(Debug, Serialize)]
pub(crate) struct ReadPath {
    pub(crate) repository: Latency,
    pub(crate) floor: Latency,
    pub(crate) p99_over_floor: f64,
}

/// Every read path.
#[derive(Debug, Serialize)]
pub(crate) struct Reads {
    pub(crate) one_stock_one_year: ReadPath,
    pub(crate) latest_bar_of_one_stock: ReadPath,
    pub(crate) whole_market_on_one_day: ReadPath,
    pub(crate) missing_finance_stocks: ReadPath,
    pub(crate) list_sessions_of_one_stock: ReadPath,
    pub(crate) one_stock_one_year_forward_adjusted: ReadPath,
    pub(crate) finance_market_as_of: ReadPath,
}

impl Reads {
    /// Each path with its name, for the report.
    pub(crate) fn paths(&self) -> [(&'static str, &ReadPath); 7] {
        [
            ("one_stock_one_year", &self.one_stock_one_year),
            ("latest_bar_of_one_stock", &self.latest_bar_of_one_stock),
            ("whole_market_on_one_day", &self.whole_market_on_one_day),
            ("missing_finance_stocks", &self.missing_finance_stocks),
            (
                "list_sessions_of_one_stock",
                &self.list_sessions_of_one_stock,
            ),
            (
                "one_stock_one_year_forward_adjusted",
                &self.one_stock_one_year_forward_adjusted,
            ),
            ("finance_market_as_of", &self.finance_market_as_of),
        ]
    }
}

impl Bench {
    /// Fills the tables the read paths read: every bar, the reports but the latest quarter
    /// of every third stock, half the stocks synced, 100,000 research sessions.
    pub(crate) async fn fill_for_reads(&self, data: &Data) -> anyhow::Result<()> {
        // Whatever the suites before left: every bar once, the reports as described.
        self.load("stock_daily", &binary_payload(&data.dailies, daily_fields))
            .await?;
        self.sql("TRUNCATE stock_finance").await?;
        PgStockFinanceRepository::new(self.db.clone())
            .save_all(missing_latest_quarter(&data.reports))
            .await?;
        let synced: Vec<ThirdCode> = data
            .stocks
            .iter()
            .step_by(2)
            .map(|st| st.third_code.clone())
            .collect();
        PgStockRepository::new(self.db.clone())
            .update_last_finance_sync_date(&synced, SYNCED_ON)
            .await?;
        // Generated server-side: the measurement is the read, not the fixture.
        self.sql(&format!(
            "INSERT INTO research_sessions (id, symbol, status, selected_experts, options, trigger_source, \
                                            created_at, completed_at, duration_ms) \
             SELECT gen_random_uuid(), (SELECT array_agg(third_code ORDER BY id) FROM stock_info)[1 + i % {n_stocks}], \
                    'completed', '[\"fundamental\", \"technical\"]'::jsonb, '{{\"depth\": 2}}'::jsonb, 'scheduler', \
                    timestamp '2024-01-01' + i * interval '5 minutes', \
                    timestamp '2024-01-01' + i * interval '5 minutes' + interval '40 seconds', 40000 \
             FROM generate_series(1, {SESSIONS}) i",
            n_stocks = data.stocks.len(),
        ))
        .await?;
        self.sql("VACUUM ANALYZE").await
    }

    /// Every read path, `calls` calls each on random keys.
    pub(crate) async fn reads(&self, data: &Data) -> anyhow::Result<Reads> {
        let stocks = &data.stocks[..data.daily_stocks];
        let days = &data.days;
        let daily_repo = PgStockDailyRepository::new(self.db.clone());
        let stock_repo = PgStockRepository::new(self.db.clone());
        let session_repo = PgResearchSessionRepository::new(self.db.clone());
        // The floor: the same SQL as a prepared statement on one dedicated connection.
        let mut conn = self.db.pool().acquire().await?;
        // The floors are the repositories' SQL: on Citus, the forms it runs there.
        let citus = self.db.is_citus().await?;
        let mut rng = StdRng::seed_from_u64(SEED);
        let calls = self.settings.calls;
        let first_day = days.first().copied().unwrap_or(LAST_QUARTER);
        let year_end = first_day + chrono::Duration::days(364);
        let codes: Vec<ThirdCode> = (0..calls + WARM_UP)
            .map(|_| stocks[rng.random_range(0..stocks.len())].third_code.clone())
            .collect();
        let market_days: Vec<NaiveDate> = (0..calls + WARM_UP)
            .map(|_| days[rng.random_range(0..days.len())])
            .collect();
        eprintln!("read paths: {calls} calls each, after {WARM_UP} warm-up calls");

        let one_stock_one_year = compare(
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

        let latest_bar_of_one_stock = compare(
            calls,
            async |i| {
                Ok(daily_repo
                    .get_latest_by_third_code(&codes[i])
                    .await
                    .map(drop)?)
            },
            async |i| {
                sqlx::query(data_engineering::baseline::reads::latest())
                    .bind(codes[i].as_str())
                    .bind(data_engineering::baseline::reads::recent(
                        chrono::Utc::now().date_naive(),
                    ))
                    .fetch_optional(&mut *conn)
                    .await?;
                Ok(())
            },
        )
        .await?;

        let whole_market_on_one_day = compare(
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

        let missing_finance_stocks = compare(
            calls,
            async |_| Ok(stock_repo.get_missing_finance_stocks(LAST_QUARTER, THRESHOLD, 200).await.map(drop)?),
            async |_| {
                sqlx::query(if citus {
                    "SELECT s.third_code FROM stock_info s WHERE s.third_code NOT IN \
                     (SELECT third_code FROM stock_finance WHERE end_date = $1) AND (s.last_finance_sync_date IS NULL \
                     OR s.last_finance_sync_date < $2) ORDER BY s.third_code LIMIT $3"
                } else {
                    "SELECT s.third_code FROM stock_info s WHERE NOT EXISTS (SELECT 1 FROM stock_finance f \
                     WHERE f.third_code = s.third_code AND f.end_date = $1) AND (s.last_finance_sync_date IS NULL \
                     OR s.last_finance_sync_date < $2) ORDER BY s.third_code LIMIT $3"
                })
                .bind(LAST_QUARTER)
                .bind(THRESHOLD)
                .bind(200i64)
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;

        // The newest page of one stock's sessions, out of 100,000 sessions.
        let page = Page::first(20)?;
        let list_sessions_of_one_stock = compare(
            calls,
            async |i| {
                let filter = SessionFilter {
                    symbol: Some(codes[i].to_string()),
                    ..SessionFilter::default()
                };
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
        // A year of one stock, forward-adjusted: against the same arithmetic done by the
        // server in one statement.
        let one_stock_one_year_forward_adjusted = compare(
            calls,
            async |i| {
                let rows = daily_repo
                    .get_adjusted(&codes[i], first_day, year_end, Adjust::Forward { anchor: None })
                    .await?;
                anyhow::ensure!(rows.len() == days.len(), "expected a year of bars");
                Ok(())
            },
            async |i| {
                sqlx::query(
                    "SELECT d.*, d.open * d.adj_factor / a.f AS adj_open, d.high * d.adj_factor / a.f AS adj_high, \
                            d.low * d.adj_factor / a.f AS adj_low, d.close * d.adj_factor / a.f AS adj_close, \
                            d.pre_close * d.adj_factor / a.f AS adj_pre_close, d.change * d.adj_factor / a.f AS adj_change \
                     FROM stock_daily d, (SELECT adj_factor AS f FROM stock_daily WHERE third_code = $1 \
                         AND trade_date <= $3 AND adj_factor IS NOT NULL ORDER BY trade_date DESC LIMIT 1) a \
                     WHERE d.third_code = $1 AND d.trade_date BETWEEN $2 AND $3 ORDER BY d.trade_date",
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

        let finance_market_as_of = self.finance_market_as_of(data, &mut conn).await?;
        Ok(Reads {
            one_stock_one_year,
            latest_bar_of_one_stock,
            whole_market_on_one_day,
            missing_finance_stocks,
            list_sessions_of_one_stock,
            one_stock_one_year_forward_adjusted,
            finance_market_as_of,
        })
    }

    /// The market's financials as known on a day, out of every stock × 40 quarters × 2
    /// versions (each period announced 30 days after it ends, restated 400 days after).
    async fn finance_market_as_of(
        &self,
        data: &Data,
        conn: &mut sqlx::PgConnection,
    ) -> anyhow::Result<ReadPath> {
        let stocks = data.stocks.len();
        let citus = self.db.is_citus().await?;
        eprintln!("point in time: {stocks} stocks × {PIT_PERIODS} periods × 2 versions");
        fill_point_in_time(&self.db).await?;
        self.sql("VACUUM ANALYZE stock_finance").await?;
        let finance_repo = PgStockFinanceRepository::new(self.db.clone());
        let calls = self.settings.calls;
        let mut rng = StdRng::seed_from_u64(SEED);
        let first = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default();
        let days: Vec<NaiveDate> = (0..calls + WARM_UP)
            .map(|_| first + chrono::Duration::days(rng.random_range(0..3_650)))
            .collect();
        compare(
            calls,
            async |i| {
                let market = finance_repo.get_market_as_of(days[i]).await?;
                anyhow::ensure!(market.len() == stocks, "expected every stock");
                Ok(())
            },
            async |i| {
                sqlx::query(point_in_time_floor(citus))
                    .bind(days[i])
                    .fetch_all(&mut *conn)
                    .await?;
                Ok(())
            },
        )
        .await
    }
}

/// Fills `stock_finance` with every stock of `stock_info` × [`PIT_PERIODS`] quarters × 2
/// versions: each period announced 30 days after it ends, restated 400 days after.
pub(crate) async fn fill_point_in_time(db: &shared_db::Db) -> anyhow::Result<()> {
    let columns = StockFinance::INDICATORS.join(", ");
    let values = StockFinance::INDICATORS
        .iter()
        .map(|_| "round((random() * 100)::numeric, 4)::float8")
        .collect::<Vec<_>>()
        .join(", ");
    // Generated server-side: the measurement is the read, not the fixture.
    let sql = format!(
        "INSERT INTO stock_finance (third_code, ann_date, end_date, {columns}) \
         SELECT s.third_code, q.end_date + CASE WHEN v = 0 THEN 30 ELSE 400 END, q.end_date, {values} \
         FROM stock_info s \
         CROSS JOIN (SELECT (date '2014-03-31' + p * interval '3 months')::date AS end_date \
                     FROM generate_series(0, {PIT_PERIODS} - 1) p) q \
         CROSS JOIN generate_series(0, 1) v"
    );
    // Two statements, as the reads suite ran them before the history suite shared this:
    // on Citus, a distributed TRUNCATE and this INSERT … SELECT (pulled through the
    // coordinator) in one implicit transaction is a combination never tried there.
    sqlx::raw_sql("TRUNCATE stock_finance")
        .execute(db.pool())
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The market's financials as known on `$1`: `get_market_as_of`'s SQL, in the form the
/// server runs (a loose index scan; on Citus, `DISTINCT ON`).
pub(crate) fn point_in_time_floor(citus: bool) -> &'static str {
    if citus {
        "SELECT DISTINCT ON (third_code) * FROM stock_finance \
         WHERE ann_date <= $1 ORDER BY third_code, end_date DESC, ann_date DESC"
    } else {
        "WITH RECURSIVE codes (code) AS ( \
             SELECT min(third_code) FROM stock_finance \
             UNION ALL \
             SELECT (SELECT min(third_code) FROM stock_finance WHERE third_code > code) \
             FROM codes WHERE code IS NOT NULL) \
         SELECT f.* FROM codes CROSS JOIN LATERAL ( \
             SELECT * FROM stock_finance \
             WHERE third_code = codes.code AND ann_date <= $1 \
             ORDER BY end_date DESC, ann_date DESC LIMIT 1) f \
         ORDER BY f.third_code"
    }
}

/// Times `calls` calls of the repository and of the floor, interleaved, after
/// [`WARM_UP`] unrecorded calls of each. Call `i` uses key `i`.
pub(crate) async fn compare(
    calls: usize,
    repository: impl AsyncFnMut(usize) -> anyhow::Result<()>,
    floor: impl AsyncFnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<ReadPath> {
    compare_with(calls, false, repository, floor).await
}

/// [`compare`], with each key read once more, unrecorded, right before its timed pair:
/// when the data outgrows the cache, whichever side read a key first would pay for
/// bringing its pages in and the other would find them there.
pub(crate) async fn compare_warm(
    calls: usize,
    repository: impl AsyncFnMut(usize) -> anyhow::Result<()>,
    floor: impl AsyncFnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<ReadPath> {
    compare_with(calls, true, repository, floor).await
}

async fn compare_with(
    calls: usize,
    warm_each: bool,
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
        if warm_each {
            floor(i).await?;
        }
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

/// The reports, minus the latest quarter of every third stock (not published yet).
fn missing_latest_quarter(reports: &[StockFinance]) -> Vec<StockFinance> {
    reports
        .iter()
        .enumerate()
        .filter(|(idx, r)| {
            !(r.end_date == LAST_QUARTER && (idx / QUARTERS as usize).is_multiple_of(3))
        })
        .map(|(_, r)| r.clone())
        .collect()
}
