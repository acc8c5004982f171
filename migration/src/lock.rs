//! The migration lock: a PostgreSQL session advisory lock on the runner's one connection,
//! so two processes migrating the same database run one after the other. A process that
//! has to wait says who holds the lock, and gives up after its lock timeout.

use std::time::{Duration, Instant};

use sea_orm_migration::DbErr;
use sea_orm_migration::sea_orm::{DatabaseConnection, RuntimeErr};
use shared_db::LockKey;

use crate::error::MigrateError;

/// How often a waiting process says again who it waits for.
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// How often it tries the lock again.
const POLL: Duration = Duration::from_millis(250);

/// Takes the migration lock, waiting at most `timeout` (`None`: as long as it takes).
pub(crate) async fn acquire(
    db: &DatabaseConnection,
    timeout: Option<Duration>,
) -> Result<(), MigrateError> {
    // The runner's pool has one connection that is never recycled: the lock lives on it.
    let pool = db.get_postgres_connection_pool();
    let started = Instant::now();
    let mut reported: Option<Instant> = None;
    loop {
        if LockKey::Migration.try_lock(pool).await.map_err(db_err)? {
            if reported.is_some() {
                tracing::warn!(
                    "got the migration lock after {} s",
                    started.elapsed().as_secs()
                );
            }
            return Ok(());
        }
        let holder = LockKey::Migration
            .holder(pool)
            .await
            .map_err(db_err)?
            .unwrap_or_else(|| "a process that has just let it go".to_owned());
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
    LockKey::Migration
        .unlock(db.get_postgres_connection_pool())
        .await
        .map_err(db_err)
}

fn db_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(err.into()))
}
