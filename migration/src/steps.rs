//! Online migrations: a script marked `-- stockdb: steps` runs statement group by statement
//! group (groups separated by a `-- step` line), outside a transaction, so that indexes can
//! be built and dropped `CONCURRENTLY`. Each step runs with a short `lock_timeout` and is
//! retried a bounded number of times, so a busy table is never blocked for longer than
//! that, and a check constraint that existing rows break fails with the table, the
//! constraint and the rows, not a bare SQLSTATE.
//!
//! A step may start with a `-- skip if: <query>` line: the query returns one boolean, and
//! the step is skipped when it is true. That keeps a script that a killed run left half
//! done runnable again where a statement has no `IF NOT EXISTS` that fits (a
//! `CREATE INDEX CONCURRENTLY` on a table a later step turned into a partitioned one).

use sea_orm_migration::DbErr;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, Statement, TransactionSession as _, TransactionTrait,
};
use shared_db::{LockWait, ShortLocks, database_error, retry_on_lock_timeout, sqlstate};

/// The marker of a script that runs step by step.
pub(crate) const STEPS_MARKER: &str = "-- stockdb: steps";
/// The line between two steps.
const STEP_SEPARATOR: &str = "\n-- step\n";
/// How long any step waits for a lock (never longer does it hold up others behind it),
/// and how often it tries.
const LOCKS: ShortLocks = ShortLocks::DEFAULT;
/// The line that makes a step conditional.
const SKIP_IF: &str = "-- skip if:";

/// The guard query of `step`, if it has one.
fn skip_if(step: &str) -> Option<&str> {
    step.lines()
        .find_map(|line| line.trim().strip_prefix(SKIP_IF))
        .map(str::trim)
}

/// True when `script` runs step by step, outside a transaction.
pub(crate) fn is_stepwise(script: &str) -> bool {
    script.lines().any(|line| line.trim() == STEPS_MARKER)
}

/// The steps of `script`.
pub(crate) fn steps(script: &str) -> impl Iterator<Item = &str> {
    script.split(STEP_SEPARATOR).filter(|step| {
        step.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    })
}

/// Runs `script` step by step on `db`, each step in its own implicit transaction.
///
/// A step that takes a lock which blocks readers or writers (`ALTER TABLE … ADD
/// CONSTRAINT`) waits for it at most [`LOCKS`]' timeout (`SET LOCAL`, so `db` may be a
/// pool: no session setting is left behind), and is tried again up to its tries. A
/// `CONCURRENTLY` step runs alone, as PostgreSQL requires; its lock blocks neither.
pub(crate) async fn run(
    db: &(impl ConnectionTrait + TransactionTrait),
    name: &str,
    script: &str,
) -> Result<(), DbErr> {
    for (idx, step) in steps(script).enumerate() {
        if let Some(guard) = skip_if(step) {
            let row = db
                .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, guard))
                .await?;
            let skip = row
                .map(|row| row.try_get_by_index::<bool>(0))
                .transpose()?
                .unwrap_or(false);
            if skip {
                tracing::info!("migration {name}, step {}: skipped ({guard})", idx + 1);
                continue;
            }
        }
        run_step(db, name, idx + 1, step).await?;
    }
    Ok(())
}

/// Runs one step: a `CONCURRENTLY` one alone; any other in a transaction of its own after
/// the lock bound, sent apart from it. (Citus passes the text of some DDL on a distributed
/// table on to the workers as it came: the step's statements alone, never a `SET` before
/// them, or the workers refuse "multiple commands".)
async fn run_step(
    db: &(impl ConnectionTrait + TransactionTrait),
    name: &str,
    idx: usize,
    step: &str,
) -> Result<(), DbErr> {
    let what = format!("migration {name}, step {idx}");
    let attempt = || async {
        if step.contains(" CONCURRENTLY ") {
            return db.execute_unprepared(step).await.map(drop);
        }
        let txn = db.begin().await?;
        txn.execute_unprepared(&LOCKS.set_local()).await?;
        txn.execute_unprepared(step).await?;
        txn.commit().await
    };
    match retry_on_lock_timeout(&what, LOCKS, attempt).await {
        Ok(()) => Ok(()),
        Err(LockWait::GaveUp { tries, timeout }) => Err(DbErr::Migration(format!(
            "{what}: could not get a lock within {} ms in {tries} tries (a long transaction \
             holds the table); run it again when the table is quieter: every step can run again",
            timeout.as_millis()
        ))),
        Err(LockWait::Failed(err)) if sqlstate::is(&err, sqlstate::CHECK_VIOLATION) => {
            Err(check_violation(db, name, &err).await)
        }
        Err(LockWait::Failed(err)) => Err(err),
    }
}

