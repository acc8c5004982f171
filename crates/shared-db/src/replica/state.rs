//! What is known of a replica, as plain data: why it is not used ([`ReplicaProblem`]),
//! what its last check found, how far behind it is, and whether reads may go to it — each
//! rule taking the time as a parameter, so it is tested without a server or a clock.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::ReplicaStatus;

/// How long a watcher's observation stays good: past it (the watcher is gone with the
/// runtime that ran it, say) the replica is not used.
pub(super) fn stale_after(interval: Duration) -> Duration {
    (interval * 3).max(Duration::from_secs(3))
}

/// Primary positions remembered per replica (one a check): past it the newest is
/// replaced, so a replica more than this many checks behind may be measured as lagging a
/// little less than it does, long after it passed any sensible bound.
pub(super) const MAX_SAMPLES: usize = 4096;

/// Why a replica is not used for reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicaProblem {
    /// Its watcher has not asked it yet.
    NotCheckedYet,
    /// It could not be reached; the error chain (which holds no password).
    Unreachable(String),
    /// It did not answer within the probe's time.
    NoAnswer(Duration),
    /// It accepts writes (promoted, or not a replica at all), so it may have diverged.
    NotStandby,
    /// It is not a copy of this primary: another database (`same_cluster`: of the same
    /// cluster, say staging beside production), or a server of another cluster.
    NotThisPrimary {
        /// The database the replica URL names.
        database: String,
        /// Whether it is at least a standby of this primary's cluster.
        same_cluster: bool,
    },
    /// It is further behind the primary than the bound allows.
    Lagging {
        /// How far behind it was.
        lag: Duration,
        /// The bound (`replica_max_lag`).
        bound: Duration,
    },
    /// It neither streams nor has replayed a transaction, so its lag cannot be told.
    LagUnknown,
    /// A read on it failed since its last check; the error chain.
    ReadFailed(String),
    /// Its watcher has not checked it lately (it is gone with the runtime that ran it).
    Stale,
}

impl fmt::Display for ReplicaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotCheckedYet => f.write_str("not checked yet"),
            Self::Unreachable(cause) => write!(f, "unreachable: {cause}"),
            Self::NoAnswer(wait) => {
                write!(f, "unreachable: no answer within {} ms", wait.as_millis())
            }
            Self::NotThisPrimary {
                database,
                same_cluster: true,
            } => write!(
                f,
                "not a replica of this primary: it serves database {database:?}, another \
                 database of the primary's cluster"
            ),
            Self::NotThisPrimary {
                database,
                same_cluster: false,
            } => write!(
                f,
                "not a replica of this primary: a server of another cluster (database \
                 {database:?})"
            ),
            Self::NotStandby => f.write_str(
                "not a standby: it accepts writes (promoted, or not a replica at all), so it \
                 may have diverged from the primary",
            ),
            Self::Lagging { lag, bound } => write!(
                f,
                "lags {} ms behind the primary (bound {} ms)",
                lag.as_millis(),
                bound.as_millis()
            ),
            Self::LagUnknown => f.write_str(
                "its lag is unknown: it is not streaming and has replayed no transaction",
            ),
            Self::ReadFailed(cause) => write!(f, "a read failed: {cause}"),
            Self::Stale => f.write_str("not checked lately (its watcher is not running)"),
        }
    }
}

impl Serialize for ReplicaProblem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a replica's last check (or failed read) found.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Observed {
    pub(super) lag: Option<Duration>,
    /// `None`: usable.
    pub(super) problem: Option<ReplicaProblem>,
    pub(super) checked: Option<Instant>,
}

impl Observed {
    pub(super) fn down(problem: ReplicaProblem, checked: Option<Instant>) -> Self {
        Self {
            lag: None,
            problem: Some(problem),
            checked,
        }
    }

    /// A standby's lag judged against `bound`.
    pub(super) fn judged(lag: Option<Duration>, bound: Duration) -> Self {
        let problem = match lag {
            Some(lag) if lag <= bound => None,
            Some(lag) => Some(ReplicaProblem::Lagging { lag, bound }),
            None => Some(ReplicaProblem::LagUnknown),
        };
        Self {
            lag,
            problem,
            checked: None,
        }
    }

    /// Whether this is too old to trust at `now`, the watcher checking every `interval`.
    pub(super) fn is_stale(&self, now: Instant, interval: Duration) -> bool {
        self.checked
            .is_some_and(|at| now.saturating_duration_since(at) > stale_after(interval))
    }

    /// Whether reads may go to the replica at `now`: fine when last checked, and checked
    /// lately.
    pub(super) fn usable_at(&self, now: Instant, interval: Duration) -> bool {
        self.problem.is_none() && self.checked.is_some() && !self.is_stale(now, interval)
    }
}

/// The primary positions a replica has not replayed yet, each with when it was first seen,
/// oldest first.
#[derive(Debug, Default)]
pub(super) struct Unreplayed(VecDeque<(Instant, i64)>);

