//! `MigrationRunner`: applies, reverts, reports and adopts, one process at a time.

use std::collections::BTreeSet;
use std::time::Duration;

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, SqlxPostgresConnector, Statement,
    TransactionTrait,
};
use sea_orm_migration::{DbErr, MigratorTrait};
use sqlx::postgres::PgPoolOptions;

use shared_db::{DbConfig, redact_url};

pub use crate::error::MigrateError;
use crate::fingerprint::{fingerprint, golden, managed_tables, split_managed, tables_of};
use crate::guards::{self, PARTITIONED_AUDIT_LOGS};
use crate::lock;
use crate::migrations::{MIGRATIONS, Migrator};

/// One row of the migration history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// The migration's name.
    pub name: String,
    /// When it was applied, in seconds since the Unix epoch (UTC).
    pub applied_at: i64,
}

/// Where a database stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Applied migrations, oldest first.
    pub applied: Vec<AppliedMigration>,
    /// Known migrations not yet applied, oldest first.
    pub pending: Vec<&'static str>,
    /// The earlier service's revision, when an `alembic_version` table exists.
    pub alembic_revision: Option<String>,
    /// Whether stockdb made `alembic_version` (`migrate alembic-stamp` on a database it
    /// created), rather than the earlier service (a database stockdb adopted).
    pub alembic_stamped: bool,
    /// Whether the tables stockdb manages equal the golden print of the applied version
    /// (`None` when no golden print exists for it).
    pub matches_golden: Option<bool>,
    /// Objects of the schema stockdb does not manage (another application's tables,
    /// sequences, views), which it leaves alone and leaves out of the drift check.
    pub others: Vec<String>,
    /// When the tables differ from the golden print: the unified diff from it to them.
    pub drift: Option<String>,
    /// On a Citus coordinator: its active workers and each placed table (`stock_daily:
    /// distributed by third_code`, `stock_info: reference table`); `None` without Citus.
    pub citus: Option<crate::citus::CitusPlacement>,
}

impl MigrationStatus {
    /// The schema version: how many migrations are applied.
    pub fn version(&self) -> usize {
        self.applied.len()
    }

    /// True when the database has no stockdb history but was made by the earlier service.
    pub fn needs_adopt(&self) -> bool {
        self.applied.is_empty() && self.alembic_revision.is_some()
    }
}

/// Runs migrations on one dedicated connection.
///
/// Every change (`up`, `down`, `fresh`, `adopt`) holds a PostgreSQL session advisory lock,
/// so two processes migrating the same database at once run one after the other: the
/// second finds nothing left to do. The lock goes with the connection if the process dies.
#[derive(Debug)]
pub struct MigrationRunner {
    pub(crate) db: DatabaseConnection,
    lock_timeout: Option<Duration>,
    break_earlier_service: bool,
}

impl MigrationRunner {
    /// The number of known migrations: the latest schema version.
    pub const LATEST: usize = MIGRATIONS.len();

