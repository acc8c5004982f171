//! A partition rewritten online into others: one that holds many periods split into one
//! partition a period, or one period's partition rewritten at another fill factor (packed),
//! while writers go on.
//!
//! 1. A standalone table for each target, shaped as the table, with a CHECK of its bound
//!    and its fill factor (a target that replaces the source under its own name is made
//!    as `<name>_new`).
//! 2. A trigger on the source copies every row written to it from then on into its
//!    period's target (an upsert: a row the copy below put there first is overwritten)
//!    and removes what is deleted or moved, so that nothing the copy has passed is missed.
//! 3. Each target filled in batches of [`BATCH`] rows in primary-key order (`ON CONFLICT DO
//!    NOTHING`: what the trigger put there is newer), each batch its own transaction; then
//!    rows a concurrent delete left behind removed; a target done is marked by a comment,
//!    so a killed run resumes with the targets not done.
//! 4. Each target checked: its rows in the source and in the target are counted in one
//!    snapshot (the trigger changes both in the writer's transaction, so they must be
//!    equal).
//! 5. One short transaction (under `lock_timeout`, retried): the source detached, every
//!    target attached (no scan: each table's CHECK implies its bound), the rows of a period
//!    that got its first rows meanwhile (so had no target) inserted through the table, the
//!    source dropped, a `<name>_new` renamed. Readers and writers wait only for these
//!    catalog changes.
//!
//! The trigger is a row trigger on one server's table: a Citus table's partition, whose
//! rows are on the workers' shards, is refused.

use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};

use super::{RangeTable, internal, literal, quote_ident};
use crate::{Db, RepoError, retry_on_lock_timeout};

/// Rows copied per transaction.
const BATCH: i64 = 5_000;

/// The comment on a target once all its rows are copied.
const COPIED: &str = "stockdb rewrite: copied";

/// The suffix of a target that replaces its source under the source's name.
const NEW: &str = "_new";

/// One partition a rewrite makes: the period starting at `start`, holding `[from, to)`
/// (`from` `None`: every older row too), at `fillfactor` when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its name: the period's partition name ([`RangeTable::name_of`]).
    pub name: String,
    /// Its lower bound; `None` for `MINVALUE`.
    pub from: Option<NaiveDateTime>,
    /// The start of its period.
    pub start: NaiveDateTime,
    /// Its upper bound.
    pub to: NaiveDateTime,
    /// Its fill factor.
    pub fillfactor: Option<u32>,
}

impl RangeTable {
    /// The target of the period starting at `start`; `oldest` takes every older row too.
    pub fn target(
        &self,
        start: NaiveDateTime,
        oldest: bool,
        fillfactor: Option<u32>,
    ) -> Result<Target, RepoError> {
        Ok(Target {
            name: self.name_of(start),
            from: (!oldest).then_some(start),
            start,
            to: self.period.next(start)?,
            fillfactor,
        })
    }

    /// The trigger function that keeps the targets in step with the source (`TG_ARGV`:
    /// the first period's start, whose target also takes every older row; the targets'
    /// suffix).
    fn trigger_function(&self, all_columns: &[String]) -> String {
        let (table, key, format) = (self.table, self.key, self.period.pg_format());
        let target = |row: &str| {
            format!(
                "to_regclass('{table}_' || to_char(greatest({row}.{key}::timestamp, \
                 TG_ARGV[0]::timestamp), '{format}') || TG_ARGV[1])"
            )
        };
        let columns = self.order.join(", ");
        let of_old: Vec<String> = self.order.iter().map(|c| format!("($1).{c}")).collect();
        let set: Vec<String> = all_columns
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        format!(
            "CREATE OR REPLACE FUNCTION stockdb_rewrite_{table}() RETURNS trigger \
             LANGUAGE plpgsql AS $f$
DECLARE
    target regclass;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        target := {old};
        IF target IS NOT NULL THEN
            EXECUTE format('DELETE FROM %s WHERE ({columns}) = ({of_old})', target) USING OLD;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        target := {new};
        IF target IS NOT NULL THEN
            EXECUTE format('INSERT INTO %s SELECT ($1).* ON CONFLICT ({columns}) DO UPDATE '
                           'SET {set}', target) USING NEW;
        END IF;
    END IF;
    RETURN NULL;
END
$f$",
            old = target("OLD"),
            new = target("NEW"),
            of_old = of_old.join(", "),
            set = set.join(", "),
        )
    }

