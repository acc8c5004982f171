//! PostgreSQL implementations of the repository traits.

mod batch;
mod board;
mod concept;
pub(crate) mod daily;
mod finance;
mod lease;
mod market;
mod stock;
mod structure;
mod structure_sql;
mod sync;
mod years;

pub use board::PgDayBoardRepository;
pub use concept::PgConceptRepository;
pub use daily::PgStockDailyRepository;
pub use finance::PgStockFinanceRepository;
pub use stock::PgStockRepository;
pub use structure::{MAX_TRADING_DAYS, PgMarketStructureRepository};
pub use sync::PgSyncRepository;
pub use years::PgDailyPartitions;
pub(crate) use years::{batch_year, ensure_years};

use chrono::NaiveDate;
use shared_db::{InvalidInput, Page};

/// `limit` as a validated row count (1..=`Page::MAX_LIMIT`).
fn checked_limit(limit: u64) -> Result<u64, InvalidInput> {
    Page::first(limit).map(|page| page.limit())
}

/// `start..=end` must not be reversed.
fn check_range(start: NaiveDate, end: NaiveDate) -> Result<(), InvalidInput> {
    if start > end {
        return Err(InvalidInput::new(
            "start",
            start,
            format!("after end ({end}); the range is inclusive"),
        ));
    }
    Ok(())
}
