//! The history suite's daily increment: trading days after the history, each day's bars
//! through the repository (`save_all`, then the `daily_basic` columns with `merge_all`, as
//! the nightly sync does) beside `COPY` of the same rows into a staging table.

use data_engineering::{PgStockDailyRepository, StockDaily, StockDailyRepository as _, StockInfo};
use serde::Serialize;
use shared_db::Db;

use crate::SEED;
use crate::copy::{copy_in, daily_fields, text_payload};
use crate::history::{bars_by_day, sql, weekdays};
use crate::imports::{DAILY, DAILY_BASIC};
use crate::stats::{Latency, Ratio, timed};

#[derive(Debug, Serialize)]
pub(crate) struct Increment {
    pub(crate) days: usize,
    pub(crate) bars_per_day: usize,
    pub(crate) insert: Latency,
    pub(crate) insert_floor: Latency,
    pub(crate) merge: Latency,
    pub(crate) merge_floor: Latency,
    /// Day by day, the repository's time over its floor's.
    pub(crate) insert_over_floor: Ratio,
    pub(crate) merge_over_floor: Ratio,
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

/// `days` trading days of `stocks` after the history's `last_year`.
pub(crate) async fn increment(
    db: &Db,
    stocks: &[StockInfo],
    last_year: i32,
    days: usize,
) -> anyhow::Result<Increment> {
    let all_days = weekdays(last_year + 1);
    let days = &all_days[..days.min(all_days.len())];
    let bars = bars_by_day(stocks, days, SEED ^ (last_year + 1).unsigned_abs() as u64);
    let repo = PgStockDailyRepository::new(db.clone());
    sql(
        db,
        "CREATE UNLOGGED TABLE bench_increment_floor (LIKE stock_daily)",
    )
    .await?;
    eprintln!("increment: {} days of {} bars", days.len(), stocks.len());
    let mut times = [(); 4].map(|()| Vec::with_capacity(days.len()));
    for day in bars.chunks(stocks.len()) {
        let (daily, basic) = (only(day, DAILY), only(day, DAILY_BASIC));
        let payloads = [
            text_payload(&daily, daily_fields),
            text_payload(&basic, daily_fields),
        ];
        for (step, time) in times.iter_mut().enumerate() {
            sql(db, "TRUNCATE bench_increment_floor").await?;
            let (elapsed, ()) = timed(async || -> anyhow::Result<()> {
                match step {
                    0 => drop(repo.save_all(daily.clone()).await?),
                    2 => drop(repo.merge_all(basic.clone()).await?),
                    _ => {
                        copy_in(db.pool(), "bench_increment_floor", "", &payloads[step / 2])
                            .await?;
                    }
                }
                Ok(())
            })
            .await?;
            time.push(elapsed);
        }
    }
    sql(db, "DROP TABLE bench_increment_floor").await?;
    let secs = |d: &[std::time::Duration]| d.iter().map(|d| d.as_secs_f64()).collect::<Vec<_>>();
    let [insert, insert_floor, merge, merge_floor] = &times;
    Ok(Increment {
        days: days.len(),
        bars_per_day: stocks.len(),
        insert_over_floor: Ratio::speedup(&secs(insert_floor), &secs(insert)),
        merge_over_floor: Ratio::speedup(&secs(merge_floor), &secs(merge)),
        insert: Latency::new(insert),
        insert_floor: Latency::new(insert_floor),
        merge: Latency::new(merge),
        merge_floor: Latency::new(merge_floor),
    })
}
