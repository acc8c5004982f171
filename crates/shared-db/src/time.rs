//! Time in UTC, at the precision PostgreSQL stores.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// Now in UTC, truncated to microseconds so that a value read back equals the one written.
///
/// `timestamp without time zone` columns hold UTC; this is what goes in them.
pub fn utc_now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Now as a `timestamptz` value, truncated to microseconds.
pub fn utc_now_tz() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
