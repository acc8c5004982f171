//! What every stockdb context shares: the connection pool ([`Db`], [`DbConfig`]) and the
//! routing of reads to replicas ([`Db::read`]),
//! transactions, the [`RepoError`] type, the bulk upsert engine ([`upsert`]), range
//! partitions kept and rewritten online ([`ranges`]), pagination and UTC time helpers.
//!
//! Context crates (`data-engineering`, `llm-platform`, `coordinator`, `audit`) depend on
//! this crate and on nothing else of the workspace.

mod bulk;
mod config;
mod conn;
mod db;
mod dburl;
mod error;
pub mod float_text;
mod lock;
mod page;
pub mod ranges;
mod redact;
mod replica;
mod time;
mod validate;

pub use bulk::{
    Accessor, BulkColumn, BulkRow, BulkTable, ConflictRule, DEADLOCK_TRIES, DayRow, DayTable,
    Destination, Merge, ROWS_PER_STATEMENT, Stamped, UpsertReport, upsert, upsert_in, upsert_in_to,
    upsert_to, upsert_with,
};
pub use config::DbConfig;
pub use conn::Conn;
pub use db::{Db, check_reachable};
pub use dburl::{UNPARSABLE_URL, redact_url, url_with_database};
pub use error::{
    BoxError, InvalidInput, RepoError, TimedOut, database_error, error_chain, sqlstate,
};
pub use lock::{LockKey, LockWait, SessionLock, ShortLocks, retry_on_lock_timeout};
pub use page::Page;
pub use redact::{REDACTED, is_secret_name, redact_params, redact_text};
pub use replica::{ReplicaProblem, ReplicaStatus};
pub use time::{Clock, ManualClock, SystemClock, utc_now, utc_now_tz};
pub use validate::{
    check_currency, check_finite, check_json, check_len, check_not_empty, check_not_negative,
    check_text,
};

/// What `string_enum!` expands to needs, re-exported so users need not name it.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
