//! Domain types of market data and sync bookkeeping, and their rules.

mod adjust;
mod board;
mod concept;
mod daily;
mod finance;
mod job;
mod lease;
mod market;
mod stock;
mod structure;
mod sync;
mod years;

pub use adjust::{ADJUSTED_COLUMNS, Adjust};
pub use board::{
    BoardRows, BrokenBoardStock, DragonTigerEntry, LimitUpStock, PreviousLimitUpStock, Seat,
    SectorFlow,
};
pub use concept::{Concept, ConceptStock, ConceptSummary};
pub use daily::{MarketDaily, StockDaily, ValuationDaily, WindowReturn};
pub use finance::StockFinance;
pub use market::{
    CalendarDay, DIV_PROC_IMPLEMENTED, Dividend, Exchange, IndexWeight, MarketRows, NameChange,
    NameFlags, PriceLimit, SuspendType, Suspension,
};
pub use stock::{Stock, StockField, StockFieldMut, StockInfo, ThirdCode};
pub use structure::{
    ClassifiedDay, DayClass, FactorCheck, Membership, StockDayStatus, SyncGap, Universe,
};

/// The rows of one sync batch, of whichever table the task fills.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchRows {
    /// Stock list rows. A row whose `symbol` another stock holds (stored, or an earlier
    /// row of the batch) is not written — the symbol's unique key would refuse the whole
    /// batch — but becomes a failure record naming its line: `lines[i]` is where
    /// `rows[i]` came from.
    Stocks {
        /// The rows.
        rows: Vec<StockInfo>,
        /// The source line of each.
        lines: Vec<u64>,
    },
    /// Daily bars.
    Dailies(Vec<StockDaily>),
    /// Daily values that only complete bars already stored: a file with no prices of its
    /// own (Tushare's `daily_basic`, `adj_factor`). A row whose bar is not stored yet is
    /// not written — a bar without open, high, low and close would read as a price bar to
    /// a reader that cannot tell (the earlier service reads a missing price as 0.0) — but
    /// becomes a retryable failure record saying so; importing the file again once the
    /// prices are in completes it. `lines[i]` is where `rows[i]` came from, for that record.
    DailyUpdates {
        /// The values.
        rows: Vec<StockDaily>,
        /// The source line of each.
        lines: Vec<u64>,
    },
    /// Financial reports.
    Finance(Vec<StockFinance>),
    /// Rows of a market-structure table (calendar, suspensions, limits, names, index
    /// weights, dividends).
    Market(MarketRows),
    /// Rows of a day board (pools, dragon-tiger list, sector flows).
    Boards(BoardRows),
}

impl BatchRows {
    /// How many rows.
    pub fn len(&self) -> usize {
        match self {
            Self::Stocks { rows, .. } => rows.len(),
            Self::Dailies(rows) | Self::DailyUpdates { rows, .. } => rows.len(),
            Self::Finance(rows) => rows.len(),
            Self::Market(rows) => rows.len(),
            Self::Boards(rows) => rows.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
pub use lease::{CommittedBatch, RunOutcome, SyncBatch, TaskLease};
pub use sync::{SyncFailureRecord, SyncJobType, SyncTask, SyncTaskStatus, TransitionError};
pub use years::{
    CLOSED_AFTER_DAYS, CLOSED_FILLFACTOR, OPEN_FILLFACTOR, YearMaintenance, YearPartition,
    fillfactor_of, is_closed,
};

pub(crate) use adjust::{NoFactor, scale};
pub(crate) use daily::daily_values;
pub(crate) use finance::finance_indicators;
pub(crate) use structure::{classify_days, halt_on};

use chrono::NaiveDate;
use shared_db::InvalidInput;

/// Earliest and latest dates accepted for market data: anything outside is a parse error
/// upstream (year 0, 9999 …), not a trading day.
const MIN_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
const MAX_DATE: NaiveDate = NaiveDate::from_ymd_opt(2200, 12, 31).expect("valid date");

/// Checks that `date` lies in 1900-01-01..=2200-12-31.
pub(crate) fn check_date(field: &'static str, date: NaiveDate) -> Result<(), InvalidInput> {
    if (MIN_DATE..=MAX_DATE).contains(&date) {
        Ok(())
    } else {
        Err(InvalidInput::new(
            field,
            date,
            "outside 1900-01-01..=2200-12-31",
        ))
    }
}

/// Checks an optional date like [`check_date`].
pub(crate) fn check_opt_date(
    field: &'static str,
    date: Option<NaiveDate>,
) -> Result<(), InvalidInput> {
    date.map_or(Ok(()), |date| check_date(field, date))
}
