//! Adoption: taking over a database the earlier service's Alembic revisions created.

use sea_orm_migration::sea_orm::{ActiveValue, EntityTrait, TransactionTrait};
use sea_orm_migration::{MigratorTrait, seaql_migrations};

use crate::error::MigrateError;
use crate::fingerprint::{diff, fingerprint, golden};
use crate::migrations::Migrator;
use crate::runner::{MigrationRunner, alembic_revision, applied_history, unix_now};

impl MigrationRunner {
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
}
