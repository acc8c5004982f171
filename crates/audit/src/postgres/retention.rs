//! [`RetentionRepository`] on PostgreSQL: partitions read from the catalog, made with
//! `CREATE TABLE … PARTITION OF`, dropped and blanked under short lock waits.

use async_trait::async_trait;
use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult, Statement, TransactionTrait,
};
use shared_db::{
    Db, LockKey, RepoError, SessionLock, ShortLocks, retry_on_lock_timeout, sqlstate, utc_now,
};

use uuid::Uuid;

use crate::domain::{
    MONTHS_AHEAD, PartitionAction, PlannedPartition, RetentionPlan, RetentionPolicy, SessionCalls,
};
use crate::repository::RetentionRepository;

/// The partitions of `$1` (a `public.` table name) with their bounds, estimated rows and
/// size.
const PARTITIONS: &str = include_str!("partitions.sql");

/// The partitioned tables, each with the text columns blanking clears (`prompt_text` is
/// `NOT NULL`: it becomes empty; the others become `NULL`) and the condition of a row
/// that still has some.
const TABLES: [(&str, &str, &str); 2] = [
    (
        "llm_call_logs",
        "prompt_text = '', system_message = NULL, completion_text = NULL",
        "prompt_text <> '' OR system_message IS NOT NULL OR completion_text IS NOT NULL",
    ),
    (
        "external_api_call_logs",
        "response_data = NULL, request_params = NULL",
        "response_data IS NOT NULL OR request_params IS NOT NULL",
    ),
];

/// How long a drop or a blanking waits for its lock before it tries again, and how often.
const LOCKS: ShortLocks = ShortLocks {
    tries: 20,
    ..ShortLocks::DEFAULT
};

/// [`RetentionRepository`] on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgRetentionRepository {
    db: Db,
}

impl PgRetentionRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[derive(Debug, FromQueryResult)]
struct PartitionRow {
    name: String,
    bound: String,
    estimate: f64,
    bytes: i64,
}

/// One partition as the catalog describes it.
#[derive(Debug, Clone)]
struct Partition {
    table: &'static str,
    name: String,
    from: Option<NaiveDateTime>,
    to: NaiveDateTime,
    estimate: u64,
    bytes: u64,
}

/// `FOR VALUES FROM ('2027-01-01 00:00:00') TO ('2027-02-01 00:00:00')`, or
/// `FROM (MINVALUE) TO (…)`, as bounds.
fn parse_bound(bound: &str) -> Option<(Option<NaiveDateTime>, NaiveDateTime)> {
    let rest = bound.strip_prefix("FOR VALUES FROM (")?;
    let (from, rest) = rest.split_once(") TO (")?;
    let to = rest.strip_suffix(')')?;
    let timestamp = |text: &str| {
        NaiveDateTime::parse_from_str(text.trim_matches('\''), "%Y-%m-%d %H:%M:%S").ok()
    };
    let from = if from == "MINVALUE" {
        None
    } else {
        Some(timestamp(from)?)
    };
    Some((from, timestamp(to)?))
}

fn month_start(day: NaiveDate) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(day.year(), day.month(), 1)
        .unwrap_or(day)
        .and_time(chrono::NaiveTime::MIN)
}

fn internal(detail: String) -> RepoError {
    RepoError::Internal {
        component: "audit retention",
        detail,
    }
}