    /// Names of every known migration, oldest first.
    pub fn names() -> Vec<&'static str> {
        MIGRATIONS.iter().map(|m| m.name).collect()
    }

    /// Opens one connection to `url`, within 10 s (the connect timeout of
    /// `DbConfig`), with TCP keepalives so that a process that dies while holding the
    /// migration lock lets it go. Errors carry the cause: refused, no such host, timeout.
    pub async fn connect(url: &str) -> Result<Self, MigrateError> {
        let connect_err = |source| MigrateError::Connect {
            url: redact_url(url),
            source,
        };
        // No statement_timeout: a migration may build an index for minutes.
        let config = DbConfig::new(url).with_application_name("stockdb-migrate");
        let options = config.connect_options().map_err(connect_err)?;
        shared_db::check_reachable(&config)
            .await
            .map_err(connect_err)?;
        // One connection that is never recycled: the advisory lock lives on it.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(config.connect_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|err| connect_err(err.into()))?;
        Ok(Self {
            db: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
            lock_timeout: None,
            break_earlier_service: false,
        })
    }

    /// Lets `down` revert below version 4 while the earlier service's recorded revision is
    /// past `c0ff00000004`, which it refuses otherwise: that service's sessions need the
    /// columns version 4 adds.
    #[must_use]
    pub fn breaking_earlier_service(mut self, allow: bool) -> Self {
        self.break_earlier_service = allow;
        self
    }

    /// Refuses a revert to `target` that would break the earlier service sharing the
    /// database (see [`MigrationRunner::breaking_earlier_service`]).
    fn check_earlier_service(
        &self,
        status: &MigrationStatus,
        target: usize,
    ) -> Result<(), MigrateError> {
        let Some(revision) = &status.alembic_revision else {
            return Ok(());
        };
        if self.break_earlier_service {
            return Ok(());
        }
        // A revision of another form is not known to be safe either.
        let past_4 = revision
            .split(',')
            .any(|r| crate::adopt::revision_number(r).is_none_or(|n| n > 4));
        let losing = |version: usize| target < version && status.version() >= version && past_4;
        let what = if losing(4) {
            "its research sessions need retry_count and parent_session_id, which version 4 adds \
             and a revert below it drops, so every session it reads or writes would fail"
        } else if losing(crate::adopt::SERVICE_TABLES_VERSION) {
            "its own tables (concepts, market-data pools, market insight, scheduler, search \
             cache), which version 12 manages and a revert below it drops with their rows, \
             are what it reads and writes"
        } else {
            return Ok(());
        };
        Err(MigrateError::Target {
            to: target,
            reason: format!(
                "the earlier service shares this database at alembic revision {revision}: \
                 {what}. Nothing was changed; stop that service, then pass \
                 --break-earlier-service to revert anyway"
            ),
        })
    }

    /// The longest wait for another process's migration to finish before a change gives
    /// up with `LockTimeout` (default: as long as it takes). The wait is logged at WARN
    /// every 10 s, naming the process that holds the lock.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Where the database stands. Reads only: creates no bookkeeping table.
    pub async fn status(&self) -> Result<MigrationStatus, MigrateError> {
        status_of(&self.db).await
    }

    /// Applies pending migrations up to version `to` (default: all). Returns the names
    /// applied, oldest first; empty when there was nothing to do.
    ///
    /// Each migration runs in its own transaction. Refuses a database created by the
    /// earlier service until it is adopted, and a `to` below the current version.
    pub async fn up(&self, to: Option<usize>) -> Result<Vec<&'static str>, MigrateError> {
        self.locked(async || {
            let status = self.status().await?;
            if let (true, Some(revision)) = (status.needs_adopt(), &status.alembic_revision) {
                return Err(MigrateError::NeedsAdopt {
                    revision: revision.clone(),
                });
            }
            let current = status.version();
            let target = to.unwrap_or(Self::LATEST);
            if target > Self::LATEST {
                return Err(MigrateError::Target {
                    to: target,
                    reason: format!("the latest version is {}", Self::LATEST),
                });
            }
            if target < current {
                return Err(MigrateError::Target {
                    to: target,
                    reason: format!("the database is at version {current}; use `down` to go back"),
                });
            }
            if target == current {
                return Ok(Vec::new());
            }
            Migrator::up(&self.db, Some(step_count(target - current)?)).await?;
            Ok(Self::names()[current..target].to_vec())
        })
        .await
    }

    /// Reverts migrations down to version `to` (default: one step back). Returns the names
    /// reverted, newest first; empty when there was nothing to do.
    pub async fn down(&self, to: Option<usize>) -> Result<Vec<&'static str>, MigrateError> {
        self.locked(async || {
            let status = self.status().await?;
            let current = status.version();
            let target = to.unwrap_or(current.saturating_sub(1));
            self.check_earlier_service(&status, target.min(current))?;
            if target > current {
                return Err(MigrateError::Target {
                    to: target,
                    reason: format!("the database is at version {current}; use `up` to go forward"),
                });
            }
            if target == current {
                return Ok(Vec::new());
            }
            if target < PARTITIONED_AUDIT_LOGS && current >= PARTITIONED_AUDIT_LOGS {
                guards::check_unique_call_ids(&self.db, target).await?;
            }
            Migrator::down(&self.db, Some(step_count(current - target)?)).await?;
            Ok(Self::names()[target..current]
                .iter()
                .rev()
                .copied()
                .collect())
        })
        .await
    }

    /// The tables `fresh` would drop (stockdb's own that exist, with their rows) and the
    /// tables of the schema it would leave alone (anyone else's), both sorted.
    pub async fn fresh_plan(&self) -> Result<(Vec<String>, Vec<String>), MigrateError> {
        let ours = own_tables();
        let (mut dropped, mut kept) = (Vec::new(), Vec::new());
        for table in public_tables(&self.db).await? {
            if ours.contains(table.as_str()) {
                dropped.push(table);
            } else {
                kept.push(table);
            }
        }
        Ok((dropped, kept))
    }

    /// Drops stockdb's own tables (those of its migrations, and its history table) with
    /// every row, then applies every migration. Tables of anyone else are left as they
    /// are; one that references a stockdb table makes the drop fail, and nothing changes.
    /// For development databases only.
    pub async fn fresh(&self) -> Result<Vec<&'static str>, MigrateError> {
        self.locked(async || {
            let (dropped, _) = self.fresh_plan().await?;
            if !dropped.is_empty() {
                let names: Vec<String> = dropped.iter().map(|t| format!("\"{t}\"")).collect();
                // One statement, no CASCADE: all or nothing, and nothing of anyone else's.
                self.db
                    .execute_unprepared(&format!("DROP TABLE {}", names.join(", ")))
                    .await?;
            }
            Migrator::up(&self.db, None).await?;
            Ok(Self::names())
        })
        .await
    }

    /// What reverting to version `to` (default: one step back) would revert: the
    /// migrations, newest first, and the tables that go with them, with every row.
    pub async fn down_plan(
        &self,
        to: Option<usize>,
    ) -> Result<(Vec<&'static str>, Vec<String>), MigrateError> {
        let status = self.status().await?;
        let current = status.version();
        let target = to.unwrap_or(current.saturating_sub(1)).min(current);
        self.check_earlier_service(&status, target)?;
        let reverted: Vec<&'static str> = Self::names()[target..current]
            .iter()
            .rev()
            .copied()
            .collect();
        let before = tables_of(golden(current).unwrap_or_default());
        let after = tables_of(golden(target).unwrap_or_default());
        let dropped = before.difference(&after).map(|t| (*t).to_owned()).collect();
        Ok((reverted, dropped))
    }

    /// The name of the database the runner is connected to.
    pub async fn database_name(&self) -> Result<String, MigrateError> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT current_database()::text AS name",
            ))
            .await?;
        let row = row.ok_or_else(|| DbErr::RecordNotFound("current_database()".to_owned()))?;
        Ok(row.try_get::<String>("", "name")?)
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<(), MigrateError> {
        Ok(self.db.close().await?)
    }
}

