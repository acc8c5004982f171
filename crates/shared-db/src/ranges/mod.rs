//! Tables range-partitioned by a date or a timestamp, one partition a period (a month, a
//! year): the partitions read from the catalog, a period's partition made without blocking
//! writers, and a partition rewritten online into others ([`RangeTable::rewrite`]: a
//! partition of many periods split into one a period, or one packed at another fill
//! factor).
//!
//! A period's partition is made as a standalone table `LIKE` the partitioned one (its
//! columns, defaults, CHECKs, indexes and key) with a CHECK of its bound, the period's rows
//! moved into it from the default partition, then `ATTACH PARTITION`, which holds only a
//! `SHARE UPDATE EXCLUSIVE` lock on the table (reads and writes go on) and skips the scan
//! of the new table thanks to the CHECK; the default partition, which the attach scans
//! for rows of the period, is kept nearly empty by this very step. All of it in one
//! transaction under a short `lock_timeout`, retried.

mod catalog;
mod rewrite;

use chrono::{Datelike as _, Months, NaiveDate, NaiveDateTime, NaiveTime};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, TransactionTrait};

pub use catalog::{Bound, Partition, parse_bound};
pub use rewrite::Target;

use crate::{Db, RepoError, ShortLocks, retry_on_lock_timeout};

/// The length of a table's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A calendar month: `<table>_YYYY_MM`.
    Month,
    /// A calendar year: `<table>_YYYY`.
    Year,
}

impl Period {
    /// The first instant of the period `day` is in.
    pub fn start_of(self, day: NaiveDate) -> NaiveDateTime {
        let first = match self {
            Self::Month => NaiveDate::from_ymd_opt(day.year(), day.month(), 1),
            Self::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1),
        };
        first.unwrap_or(day).and_time(NaiveTime::MIN)
    }

    /// The start of the period after the one starting at `start`.
    pub fn next(self, start: NaiveDateTime) -> Result<NaiveDateTime, RepoError> {
        let months = match self {
            Self::Month => 1,
            Self::Year => 12,
        };
        start
            .checked_add_months(Months::new(months))
            .ok_or_else(|| internal(format!("no period after {start}")))
    }

    /// The suffix of the partition of the period starting at `start`.
    fn suffix(self, start: NaiveDateTime) -> String {
        match self {
            Self::Month => start.format("%Y_%m").to_string(),
            Self::Year => start.format("%Y").to_string(),
        }
    }

    /// [`Self::suffix`] as PostgreSQL's `to_char` writes it.
    fn pg_format(self) -> &'static str {
        match self {
            Self::Month => "YYYY_MM",
            Self::Year => "YYYY",
        }
    }

    /// The field `date_trunc` cuts a value to.
    fn trunc(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// A table partitioned by range of one date or timestamp column, a partition a period.
#[derive(Debug, Clone, Copy)]
pub struct RangeTable {
    /// The partitioned table (in `public`).
    pub table: &'static str,
    /// The partition key, a `date` or `timestamp` column.
    pub key: &'static str,
    /// The length of a partition.
    pub period: Period,
    /// The primary key's columns, the partition key first: a rewrite copies rows in this
    /// order, and finds a row by them.
    pub order: &'static [&'static str],
    /// How long a change waits for its lock before it tries again, and how often.
    pub locks: ShortLocks,
}

impl RangeTable {
    /// The name of the partition of the period starting at `start`.
    pub fn name_of(&self, start: NaiveDateTime) -> String {
        format!("{}_{}", self.table, self.period.suffix(start))
    }

    /// The default partition's name.
    pub fn default_name(&self) -> String {
        format!("{}_default", self.table)
    }

    /// The statement that makes standalone table `name` shaped as the table (columns,
    /// defaults, CHECKs, indexes and key: an attach then adopts the indexes instead of
    /// building them) with a CHECK that holds its rows to `[from, to)`, so that attaching
    /// it need not scan it; at `fillfactor` when given.
    pub fn create_sql(
        &self,
        name: &str,
        from: Option<NaiveDateTime>,
        to: NaiveDateTime,
        fillfactor: Option<u32>,
    ) -> String {
        let lower = from.map_or_else(String::new, |from| {
            format!("{} >= {} AND ", self.key, literal(from))
        });
        let with = fillfactor.map_or_else(String::new, |f| format!(" WITH (fillfactor = {f})"));
        format!(
            "CREATE TABLE IF NOT EXISTS {quoted} (LIKE {table} INCLUDING DEFAULTS \
             INCLUDING CONSTRAINTS INCLUDING INDEXES INCLUDING STORAGE, \
             CONSTRAINT {bound} CHECK ({lower}{key} < {upper})){with}",
            quoted = quote_ident(name),
            table = self.table,
            bound = quote_ident(&format!("{name}_bound")),
            key = self.key,
            upper = literal(to),
        )
    }

