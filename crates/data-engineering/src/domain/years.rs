//! `stock_daily`'s yearly partitions, as maintenance reports them.

use chrono::NaiveDate;
use serde::Serialize;

/// The fill factor of the open year's partition (and of the default one): room on each
/// page for the next file's columns of a bar (Tushare's `daily_basic` after its `daily`)
/// to update it in place.
pub const OPEN_FILLFACTOR: u32 = 40;

/// The fill factor of a closed year's partition: packed, since its bars are not written
/// again but for a rare correction.
pub const CLOSED_FILLFACTOR: u32 = 100;

/// Days after a year ends before it counts as closed: its last bars' late values (a
/// `daily_basic` file a few days late, an adjustment) have come by then.
pub const CLOSED_AFTER_DAYS: u32 = 31;

/// Whether the year `year` is closed on `today` (see [`CLOSED_AFTER_DAYS`]).
pub fn is_closed(year: i32, today: NaiveDate) -> bool {
    NaiveDate::from_ymd_opt(year.saturating_add(1), 1, 1)
        .and_then(|end| end.checked_add_days(chrono::Days::new(CLOSED_AFTER_DAYS.into())))
        .is_some_and(|closed| today >= closed)
}

/// The fill factor a partition of year `year` gets on `today`.
pub fn fillfactor_of(year: i32, today: NaiveDate) -> u32 {
    if is_closed(year, today) {
        CLOSED_FILLFACTOR
    } else {
        OPEN_FILLFACTOR
    }
}

/// One partition of `stock_daily`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct YearPartition {
    /// Its table.
    pub name: String,
    /// Its first day; `None` from the beginning of time (the partition schema version 14
    /// made of the table it converted, until maintenance splits it) or for the default one.
    pub from: Option<NaiveDate>,
    /// The first day past it; `None` for the default partition.
    pub to: Option<NaiveDate>,
    /// Its fill factor, when one is set.
    pub fillfactor: Option<u32>,
    /// The planner's estimate of its rows (0 before the first `ANALYZE`).
    pub rows: u64,
    /// Its size with indexes and TOAST.
    pub bytes: u64,
}

/// What one run of `stock_daily`'s partition maintenance did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct YearMaintenance {
    /// The converted partition split into years, when there was one with rows: its name.
    pub split: Option<String>,
    /// The years' partitions the split made.
    pub split_into: Vec<String>,
    /// Rows the split and the packing copied.
    pub rows_copied: u64,
    /// Partitions made: this year's and next year's, and those of rows the default
    /// partition caught.
    pub created: Vec<String>,
    /// Rows moved out of the default partition into their year's.
    pub moved_from_default: u64,
    /// Closed years rewritten at [`CLOSED_FILLFACTOR`].
    pub packed: Vec<String>,
    /// Partitions left to split or pack because the server is a Citus coordinator, whose
    /// sharded partitions the online rewrite cannot follow.
    pub left_on_citus: Vec<String>,
}
