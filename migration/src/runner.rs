//! `MigrationRunner`: applies, reverts, reports and adopts, one process at a time.

use std::str::FromStr;

use sea_orm_migration::sea_orm::{
    ActiveValue, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait,
    SqlxPostgresConnector, Statement, TransactionTrait,
};
use sea_orm_migration::seaql_migrations;
use sea_orm_migration::{DbErr, MigratorTrait};
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use shared_db::redact_url;

use crate::fingerprint::{diff, fingerprint, golden};
use crate::migrations::{MIGRATIONS, Migrator};

/// Key of the session-level advisory lock that serialises migration runs.
const LOCK_KEY: i64 = 0x0073_746f_636b_6462; // "stockdb"

/// What a migration command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The database could not be reached; the URL is shown without its password.
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A statement failed.
    #[error("database error")]
    Db(#[from] DbErr),
    /// The requested target version cannot be reached with this command.
    #[error("cannot migrate to version {to}: {reason}")]
    Target {
        /// The requested version.
        to: usize,
        /// Why not.
        reason: String,
    },
    /// The database was created by the earlier service and must be adopted first.
    #[error(
        "this database was created by the earlier service (alembic revision {revision}) and has \
         no stockdb migration history; run `migrate adopt` first"
    )]
    NeedsAdopt {
        /// The revision found in `alembic_version`.
        revision: String,
    },
    /// `adopt` found nothing to adopt.
    #[error("nothing to adopt: {0}")]
    NothingToAdopt(String),
    /// `adopt` refused the database; nothing was changed.
    #[error("refusing to adopt, nothing was changed: {reason}{}", diff.as_deref().map(|d| format!("\n{d}")).unwrap_or_default())]
    AdoptRefused {
        /// Why.
        reason: String,
        /// Unified diff from the golden schema to the live one, when the schemas differ.
        diff: Option<String>,
    },
    /// No database URL was given to a command that needs one.
    #[error("no database: set DATABASE_URL or pass --database-url")]
    NoDatabase,
    /// The report could not be written.
    #[error("cannot write the report")]
    Output(#[from] std::io::Error),
    /// The migration history names migrations this build does not have.
    #[error("the database's migration history does not match this build: {0}")]
    History(String),
}

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
    /// Whether the live schema equals the golden print of the applied version
    /// (`None` when no golden print exists for it).
    pub matches_golden: Option<bool>,
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
    db: DatabaseConnection,
}

impl MigrationRunner {
    /// The number of known migrations: the latest schema version.
    pub const LATEST: usize = MIGRATIONS.len();

