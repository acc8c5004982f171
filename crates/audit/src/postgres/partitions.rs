//! The audit logs' partitions on PostgreSQL: each log a [`RangeTable`] of months
//! (shared-db's `ranges`: the catalog read, a month made beside writers with the rows its
//! default partition caught, months made ahead), as retention and health see them.

use chrono::NaiveDateTime;
pub(super) use shared_db::ranges::{Bound, literal, quote_ident};
use shared_db::ranges::{Period, RangeTable};
use shared_db::{RepoError, ShortLocks};

use super::retention::PgRetentionRepository;
use crate::domain::{MONTHS_AHEAD, MaintenanceReport, PartitionStatus};

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

/// Log `table` as a table of monthly partitions by `created_at`; a split copies its rows
/// down `(created_at, id)`, which the `created_at` index leads.
pub(super) const fn months(table: &'static str) -> RangeTable {
    RangeTable {
        table,
        key: "created_at",
        period: Period::Month,
        order: &["created_at", "id"],
        locks: LOCKS,
    }
}

/// One partition of a log.
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
}

/// The month after the one starting at `month`.
pub(super) fn next_month(month: NaiveDateTime) -> Result<NaiveDateTime, RepoError> {
    Period::Month.next(month)
}

pub(super) fn internal(detail: String) -> RepoError {
    RepoError::Internal {
        component: "audit partitions",
        detail,
    }
}

impl PgRetentionRepository {
    /// The partitions of `table`, oldest first, the default partition last.
    pub(super) async fn partitions_of(
        &self,
        table: &'static str,
    ) -> Result<Vec<Partition>, RepoError> {
        Ok(months(table)
            .partitions(&self.db)
            .await?
            .into_iter()
            .map(|p| Partition {
                table,
                name: p.name,
                bound: p.bound,
                estimate: p.estimate,
                bytes: p.bytes,
            })
            .collect())
    }

    /// The month starts of the rows `partition` (of `table`) holds, oldest first.
    pub(super) async fn months_of(
        &self,
        table: &'static str,
        partition: &str,
    ) -> Result<Vec<NaiveDateTime>, RepoError> {
        months(table).periods_in(&self.db, partition).await
    }

    /// Runs `statements` in one transaction whose lock waits are short, trying again while
    /// a lock is held elsewhere; returns the rows each affected.
    pub(super) async fn under_short_locks(
        &self,
        what: &str,
        statements: &[String],
    ) -> Result<Vec<u64>, RepoError> {
        shared_db::ranges::under_short_locks(&self.db, LOCKS, what, statements).await
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
        let mut wanted = vec![Period::Month.start_of(now.date())];
        for _ in 0..MONTHS_AHEAD {
            let last = wanted[wanted.len() - 1];
            wanted.push(next_month(last)?);
        }
        let (made, moved) = months(table)
            .keep_periods(&self.db, wanted, |_| None)
            .await?;
        report.created.extend(made);
        report.moved_from_default += moved;
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
                let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {}",
                    quote_ident(&default.name)
                )))
                .fetch_one(self.db.pool())
                .await?;
                rows.unsigned_abs()
            }
            None => 0,
        };
        // An empty converted partition stays as it is (see `split`): nothing to report.
        let mut converted = None;
        if let Some(partition) = partitions.iter().find(|p| p.is_converted())
            && !self.months_of(table, &partition.name).await?.is_empty()
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
