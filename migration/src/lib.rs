//! The stockdb schema: frozen SQL migrations, the first four reproducing the earlier
//! service's Alembic revisions `c0ff00000001` … `c0ff00000004`; a [`MigrationRunner`] that
//! serialises concurrent runs, adopts databases that service created (at any of its
//! revisions) and stamps its revision for coexistence; and the schema [`fingerprint`] with
//! the golden print of every version.
//!
//! Migrations are frozen history: this crate never imports a context's entities, and a
//! schema change is a new migration, never an edit.

mod adopt;
mod citus;
#[cfg(feature = "cli")]
mod cli;
mod digest;
mod distribute;
mod error;
mod fingerprint;
mod guards;
mod lock;
mod migrations;
mod runner;
mod script;
mod steps;

pub use adopt::{
    ALEMBIC_REVISIONS, Adoption, SERVICE_TABLES, SERVICE_TABLES_VERSION, Stamp, is_newer_revision,
    revision_for_version, revision_number, service_tables_at, version_of_revision,
};
pub use citus::CitusPlacement;
#[cfg(feature = "cli")]
pub use cli::{LockWait, MigrateCommand};
pub use digest::schema_digest;
pub use distribute::{
    Distribution, DistributionStep, Placement, distribute, distribution, if_citus,
};
pub use fingerprint::{SplitPrint, diff, fingerprint, golden, split_managed, with_tables};
pub use migrations::Migrator;
pub use runner::{AppliedMigration, MigrateError, MigrationRunner, MigrationStatus, status_of};
pub use script::{Direction, sql_script};
pub use sea_orm_migration::MigratorTrait;
