//! The audit logs' partitions on PostgreSQL: read from the catalog, one made a month at a
//! time, the default partition's rows moved into their months, months made ahead.
//!
//! A month is made without blocking writers: a standalone table `LIKE` the log (its
//! columns, constraints and indexes) with a CHECK of the month's bound, the month's rows
//! moved into it from the default partition, then `ATTACH PARTITION`, which holds only a
//! `SHARE UPDATE EXCLUSIVE` lock on the log (reads and writes go on) and skips the scan
//! of the new table thanks to the CHECK; the default partition, which the attach scans for
//! rows of the month, is kept nearly empty by this very step. All of it in one
//! transaction under a short `lock_timeout`, retried.

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use sea_orm::{ConnectionTrait, DatabaseBackend, FromQueryResult, Statement, TransactionTrait};
use shared_db::{RepoError, ShortLocks, retry_on_lock_timeout};

use super::retention::PgRetentionRepository;
use crate::domain::{MONTHS_AHEAD, MaintenanceReport, PartitionStatus};

/// The partitions of `$1` (a `public.` table name) with their bounds, estimated rows and
/// size.
const PARTITIONS: &str = include_str!("partitions.sql");

/// The partitioned tables, each with the text columns blanking clears (`prompt_text` is
/// `NOT NULL`: it becomes empty; the others become `NULL`) and the condition of a row
/// that still has some.
pub(super) const TABLES: [(&str, &str, &str); 2] = [
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

/// How long a partition change waits for its lock before it tries again, and how often.
pub(super) const LOCKS: ShortLocks = ShortLocks {
    tries: 20,
    ..ShortLocks::DEFAULT
};

/// A partition's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Bound {
    /// `FROM (from or MINVALUE) TO (to)`.
    Range {
        from: Option<NaiveDateTime>,
        to: NaiveDateTime,
    },
    /// The default partition: every row no other partition takes.
    Default,
}

/// One partition as the catalog describes it.
#[derive(Debug, Clone)]
pub(super) struct Partition {
    pub(super) table: &'static str,
    pub(super) name: String,
    pub(super) bound: Bound,
    pub(super) estimate: u64,
    pub(super) bytes: u64,
}

impl Partition {
    /// Whether this is the partition schema version 8 made of a table's rows when it
    /// converted it (`<table>_before_YYYY_MM`, from the beginning of time).
    pub(super) fn is_converted(&self) -> bool {
        matches!(self.bound, Bound::Range { from: None, .. })
            && self.name.starts_with(&format!("{}_before_", self.table))
    }

    /// Whether `[from, to)` overlaps this partition's range (never the default's).
    fn covers_any_of(&self, from: NaiveDateTime, to: NaiveDateTime) -> bool {
        match self.bound {
            Bound::Range {
                from: lower,
                to: upper,
            } => lower.is_none_or(|lower| lower < to) && upper > from,
            Bound::Default => false,
        }
    }
}

#[derive(Debug, FromQueryResult)]
struct PartitionRow {
    name: String,
    bound: String,
    estimate: f64,
    bytes: i64,
}

/// `FOR VALUES FROM ('2027-01-01 00:00:00') TO ('2027-02-01 00:00:00')`, `FROM (MINVALUE)
/// TO (…)` or `DEFAULT`, as a bound.
fn parse_bound(bound: &str) -> Option<Bound> {
    if bound == "DEFAULT" {
        return Some(Bound::Default);
    }
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
    Some(Bound::Range {
        from,
        to: timestamp(to)?,
    })
}

/// The first instant of `day`'s month.
pub(super) fn month_start(day: NaiveDate) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(day.year(), day.month(), 1)
        .unwrap_or(day)
        .and_time(chrono::NaiveTime::MIN)
}

/// The month after the one starting at `month`.
pub(super) fn next_month(month: NaiveDateTime) -> Result<NaiveDateTime, RepoError> {
    month
        .checked_add_months(Months::new(1))
        .ok_or_else(|| internal(format!("no month after {month}")))
}

/// The name of `table`'s partition of the month starting at `month`.
pub(super) fn month_name(table: &str, month: NaiveDateTime) -> String {
    format!("{table}_{}", month.format("%Y_%m"))
}

pub(super) fn internal(detail: String) -> RepoError {
    RepoError::Internal {
        component: "audit partitions",
        detail,
    }
}

pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A timestamp as an SQL literal.
pub(super) fn literal(at: NaiveDateTime) -> String {
    format!("'{}'", at.format("%Y-%m-%d %H:%M:%S%.6f"))
}

