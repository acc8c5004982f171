//! The split of a converted partition into months, online.
//!
//! Schema version 8 turned each audit log into a partitioned table by attaching the whole
//! existing table as one partition from the beginning of time (`<table>_before_YYYY_MM`).
//! Retention drops whole partitions, so that history could go only all at once. The split
//! gives it one partition a month, while writers go on:
//!
//! 1. A standalone table for each month that has rows (the oldest one from `MINVALUE`,
//!    so that nothing older is ever without a home), shaped as the log, with a CHECK of
//!    its bound.
//! 2. A trigger on the converted partition copies every row written to it from then on
//!    (and removes what is deleted) into its month's table, so that nothing the copy below
//!    has passed is missed.
//! 3. Each month copied in batches of [`BATCH`] rows (`ON CONFLICT DO NOTHING`: the
//!    trigger may have been first), each batch its own transaction; a month done is marked
//!    by a comment on its table, so a killed run resumes with the months not done.
//! 4. Each month checked: its rows in the converted partition and in its table are
//!    counted in one snapshot (the trigger changes both in the writer's transaction, so
//!    they must be equal); a month that differs is copied again.
//! 5. One short transaction (under `lock_timeout`, retried): the converted partition
//!    detached, every month attached (no scan: each table's CHECK implies its bound), the
//!    rows of a month that gained its first rows meanwhile (so had no table) inserted
//!    through the log (into the default partition, whence maintenance moves them), the
//!    converted partition dropped. Readers and writers wait only for these catalog
//!    changes.
//!
//! It runs under the retention lock (which `maintain` and `apply` hold), so nothing else
//! of stockdb's updates these rows meanwhile; the earlier service never updates its logs.

use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, TransactionTrait};
use shared_db::{RepoError, retry_on_lock_timeout};

use super::partitions::{
    LOCKS, Partition, attach_month_table, create_month_table, internal, literal, month_name,
    next_month, quote_ident,
};
use super::retention::PgRetentionRepository;
use crate::domain::SplitReport;

/// Rows copied per transaction.
pub(super) const BATCH: i64 = 5_000;

/// The comment on a month's table once all its rows are copied.
const COPIED: &str = "stockdb split: copied";

/// The trigger function: copies a row written to the converted partition into its month's
/// table, if that table exists (`TG_ARGV`: the log's name, the first month's start, whose
/// table also takes every older row).
const TRIGGER_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION stockdb_split_copy() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    target regclass;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        target := to_regclass(TG_ARGV[0] || '_' || to_char(greatest(OLD.created_at, TG_ARGV[1]::timestamp), 'YYYY_MM'));
        IF target IS NOT NULL THEN
            EXECUTE format('DELETE FROM %s WHERE id = $1 AND created_at = $2', target)
                USING OLD.id, OLD.created_at;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        target := to_regclass(TG_ARGV[0] || '_' || to_char(greatest(NEW.created_at, TG_ARGV[1]::timestamp), 'YYYY_MM'));
        IF target IS NOT NULL THEN
            EXECUTE format('INSERT INTO %s SELECT ($1).* ON CONFLICT DO NOTHING', target) USING NEW;
        END IF;
    END IF;
    RETURN NULL;
END
$f$"#;

/// One month of a converted partition: its table's name and bounds.
#[derive(Debug, Clone)]
struct Month {
    name: String,
    /// `None` for the oldest month, which also takes every older row.
    from: Option<NaiveDateTime>,
    start: NaiveDateTime,
    to: NaiveDateTime,
}