impl PgRetentionRepository {
    async fn partitions_of(
        conn: &impl ConnectionTrait,
        table: &'static str,
    ) -> Result<Vec<Partition>, RepoError> {
        let rows = PartitionRow::find_by_statement(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            PARTITIONS,
            [format!("public.{table}").into()],
        ))
        .all(conn)
        .await?;
        let mut partitions = rows
            .into_iter()
            .map(|row| {
                let (from, to) = parse_bound(&row.bound).ok_or_else(|| {
                    internal(format!(
                        "partition {} of {table} has a bound stockdb does not make: {}",
                        row.name, row.bound
                    ))
                })?;
                Ok(Partition {
                    table,
                    name: row.name,
                    from,
                    to,
                    // Whole rows: an estimate has no fractions worth showing.
                    estimate: row.estimate.round().max(0.0) as u64,
                    bytes: u64::try_from(row.bytes).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        partitions.sort_by_key(|p| (p.from, p.to));
        Ok(partitions)
    }

    async fn all_partitions(&self) -> Result<Vec<Partition>, RepoError> {
        let mut all = Vec::new();
        for (table, _, _) in TABLES {
            let partitions = Self::partitions_of(self.db.conn(), table).await?;
            if partitions.is_empty() {
                return Err(internal(format!(
                    "{table} is not partitioned: the schema is older than version 8; run \
                     `stockdb migrate up`"
                )));
            }
            all.extend(partitions);
        }
        Ok(all)
    }

    /// Runs `sql`, which returns one row of `N` counts.
    async fn counts<const N: usize>(&self, sql: String) -> Result<[u64; N], RepoError> {
        let row = self
            .db
            .conn()
            .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
            .await?
            .ok_or_else(|| internal("a count returned no row".to_owned()))?;
        let mut counts = [0; N];
        for (idx, count) in counts.iter_mut().enumerate() {
            *count = u64::try_from(row.try_get_by_index::<i64>(idx)?).unwrap_or(0);
        }
        Ok(counts)
    }

    /// The rows of partition `quoted`, and its calls per research session, in one scan.
    async fn calls_by_session(&self, quoted: &str) -> Result<(u64, Vec<SessionCalls>), RepoError> {
        let rows = self
            .db
            .conn()
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!("SELECT session_id, count(*) FROM {quoted} GROUP BY session_id"),
            ))
            .await?;
        let mut total = 0;
        let mut by_session = Vec::new();
        for row in rows {
            let calls = u64::try_from(row.try_get_by_index::<i64>(1)?).unwrap_or(0);
            total += calls;
            if let Some(session_id) = row.try_get_by_index::<Option<Uuid>>(0)? {
                by_session.push(SessionCalls { session_id, calls });
            }
        }
        Ok((total, by_session))
    }

    async fn make_plan(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        policy.validate()?;
        let now = utc_now();
        let days = |n: u32| chrono::Duration::days(i64::from(n));
        let drop_before = now - days(policy.keep_days);
        let blank_before = policy.blank_after_days.map(|n| now - days(n));
        let mut planned = Vec::new();
        for partition in self.all_partitions().await? {
            let mut action = if partition.to <= drop_before {
                PartitionAction::Drop
            } else if blank_before.is_some_and(|before| partition.to <= before) {
                PartitionAction::Blank
            } else {
                PartitionAction::Keep
            };
            let quoted = quote_ident(&partition.name);
            let (rows, calls_by_session) = match action {
                PartitionAction::Keep => (partition.estimate, Vec::new()),
                PartitionAction::Blank => {
                    // Only the rows that still hold text: a partition blanked by an
                    // earlier run has nothing left to do.
                    let (_, _, condition) = blanking(partition.table)?;
                    let [rows] = self
                        .counts(format!(
                            "SELECT count(*) FILTER (WHERE {condition}) FROM {quoted}"
                        ))
                        .await?;
                    if rows == 0 {
                        action = PartitionAction::Keep;
                        (partition.estimate, Vec::new())
                    } else {
                        (rows, Vec::new())
                    }
                }
                PartitionAction::Drop => {
                    // One pass: every row, and the calls of each session. Which of those
                    // sessions are still stored is the coordinator's to say, not this
                    // context's SQL (`stockdb` composes the two).
                    let (rows, calls) = self.calls_by_session(&quoted).await?;
                    (rows, calls)
                }
            };
            planned.push(PlannedPartition {
                table: partition.table,
                partition: partition.name,
                from: partition.from,
                to: partition.to,
                action,
                rows,
                bytes: partition.bytes,
                calls_by_session,
                calls_of_stored_sessions: 0,
                stored_sessions: 0,
            });
        }
        Ok(RetentionPlan {
            now,
            drop_before,
            blank_before,
            partitions: planned,
            created: Vec::new(),
        })
    }

    /// Runs `sql` in a transaction whose lock waits are short, trying again while a lock
    /// is held elsewhere; returns the rows it affected.
    async fn under_short_locks(&self, sql: &str) -> Result<u64, RepoError> {
        let attempt = || async {
            let txn = self.db.conn().begin().await?;
            txn.execute_unprepared(&LOCKS.set_local()).await?;
            // Dropping the transaction on an error rolls it back.
            let result = txn.execute_unprepared(sql).await?;
            txn.commit().await?;
            Ok(result.rows_affected())
        };
        Ok(retry_on_lock_timeout("audit retention", LOCKS, attempt).await?)
    }

    /// Makes the missing monthly partitions of `table` from `first` (a month start) through
    /// `last` (a month start), skipping months an existing partition covers even in part.
    async fn ensure_months(
        &self,
        table: &'static str,
        first: NaiveDateTime,
        last: NaiveDateTime,
    ) -> Result<Vec<String>, RepoError> {
        let existing = Self::partitions_of(self.db.conn(), table).await?;
        let mut created = Vec::new();
        let mut month = first;
        while month <= last {
            let next = month
                .checked_add_months(Months::new(1))
                .ok_or_else(|| internal(format!("no month after {month}")))?;
            let covered = existing
                .iter()
                .any(|p| p.from.is_none_or(|from| from < next) && p.to > month);
            if !covered {
                let name = format!("{table}_{}", month.format("%Y_%m"));
                let sql = format!(
                    "CREATE TABLE IF NOT EXISTS {} PARTITION OF {table} \
                     FOR VALUES FROM ('{}') TO ('{}')",
                    quote_ident(&name),
                    month.format("%Y-%m-%d %H:%M:%S"),
                    next.format("%Y-%m-%d %H:%M:%S"),
                );
                match self.under_short_locks(&sql).await {
                    Ok(_) => created.push(name),
                    // Another process made it at the same moment.
                    Err(RepoError::Conflict { .. }) => {}
                    Err(err) => return Err(err),
                }
            }
            month = next;
        }
        Ok(created)
    }

    /// Makes the partition of `created_at`'s month of `table` when there is none: what a
    /// save that met "no partition of relation … found for row" calls before it tries again.
    pub(crate) async fn ensure_month_of(
        db: &Db,
        table: &'static str,
        created_at: NaiveDateTime,
    ) -> Result<(), RepoError> {
        let month = month_start(created_at.date());
        Self::new(db.clone())
            .ensure_months(table, month, month)
            .await
            .map(drop)
    }
}

#[async_trait]
impl RetentionRepository for PgRetentionRepository {
    async fn plan(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        self.make_plan(policy).await
    }