/// The statement that makes standalone table `name` shaped as `table` (columns, defaults,
/// CHECKs, indexes and key: an attach then adopts the indexes instead of building them)
/// with a CHECK that holds its rows to `[from, to)`, so that attaching it need not scan it.
pub(super) fn create_month_table(
    table: &str,
    name: &str,
    from: Option<NaiveDateTime>,
    to: NaiveDateTime,
) -> String {
    let lower = from.map_or_else(String::new, |from| {
        format!("created_at >= {} AND ", literal(from))
    });
    format!(
        "CREATE TABLE IF NOT EXISTS {quoted} (LIKE {table} INCLUDING DEFAULTS \
         INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE, \
         CONSTRAINT {bound} CHECK ({lower}created_at < {upper}))",
        quoted = quote_ident(name),
        bound = quote_ident(&format!("{name}_bound")),
        upper = literal(to),
    )
}

/// The statements that attach standalone table `name` as `table`'s partition of
/// `[from, to)` and drop the CHECK that made the attach cheap.
pub(super) fn attach_month_table(
    table: &str,
    name: &str,
    from: Option<NaiveDateTime>,
    to: NaiveDateTime,
) -> [String; 2] {
    let quoted = quote_ident(name);
    [
        format!(
            "ALTER TABLE {table} ATTACH PARTITION {quoted} FOR VALUES FROM ({}) TO ({})",
            from.map_or_else(|| "MINVALUE".to_owned(), literal),
            literal(to)
        ),
        format!(
            "ALTER TABLE {quoted} DROP CONSTRAINT IF EXISTS {}",
            quote_ident(&format!("{name}_bound"))
        ),
    ]
}

