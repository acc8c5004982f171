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

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::DbConfig;
use crate::conn::Conn;
use crate::error::{RepoError, TimedOut, error_chain};

mod state;

pub use state::ReplicaProblem;
use state::{Observed, Unreplayed, status_at};

/// The longest a read waits for a replica's connection before it goes to the primary: a
/// replica that is down or saturated must not hold a reader up for the pool's full
/// `acquire_timeout`.
const REPLICA_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The primary's WAL position, in bytes, and what makes it this primary: its database
/// and its cluster's system identifier.
const PRIMARY_LSN: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, \
     current_database()::text, (SELECT system_identifier FROM pg_control_system())::text";

const PROBE: &str = "SELECT current_database()::text AS database, \
     (SELECT system_identifier FROM pg_control_system())::text AS system_identifier, \
     pg_is_in_recovery() AS standby, \
     (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed, \
     EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming, \
     pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS replayed_all, \
     extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS replay_age";

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
        let primary: Option<(i64, String, String)> = sqlx::query_as(PRIMARY_LSN)
            .fetch_one(&self.primary)
            .await
            .ok();
        #[allow(clippy::type_complexity, reason = "one row of the probe, read once")]
        let (database, system_identifier, standby, replayed, streaming, replayed_all, replay_age): (
            String,
            String,
            bool,
            Option<i64>,
            bool,
            bool,
            Option<f64>,
        ) = sqlx::query_as(PROBE).fetch_one(&self.pool).await?;
        // A standby of another cluster, or another database of this one (staging beside
        // production), is never read: its rows are not this primary's.
        if let Some((_, primary_database, primary_system)) = &primary
            && (database != *primary_database || system_identifier != *primary_system)
        {
            return Ok(Observed::down(
                ReplicaProblem::NotThisPrimary {
                    database,
                    same_cluster: system_identifier == *primary_system,
                },
                None,
            ));
        }
        if !standby {
            return Ok(Observed::down(ReplicaProblem::NotStandby, None));
        }
        let primary_lsn = primary.map(|(lsn, _, _)| lsn);
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
    pub(crate) async fn read<T, F, Fut>(&self, primary: &Conn, query: F) -> Result<T, RepoError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = Result<T, RepoError>>,
    {
        if let Some(replica) = self.pick() {
            match query(Conn::Pool(replica.conn.clone())).await {
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
