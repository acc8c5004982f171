//! Read replicas: a pool per streaming replica, a watcher per replica that measures how far
//! it is behind the primary, and the choice of where a read goes.
//!
//! The lag is measured against the primary's WAL position: each check reads the primary's
//! `pg_current_wal_lsn()`, then the replica's `pg_last_wal_replay_lsn()`, and remembers when
//! it saw each primary position the replica has not replayed yet. The lag is the age of the
//! oldest of those (zero when the replica has replayed all the primary had at the check):
//! how long the replica has been missing something the primary had, to within one check
//! interval. A write after an idle hour does not make a healthy replica look an hour
//! behind, and a replica paused or cut off from its primary falls behind from the first
//! write it misses. When the primary cannot be asked, the replica's own account stands in:
//! zero when it streams and has replayed all it received, else the age of the last
//! transaction it replayed.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::DbConfig;
use crate::error::{RepoError, TimedOut, error_chain};

/// The longest a read waits for a replica's connection before it goes to the primary: a
/// replica that is down or saturated must not hold a reader up for the pool's full
/// `acquire_timeout`.
const REPLICA_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a watcher's observation stays good: past it (the watcher is gone with the
/// runtime that ran it, say) the replica is not used.
fn stale_after(interval: Duration) -> Duration {
    (interval * 3).max(Duration::from_secs(3))
}

/// Primary positions remembered per replica (one a check): past it the newest is
/// replaced, so a replica more than this many checks behind may be measured as lagging a
/// little less than it does, long after it passed any sensible bound.
const MAX_SAMPLES: usize = 4096;

/// The primary's WAL position, in bytes.
const PRIMARY_LSN: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint";

const PROBE: &str = "SELECT pg_is_in_recovery() AS standby, \
     (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed, \
     EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming, \
     pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS replayed_all, \
     extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS replay_age";

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

/// What is known of one replica.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaStatus {
    /// Its URL, without secrets.
    pub url: String,
    /// Whether reads go to it now: reachable, a standby, within the lag bound, checked lately.
    pub usable: bool,
    /// Its lag when last checked, in milliseconds (`None`: unknown, as when unreachable).
    pub lag_ms: Option<f64>,
    /// Why it is not used (`None` when usable).
    pub problem: Option<ReplicaProblem>,
    /// Reads it has served since this process connected.
    pub reads: u64,
    /// Milliseconds since it was last checked (`None`: never).
    pub checked_ms_ago: Option<f64>,
}

/// What a replica's last check (or failed read) found.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    lag: Option<Duration>,
    /// `None`: usable.
    problem: Option<ReplicaProblem>,
    checked: Option<Instant>,
}

impl Observed {
    fn down(problem: ReplicaProblem, checked: Option<Instant>) -> Self {
        Self {
            lag: None,
            problem: Some(problem),
            checked,
        }
    }