    /// Rewrites partition `source` into `targets` (see the module's documentation): its
    /// periods, oldest first, or one target named as the source (the source packed).
    /// Returns the rows copied. Errors: `Internal` for a Citus table, or when a target and the
    /// source hold different rows after the copy (run it again).
    pub async fn rewrite(
        &self,
        db: &Db,
        source: &str,
        targets: &[Target],
    ) -> Result<u64, RepoError> {
        if super::is_distributed(db, source).await? {
            return Err(internal(format!(
                "{source}: a partition is rewritten by a trigger on one server's table; a \
                 Citus table's shards are not (rewrite it by hand, or leave it)"
            )));
        }
        let Some(first) = targets.first() else {
            return Ok(0);
        };
        let suffix = if targets.len() == 1 && first.name == source {
            NEW
        } else {
            ""
        };
        let what = format!("rewriting {source}");
        let creates: Vec<String> = targets
            .iter()
            .map(|t| self.create_sql(&format!("{}{suffix}", t.name), t.from, t.to, t.fillfactor))
            .collect();
        self.under_short_locks(db, &what, &creates).await?;
        let quoted = quote_ident(source);
        let trigger = format!("stockdb_rewrite_{}", self.table);
        // Every column with its type: the trigger's upsert sets them all, and the copy's
        // keyset parameters are cast to the key columns' types.
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped \
             ORDER BY attnum",
        )
        .bind(format!("public.{}", self.table))
        .fetch_all(db.pool())
        .await?;
        let all_columns: Vec<String> = columns.iter().map(|(name, _)| quote_ident(name)).collect();
        let key_types = self
            .order
            .iter()
            .map(|key| {
                let (_, ty) = columns
                    .iter()
                    .find(|(name, _)| name == key)
                    .ok_or_else(|| {
                        internal(format!(
                            "{}: its key column {key} is not among its columns",
                            self.table
                        ))
                    })?;
                Ok(ty.clone())
            })
            .collect::<Result<Vec<String>, RepoError>>()?;
        self.under_short_locks(
            db,
            &what,
            &[
                self.trigger_function(&all_columns),
                format!("DROP TRIGGER IF EXISTS {trigger} ON {quoted}"),
                format!(
                    "CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {quoted} \
                     FOR EACH ROW EXECUTE FUNCTION {trigger}({}, '{suffix}')",
                    literal(first.start)
                ),
            ],
        )
        .await?;
        let mut rows = 0;
        for target in targets {
            rows += self.copy(db, &quoted, &key_types, target, suffix).await?;
        }
        self.swap(db, source, targets, suffix).await?;
        tracing::info!(partition = %source, targets = targets.len(), rows, "{}: partition rewritten", self.table);
        Ok(rows)
    }

    /// Fills `target` from `source` in batches unless a finished copy marked it; then
    /// checks that both hold as many rows and returns how many. `types`: the key columns'
    /// types, in the key's order.
    async fn copy(
        &self,
        db: &Db,
        source: &str,
        types: &[String],
        target: &Target,
        suffix: &str,
    ) -> Result<u64, RepoError> {
        let name = format!("{}{suffix}", target.name);
        let quoted = quote_ident(&name);
        let key = self.key;
        let window = match target.from {
            Some(from) => format!(
                "{key} >= {} AND {key} < {}",
                literal(from),
                literal(target.to)
            ),
            None => format!("{key} < {}", literal(target.to)),
        };
        let count = || async {
            let (held, copied): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT (SELECT count(*) FROM {source} WHERE {window}), \
                        (SELECT count(*) FROM {quoted})"
            )))
            .fetch_one(db.pool())
            .await?;
            Ok::<_, RepoError>((u64::try_from(held).unwrap_or(0), held == copied))
        };
        let done: Option<String> =
            sqlx::query_scalar("SELECT obj_description(to_regclass($1), 'pg_class')")
                .bind(format!("public.{}", quoted))
                .fetch_one(db.pool())
                .await?;
        if done.as_deref() == Some(COPIED) {
            let (held, complete) = count().await?;
            if complete {
                return Ok(held);
            }
        }
        // Keyset batches down the primary key; the key column leads it, so its index
        // (or the key's) finds where each batch starts.
        let columns = self.order.join(", ");
        let as_text: Vec<String> = self.order.iter().map(|c| format!("{c}::text")).collect();
        let params: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(idx, ty)| format!("${}::text::{ty}", idx + 1))
            .collect();
        let descending: Vec<String> = self.order.iter().map(|c| format!("{c} DESC")).collect();
        let batch = |after: &str| {
            format!(
                "WITH batch AS (SELECT * FROM {source} WHERE {window}{after} \
                                ORDER BY {columns} LIMIT {BATCH}), \
                      copied AS (INSERT INTO {quoted} SELECT * FROM batch ON CONFLICT DO NOTHING) \
                 SELECT {} FROM batch ORDER BY {} LIMIT 1",
                as_text.join(", "),
                descending.join(", ")
            )
        };
        let first = batch("");
        let next = batch(&format!(
            " AND {key} >= {} AND ({columns}) > ({})",
            params[0],
            params.join(", ")
        ));
        let mut last: Option<Vec<String>> = None;
        loop {
            let row: Option<sqlx::postgres::PgRow> = match &last {
                None => {
                    sqlx::query(sqlx::AssertSqlSafe(first.as_str()))
                        .fetch_optional(db.pool())
                        .await?
                }
                Some(values) => {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(next.as_str()));
                    for value in values {
                        query = query.bind(value);
                    }
                    query.fetch_optional(db.pool()).await?
                }
            };
            let Some(row) = row else { break };
            let mut values = Vec::with_capacity(self.order.len());
            for idx in 0..self.order.len() {
                values.push(sqlx::Row::try_get::<String, _>(&row, idx)?);
            }
            last = Some(values);
        }
        // A row deleted from the source after a batch read it (its trigger found nothing
        // to delete yet) was copied all the same: removed here, in one snapshot.
        let matches: Vec<String> = self
            .order
            .iter()
            .map(|c| format!("s.{c} = t.{c}"))
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {quoted} t WHERE NOT EXISTS (SELECT 1 FROM {source} s WHERE {})",
            matches.join(" AND ")
        )))
        .execute(db.pool())
        .await?;
        let (held, complete) = count().await?;
        if !complete {
            return Err(internal(format!(
                "{name} and its rows in {source} differ after the copy; run it again"
            )));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "COMMENT ON TABLE {quoted} IS '{COPIED}'"
        )))
        .execute(db.pool())
        .await?;
        Ok(held)
    }

    /// The swap: `source` detached, every target attached, the rows of periods without a
    /// target put through the table, `source` dropped: one short transaction.
    async fn swap(
        &self,
        db: &Db,
        source: &str,
        targets: &[Target],
        suffix: &str,
    ) -> Result<(), RepoError> {
        let table = self.table;
        let quoted = quote_ident(source);
        let mut statements = vec![format!("ALTER TABLE {table} DETACH PARTITION {quoted}")];
        for target in targets {
            let name = format!("{}{suffix}", target.name);
            statements.extend(self.attach_sql(&name, target.from, target.to));
            statements.push(format!("COMMENT ON TABLE {} IS NULL", quote_ident(&name)));
        }
        let first = targets.first().map(|t| t.start);
        let attempt = || async {
            let txn = db.conn().begin().await?;
            txn.execute_unprepared(&self.locks.set_local()).await?;
            for sql in &statements {
                txn.execute_unprepared(sql).await?;
            }
            // Detached, it takes no more writes: a period that got its first rows while
            // the rewrite ran has them put through the table now.
            let periods = self
                .periods_in_conn(&txn, source)
                .await
                .map_err(|err| DbErr::Custom(err.to_string()))?;
            for start in periods {
                if targets.iter().any(|t| t.start == start) || first.is_some_and(|f| start < f) {
                    continue;
                }
                let to = self
                    .period
                    .next(start)
                    .map_err(|err| DbErr::Custom(err.to_string()))?;
                txn.execute_unprepared(&format!(
                    "INSERT INTO {table} SELECT * FROM {quoted} WHERE {key} >= {} AND {key} < {}",
                    literal(start),
                    literal(to),
                    key = self.key,
                ))
                .await?;
            }
            txn.execute_unprepared(&format!("DROP TABLE {quoted}"))
                .await?;
            if !suffix.is_empty() {
                txn.execute_unprepared(&format!(
                    "ALTER TABLE {} RENAME TO {quoted}",
                    quote_ident(&format!("{source}{suffix}"))
                ))
                .await?;
            }
            txn.commit().await?;
            Ok(())
        };
        let what = format!("swapping in the partitions of {source}");
        Ok(retry_on_lock_timeout(&what, self.locks, attempt).await?)
    }
}
