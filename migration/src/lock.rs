//! The migration lock: a PostgreSQL session advisory lock on the runner's one connection,
//! so two processes migrating the same database run one after the other. A process that
//! has to wait says who holds the lock, and gives up after its lock timeout.

use std::time::{Duration, Instant};

use sea_orm_migration::DbErr;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use crate::error::MigrateError;

/// Key of the session-level advisory lock that serialises migration runs.
const LOCK_KEY: i64 = 0x0073_746f_636b_6462; // "stockdb"

/// How often a waiting process says again who it waits for.
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// How often it tries the lock again.
const POLL: Duration = Duration::from_millis(250);

/// Takes the migration lock, waiting at most `timeout` (`None`: as long as it takes).
pub(crate) async fn acquire(
    db: &DatabaseConnection,
    timeout: Option<Duration>,
) -> Result<(), MigrateError> {
    let started = Instant::now();
    let mut reported: Option<Instant> = None;
    loop {
        if try_lock(db).await? {
            if reported.is_some() {
                tracing::warn!(
                    "got the migration lock after {} s",
                    started.elapsed().as_secs()
                );
            }
            return Ok(());
        }
        let holder = holder(db).await?;
        if timeout.is_some_and(|timeout| started.elapsed() >= timeout) {
            return Err(MigrateError::LockTimeout {
                waited_s: started.elapsed().as_secs(),
                holder,
            });
        }
        if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
            tracing::warn!(
                "waiting for the migration lock of this database, held by {holder} \
                 (another migration run); waited {} s so far",
                started.elapsed().as_secs()
            );
            reported = Some(Instant::now());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Releases the migration lock.
pub(crate) async fn release(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT pg_advisory_unlock($1)",
        [LOCK_KEY.into()],
    ))
    .await
    .map(drop)
}

async fn try_lock(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_try_advisory_lock($1) AS locked",
            [LOCK_KEY.into()],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false))
}

/// Who holds the lock: process id, application, client and since when, as far as this
/// session may see (`pg_stat_activity` hides other users' details from non-superusers).
async fn holder(db: &DatabaseConnection) -> Result<String, DbErr> {
    // A bigint advisory key shows in pg_locks as classid (high half) and objid (low half).
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT format('process %s (%s%s), connected since %s, %s since %s', \
                        l.pid, coalesce(nullif(a.application_name, ''), 'no application name'), \
                        coalesce(' from ' || host(a.client_addr), ''), \
                        to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC'), \
                        coalesce(a.state, 'unknown state'), \
                        to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC')) \
                    AS holder \
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND (l.classid::bigint << 32) | l.objid::bigint = $1 \
             LIMIT 1",
            [LOCK_KEY.into()],
        ))
        .await?;
    Ok(row
        .map(|row| row.try_get::<String>("", "holder"))
        .transpose()?
        .unwrap_or_else(|| "a process that has just let it go".to_owned()))
}