    /// A standby's lag judged against `bound`.
    fn judged(lag: Option<Duration>, bound: Duration) -> Self {
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
    fn is_stale(&self, now: Instant, interval: Duration) -> bool {
        self.checked
            .is_some_and(|at| now.saturating_duration_since(at) > stale_after(interval))
    }

    /// Whether reads may go to the replica at `now`: fine when last checked, and checked
    /// lately.
    fn usable_at(&self, now: Instant, interval: Duration) -> bool {
        self.problem.is_none() && self.checked.is_some() && !self.is_stale(now, interval)
    }
}

/// The primary positions a replica has not replayed yet, each with when it was first seen,
/// oldest first.
#[derive(Debug, Default)]
struct Unreplayed(VecDeque<(Instant, i64)>);

impl Unreplayed {
    /// Records that the primary was at `primary_lsn` at `seen` while the replica had
    /// replayed up to `replayed`, forgets what it has replayed, and returns how long before
    /// `now` the oldest position it has not was seen (zero when it has them all).
    fn lag(&mut self, seen: Instant, primary_lsn: i64, replayed: i64, now: Instant) -> Duration {
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

/// One replica: its pool and what its watcher last saw.
#[derive(Debug)]
pub(crate) struct Replica {
    shown_url: String,
    conn: DatabaseConnection,
    pool: PgPool,
    /// The primary's pool, asked for its WAL position at each check.
    primary: PgPool,
    /// When each primary position the replica has not replayed was first seen.
    unreplayed: Mutex<Unreplayed>,
    max_lag: Duration,
    interval: Duration,
    probe_timeout: Duration,
    observed: Mutex<Observed>,
    reads: AtomicU64,
}

impl Replica {
    fn new(config: &DbConfig, url: &str, primary: &PgPool) -> Result<Self, RepoError> {
        let replica_config = config.for_replica(url);
        let options = replica_config.connect_options()?;
        // Lazy: a replica that is down when the service starts must not stop it.
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(0)
            .acquire_timeout(config.acquire_timeout.min(REPLICA_ACQUIRE_TIMEOUT))
            .connect_lazy_with(options);
        Ok(Self {
            shown_url: replica_config.redacted_url(),
            conn: SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone()),
            pool,
            primary: primary.clone(),
            unreplayed: Mutex::new(Unreplayed::default()),
            max_lag: config.replica_max_lag,
            interval: config.replica_check_interval,
            probe_timeout: config.connect_timeout.min(REPLICA_ACQUIRE_TIMEOUT),
            observed: Mutex::new(Observed::down(ReplicaProblem::NotCheckedYet, None)),
            reads: AtomicU64::new(0),
        })
    }

    fn observed(&self) -> Observed {
        self.observed
            .lock()
            .map_or_else(|poisoned| poisoned.into_inner().clone(), |o| o.clone())
    }

    fn record(&self, observed: Observed) {
        match self.observed.lock() {
            Ok(mut slot) => *slot = observed,
            Err(poisoned) => *poisoned.into_inner() = observed,
        }
    }

    fn is_usable(&self) -> bool {
        self.observed().usable_at(Instant::now(), self.interval)
    }

    /// Marks the replica unusable until its watcher sees it well again.
    fn mark_down(&self, err: &RepoError) {
        self.record(Observed::down(
            ReplicaProblem::ReadFailed(error_chain(err)),
            Some(Instant::now()),
        ));
    }

    /// Asks the replica for its state and records what it said.
    pub(crate) async fn check(&self) {
        let observed = match tokio::time::timeout(self.probe_timeout, self.probe()).await {
            Ok(Ok(observed)) => observed,
            Ok(Err(err)) => Observed::down(ReplicaProblem::Unreachable(error_chain(&err)), None),
            Err(_elapsed) => Observed::down(ReplicaProblem::NoAnswer(self.probe_timeout), None),
        };
        self.record(Observed {
            checked: Some(Instant::now()),
            ..observed
        });
    }

    async fn probe(&self) -> Result<Observed, RepoError> {
        // The primary first: whatever it had then, a caught-up replica has replayed.
        let seen = Instant::now();
        let primary_lsn: Option<i64> = sqlx::query_scalar(PRIMARY_LSN)
            .fetch_one(&self.primary)
            .await
            .ok();
        let (standby, replayed, streaming, replayed_all, replay_age): (
            bool,
            Option<i64>,
            bool,
            bool,
            Option<f64>,
        ) = sqlx::query_as(PROBE).fetch_one(&self.pool).await?;
        if !standby {
            return Ok(Observed::down(ReplicaProblem::NotStandby, None));
        }
        let lag = match (primary_lsn, replayed) {
            (Some(primary_lsn), Some(replayed)) => {
                let mut unreplayed = match self.unreplayed.lock() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                Some(unreplayed.lag(seen, primary_lsn, replayed, Instant::now()))
            }
            _ if streaming && replayed_all => Some(Duration::ZERO),
            _ => replay_age.map(|secs| Duration::from_secs_f64(secs.max(0.0))),
        };
        Ok(Observed::judged(lag, self.max_lag))
    }

    fn status(&self) -> ReplicaStatus {
        status_at(
            &self.shown_url,
            &self.observed(),
            self.interval,
            self.reads.load(Ordering::Relaxed),
            Instant::now(),
        )
    }
}

/// What `observed` says of a replica at `now`.
fn status_at(
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

/// The replicas of one primary and where the next read goes.
#[derive(Debug)]
pub(crate) struct ReplicaSet {
    replicas: Vec<Arc<Replica>>,
    next: AtomicUsize,
}

impl ReplicaSet {
    /// Pools for `config.replica_urls` (none opened yet), each checked once before this
    /// returns, and a watcher per replica that checks it every `replica_check_interval`
    /// for as long as any handle on the set lives.
    pub(crate) async fn start(config: &DbConfig, primary: &PgPool) -> Result<Arc<Self>, RepoError> {
        let replicas = config
            .replica_urls
            .iter()
            .map(|url| Replica::new(config, url, primary).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        for replica in &replicas {
            replica.check().await;
            if let Some(problem) = replica.observed().problem {
                tracing::warn!(replica = %replica.shown_url, %problem, "replica not used for now");
            }
            watch(Arc::downgrade(replica));
        }
        Ok(Arc::new(Self {
            replicas,
            next: AtomicUsize::new(0),
        }))
    }

    /// The next usable replica, in turn.
    fn pick(&self) -> Option<&Replica> {
        let count = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|offset| self.replicas[(start + offset) % count].as_ref())
            .find(|replica| replica.is_usable())
    }

    /// Runs `query` on a usable replica; on the primary (`primary`) when there is none, or
    /// when the replica fails with an error that the primary may not have.
    pub(crate) async fn read<T, F, Fut>(
        &self,
        primary: &DatabaseConnection,
        query: F,
    ) -> Result<T, RepoError>
    where
        F: Fn(DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, RepoError>>,
    {
        if let Some(replica) = self.pick() {
            match query(replica.conn.clone()).await {
                Ok(value) => {
                    replica.reads.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(err) if falls_back(&err) => {
                    if matches!(err, RepoError::Unavailable(_) | RepoError::Timeout { .. }) {
                        replica.mark_down(&err);
                    }
                    tracing::warn!(
                        replica = %replica.shown_url,
                        error = %error_chain(&err),
                        "a read failed on a replica; reading from the primary"
                    );
                }
                Err(err) => return Err(err),
            }
        }
        query(primary.clone()).await
    }

    /// Each replica checked now, in the order configured.
    pub(crate) async fn check_now(&self) -> Vec<ReplicaStatus> {
        let mut statuses = Vec::with_capacity(self.replicas.len());
        for replica in &self.replicas {
            replica.check().await;
            statuses.push(replica.status());
        }
        statuses
    }

    /// What the watchers last saw, in the order configured.
    pub(crate) fn statuses(&self) -> Vec<ReplicaStatus> {
        self.replicas.iter().map(|r| r.status()).collect()
    }

    /// Closes every replica pool.
    pub(crate) async fn close(&self) {
        for replica in &self.replicas {
            replica.pool.close().await;
        }
    }
}

/// Whether a replica's failure is worth trying on the primary: the replica is unreachable,
/// had no connection free in time, or failed with a database error (a hot-standby
/// conflict cancels a query with SQLSTATE 40001, which the primary never does). Errors of
/// the call itself (not found, bad input) and a statement timeout are the caller's.
fn falls_back(err: &RepoError) -> bool {
    match err {
        RepoError::Unavailable(_) | RepoError::Database(_) => true,
        RepoError::Timeout { what } => *what == TimedOut::AcquiringConnection,
        _ => false,
    }
}

/// Checks `replica` every interval until the last handle on it is dropped.
fn watch(replica: Weak<Replica>) {
    let Some(interval) = replica.upgrade().map(|r| r.interval) else {
        return;
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(replica) = replica.upgrade() else {
                return;
            };
            replica.check().await;
        }
    });
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

    #[test]
    fn only_failures_the_primary_may_not_share_fall_back() {
        use crate::error::TimedOut;
        assert!(falls_back(&RepoError::Timeout {
            what: TimedOut::AcquiringConnection
        }));
        assert!(!falls_back(&RepoError::Timeout {
            what: TimedOut::Statement
        }));
        assert!(!falls_back(&RepoError::NotFound {
            entity: "x",
            key: "y".to_owned()
        }));
    }
}
