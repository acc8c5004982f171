//! PostgreSQL's locks under one name each: the registry of advisory-lock keys
//! ([`LockKey`]), a session lock held on a connection of its own ([`SessionLock`]), and
//! statements that wait for a table lock at most a moment and try again
//! ([`retry_on_lock_timeout`]).
//!
//! Every advisory lock stockdb takes is a [`LockKey`]: two uses can never pick the same
//! number by accident, and `pg_locks` can be read back to say who holds one.

use std::time::Duration;

use sea_orm::DbErr;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{RepoError, sqlstate};

/// The advisory locks stockdb takes, each in a key space of its own.
///
/// Single-key locks (`pg_advisory_lock(bigint)`) carry a constant spelled in ASCII, so
/// `pg_locks` shows which one it is; a sync scope uses the two-key form with a class of its
/// own, so it collides with no single-key lock and with no other application's two-key
/// locks that do not use that class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKey<'a> {
    /// Serialises migration runs on one database ("stockdb").
    Migration,
    /// One audit retention run at a time ("retentio").
    Retention,
    /// The building of the tests' template database ("stocktp"); taken on the server's
    /// maintenance database.
    TestTemplate,
    /// A run of one sync task: the first eight bytes of its id.
    SyncTask(Uuid),
    /// One run per scope of sync work (an import of one file, say): class "sdsc" and the
    /// server's `hashtext` of the scope.
    SyncScope(&'a str),
}

/// The class of [`LockKey::SyncScope`] locks: "sd" "sc".
const SCOPE_CLASS: i32 = 0x7364_7363;

/// A lock's key as PostgreSQL takes it.
enum Raw<'a> {
    One(i64),
    Two(i32, &'a str),
}

impl LockKey<'_> {
    fn raw(&self) -> Raw<'_> {
        match *self {
            Self::Migration => Raw::One(0x0073_746f_636b_6462),
            Self::Retention => Raw::One(0x7265_7465_6e74_696f),
            Self::TestTemplate => Raw::One(0x0073_746f_636b_7470),
            Self::SyncTask(id) => {
                let b = id.as_bytes();
                Raw::One(i64::from_be_bytes([
                    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                ]))
            }
            Self::SyncScope(scope) => Raw::Two(SCOPE_CLASS, scope),
        }
    }

    /// The single bigint key of this lock, for tests that take it from another session;
    /// `None` for a two-key scope lock.
    pub fn as_bigint(&self) -> Option<i64> {
        match self.raw() {
            Raw::One(key) => Some(key),
            Raw::Two(..) => None,
        }
    }

    /// Takes the lock on `conn`'s session if it is free; `false` when another session
    /// holds it. It lasts until [`LockKey::unlock`] or the session's end.
    pub async fn try_lock<'c>(&self, conn: impl sqlx::PgExecutor<'c>) -> Result<bool, sqlx::Error> {
        match self.raw() {
            Raw::One(key) => {
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(conn)
                    .await
            }
            Raw::Two(class, scope) => {
                sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                    .bind(class)
                    .bind(scope)
                    .fetch_one(conn)
                    .await
            }
        }
    }

    /// Takes the lock on `conn`'s session, waiting as long as another session holds it.
    pub async fn lock<'c>(&self, conn: impl sqlx::PgExecutor<'c>) -> Result<(), sqlx::Error> {
        match self.raw() {
            Raw::One(key) => sqlx::query("SELECT pg_advisory_lock($1)").bind(key),
            Raw::Two(class, scope) => sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))")
                .bind(class)
                .bind(scope),
        }
        .execute(conn)
        .await
        .map(drop)
    }

    /// Lets go of the lock held by `conn`'s session.
    pub async fn unlock<'c>(&self, conn: impl sqlx::PgExecutor<'c>) -> Result<(), sqlx::Error> {
        match self.raw() {
            Raw::One(key) => sqlx::query("SELECT pg_advisory_unlock($1)").bind(key),
            Raw::Two(class, scope) => sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
                .bind(class)
                .bind(scope),
        }
        .execute(conn)
        .await
        .map(drop)
    }

    /// The single bigint keys of every advisory lock held in the current database (by any
    /// session): whether a [`LockKey::as_bigint`] is among them says whether its holder
    /// lives, for many keys in one query.
    pub async fn held_bigints<'c>(
        conn: impl sqlx::PgExecutor<'c>,
    ) -> Result<std::collections::HashSet<i64>, sqlx::Error> {
        let keys: Vec<i64> = sqlx::query_scalar(
            "SELECT (l.classid::bigint << 32) | l.objid::bigint FROM pg_locks l \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_all(conn)
        .await?;
        Ok(keys.into_iter().collect())
    }

    /// SQL that is true while the server process `$pid` (a parameter) holds the one-key
    /// lock `$key` (a parameter, [`LockKey::as_bigint`]) in the current database: a write
    /// fenced with it is refused once the connection holding the lock is gone, even if
    /// the process that wrote it lives on.
    pub fn held_by(pid: &str, key: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
               AND l.pid = {pid} AND l.objsubid = 1 \
               AND (l.classid::bigint << 32) | l.objid::bigint = {key} \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
        )
    }

    /// Who holds the lock in the current database: process id, application, client and
    /// since when, as far as this session may see (`pg_stat_activity` hides other users'
    /// details from non-superusers); `None` when nobody does.
    pub async fn holder<'c>(
        &self,
        conn: impl sqlx::PgExecutor<'c>,
    ) -> Result<Option<String>, sqlx::Error> {
        // A bigint key shows in pg_locks as classid (high half) and objid (low half) with
        // objsubid 1; a two-key lock as classid and objid with objsubid 2.
        let (condition, first, second): (&str, i64, Option<&str>) = match self.raw() {
            Raw::One(key) => (
                "l.objsubid = 1 AND (l.classid::bigint << 32) | l.objid::bigint = $1",
                key,
                None,
            ),
            Raw::Two(class, scope) => (
                "l.objsubid = 2 AND l.classid::bigint = $1 \
                 AND l.objid::bigint = (hashtext($2)::bigint & 4294967295)",
                i64::from(class),
                Some(scope),
            ),
        };
        let sql = format!(
            "SELECT format('process %s (%s%s), connected since %s, %s since %s', \
                        l.pid, coalesce(nullif(a.application_name, ''), 'no application name'), \
                        coalesce(' from ' || host(a.client_addr), ''), \
                        to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC'), \
                        coalesce(a.state, 'unknown state'), \
                        to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC')) \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND {condition} \
             LIMIT 1"
        );
        let query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(first);
        let query = match second {
            Some(scope) => query.bind(scope),
            None => query.bind(None::<&str>),
        };
        query.fetch_optional(conn).await
    }
}

