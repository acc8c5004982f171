//! Checks a revert runs before it changes anything: what a frozen down script would trip
//! over half-way, found first and named.

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};

use crate::error::MigrateError;

/// The version whose audit logs are partitioned by month, keyed by `(id, created_at)`.
pub(crate) const PARTITIONED_AUDIT_LOGS: usize = 8;

/// Refuses, changing nothing, a revert below version 8 while a call id is stored more
/// than once (across months, which version 8's key allows and version 7's does not),
/// naming the ids: otherwise the revert fails half-way through its copy with an
/// unexplained duplicate key.
pub(crate) async fn check_unique_call_ids(
    db: &DatabaseConnection,
    target: usize,
) -> Result<(), MigrateError> {
    let mut found = Vec::new();
    for table in ["llm_call_logs", "external_api_call_logs"] {
        let rows = db
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT id::text AS id, count(*) AS copies FROM {table} GROUP BY id \
                     HAVING count(*) > 1 ORDER BY id LIMIT 11"
                ),
            ))
            .await?;
        let mut ids = Vec::new();
        for row in &rows {
            let id: String = row.try_get("", "id")?;
            let copies: i64 = row.try_get("", "copies")?;
            ids.push(format!("{id} ({copies} rows)"));
        }
        if ids.len() > 10 {
            ids.truncate(10);
            ids.push("and more".to_owned());
        }
        if !ids.is_empty() {
            found.push(format!("{table}: {}", ids.join(", ")));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(MigrateError::Target {
        to: target,
        reason: format!(
            "version 7 keeps one row per call id, and these ids are stored more than once \
             (at different times): {}. Nothing was changed; delete the rows you do not want \
             to keep, then revert again",
            found.join("; ")
        ),
    })
}