impl PgRetentionRepository {
    /// The partitions of `table`, oldest first, the default partition last.
    pub(super) async fn partitions_of(
        &self,
        table: &'static str,
    ) -> Result<Vec<Partition>, RepoError> {
        let rows = PartitionRow::find_by_statement(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            PARTITIONS,
            [format!("public.{table}").into()],
        ))
        .all(self.db.conn())
        .await?;
        let mut partitions = rows
            .into_iter()
            .map(|row| {
                let bound = parse_bound(&row.bound).ok_or_else(|| {
                    internal(format!(
                        "partition {} of {table} has a bound stockdb does not make: {}",
                        row.name, row.bound
                    ))
                })?;
                Ok(Partition {
                    table,
                    name: row.name,
                    bound,
                    // Whole rows: an estimate has no fractions worth showing.
                    estimate: row.estimate.round().max(0.0) as u64,
                    bytes: u64::try_from(row.bytes).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        partitions.sort_by_key(|p| p.bound);
        if partitions.is_empty() {
            return Err(internal(format!(
                "{table} is not partitioned: the schema is older than version 8; run `stockdb \
                 migrate up`"
            )));
        }
        Ok(partitions)
    }

    /// Runs `statements` in one transaction whose lock waits are short, trying again while
    /// a lock is held elsewhere; returns the rows each affected.
    pub(super) async fn under_short_locks(
        &self,
        what: &str,
        statements: &[String],
    ) -> Result<Vec<u64>, RepoError> {
        let attempt = || async {
            let txn = self.db.conn().begin().await?;
            txn.execute_unprepared(&LOCKS.set_local()).await?;
            let mut affected = Vec::with_capacity(statements.len());
            for sql in statements {
                // Dropping the transaction on an error rolls it back.
                affected.push(txn.execute_unprepared(sql).await?.rows_affected());
            }
            txn.commit().await?;
            Ok(affected)
        };
        Ok(retry_on_lock_timeout(what, LOCKS, attempt).await?)
    }

    /// Makes `table`'s partition of the month starting at `month`, with the rows its
    /// default partition holds for that month; returns how many rows moved.
    async fn attach_month(
        &self,
        table: &'static str,
        month: NaiveDateTime,
        has_default: bool,
    ) -> Result<(String, u64), RepoError> {
        let name = month_name(table, month);
        let next = next_month(month)?;
        let mut statements = vec![create_month_table(table, &name, Some(month), next)];
        if has_default {
            statements.push(format!(
                "WITH moved AS (DELETE FROM {default} WHERE created_at >= {from} \
                 AND created_at < {to} RETURNING *) INSERT INTO {quoted} SELECT * FROM moved",
                default = quote_ident(&format!("{table}_default")),
                from = literal(month),
                to = literal(next),
                quoted = quote_ident(&name),
            ));
        }
        statements.extend(attach_month_table(table, &name, Some(month), next));
        let affected = self
            .under_short_locks(&format!("making partition {name}"), &statements)
            .await?;
        let moved = if has_default { affected[1] } else { 0 };
        Ok((name, moved))
    }

    /// The months, oldest first, of the rows `table`'s default partition holds.
    async fn months_in_default(&self, table: &str) -> Result<Vec<NaiveDateTime>, RepoError> {
        let rows = self
            .db
            .conn()
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT DISTINCT date_trunc('month', created_at) FROM {} ORDER BY 1",
                    quote_ident(&format!("{table}_default"))
                ),
            ))
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get_by_index::<NaiveDateTime>(0)?))
            .collect()
    }

    /// Moves the rows of `table`'s default partition into partitions of their months, and
    /// makes the months from the one of `now` through [`MONTHS_AHEAD`] ahead that no
    /// partition covers.
    pub(super) async fn keep_months(
        &self,
        table: &'static str,
        now: NaiveDateTime,
        report: &mut MaintenanceReport,
    ) -> Result<(), RepoError> {
        let this_month = month_start(now.date());
        let existing = self.partitions_of(table).await?;
        // Before schema version 9 there is no default partition to empty.
        let has_default = existing.iter().any(|p| p.bound == Bound::Default);
        let mut months = if has_default {
            self.months_in_default(table).await?
        } else {
            Vec::new()
        };
        let mut month = this_month;
        for _ in 0..=MONTHS_AHEAD {
            months.push(month);
            month = next_month(month)?;
        }
        months.sort_unstable();
        months.dedup();
        for month in months {
            let next = next_month(month)?;
            if existing.iter().any(|p| p.covers_any_of(month, next)) {
                continue;
            }
            let (name, moved) = self.attach_month(table, month, has_default).await?;
            tracing::info!(partition = %name, moved, "audit partitions: month made");
            report.created.push(name);
            report.moved_from_default += moved;
        }
        Ok(())
    }

    /// Where `table`'s partitions stand.
    pub(super) async fn status_of(
        &self,
        table: &'static str,
    ) -> Result<PartitionStatus, RepoError> {
        let partitions = self.partitions_of(table).await?;
        let ready_until = partitions
            .iter()
            .filter_map(|p| match p.bound {
                Bound::Range { to, .. } => Some(to),
                Bound::Default => None,
            })
            .max();
        let rows_in_default = match partitions.iter().find(|p| p.bound == Bound::Default) {
            Some(default) => {
                let row = self
                    .db
                    .conn()
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        format!("SELECT count(*) FROM {}", quote_ident(&default.name)),
                    ))
                    .await?;
                row.map(|row| row.try_get_by_index::<i64>(0))
                    .transpose()?
                    .map_or(0, |n| u64::try_from(n).unwrap_or(0))
            }
            None => 0,
        };
        // An empty converted partition stays as it is (see `split`): nothing to report.
        let mut converted = None;
        if let Some(partition) = partitions.iter().find(|p| p.is_converted())
            && !Self::months_of(self.db.conn(), &partition.name)
                .await?
                .is_empty()
        {
            converted = Some(partition.name.clone());
        }
        Ok(PartitionStatus {
            table,
            ready_until,
            rows_in_default,
            converted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_as_the_catalog_prints_them() {
        let ts = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            parse_bound("FOR VALUES FROM ('2027-01-01 00:00:00') TO ('2027-02-01 00:00:00')"),
            Some(Bound::Range {
                from: Some(ts("2027-01-01 00:00:00")),
                to: ts("2027-02-01 00:00:00")
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO ('2027-01-01 00:00:00')"),
            Some(Bound::Range {
                from: None,
                to: ts("2027-01-01 00:00:00")
            })
        );
        assert_eq!(parse_bound("DEFAULT"), Some(Bound::Default));
        assert_eq!(parse_bound("FOR VALUES IN (1)"), None);
        // Sorted: oldest first, the default last.
        let mut bounds = [
            Bound::Default,
            Bound::Range {
                from: Some(ts("2027-01-01 00:00:00")),
                to: ts("2027-02-01 00:00:00"),
            },
            Bound::Range {
                from: None,
                to: ts("2027-01-01 00:00:00"),
            },
        ];
        bounds.sort();
        assert_eq!(bounds[2], Bound::Default);
        assert!(matches!(bounds[0], Bound::Range { from: None, .. }));
    }

    #[test]
    fn month_tables_carry_the_check_that_makes_their_attach_cheap() {
        let ts = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let sql = create_month_table(
            "llm_call_logs",
            "llm_call_logs_2027_01",
            Some(ts("2027-01-01 00:00:00")),
            ts("2027-02-01 00:00:00"),
        );
        assert!(sql.contains(
            "CONSTRAINT \"llm_call_logs_2027_01_bound\" CHECK (created_at >= '2027-01-01 \
             00:00:00.000000' AND created_at < '2027-02-01 00:00:00.000000')"
        ));
        let [attach, _] = attach_month_table(
            "llm_call_logs",
            "llm_call_logs_2027_01",
            None,
            ts("2027-02-01 00:00:00"),
        );
        assert!(attach.ends_with("FROM (MINVALUE) TO ('2027-02-01 00:00:00.000000')"));
    }
}
