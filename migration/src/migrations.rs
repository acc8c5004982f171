//! The migrations, in order. Each is a pair of SQL files under `migration/sql/`.
//!
//! DDL that must match the golden schema exactly (types, defaults, constraint and index
//! names, comments, `serial` keys) is plain SQL: builder helpers pick their own names.

use sea_orm_migration::prelude::*;

use crate::steps;

/// One migration whose `up` and `down` are SQL scripts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlMigration {
    pub(crate) name: &'static str,
    pub(crate) up: &'static str,
    pub(crate) down: &'static str,
}

macro_rules! sql_migration {
    ($name:literal) => {
        SqlMigration {
            name: $name,
            up: include_str!(concat!("../sql/", $name, ".up.sql")),
            down: include_str!(concat!("../sql/", $name, ".down.sql")),
        }
    };
}

/// Every migration, oldest first. The first four are the earlier service's Alembic
/// revisions `c0ff00000001` … `c0ff00000004`, reproduced exactly (its later revisions
/// change no table stockdb manages); stockdb's own are named `mYYYYMMDD_NNNNNN_<what>` so
/// that they never collide with that service's.
pub(crate) const MIGRATIONS: &[SqlMigration] = &[
    sql_migration!("c0ff00000001_initial_schema"),
    sql_migration!("c0ff00000002_add_sync_tables"),
    sql_migration!("c0ff00000003_execution_tracking_and_reports"),
    sql_migration!("c0ff00000004_add_retry_fields_to_research_sessions"),
    sql_migration!("m20261125_000001_faster_updates_indexed_history_checks"),
    sql_migration!("m20261125_000002_point_in_time_finance"),
    sql_migration!("m20261125_000003_llm_model_prices"),
    sql_migration!("m20261125_000004_partitioned_audit_logs"),
    sql_migration!("m20261206_000001_audit_default_partitions"),
    sql_migration!("m20261206_000002_llm_ledger"),
    sql_migration!("m20261206_000003_market_structure"),
    sql_migration!("m20261206_000004_service_tables"),
    sql_migration!("m20261206_000005_board_imports"),
    sql_migration!("m20261207_000001_yearly_stock_daily"),
];

impl SqlMigration {
    /// True when the migration runs step by step outside a transaction (see `steps`).
    pub(crate) fn is_stepwise(&self) -> bool {
        steps::is_stepwise(self.up)
    }

    async fn run(&self, manager: &SchemaManager<'_>, script: &str) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if self.is_stepwise() {
            steps::run(db, self.name, script).await
        } else {
            db.execute_unprepared(script).await.map(drop)
        }
    }
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

// `async_trait` needs the trait's exact (elided) lifetimes.
#[allow(
    elided_lifetimes_in_paths,
    reason = "must match MigrationTrait's signature"
)]
#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, self.up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.run(manager, self.down).await
    }

    /// Online migrations build indexes `CONCURRENTLY`, which PostgreSQL refuses inside a
    /// transaction; each of their steps is atomic on its own and can run again.
    fn use_transaction(&self) -> Option<bool> {
        self.is_stepwise().then_some(false)
    }
}

/// The sea-orm-migration entry point: `Migrator::up(&db, None)` and friends.
///
/// Prefer [`crate::MigrationRunner`], which serialises concurrent runs with an advisory
/// lock and refuses databases that must be adopted first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        MIGRATIONS
            .iter()
            .map(|m| Box::new(*m) as Box<dyn MigrationTrait>)
            .collect()
    }
}