impl Unreplayed {
    /// Records that the primary was at `primary_lsn` at `seen` while the replica had
    /// replayed up to `replayed`, forgets what it has replayed, and returns how long before
    /// `now` the oldest position it has not was seen (zero when it has them all).
    pub(super) fn lag(
        &mut self,
        seen: Instant,
        primary_lsn: i64,
        replayed: i64,
        now: Instant,
    ) -> Duration {
        while self.0.front().is_some_and(|(_, lsn)| *lsn <= replayed) {
            self.0.pop_front();
        }
        if primary_lsn > replayed {
            if self.0.len() >= MAX_SAMPLES {
                self.0.pop_back();
            }
            self.0.push_back((seen, primary_lsn));
        }
        self.0
            .front()
            .map_or(Duration::ZERO, |(at, _)| now.saturating_duration_since(*at))
    }
}

/// What `observed` says of a replica at `now`.
pub(super) fn status_at(
    url: &str,
    observed: &Observed,
    interval: Duration,
    reads: u64,
    now: Instant,
) -> ReplicaStatus {
    let stale = observed.is_stale(now, interval);
    ReplicaStatus {
        url: url.to_owned(),
        usable: observed.usable_at(now, interval),
        lag_ms: observed.lag.map(|lag| lag.as_secs_f64() * 1e3),
        problem: if stale {
            Some(ReplicaProblem::Stale)
        } else {
            observed.problem.clone()
        },
        reads,
        checked_ms_ago: observed
            .checked
            .map(|at| now.saturating_duration_since(at).as_secs_f64() * 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_lag_is_the_age_of_the_oldest_position_not_replayed() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut unreplayed = Unreplayed::default();
        // Caught up: no lag, nothing remembered.
        assert_eq!(unreplayed.lag(at(0), 100, 100, at(0)), Duration::ZERO);
        // The primary moves on at 10 s; the replica stops replaying.
        assert_eq!(unreplayed.lag(at(10), 200, 100, at(10)), Duration::ZERO);
        assert_eq!(unreplayed.lag(at(11), 300, 100, at(11)), SECOND);
        assert_eq!(unreplayed.lag(at(15), 300, 100, at(15)), 5 * SECOND);
        // It replays the first position: the lag is now that of the second, seen at 11 s.
        assert_eq!(unreplayed.lag(at(16), 300, 200, at(16)), 5 * SECOND);
        // All replayed: zero again, however long the primary was idle before.
        assert_eq!(unreplayed.lag(at(3600), 300, 300, at(3600)), Duration::ZERO);
        // An idle hour does not make the next write look an hour behind.
        assert_eq!(unreplayed.lag(at(3601), 400, 300, at(3601)), Duration::ZERO);
        assert_eq!(unreplayed.lag(at(3602), 400, 300, at(3602)), SECOND);
    }

    #[test]
    fn remembered_positions_are_bounded() {
        let start = Instant::now();
        let mut unreplayed = Unreplayed::default();
        for idx in 0..(MAX_SAMPLES as u64 + 10) {
            let seen = start + Duration::from_millis(idx);
            unreplayed.lag(seen, 1_000 + idx as i64, 0, seen);
        }
        assert_eq!(unreplayed.0.len(), MAX_SAMPLES);
        // The oldest is kept: the lag still counts from the first position missed.
        let now = start + Duration::from_secs(60);
        assert_eq!(unreplayed.lag(now, 1, 0, now), Duration::from_secs(60));
    }

    #[test]
    fn a_replica_is_used_only_within_its_bound_and_while_checked_lately() {
        let bound = 5 * SECOND;
        let interval = SECOND;
        let now = Instant::now();
        let checked = |mut observed: Observed| {
            observed.checked = Some(now);
            observed
        };
        let fine = checked(Observed::judged(Some(2 * SECOND), bound));
        assert!(fine.usable_at(now, interval));
        // The watcher's last word goes stale after three intervals (at least 3 s).
        assert!(fine.usable_at(now + 3 * SECOND, interval));
        assert!(!fine.usable_at(now + 4 * SECOND, interval));
        let status = status_at("r", &fine, interval, 7, now + 4 * SECOND);
        assert_eq!(status.problem, Some(ReplicaProblem::Stale));
        assert!(!status.usable);
        assert_eq!(status.reads, 7);

        let lagging = checked(Observed::judged(Some(6 * SECOND), bound));
        assert!(!lagging.usable_at(now, interval));
        assert_eq!(
            lagging.problem.as_ref().map(ToString::to_string).as_deref(),
            Some("lags 6000 ms behind the primary (bound 5000 ms)")
        );
        let unknown = checked(Observed::judged(None, bound));
        assert_eq!(unknown.problem, Some(ReplicaProblem::LagUnknown));
        // Never checked: not used, whatever it says.
        assert!(!Observed::judged(Some(Duration::ZERO), bound).usable_at(now, interval));
        let down = Observed::down(ReplicaProblem::NotStandby, Some(now));
        assert!(!down.usable_at(now, interval));
        let status = status_at("r", &down, interval, 0, now);
        assert_eq!(status.problem, Some(ReplicaProblem::NotStandby));
        assert_eq!(status.checked_ms_ago, Some(0.0));
    }

    #[test]
    fn problems_serialise_as_the_text_operators_read() {
        let problem = ReplicaProblem::NoAnswer(2 * SECOND);
        assert_eq!(
            serde_json::to_string(&problem).unwrap(),
            r#""unreachable: no answer within 2000 ms""#
        );
    }
}