    /// The statements that attach standalone table `name` as the partition of `[from, to)`
    /// and drop the CHECK that made the attach cheap.
    pub fn attach_sql(
        &self,
        name: &str,
        from: Option<NaiveDateTime>,
        to: NaiveDateTime,
    ) -> [String; 2] {
        let quoted = quote_ident(name);
        [
            format!(
                "ALTER TABLE {} ATTACH PARTITION {quoted} FOR VALUES FROM ({}) TO ({})",
                self.table,
                from.map_or_else(|| "MINVALUE".to_owned(), literal),
                literal(to)
            ),
            format!(
                "ALTER TABLE {quoted} DROP CONSTRAINT IF EXISTS {}",
                quote_ident(&format!("{name}_bound"))
            ),
        ]
    }

    /// [`under_short_locks`] with this table's lock bound.
    pub async fn under_short_locks(
        &self,
        db: &Db,
        what: &str,
        statements: &[String],
    ) -> Result<Vec<u64>, RepoError> {
        under_short_locks(db, self.locks, what, statements).await
    }

    /// Makes the partition of the period starting at `start` (at `fillfactor` when
    /// given), with the rows the default partition holds for it, when there is one;
    /// returns its name and how many rows moved, or `None` when another session made it
    /// first (makers of one table take turns on a transaction-level advisory lock).
    pub async fn make_period(
        &self,
        db: &Db,
        start: NaiveDateTime,
        fillfactor: Option<u32>,
        has_default: bool,
    ) -> Result<Option<(String, u64)>, RepoError> {
        let name = self.name_of(start);
        let next = self.period.next(start)?;
        let mut statements = vec![self.create_sql(&name, Some(start), next, fillfactor)];
        if has_default {
            statements.push(format!(
                "WITH moved AS (DELETE FROM {default} WHERE {key} >= {from} AND {key} < {to} \
                 RETURNING *) INSERT INTO {quoted} SELECT * FROM moved",
                default = quote_ident(&self.default_name()),
                key = self.key,
                from = literal(start),
                to = literal(next),
                quoted = quote_ident(&name),
            ));
        }
        statements.extend(self.attach_sql(&name, Some(start), next));
        let (turn, made) = (
            format!(
                "SELECT pg_advisory_xact_lock(hashtext('stockdb partitions of {}'))",
                self.table
            ),
            format!(
                "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = '{}'::regclass \
                 AND inhrelid = to_regclass('public.{}'))",
                self.table,
                quote_ident(&name)
            ),
        );
        let attempt = || async {
            let txn = db.conn().begin().await?;
            txn.execute_unprepared(&self.locks.set_local()).await?;
            txn.execute_unprepared(&turn).await?;
            let row = txn
                .query_one_raw(Statement::from_string(
                    DatabaseBackend::Postgres,
                    made.as_str(),
                ))
                .await?;
            if row.map(|row| row.try_get_by_index::<bool>(0)).transpose()? == Some(true) {
                return Ok(None);
            }
            let mut affected = Vec::with_capacity(statements.len());
            for sql in &statements {
                // Dropping the transaction on an error rolls it back.
                affected.push(txn.execute_unprepared(sql).await?.rows_affected());
            }
            txn.commit().await?;
            Ok(Some(affected))
        };
        let affected =
            retry_on_lock_timeout(&format!("making partition {name}"), self.locks, attempt).await?;
        Ok(affected.map(|affected| {
            let moved = if has_default { affected[1] } else { 0 };
            (name, moved)
        }))
    }

