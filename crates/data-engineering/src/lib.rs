//! Market data and sync bookkeeping: the stock list (`stock_info`), daily bars
//! (`stock_daily`), financial indicators (`stock_finance`), resumable sync jobs (`sync_tasks`)
//! and per-stock failures with bounded retries (`sync_failure_records`).

#[allow(
    dead_code,
    reason = "the repositories that use the entities are being written"
)]
mod entity;