    async fn apply(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        policy.validate()?;
        // A session lock on a connection of its own: it goes away with the process.
        let lock = SessionLock::try_take(&self.db, LockKey::Retention).await?;
        let created = self.ensure_partitions().await?;
        let mut plan = self.make_plan(policy).await?;
        plan.created = created;
        for partition in &plan.partitions {
            let quoted = quote_ident(&partition.partition);
            match partition.action {
                PartitionAction::Keep => {}
                PartitionAction::Blank => {
                    let (_, set, condition) = blanking(partition.table)?;
                    let blanked = self
                        .under_short_locks(&format!("UPDATE {quoted} SET {set} WHERE {condition}"))
                        .await?;
                    tracing::info!(partition = %partition.partition, blanked, "retention: text blanked");
                }
                PartitionAction::Drop => {
                    self.under_short_locks(&format!("DROP TABLE {quoted}"))
                        .await?;
                    tracing::info!(
                        partition = %partition.partition,
                        rows = partition.rows,
                        "retention: partition dropped"
                    );
                }
            }
        }
        // Closing the connection ends the session and its lock.
        drop(lock);
        Ok(plan)
    }

    async fn ensure_partitions(&self) -> Result<Vec<String>, RepoError> {
        let this_month = month_start(utc_now().date());
        let last = this_month
            .checked_add_months(Months::new(MONTHS_AHEAD))
            .ok_or_else(|| internal(format!("no month {MONTHS_AHEAD} after {this_month}")))?;
        let mut created = Vec::new();
        for (table, _, _) in TABLES {
            created.extend(self.ensure_months(table, this_month, last).await?);
        }
        Ok(created)
    }

    async fn horizon(&self) -> Result<Option<NaiveDateTime>, RepoError> {
        let mut horizon: Option<NaiveDateTime> = None;
        for (table, _, _) in TABLES {
            let partitions = Self::partitions_of(self.db.conn(), table).await?;
            if let Some(from) = partitions.first().and_then(|p| p.from) {
                horizon = Some(horizon.map_or(from, |h| h.max(from)));
            }
        }
        Ok(horizon)
    }
}

/// The blanking of `table`: its entry in [`TABLES`].
fn blanking(table: &str) -> Result<(&'static str, &'static str, &'static str), RepoError> {
    TABLES
        .into_iter()
        .find(|(name, _, _)| *name == table)
        .ok_or_else(|| internal(format!("{table} is not a partitioned audit log")))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Whether `err` is PostgreSQL's "no partition of relation … found for row": a row dated in
/// a month no partition covers.
pub(crate) fn is_missing_partition(err: &DbErr) -> bool {
    sqlstate::is(err, sqlstate::CHECK_VIOLATION)
        && err.to_string().contains("no partition of relation")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_as_the_catalog_prints_them() {
        let ts = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            parse_bound("FOR VALUES FROM ('2027-01-01 00:00:00') TO ('2027-02-01 00:00:00')"),
            Some((Some(ts("2027-01-01 00:00:00")), ts("2027-02-01 00:00:00")))
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00')"),
            Some((None, ts("2027-01-01 00:00:00")))
        );
        assert_eq!(parse_bound("DEFAULT"), None);
    }
}