impl PgRetentionRepository {
    /// The month starts of the rows `partition` holds, oldest first: one index probe a
    /// month (a skip scan over the `created_at` index), not a scan of the rows.
    pub(super) async fn months_of(
        conn: &impl ConnectionTrait,
        partition: &str,
    ) -> Result<Vec<NaiveDateTime>, DbErr> {
        let quoted = quote_ident(partition);
        let rows = conn
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!(
                    "WITH RECURSIVE m(month) AS ( \
                         SELECT date_trunc('month', min(created_at)) FROM {quoted} \
                         UNION ALL \
                         SELECT (SELECT date_trunc('month', min(created_at)) FROM {quoted} \
                                 WHERE created_at >= m.month + interval '1 month') \
                         FROM m WHERE m.month IS NOT NULL) \
                     SELECT month FROM m WHERE month IS NOT NULL ORDER BY month"
                ),
            ))
            .await?;
        rows.iter()
            .map(|row| row.try_get_by_index::<NaiveDateTime>(0))
            .collect()
    }

    /// Splits the converted partition `converted` of its log into months (see the module's
    /// documentation); returns what it made, or `None` when it holds no row: an empty one
    /// stays, since the oldest partition's lower bound is what tells readers that history
    /// before it was dropped, and none was.
    pub(super) async fn split(
        &self,
        converted: &Partition,
    ) -> Result<Option<SplitReport>, RepoError> {
        let table = converted.table;
        let starts = Self::months_of(self.db.conn(), &converted.name).await?;
        let Some(&first) = starts.first() else {
            return Ok(None);
        };
        let mut months = Vec::with_capacity(starts.len());
        for (idx, &start) in starts.iter().enumerate() {
            months.push(Month {
                name: month_name(table, start),
                from: (idx > 0).then_some(start),
                start,
                to: next_month(start)?,
            });
        }
        let what = format!("splitting {}", converted.name);
        let creates: Vec<String> = months
            .iter()
            .map(|m| create_month_table(table, &m.name, m.from, m.to))
            .collect();
        self.under_short_locks(&what, &creates).await?;
        let quoted = quote_ident(&converted.name);
        self.under_short_locks(
            &what,
            &[
                TRIGGER_FUNCTION.to_owned(),
                format!("DROP TRIGGER IF EXISTS stockdb_split_copy ON {quoted}"),
                format!(
                    "CREATE TRIGGER stockdb_split_copy AFTER INSERT OR UPDATE OR DELETE ON \
                     {quoted} FOR EACH ROW EXECUTE FUNCTION stockdb_split_copy('{table}', {})",
                    literal(first)
                ),
            ],
        )
        .await?;
        let mut rows = 0;
        for month in &months {
            rows += self.copy_month(&quoted, month).await?;
        }
        self.detach_and_drop(converted, &months).await?;
        tracing::info!(partition = %converted.name, months = months.len(), rows, "audit partitions: split");
        Ok(Some(SplitReport {
            partition: converted.name.clone(),
            months: months.into_iter().map(|m| m.name).collect(),
            rows,
        }))
    }

    /// Copies the rows of `month` from the converted partition into its table, in
    /// batches, unless a finished copy marked it; then checks that both hold as many rows
    /// (copying again where they do not) and returns how many.
    async fn copy_month(&self, converted: &str, month: &Month) -> Result<u64, RepoError> {
        let target = quote_ident(&month.name);
        let done = self
            .db
            .conn()
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT obj_description({}::regclass, 'pg_class')",
                    literal_text(&month.name)
                ),
            ))
            .await?
            .map(|row| row.try_get_by_index::<Option<String>>(0))
            .transpose()?
            .flatten();
        let lower = month
            .from
            .map_or_else(|| "'-infinity'::timestamp".to_owned(), literal);
        let window = format!(
            "created_at >= {lower} AND created_at < {}",
            literal(month.to)
        );
        let count = |_: ()| async {
            let row = self
                .db
                .conn()
                .query_one_raw(Statement::from_string(
                    DatabaseBackend::Postgres,
                    format!(
                        "SELECT (SELECT count(*) FROM {converted} WHERE {window}), \
                                (SELECT count(*) FROM {target})"
                    ),
                ))
                .await?
                .ok_or_else(|| internal("a count returned no row".to_owned()))?;
            let (held, copied): (i64, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            Ok::<_, RepoError>((u64::try_from(held).unwrap_or(0), held == copied))
        };
        if done.as_deref() == Some(COPIED) {
            let (held, complete) = count(()).await?;
            if complete {
                return Ok(held);
            }
        }
        let mut last: (String, String) = (
            lower.clone(),
            "'00000000-0000-0000-0000-000000000000'::uuid".to_owned(),
        );
        loop {
            let sql = format!(
                "WITH batch AS (SELECT * FROM {converted} \
                                WHERE created_at >= {lower} AND created_at < {to} \
                                  AND (created_at, id) > ({}, {}) \
                                ORDER BY created_at, id LIMIT {BATCH}), \
                      copied AS (INSERT INTO {target} SELECT * FROM batch ON CONFLICT DO NOTHING) \
                 SELECT created_at, id FROM batch ORDER BY created_at DESC, id DESC LIMIT 1",
                last.0,
                last.1,
                to = literal(month.to),
            );
            let row = self
                .db
                .conn()
                .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
                .await?;
            let Some(row) = row else { break };
            let created_at: NaiveDateTime = row.try_get_by_index(0)?;
            let id: uuid::Uuid = row.try_get_by_index(1)?;
            last = (literal(created_at), format!("'{id}'::uuid"));
        }
        let (held, complete) = count(()).await?;
        if !complete {
            return Err(internal(format!(
                "{} and its month of {converted} hold different rows after the copy",
                month.name
            )));
        }
        self.db
            .conn()
            .execute_unprepared(&format!("COMMENT ON TABLE {target} IS '{COPIED}'"))
            .await?;
        Ok(held)
    }

    /// The swap: `converted` detached, every month attached, the rows of months without
    /// a table put through the log, `converted` dropped: one short transaction.
    async fn detach_and_drop(
        &self,
        converted: &Partition,
        months: &[Month],
    ) -> Result<(), RepoError> {
        let table = converted.table;
        let quoted = quote_ident(&converted.name);
        let mut statements = vec![format!("ALTER TABLE {table} DETACH PARTITION {quoted}")];
        for month in months {
            statements.extend(attach_month_table(table, &month.name, month.from, month.to));
            statements.push(format!(
                "COMMENT ON TABLE {} IS NULL",
                quote_ident(&month.name)
            ));
        }
        let first = months.first().map(|m| m.start);
        let attempt = || async {
            let txn = self.db.conn().begin().await?;
            txn.execute_unprepared(&LOCKS.set_local()).await?;
            for sql in &statements {
                txn.execute_unprepared(sql).await?;
            }
            // Detached, it takes no more writes: a month that got its first rows while
            // the split ran has them put through the log now.
            for start in Self::months_of(&txn, &converted.name).await? {
                if months.iter().any(|m| m.start == start) || first.is_some_and(|f| start < f) {
                    continue;
                }
                let to = next_month(start).map_err(|err| DbErr::Custom(err.to_string()))?;
                txn.execute_unprepared(&format!(
                    "INSERT INTO {table} SELECT * FROM {quoted} \
                     WHERE created_at >= {} AND created_at < {}",
                    literal(start),
                    literal(to)
                ))
                .await?;
            }
            txn.execute_unprepared(&format!("DROP TABLE {quoted}"))
                .await?;
            txn.commit().await?;
            Ok(())
        };
        let what = format!("swapping in the months of {}", converted.name);
        Ok(retry_on_lock_timeout(&what, LOCKS, attempt).await?)
    }
}

/// `name` as an SQL string literal.
fn literal_text(name: &str) -> String {
    format!("'{}'", name.replace('\'', "''"))
}