    /// The starts, oldest first, of the periods of the rows `partition` holds: one index
    /// probe a period (a skip scan over an index that leads with the key), not a scan of
    /// the rows. On a Citus table, which Citus plans no recursive query over, a scan of
    /// the rows.
    pub async fn periods_in(
        &self,
        db: &Db,
        partition: &str,
    ) -> Result<Vec<NaiveDateTime>, RepoError> {
        if !is_distributed(db, partition).await? {
            return Ok(self.periods_in_conn(db.conn(), partition).await?);
        }
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT date_trunc('{}', {}::timestamp) AS start FROM {} ORDER BY start",
            self.period.trunc(),
            self.key,
            quote_ident(partition)
        )))
        .fetch_all(db.pool())
        .await?)
    }

    /// [`Self::periods_in`] on any connection (a transaction's).
    pub(crate) async fn periods_in_conn(
        &self,
        conn: &impl ConnectionTrait,
        partition: &str,
    ) -> Result<Vec<NaiveDateTime>, DbErr> {
        let (quoted, key, field) = (quote_ident(partition), self.key, self.period.trunc());
        let rows = conn
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!(
                    "WITH RECURSIVE p(start) AS ( \
                         SELECT date_trunc('{field}', min({key})::timestamp) FROM {quoted} \
                         UNION ALL \
                         SELECT (SELECT date_trunc('{field}', min({key})::timestamp) \
                                 FROM {quoted} WHERE {key} >= p.start + interval '1 {field}') \
                         FROM p WHERE p.start IS NOT NULL) \
                     SELECT start FROM p WHERE start IS NOT NULL ORDER BY start"
                ),
            ))
            .await?;
        rows.iter()
            .map(|row| row.try_get_by_index::<NaiveDateTime>(0))
            .collect()
    }

    /// Makes the partitions of `periods` (starts) that no partition covers yet and of
    /// the periods of the rows the default partition holds, each at the fill factor
    /// `fillfactor` gives its start; returns the partitions made and the rows moved out
    /// of the default partition.
    pub async fn keep_periods(
        &self,
        db: &Db,
        mut periods: Vec<NaiveDateTime>,
        fillfactor: impl Fn(NaiveDateTime) -> Option<u32>,
    ) -> Result<(Vec<String>, u64), RepoError> {
        let existing = self.partitions(db).await?;
        let has_default = existing.iter().any(|p| p.bound == Bound::Default);
        if has_default {
            periods.extend(self.periods_in(db, &self.default_name()).await?);
        }
        periods.sort_unstable();
        periods.dedup();
        let (mut made, mut moved) = (Vec::new(), 0);
        for start in periods {
            let next = self.period.next(start)?;
            if existing.iter().any(|p| p.covers_any_of(start, next)) {
                continue;
            }
            let Some((name, rows)) = self
                .make_period(db, start, fillfactor(start), has_default)
                .await?
            else {
                continue;
            };
            tracing::info!(partition = %name, moved = rows, "{}: partition made", self.table);
            made.push(name);
            moved += rows;
        }
        Ok((made, moved))
    }
}

/// Runs `statements` in one transaction whose lock waits are bounded by `locks`, trying
/// again while a lock is held elsewhere; returns the rows each affected.
pub async fn under_short_locks(
    db: &Db,
    locks: ShortLocks,
    what: &str,
    statements: &[String],
) -> Result<Vec<u64>, RepoError> {
    let attempt = || async {
        let txn = db.conn().begin().await?;
        txn.execute_unprepared(&locks.set_local()).await?;
        let mut affected = Vec::with_capacity(statements.len());
        for sql in statements {
            // Dropping the transaction on an error rolls it back.
            affected.push(txn.execute_unprepared(sql).await?.rows_affected());
        }
        txn.commit().await?;
        Ok(affected)
    };
    Ok(retry_on_lock_timeout(what, locks, attempt).await?)
}

/// Whether `relation` is a Citus table (distributed, or placed in Citus's metadata), which
/// a trigger or a recursive query over it would not follow.
pub(crate) async fn is_distributed(db: &Db, relation: &str) -> Result<bool, RepoError> {
    if !db.is_citus().await? {
        return Ok(false);
    }
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass($1))",
    )
    .bind(format!("public.{}", quote_ident(relation)))
    .fetch_one(db.pool())
    .await?)
}

fn internal(detail: String) -> RepoError {
    RepoError::Internal {
        component: "partitions",
        detail,
    }
}

/// `name` quoted as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A timestamp as an SQL literal (a `date` column takes it too).
pub fn literal(at: NaiveDateTime) -> String {
    format!("'{}'", at.format("%Y-%m-%d %H:%M:%S%.6f"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn periods_start_end_and_name_by_month_or_year() {
        let day = NaiveDate::from_ymd_opt(2027, 12, 31).unwrap();
        assert_eq!(Period::Year.start_of(day), ts("2027-01-01 00:00:00"));
        assert_eq!(Period::Month.start_of(day), ts("2027-12-01 00:00:00"));
        assert_eq!(
            Period::Month.next(ts("2027-12-01 00:00:00")).unwrap(),
            ts("2028-01-01 00:00:00")
        );
        let table = RangeTable {
            table: "stock_daily",
            key: "trade_date",
            period: Period::Year,
            order: &["trade_date", "third_code"],
            locks: ShortLocks::DEFAULT,
        };
        assert_eq!(table.name_of(ts("2027-01-01 00:00:00")), "stock_daily_2027");
        let sql = table.create_sql(
            "stock_daily_2027",
            Some(ts("2027-01-01 00:00:00")),
            ts("2028-01-01 00:00:00"),
            Some(100),
        );
        assert!(
            sql.contains(
                "CHECK (trade_date >= '2027-01-01 00:00:00.000000' AND trade_date < \
                 '2028-01-01 00:00:00.000000')) WITH (fillfactor = 100)"
            ),
            "{sql}"
        );
    }
}
