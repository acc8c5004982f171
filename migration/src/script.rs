//! The offline SQL script: what migrating between two versions runs, with the
//! bookkeeping `MigrationRunner` writes, printed without a database.

use sea_orm_migration::sea_orm::sea_query::PostgresQueryBuilder;
use sea_orm_migration::sea_orm::{DatabaseBackend, Schema};
use sea_orm_migration::seaql_migrations;

use crate::migrations::{MIGRATIONS, SqlMigration};
use crate::runner::MigrateError;

/// Which way a printed script goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Apply migrations.
    Up,
    /// Revert migrations.
    Down,
}

/// The SQL that migrating from version `from` to version `to` runs, as one psql-ready
/// script: each migration in its own transaction (an online one statement by statement,
/// as `CREATE INDEX CONCURRENTLY` requires), with the `seaql_migrations` bookkeeping
/// that `MigrationRunner` would write. Needs no database.
pub fn sql_script(direction: Direction, from: usize, to: usize) -> Result<String, MigrateError> {
    let latest = MIGRATIONS.len();
    let bad = |to: usize, reason: String| Err(MigrateError::Target { to, reason });
    if from > latest || to > latest {
        return bad(from.max(to), format!("the latest version is {latest}"));
    }
    let mut out = String::new();
    match direction {
        Direction::Up => {
            if to < from {
                return bad(
                    to,
                    format!("an up script cannot go from {from} down to {to}"),
                );
            }
            let ddl = Schema::new(DatabaseBackend::Postgres)
                .create_table_from_entity(seaql_migrations::Entity)
                .if_not_exists()
                .to_string(PostgresQueryBuilder);
            out.push_str(&format!(
                "-- stockdb migrations: version {from} -> {to}\n{ddl};\n"
            ));
            for m in &MIGRATIONS[from..to] {
                let record = format!(
                    "INSERT INTO seaql_migrations (version, applied_at) \
                     VALUES ('{}', extract(epoch from now())::bigint);",
                    m.name
                );
                push_migration(&mut out, m, m.up, &record);
            }
        }
        Direction::Down => {
            if to > from {
                return bad(
                    to,
                    format!("a down script cannot go from {from} up to {to}"),
                );
            }
            out.push_str(&format!("-- stockdb migrations: version {from} -> {to}\n"));
            for m in MIGRATIONS[to..from].iter().rev() {
                let record = format!("DELETE FROM seaql_migrations WHERE version = '{}';", m.name);
                push_migration(&mut out, m, m.down, &record);
            }
        }
    }
    Ok(out)
}

/// One migration of a script: in a transaction, or, for an online migration, statement by
/// statement with a short `lock_timeout` (as `MigrationRunner` runs it), the bookkeeping
/// last so that a script stopped half way is run again from the top.
fn push_migration(out: &mut String, m: &SqlMigration, sql: &str, record: &str) {
    let sql = sql.trim_end();
    if m.is_stepwise() {
        out.push_str(&format!(
            "\nSET lock_timeout = '{}ms';\n{sql}\nRESET lock_timeout;\n{record}\n",
            shared_db::ShortLocks::DEFAULT.timeout.as_millis()
        ));
    } else {
        out.push_str(&format!("\nBEGIN;\n{sql}\n{record}\nCOMMIT;\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_script_covers_the_requested_range() {
        let script = sql_script(Direction::Up, 1, 3).unwrap();
        assert!(!script.contains("CREATE TABLE stock_info"));
        assert!(script.contains("CREATE TABLE sync_tasks"));
        assert!(script.contains("'c0ff00000003_execution_tracking_and_reports'"));
    }

    #[test]
    fn down_script_reverts_newest_first() {
        let script = sql_script(Direction::Down, 3, 1).unwrap();
        let v3 = script.find("DROP TABLE node_executions").unwrap();
        let v2 = script.find("DROP TABLE sync_tasks").unwrap();
        assert!(v3 < v2);
        assert!(!script.contains("DROP TABLE stock_info"));
    }

    #[test]
    fn scripts_refuse_impossible_ranges() {
        assert!(sql_script(Direction::Up, 2, 1).is_err());
        assert!(sql_script(Direction::Down, 1, 2).is_err());
        assert!(sql_script(Direction::Up, 0, MIGRATIONS.len() + 1).is_err());
    }

    #[test]
    fn online_migrations_print_without_a_transaction() {
        let script = sql_script(Direction::Up, 4, 5).unwrap();
        assert!(!script.contains("BEGIN;"));
        assert!(script.contains("CREATE INDEX CONCURRENTLY ix_llm_call_logs_created_at"));
        assert!(script.trim_end().ends_with(
            "VALUES ('m20261125_000001_faster_updates_indexed_history_checks', \
             extract(epoch from now())::bigint);"
        ));
    }
}