impl LockKey<'_> {
    /// The error for this lock held by another live session: what is held and by whom.
    pub fn busy(&self) -> RepoError {
        let (entity, key) = match self {
            Self::Migration => (
                "migration",
                "(another migration run holds its lock)".to_owned(),
            ),
            Self::Retention => (
                "audit retention",
                "(another `retention apply` is running)".to_owned(),
            ),
            Self::TestTemplate => (
                "test template",
                "(another test process builds it)".to_owned(),
            ),
            Self::SyncTask(id) => ("sync task", id.to_string()),
            Self::SyncScope(scope) => ("sync scope", (*scope).to_owned()),
        };
        RepoError::Busy { entity, key }
    }
}

/// A session advisory lock held on a connection of its own: it lasts while the guard
/// lives, and goes with the connection when the process dies or the connection is cut,
/// so a crashed holder never keeps it.
#[derive(Debug)]
pub struct SessionLock {
    conn: PgConnection,
    pid: i32,
}

impl SessionLock {
    /// Takes `key` on a new connection to `db`'s primary; [`LockKey::busy`] when another
    /// live session holds it.
    pub async fn try_take(db: &Db, key: LockKey<'_>) -> Result<Self, RepoError> {
        let mut conn = db.dedicated_connection().await?;
        let pid = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await?;
        Self { conn, pid }.and_take(key).await
    }

    /// The server process of the connection holding the locks: a statement on another
    /// connection checks with [`LockKey::held_by`] that it still holds them.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Takes `key` too, on the same connection (released with it); [`LockKey::busy`] when
    /// another session holds it.
    pub async fn and_take(mut self, key: LockKey<'_>) -> Result<Self, RepoError> {
        if key.try_lock(&mut self.conn).await? {
            Ok(self)
        } else {
            Err(key.busy())
        }
    }

