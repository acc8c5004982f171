//! What `migrate status` says of a Citus coordinator: its workers and how each of its
//! tables is placed (read from Citus's catalog; nothing without the extension).

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

/// Where a Citus coordinator places stockdb's tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitusPlacement {
    /// Active worker nodes.
    pub workers: u64,
    /// Each table Citus knows, with how it is placed, by name.
    pub tables: Vec<String>,
}

/// The placement of a Citus coordinator's tables, `None` where there is no Citus.
pub(crate) async fn placement(db: &impl ConnectionTrait) -> Result<Option<CitusPlacement>, DbErr> {
    let present = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
        ))
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?
        .unwrap_or(false);
    if !present {
        return Ok(None);
    }
    let workers = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT count(*) FROM pg_dist_node WHERE noderole = 'primary' AND isactive \
             AND groupid <> 0",
        ))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0);
    // A partition is placed with its table: listed once, as the table.
    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT logicalrelid::text || CASE partmethod \
                 WHEN 'n' THEN ': reference table' \
                 WHEN 'h' THEN ': distributed by ' \
                     || column_to_column_name(logicalrelid, partkey) \
                 ELSE ': Citus method ' || partmethod::text END \
             FROM pg_dist_partition \
             WHERE NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = logicalrelid) \
             ORDER BY 1",
        ))
        .await?;
    let tables = rows
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(CitusPlacement {
        workers: workers.unsigned_abs(),
        tables,
    }))
}