/// The error for a check constraint existing rows break: the table, the constraint and
/// (the first five of) the rows.
async fn check_violation(db: &impl ConnectionTrait, name: &str, err: &DbErr) -> DbErr {
    let Some(pg) = database_error(err) else {
        return DbErr::Migration(err.to_string());
    };
    let (table, constraint) = (
        pg.table().unwrap_or("?").to_owned(),
        pg.constraint().unwrap_or("?").to_owned(),
    );
    let rows = offending_rows(db, &table, &constraint)
        .await
        .unwrap_or_else(|err| format!("(cannot list them: {err})"));
    DbErr::Migration(format!(
        "migration {name}: rows of table {table} break check constraint {constraint}; the \
         constraint is left NOT VALID (new rows are checked, these are not) and the migration \
         is not recorded. Fix or delete the rows and run the migration again. {rows}"
    ))
}

/// How many rows break `constraint` and the first five of them: their key and the columns
/// the constraint reads, nothing else (other columns may hold what no log should).
async fn offending_rows(
    db: &impl ConnectionTrait,
    table: &str,
    constraint: &str,
) -> Result<String, DbErr> {
    // Condition and column names come from the catalog, quoted by it: not from input.
    let catalog = db
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_get_constraintdef(c.oid) AS def, \
                    quote_ident(c.conrelid::regclass::text) AS tbl, \
                    (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) \
                     FROM pg_attribute a \
                     WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey || coalesce( \
                         (SELECT p.conkey FROM pg_constraint p \
                          WHERE p.conrelid = c.conrelid AND p.contype = 'p'), '{}'))) AS cols \
             FROM pg_constraint c WHERE c.conname = $1 AND c.conrelid = to_regclass($2)",
            [constraint.into(), table.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("constraint {constraint} on {table}")))?;
    let (definition, table, columns): (String, String, String) = (
        catalog.try_get("", "def")?,
        catalog.try_get("", "tbl")?,
        catalog.try_get("", "cols")?,
    );
    let condition = definition
        .strip_prefix("CHECK ")
        .map_or(definition.as_str(), |rest| {
            rest.trim_end_matches(" NOT VALID")
        });
    let rows = db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            format!(
                "SELECT row_to_json(x)::text AS row, count(*) OVER () AS total \
                 FROM (SELECT {columns} FROM {table} WHERE NOT {condition}) x LIMIT 5"
            ),
        ))
        .await?;
    let total: i64 = rows
        .first()
        .map(|row| row.try_get("", "total"))
        .transpose()?
        .unwrap_or(0);
    let listed = rows
        .iter()
        .map(|row| row.try_get::<String>("", "row"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!(
        "{total} row(s){}: {}",
        if total > 5 { ", the first 5" } else { "" },
        listed.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_into_their_steps() {
        let script = "-- header\n-- stockdb: steps\n\nDROP INDEX a;\n-- step\n-- why\nCREATE INDEX b;\n-- step\n-- only a comment\n";
        assert!(is_stepwise(script));
        let steps: Vec<&str> = steps(script).collect();
        assert_eq!(steps.len(), 2);
        assert!(steps[0].contains("DROP INDEX a;"));
        assert!(steps[1].contains("CREATE INDEX b;"));
        assert!(!is_stepwise("CREATE TABLE t ();"));
        assert_eq!(skip_if(steps[0]), None);
        assert_eq!(
            skip_if("-- skip if: SELECT true\nCREATE INDEX x;"),
            Some("SELECT true")
        );
    }
}