    /// The connection that holds the lock, for statements that must run on it.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// How a statement that takes a lock blocking readers or writers waits for it: at most
/// `timeout` each try (`SET LOCAL lock_timeout`), tried up to `tries` times with a growing
/// pause, so nobody queued behind it is held up longer than `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortLocks {
    /// The longest one try waits for its lock.
    pub timeout: Duration,
    /// Tries before giving up.
    pub tries: u32,
}

impl ShortLocks {
    /// One second a try, 30 tries: the bound every online change of stockdb keeps.
    pub const DEFAULT: Self = Self {
        timeout: Duration::from_secs(1),
        tries: 30,
    };

    /// The statement that sets this bound for the current transaction only, so that a
    /// pooled connection keeps no session setting.
    pub fn set_local(&self) -> String {
        format!("SET LOCAL lock_timeout = '{}ms'", self.timeout.as_millis())
    }

    /// The pause after try `attempt` (1-based): a quarter second more each time, at most
    /// two seconds.
    fn pause(attempt: u32) -> Duration {
        Duration::from_millis(250 * u64::from(attempt.clamp(1, 8)))
    }
}

/// Why [`retry_on_lock_timeout`] gave up.
#[derive(Debug)]
pub enum LockWait {
    /// Every try met a lock held elsewhere for longer than the bound.
    GaveUp {
        /// The tries made.
        tries: u32,
        /// The bound of each.
        timeout: Duration,
    },
    /// The statement failed for another reason.
    Failed(DbErr),
}

impl From<LockWait> for RepoError {
    fn from(err: LockWait) -> Self {
        match err {
            LockWait::GaveUp { tries, timeout } => RepoError::Busy {
                entity: "table",
                key: format!(
                    "a lock held by a long transaction ({tries} tries of {} ms each)",
                    timeout.as_millis()
                ),
            },
            LockWait::Failed(err) => err.into(),
        }
    }
}

/// Runs `attempt` until it succeeds, fails with something other than
/// `lock_not_available` (`55P03`, what an expired `lock_timeout` raises), or `policy`'s
/// tries run out. `attempt` must set the bound itself ([`ShortLocks::set_local`] in its
/// transaction) and leave nothing behind when it fails (a rolled-back transaction).
/// `what` names the work in the warning logged at each retry.
pub async fn retry_on_lock_timeout<T, F, Fut>(
    what: &str,
    policy: ShortLocks,
    mut attempt: F,
) -> Result<T, LockWait>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if sqlstate::is(&err, sqlstate::LOCK_NOT_AVAILABLE) => {
                if tries >= policy.tries {
                    return Err(LockWait::GaveUp {
                        tries,
                        timeout: policy.timeout,
                    });
                }
                tracing::warn!(
                    "{what}: a lock is held by another session; try {tries} of {} gave up \
                     after {} ms",
                    policy.tries,
                    policy.timeout.as_millis()
                );
                tokio::time::sleep(ShortLocks::pause(tries)).await;
                tries += 1;
            }
            Err(err) => return Err(LockWait::Failed(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_space_is_apart() {
        let task = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let keys = [
            LockKey::Migration.as_bigint(),
            LockKey::Retention.as_bigint(),
            LockKey::TestTemplate.as_bigint(),
        ];
        for (idx, key) in keys.iter().enumerate() {
            assert!(key.is_some());
            assert!(!keys[idx + 1..].contains(key), "{key:?} used twice");
        }
        assert_eq!(
            LockKey::SyncTask(task).as_bigint(),
            Some(0x0102_0304_0506_0708)
        );
        assert_eq!(LockKey::SyncScope("import x").as_bigint(), None);
        // The migration key is the one earlier releases took: a new stockdb and an old one
        // migrating the same database still wait for each other.
        assert_eq!(LockKey::Migration.as_bigint(), Some(0x0073_746f_636b_6462));
    }

    #[test]
    fn short_locks_wait_a_bounded_growing_pause() {
        assert_eq!(
            ShortLocks::DEFAULT.set_local(),
            "SET LOCAL lock_timeout = '1000ms'"
        );
        assert_eq!(ShortLocks::pause(1), Duration::from_millis(250));
        assert_eq!(ShortLocks::pause(100), Duration::from_secs(2));
    }
}
