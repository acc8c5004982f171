//! The market-structure suite: `universe_as_of` over a decade of monthly index snapshots,
//! the calendar reads, and one stock's ten years of open days classified (traded, halted,
//! not synced), each through `MarketStructureRepository` beside the same SQL as prepared
//! statements on one dedicated connection, call by call (`reads::compare`).
//!
//! The fixture is generated server-side: SSE and SZSE calendars for 2010–2024 (weekdays,
//! minus a holiday week each spring and autumn), two indexes (300 and 500 members) with
//! month-end snapshots 2015–2024 whose members rotate, and 50 stocks of their own with
//! every open day of 2015–2024 but a few (a sync's misses) and a halt or two a year.

use chrono::NaiveDate;
use data_engineering::{
    Exchange, MarketStructureRepository as _, PgMarketStructureRepository, ThirdCode,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::reads::{ReadPath, compare};
use crate::{Bench, SEED};

/// Stocks with ten years of bars, for the classification.
const HISTORY_STOCKS: usize = 50;
/// The classified range: ten years.
const FROM: NaiveDate = NaiveDate::from_ymd_opt(2015, 1, 1).expect("a valid date");
const TO: NaiveDate = NaiveDate::from_ymd_opt(2024, 12, 31).expect("a valid date");

/// What the suite measured.
#[derive(Debug, Serialize)]
pub(crate) struct Structure {
    pub(crate) index_rows: i64,
    pub(crate) calendar_rows: i64,
    pub(crate) universe_as_of: ReadPath,
    pub(crate) previous_trading_day: ReadPath,
    pub(crate) twenty_trading_days_before: ReadPath,
    pub(crate) classify_ten_years: ReadPath,
}

impl Structure {
    /// Each path with its name, for the report.
    pub(crate) fn paths(&self) -> [(&'static str, &ReadPath); 4] {
        [
            (
                "universe_as_of (decade of monthly snapshots)",
                &self.universe_as_of,
            ),
            ("previous_trading_day", &self.previous_trading_day),
            ("trading_days_before (20)", &self.twenty_trading_days_before),
            (
                "classify_days (one stock, 10 years)",
                &self.classify_ten_years,
            ),
        ]
    }
}

/// The fixture, as SQL run once.
const FILL: &str = "
INSERT INTO trade_calendar (exchange, cal_date, is_open, pretrade_date, source)
SELECT e, d::date,
       extract(isodow FROM d) < 6 AND NOT (extract(month FROM d) IN (5, 10) AND extract(day FROM d) <= 5),
       NULL, 'bench'
FROM unnest(ARRAY['SSE', 'SZSE']) e, generate_series(date '2010-01-01', date '2024-12-31', interval '1 day') d;

INSERT INTO index_weights (index_code, trade_date, con_code, weight, source)
SELECT idx.code, snap.day, s.third_code, 100.0 / idx.members, 'bench'
FROM (VALUES ('000300.SH', 300), ('000905.SH', 500)) idx(code, members)
CROSS JOIN LATERAL (
    SELECT max(cal_date) AS day, row_number() OVER (ORDER BY date_trunc('month', cal_date)) AS m
    FROM trade_calendar WHERE exchange = 'SSE' AND is_open AND cal_date >= date '2015-01-01'
    GROUP BY date_trunc('month', cal_date)) snap
CROSS JOIN LATERAL (
    SELECT third_code FROM (SELECT third_code, row_number() OVER (ORDER BY third_code) AS n FROM stock_info
                            WHERE third_code NOT LIKE '9%') ranked
    WHERE n <= idx.members * 1.1 AND (n + snap.m) % 11 <> 0
    LIMIT idx.members) s;

INSERT INTO stock_info (third_code, symbol, name, list_date, source)
SELECT format('%s.SH', 900000 + i), (900000 + i)::text, 'history ' || i, date '2012-06-01', 'bench'
FROM generate_series(0, 49) i;

INSERT INTO stock_daily (third_code, trade_date, open, high, low, close, pre_close, adj_factor, source)
SELECT s.third_code, c.cal_date, 10, 10.5, 9.5, 10, 10, 1, 'bench'
FROM stock_info s JOIN trade_calendar c ON c.exchange = 'SSE' AND c.is_open
     AND c.cal_date BETWEEN date '2015-01-01' AND date '2024-12-31'
WHERE s.third_code LIKE '9%' AND (hashtext(s.third_code || c.cal_date) % 400) <> 0
      AND NOT (extract(doy FROM c.cal_date)::int % 180 BETWEEN 60 AND 66);

INSERT INTO stock_suspensions (third_code, trade_date, suspend_type, suspend_timing, reason, source)
SELECT s.third_code, c.cal_date,
       CASE WHEN extract(doy FROM c.cal_date)::int % 180 = 60 THEN 'S' ELSE 'R' END, NULL, 'bench', 'bench'
FROM stock_info s JOIN trade_calendar c ON c.exchange = 'SSE' AND c.is_open
     AND c.cal_date BETWEEN date '2015-01-01' AND date '2024-12-31'
WHERE s.third_code LIKE '9%' AND extract(doy FROM c.cal_date)::int % 180 IN (60, 67)
ON CONFLICT DO NOTHING;
";

impl Bench {
    /// Fills the market-structure tables and measures their read paths.
    pub(crate) async fn structure(&self) -> anyhow::Result<Structure> {
        eprintln!(
            "market structure: filling calendars, index snapshots and ten years of {HISTORY_STOCKS} stocks"
        );
        self.sql(FILL).await?;
        self.sql("VACUUM ANALYZE trade_calendar, index_weights, stock_daily, stock_suspensions, stock_info")
            .await?;
        let count = |table: &'static str| async move {
            anyhow::Ok(
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {table}"
                )))
                .fetch_one(self.db.pool())
                .await?,
            )
        };
        let (index_rows, calendar_rows) = (
            count("index_weights").await?,
            count("trade_calendar").await?,
        );
        let repo = PgMarketStructureRepository::new(self.db.clone());
        let mut conn = self.db.pool().acquire().await?;
        let calls = self.settings.calls;
        let mut rng = StdRng::seed_from_u64(SEED);
        // Days after the first snapshot (end of January 2015).
        let first = FROM + chrono::Duration::days(31);
        let span = (TO - first).num_days();
        let days: Vec<NaiveDate> = (0..calls + 20)
            .map(|_| first + chrono::Duration::days(rng.random_range(0..span)))
            .collect();
        let indexes = [
            ThirdCode::parse("000300.SH")?,
            ThirdCode::parse("000905.SH")?,
        ];
        let history: Vec<ThirdCode> = (0..calls + 20)
            .map(|_| {
                ThirdCode::parse(&format!(
                    "{}.SH",
                    900_000 + rng.random_range(0..HISTORY_STOCKS)
                ))
            })
            .collect::<Result<_, _>>()?;

        let universe_as_of = compare(
            calls,
            async |i| {
                let universe = repo.universe_as_of(&indexes[i % 2], days[i]).await?;
                anyhow::ensure!(!universe.members.is_empty(), "members on {}", days[i]);
                Ok(())
            },
            async |i| {
                sqlx::query(
                    "WITH snap AS (SELECT max(trade_date) AS day FROM index_weights \
                                   WHERE index_code = $1 AND trade_date <= $2) \
                     SELECT snap.day, w.con_code, w.weight FROM snap \
                     LEFT JOIN index_weights w ON w.index_code = $1 AND w.trade_date = snap.day \
                     ORDER BY w.con_code",
                )
                .bind(indexes[i % 2].as_str())
                .bind(days[i])
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;

        let previous_trading_day = compare(
            calls,
            async |i| {
                Ok(repo
                    .previous_trading_day(Exchange::Sse, days[i])
                    .await
                    .map(drop)?)
            },
            async |i| {
                sqlx::query(
                    "SELECT max(cal_date) FROM trade_calendar WHERE exchange = $1 AND is_open \
                     AND cal_date < $2",
                )
                .bind("SSE")
                .bind(days[i])
                .fetch_one(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;

        let twenty_trading_days_before = compare(
            calls,
            async |i| {
                let before = repo.trading_days_before(Exchange::Sse, days[i], 20).await?;
                anyhow::ensure!(before.len() == 20, "20 days before {}", days[i]);
                Ok(())
            },
            async |i| {
                sqlx::query(
                    "SELECT cal_date FROM (SELECT cal_date FROM trade_calendar \
                       WHERE exchange = $1 AND is_open AND cal_date < $2 \
                       ORDER BY cal_date DESC LIMIT $3) d ORDER BY cal_date",
                )
                .bind("SSE")
                .bind(days[i])
                .bind(20i64)
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;

        let classify_ten_years = compare(
            calls,
            async |i| {
                let classified = repo.classify_days(&history[i], FROM, TO).await?;
                anyhow::ensure!(classified.len() > 2_000, "ten years of open days");
                Ok(())
            },
            // The repository's three statements: open days with whether a bar is stored,
            // the listing, the suspensions.
            async |i| {
                let code = history[i].as_str();
                sqlx::query(
                    "SELECT c.cal_date, d.trade_date IS NOT NULL FROM trade_calendar c \
                     LEFT JOIN (SELECT trade_date FROM stock_daily WHERE third_code = $2 \
                                AND trade_date BETWEEN $3 AND $4) d ON d.trade_date = c.cal_date \
                     WHERE c.exchange = $1 AND c.is_open AND c.cal_date BETWEEN $3 AND $4 \
                     ORDER BY c.cal_date",
                )
                .bind("SSE")
                .bind(code)
                .bind(FROM)
                .bind(TO)
                .fetch_all(&mut *conn)
                .await?;
                sqlx::query("SELECT list_date, delist_date FROM stock_info WHERE third_code = $1")
                    .bind(code)
                    .fetch_all(&mut *conn)
                    .await?;
                sqlx::query(
                    "SELECT third_code, trade_date, suspend_type, suspend_timing, reason, source \
                     FROM stock_suspensions WHERE third_code = $1 AND trade_date <= $2 \
                     ORDER BY trade_date, suspend_type",
                )
                .bind(code)
                .bind(TO)
                .fetch_all(&mut *conn)
                .await?;
                Ok(())
            },
        )
        .await?;
        Ok(Structure {
            index_rows,
            calendar_rows,
            universe_as_of,
            previous_trading_day,
            twenty_trading_days_before,
            classify_ten_years,
        })
    }
}

/// Prints the suite's table.
pub(crate) fn print(s: &Structure) {
    println!(
        "\n## Market structure ({} index snapshot rows, {} calendar rows; ms)\n",
        s.index_rows, s.calendar_rows
    );
    crate::report::print_paths(&s.paths());
}
