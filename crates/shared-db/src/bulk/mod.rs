//! The bulk upsert engine behind every `save_all`.
//!
//! One call: validate every row (nothing is written if one is bad), deduplicate on the
//! key with the last row winning, sort by key, then write them all in one transaction. A
//! small call is one statement that passes every column as one typed array (`INSERT …
//! SELECT * FROM UNNEST($1::varchar[], $2::date[], …) ON CONFLICT … DO UPDATE`), so its
//! size is independent of the column count and PostgreSQL's 65,535 bind-parameter limit
//! is never approached, whatever the table. A large call streams binary `COPY` data,
//! chunk by chunk, into the table while its rows are new and into a temporary staging
//! table once they are not, then upserts from that table in one statement (see
//! [`upsert`]). Sorting by key makes concurrent writers lock rows in the same order, so
//! overlapping batches wait for each other instead of deadlocking. Rows whose stored
//! values already equal the new ones are not rewritten (no new row version; PostgreSQL
//! still locks them) and are reported as `unchanged`. A call whose rows all belong to one
//! partition of a partitioned table may name it ([`Destination::Partition`], [`upsert_to`]):
//! it is written straight, and counted without probing the stored keys first.
//!
//! The rooms: `table` (how a table describes itself), `sql` (the statements built from
//! that), `encode` (binary `COPY` tuples and `UNNEST` arrays), `dedup` (last row wins,
//! key order), `upsert` (the pipeline) and `day` (tables keyed by a trading day and
//! stamped when saved).

mod day;
mod dedup;
mod encode;
mod sql;
mod table;
mod upsert;

pub use day::{DayRow, DayTable, Stamped};
pub use table::{Accessor, BulkColumn, BulkTable, ConflictRule, Destination, Merge};
pub use upsert::{
    BulkRow, DEADLOCK_TRIES, ROWS_PER_STATEMENT, UpsertReport, upsert, upsert_in, upsert_in_to,
    upsert_to, upsert_with,
};