    /// Names of every known migration, oldest first.
    pub fn names() -> Vec<&'static str> {
        MIGRATIONS.iter().map(|m| m.name).collect()
    }

    /// Opens one connection to `url`.
    pub async fn connect(url: &str) -> Result<Self, MigrateError> {
        let redacted = redact_url(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| MigrateError::Connect {
                url: redacted.clone(),
                source,
            })?
            .application_name("stockdb-migrate")
            .log_statements(tracing::log::LevelFilter::Debug);
        // One connection that is never recycled: the advisory lock lives on it.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|source| MigrateError::Connect {
                url: redacted,
                source,
            })?;
        Ok(Self {
            db: SqlxPostgresConnector::from_sqlx_postgres_pool(pool),
        })
    }

    /// Where the database stands. Reads only: creates no bookkeeping table.
    pub async fn status(&self) -> Result<MigrationStatus, MigrateError> {
        let applied: Vec<AppliedMigration> = applied_history(&self.db).await?;
        let known = Self::names();
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
        let alembic_revision = alembic_revision(&self.db).await?;
        let matches_golden = match golden(applied.len()) {
            Some(expected) if !(applied.is_empty() && alembic_revision.is_some()) => {
                Some(fingerprint(&self.db).await? == expected)
            }
            _ => None,
        };
        Ok(MigrationStatus {
            applied,
            pending,
            alembic_revision,
            matches_golden,
        })
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
            let current = self.status().await?.version();
            let target = to.unwrap_or(current.saturating_sub(1));
            if target > current {
                return Err(MigrateError::Target {
                    to: target,
                    reason: format!("the database is at version {current}; use `up` to go forward"),
                });
            }
            if target == current {
                return Ok(Vec::new());
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

    /// Drops every table and type in the `public` schema, then applies every migration.
    /// For development databases only.
    pub async fn fresh(&self) -> Result<Vec<&'static str>, MigrateError> {
        self.locked(async || {
            Migrator::fresh(&self.db).await?;
            Ok(Self::names())
        })
        .await
    }

    /// Takes over a database created by the earlier service's Alembic revisions.
    ///
    /// Reads the revision in `alembic_version`, checks that the live schema equals the
    /// golden print of that version, then records the matching migrations as applied, so
    /// that later migrations run normally. Returns the adopted version. On any mismatch it
    /// refuses with a readable diff and changes nothing. Adopting twice is a no-op.
    /// `alembic_version` itself is left in place.
    pub async fn adopt(&self) -> Result<usize, MigrateError> {
        self.locked(async || {
            let Some(revision) = alembic_revision(&self.db).await? else {
                return Err(MigrateError::NothingToAdopt(
                    "the database has no alembic_version table; use `migrate up`".to_owned(),
                ));
            };
            let known = Self::names();
            let Some(version) = known
                .iter()
                .position(|name| name.split('_').next() == Some(revision.as_str()))
                .map(|idx| idx + 1)
            else {
                return Err(MigrateError::AdoptRefused {
                    reason: format!(
                        "alembic revision {revision:?} is not one stockdb can adopt \
                         (c0ff00000001, c0ff00000002 or c0ff00000003); a database past \
                         c0ff00000003 carries the earlier service's own later changes"
                    ),
                    diff: None,
                });
            };
            let applied = applied_history(&self.db).await?;
            if !applied.is_empty() {
                let names: Vec<&str> = applied.iter().map(|a| a.name.as_str()).collect();
                if names == known[..version] {
                    return Ok(version);
                }
                return Err(MigrateError::AdoptRefused {
                    reason: format!(
                        "the database already has a stockdb history ({}) that does not match \
                         alembic revision {revision}",
                        names.join(", ")
                    ),
                    diff: None,
                });
            }
            let expected = golden(version).unwrap_or_default();
            let live = fingerprint(&self.db).await?;
            if live != expected {
                return Err(MigrateError::AdoptRefused {
                    reason: format!(
                        "the live schema differs from schema version {version} \
                         (alembic revision {revision})"
                    ),
                    diff: Some(diff(
                        &format!("expected (schema v{version})"),
                        expected,
                        "live database",
                        &live,
                    )),
                });
            }
            let txn = self.db.begin().await?;
            Migrator::install(&txn).await?;
            let applied_at = unix_now();
            seaql_migrations::Entity::insert_many(known[..version].iter().map(|name| {
                seaql_migrations::ActiveModel {
                    version: ActiveValue::Set((*name).to_owned()),
                    applied_at: ActiveValue::Set(applied_at),
                }
            }))
            .exec_without_returning(&txn)
            .await?;
            txn.commit().await?;
            Ok(version)
        })
        .await
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<(), MigrateError> {
        Ok(self.db.close().await?)
    }

    async fn locked<T>(
        &self,
        work: impl AsyncFnOnce() -> Result<T, MigrateError>,
    ) -> Result<T, MigrateError> {
        let got_it = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_try_advisory_lock($1) AS locked",
                [LOCK_KEY.into()],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "locked"))
            .transpose()?
            .unwrap_or(false);
        if !got_it {
            tracing::info!("another process is migrating this database; waiting for it to finish");
            self.db
                .execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pg_advisory_lock($1)",
                    [LOCK_KEY.into()],
                ))
                .await?;
        }
        let result = work().await;
        let unlocked = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_unlock($1)",
                [LOCK_KEY.into()],
            ))
            .await;
        let value = result?;
        unlocked?;
        Ok(value)
    }
}

/// The `seaql_migrations` rows, oldest first; empty when the table does not exist
/// (reading never creates it).
async fn applied_history(db: &DatabaseConnection) -> Result<Vec<AppliedMigration>, DbErr> {
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

async fn table_exists(db: &DatabaseConnection, table: &str) -> Result<bool, DbErr> {
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

async fn alembic_revision(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
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

fn step_count(steps: usize) -> Result<u32, MigrateError> {
    u32::try_from(steps).map_err(|_| MigrateError::Target {
        to: steps,
        reason: "too many steps".to_owned(),
    })
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