impl MigrationRunner {
    /// Runs `work` under the migration lock (see the `lock` module).
    pub(crate) async fn locked<T>(
        &self,
        work: impl AsyncFnOnce() -> Result<T, MigrateError>,
    ) -> Result<T, MigrateError> {
        lock::acquire(&self.db, self.lock_timeout).await?;
        let result = work().await;
        let unlocked = lock::release(&self.db).await;
        let value = result?;
        unlocked?;
        Ok(value)
    }
}

/// Every table a stockdb migration creates, and stockdb's history table.
fn own_tables() -> BTreeSet<&'static str> {
    let mut tables = managed_tables();
    tables.insert("seaql_migrations");
    tables
}

/// The tables of the `public` schema, sorted.
async fn public_tables(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT c.relname::text AS name FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
             ORDER BY 1",
        ))
        .await?;
    rows.iter().map(|row| row.try_get("", "name")).collect()
}

/// The `seaql_migrations` rows, oldest first; empty when the table does not exist
/// (reading never creates it).
pub(crate) async fn applied_history(
    db: &impl ConnectionTrait,
) -> Result<Vec<AppliedMigration>, DbErr> {
    if !table_exists(db, "seaql_migrations").await? {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT version, applied_at FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(AppliedMigration {
                name: row.try_get("", "version")?,
                applied_at: row.try_get("", "applied_at")?,
            })
        })
        .collect()
}

async fn table_exists(db: &impl ConnectionTrait, table: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT to_regclass('public.' || $1) IS NOT NULL AS present",
            [table.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<bool>("", "present"))
        .transpose()?
        .unwrap_or(false))
}

pub(crate) async fn alembic_revision(db: &impl ConnectionTrait) -> Result<Option<String>, DbErr> {
    if !table_exists(db, "alembic_version").await? {
        return Ok(None);
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT version_num FROM alembic_version ORDER BY version_num",
        ))
        .await?;
    let revisions = rows
        .iter()
        .map(|r| r.try_get::<String>("", "version_num"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(revisions.join(",")))
}

/// The comment stockdb leaves on an `alembic_version` table it made.
pub(crate) const STAMPED_COMMENT: &str = "made by stockdb migrate alembic-stamp";

/// Whether `alembic_version` carries the comment stockdb leaves on the one it makes.
async fn alembic_made_by_stockdb(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT obj_description('alembic_version'::regclass, 'pg_class') AS comment",
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<Option<String>>("", "comment"))
        .transpose()?
        .flatten()
        .as_deref()
        == Some(STAMPED_COMMENT))
}

fn step_count(steps: usize) -> Result<u32, MigrateError> {
    u32::try_from(steps).map_err(|_| MigrateError::Target {
        to: steps,
        reason: "too many steps".to_owned(),
    })
}

pub(crate) fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Where the database behind `db` stands (see [`MigrationRunner::status`]), on any
/// connection: reads only, takes no lock. `Stockdb::health` uses it on its pool.
pub async fn status_of<C>(db: &C) -> Result<MigrationStatus, MigrateError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let applied: Vec<AppliedMigration> = applied_history(db).await?;
    let known = MigrationRunner::names();
    for (idx, row) in applied.iter().enumerate() {
        if known.get(idx) != Some(&row.name.as_str()) {
            return Err(MigrateError::History(format!(
                "applied migration {} is not migration {} of this build ({})",
                row.name,
                idx + 1,
                known.get(idx).copied().unwrap_or("none")
            )));
        }
    }
    let pending = known[applied.len()..].to_vec();
    let alembic_revision = alembic_revision(db).await?;
    let alembic_stamped = alembic_revision.is_some() && alembic_made_by_stockdb(db).await?;
    let split = split_managed(&fingerprint(db).await?);
    let expected =
        golden(applied.len()).filter(|_| !(applied.is_empty() && alembic_revision.is_some()));
    let matches_golden = expected.map(|expected| split.managed == expected);
    let drift = expected
        .filter(|expected| split.managed != *expected)
        .map(|expected| {
            crate::fingerprint::diff(
                &format!("golden v{}", applied.len()),
                expected,
                "database",
                &split.managed,
            )
        });
    let citus = crate::citus::placement(db).await?;
    Ok(MigrationStatus {
        applied,
        pending,
        alembic_revision,
        alembic_stamped,
        matches_golden,
        others: split.others,
        drift,
        citus,
    })
}
