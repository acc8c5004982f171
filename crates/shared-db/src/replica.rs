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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::config::DbConfig;
use crate::error::{RepoError, error_chain};

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
    pub problem: Option<String>,
    /// Reads it has served since this process connected.
    pub reads: u64,
    /// Milliseconds since it was last checked (`None`: never).
    pub checked_ms_ago: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct Observed {
    usable: bool,
    lag: Option<Duration>,
    problem: Option<String>,
    checked: Option<Instant>,
}

/// One replica: its pool and what its watcher last saw.
#[derive(Debug)]
pub(crate) struct Replica {
    shown_url: String,
    conn: DatabaseConnection,
    pool: PgPool,
    /// The primary's pool, asked for its WAL position at each check.
    primary: PgPool,
    /// When each primary position the replica has not replayed was first seen, oldest
    /// first.
    unreplayed: Mutex<VecDeque<(Instant, i64)>>,
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
            unreplayed: Mutex::new(VecDeque::new()),
            max_lag: config.replica_max_lag,
            interval: config.replica_check_interval,
            probe_timeout: config.connect_timeout.min(REPLICA_ACQUIRE_TIMEOUT),
            observed: Mutex::new(Observed {
                problem: Some("not checked yet".to_owned()),
                ..Observed::default()
            }),
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
        let observed = self.observed();
        observed.usable
            && observed
                .checked
                .is_some_and(|at| at.elapsed() <= stale_after(self.interval))
    }

    /// Marks the replica unusable until its watcher sees it well again.
    fn mark_down(&self, err: &RepoError) {
        self.record(Observed {
            usable: false,
            lag: None,
            problem: Some(format!("a read failed: {}", error_chain(err))),
            checked: Some(Instant::now()),
        });
    }

    /// Asks the replica for its state and records what it said.
    pub(crate) async fn check(&self) {
        let observed = match tokio::time::timeout(self.probe_timeout, self.probe()).await {
            Ok(Ok(observed)) => observed,
            Ok(Err(err)) => Observed {
                problem: Some(format!("unreachable: {}", error_chain(&err))),
                ..Observed::default()
            },
            Err(_elapsed) => Observed {
                problem: Some(format!(
                    "unreachable: no answer within {} ms",
                    self.probe_timeout.as_millis()
                )),
                ..Observed::default()
            },
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
            return Ok(Observed {
                problem: Some(
                    "not a standby: it accepts writes (promoted, or not a replica at all), so \
                     it may have diverged from the primary"
                        .to_owned(),
                ),
                ..Observed::default()
            });
        }
        let lag = match (primary_lsn, replayed) {
            (Some(primary_lsn), Some(replayed)) => {
                Some(self.behind_since(seen, primary_lsn, replayed))
            }
            _ if streaming && replayed_all => Some(Duration::ZERO),
            _ => replay_age.map(|secs| Duration::from_secs_f64(secs.max(0.0))),
        };
        let problem = match lag {
            Some(lag) if lag <= self.max_lag => None,
            Some(lag) => Some(format!(
                "lags {} ms behind the primary (bound {} ms)",
                lag.as_millis(),
                self.max_lag.as_millis()
            )),
            None => Some(
                "its lag is unknown: it is not streaming and has replayed no transaction"
                    .to_owned(),
            ),
        };
        Ok(Observed {
            usable: problem.is_none(),
            lag,
            problem,
            checked: None,
        })
    }

    /// Records that the primary was at `primary_lsn` at `seen`, forgets what the replica
    /// has replayed, and returns how long ago the oldest position it has not was seen.
    fn behind_since(&self, seen: Instant, primary_lsn: i64, replayed: i64) -> Duration {
        let mut unreplayed = match self.unreplayed.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        while unreplayed.front().is_some_and(|(_, lsn)| *lsn <= replayed) {
            unreplayed.pop_front();
        }
        if primary_lsn > replayed {
            if unreplayed.len() >= MAX_SAMPLES {
                unreplayed.pop_back();
            }
            unreplayed.push_back((seen, primary_lsn));
        }
        unreplayed
            .front()
            .map_or(Duration::ZERO, |(at, _)| at.elapsed())
    }

    fn status(&self) -> ReplicaStatus {
        let observed = self.observed();
        let stale = observed
            .checked
            .is_some_and(|at| at.elapsed() > stale_after(self.interval));
        ReplicaStatus {
            url: self.shown_url.clone(),
            usable: observed.usable && !stale,
            lag_ms: observed.lag.map(|lag| lag.as_secs_f64() * 1e3),
            problem: if stale {
                Some("not checked lately (its watcher is not running)".to_owned())
            } else {
                observed.problem
            },
            reads: self.reads.load(Ordering::Relaxed),
            checked_ms_ago: observed.checked.map(|at| at.elapsed().as_secs_f64() * 1e3),
        }
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
        RepoError::Timeout { what } => *what == "acquiring a connection",
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
