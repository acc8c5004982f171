//! The history suite's daily increment: trading days after the history, each day's bars
//! through the repository (`save_all`, then the `daily_basic` columns with `merge_all`, as
//! the nightly sync does), beside two floors:
//!
//! - **staging**: `COPY` of the same rows into a bare staging table (no index, no WAL):
//!   what moving the rows into the server costs;
//! - **logged staging**: the same into a logged table without indexes: what a durable
//!   write adds (its WAL, flushed at commit), which no write of the table avoids;
//! - **bare SQL**: the same work done by hand on the copy database, which holds the same
//!   history: `COPY` straight into its `stock_daily`, and for the merge `COPY` into a
//!   temporary table, `ANALYZE` of it (without, the planner guesses its size and may
//!   hash the whole history), then one `UPDATE … FROM` of the `daily_basic` columns: what
//!   the table's indexes and WAL add, which no client can avoid.

use data_engineering::{PgStockDailyRepository, StockDaily, StockDailyRepository as _, StockInfo};
use serde::Serialize;
use shared_db::Db;

use crate::SEED;
use crate::copy::{copy_in, daily_fields, text_payload};
use crate::history::{bars_by_day, sql, weekdays};
use crate::imports::{DAILY, DAILY_BASIC};
use crate::stats::{Latency, Ratio, timed};

/// One step of the increment, day by day.
#[derive(Debug, Serialize)]
pub(crate) struct Step {
    pub(crate) repository: Latency,
    pub(crate) staging_floor: Latency,
    pub(crate) logged_staging: Latency,
    pub(crate) bare_sql: Latency,
    /// Day by day, the repository's time over each floor's.
    pub(crate) over_staging: Ratio,
    pub(crate) over_logged_staging: Ratio,
    pub(crate) over_bare_sql: Ratio,
}

impl Step {
    fn new(times: &[Vec<std::time::Duration>]) -> Self {
        let secs =
            |d: &[std::time::Duration]| d.iter().map(|d| d.as_secs_f64()).collect::<Vec<_>>();
        let [repository, staging, bare, logged] = [0, 1, 2, 3].map(|side| secs(&times[side]));
        Self {
            over_staging: Ratio::speedup(&staging, &repository),
            over_logged_staging: Ratio::speedup(&logged, &repository),
            over_bare_sql: Ratio::speedup(&bare, &repository),
            repository: Latency::new(&times[0]),
            staging_floor: Latency::new(&times[1]),
            bare_sql: Latency::new(&times[2]),
            logged_staging: Latency::new(&times[3]),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct Increment {
    pub(crate) days: usize,
    pub(crate) bars_per_day: usize,
    pub(crate) insert: Step,
    pub(crate) merge: Step,
}

/// `bars` with only `columns` (and the key) kept, as one Tushare endpoint sends them.
fn only(bars: &[StockDaily], columns: &[&str]) -> Vec<StockDaily> {
    bars.iter()
        .map(|bar| {
            let mut part = StockDaily::new(bar.third_code.clone(), bar.trade_date);
            for column in columns {
                part.set_value(column, bar.value(column).flatten());
            }
            part.source.clone_from(&bar.source);
            part
        })
        .collect()
}

/// `days` trading days of `stocks` after the history's `last_year`: the repository on
/// `db`, the bare SQL on `copy` (which holds the same rows).
pub(crate) async fn increment(
    db: &Db,
    copy: &Db,
    stocks: &[StockInfo],
    last_year: i32,
    days: usize,
) -> anyhow::Result<Increment> {
    let all_days = weekdays(last_year + 1);
    let days = &all_days[..days.min(all_days.len())];
    let bars = bars_by_day(stocks, days, SEED ^ (last_year + 1).unsigned_abs() as u64);
    let repo = PgStockDailyRepository::new(db.clone());
    sql(db, "CREATE UNLOGGED TABLE bench_staging (LIKE stock_daily)").await?;
    sql(db, "CREATE TABLE bench_logged (LIKE stock_daily)").await?;
    sql(
        copy,
        "CREATE UNLOGGED TABLE bench_staging (LIKE stock_daily)",
    )
    .await?;
    let sets = DAILY_BASIC
        .iter()
        .map(|column| format!("{column} = s.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let bare_merge = format!(
        "UPDATE stock_daily d SET {sets} FROM bench_staging s \
         WHERE d.third_code = s.third_code AND d.trade_date = s.trade_date"
    );
    eprintln!("increment: {} days of {} bars", days.len(), stocks.len());
    // [step][side]: insert then merge; repository, staging floor, bare SQL, logged staging.
    let mut times = [(); 2].map(|()| [(); 4].map(|()| Vec::with_capacity(days.len())));
    for day in bars.chunks(stocks.len()) {
        let (daily, basic) = (only(day, DAILY), only(day, DAILY_BASIC));
        for (step, rows) in [daily, basic].into_iter().enumerate() {
            let payload = text_payload(&rows, daily_fields);
            for (side, time) in times[step].iter_mut().enumerate() {
                for db in [db, copy] {
                    sql(db, "TRUNCATE bench_staging").await?;
                }
                sql(db, "TRUNCATE bench_logged").await?;
                let (elapsed, ()) = timed(async || -> anyhow::Result<()> {
                    match (step, side) {
                        (0, 0) => drop(repo.save_all(rows.clone()).await?),
                        (_, 0) => drop(repo.merge_all(rows.clone()).await?),
                        (_, 1) => copy_in(db.pool(), "bench_staging", "", &payload).await?,
                        (_, 3) => copy_in(db.pool(), "bench_logged", "", &payload).await?,
                        (0, _) => copy_in(copy.pool(), "stock_daily", "", &payload).await?,
                        (_, _) => {
                            copy_in(copy.pool(), "bench_staging", "", &payload).await?;
                            sql(copy, "ANALYZE bench_staging").await?;
                            sql(copy, &bare_merge).await?;
                        }
                    }
                    Ok(())
                })
                .await?;
                time.push(elapsed);
            }
        }
    }
    for db in [db, copy] {
        sql(db, "DROP TABLE bench_staging").await?;
    }
    sql(db, "DROP TABLE bench_logged").await?;
    Ok(Increment {
        days: days.len(),
        bars_per_day: stocks.len(),
        insert: Step::new(&times[0]),
        merge: Step::new(&times[1]),
    })
}
