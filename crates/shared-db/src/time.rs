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

/// Where "now" comes from: the system's clock in production, a clock a test sets in tests
/// that live through months in seconds. Everything that decides by the date (partitions
/// ahead, retention horizons, health's warnings) asks the [`Db`](crate::Db)'s clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now in UTC, at microsecond precision.
    fn now(&self) -> NaiveDateTime;
}

/// The system's clock: [`utc_now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        utc_now()
    }
}

/// A clock that shows what it was last set to; clones share it. For tests and rehearsals.
#[derive(Debug, Clone)]
pub struct ManualClock(std::sync::Arc<std::sync::Mutex<NaiveDateTime>>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: NaiveDateTime) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(now)))
    }

    /// Sets it to `now`.
    pub fn set(&self, now: NaiveDateTime) {
        match self.0.lock() {
            Ok(mut slot) => *slot = now,
            Err(poisoned) => *poisoned.into_inner() = now,
        }
    }

    /// Moves it on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.set(self.now() + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        match self.0.lock() {
            Ok(slot) => *slot,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_is_shared_by_its_clones() {
        let start = NaiveDateTime::default();
        let clock = ManualClock::new(start);
        let seen_by_other = clock.clone();
        clock.advance(chrono::Duration::days(400));
        assert_eq!(seen_by_other.now(), start + chrono::Duration::days(400));
        assert!(SystemClock.now() > start);
    }
}
