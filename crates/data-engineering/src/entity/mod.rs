//! SeaORM entities of this context, one file per table (crate-private: they never
//! appear in a public signature).

#![allow(
    unreachable_pub,
    reason = "the entity macros generate pub items; the module itself is crate-private"
)]

pub(crate) mod stock_daily;
pub(crate) mod stock_finance;
pub(crate) mod stock_info;
pub(crate) mod sync_failure_records;
pub(crate) mod sync_tasks;
