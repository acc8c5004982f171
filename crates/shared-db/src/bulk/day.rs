//! Tables of rows keyed by a trading day and stamped when saved (`created_at`,
//! `updated_at`), such as the earlier service's daily pools and rankings: one description
//! ([`DayRow`]) gives the bulk upsert, the read of a day and the newest day.
//!
//! The stamps come from the handle's clock ([`Db::now`]), not the server's, so a test can
//! move time; they are written through the engine's [`ConflictRule::Created`] and
//! [`ConflictRule::Touched`] columns, so a save that changes nothing leaves a row (and its
//! `updated_at`) alone.
//!
//! [`ConflictRule::Created`]: super::ConflictRule::Created
//! [`ConflictRule::Touched`]: super::ConflictRule::Touched

use std::marker::PhantomData;

use chrono::{NaiveDate, NaiveDateTime};
use sea_orm::{QueryResult, Value};

use super::table::{BulkTable, ConflictRule};
use super::upsert::{BulkRow, UpsertReport, upsert};
use crate::db::Db;
use crate::error::{InvalidInput, RepoError};

/// A row with the time it is saved at: what a [`DayRow`]'s table is written from.
#[derive(Debug, Clone)]
pub struct Stamped<R> {
    /// The row.
    pub row: R,
    /// The handle's clock when the save began (UTC).
    pub at: NaiveDateTime,
}

/// A row of a day-keyed table: its bulk columns (value columns first read back in the
/// order listed), how it is keyed, checked and read.
pub trait DayRow: Send + Sync + Sized + 'static {
    /// The conflict key, borrowed from the row.
    type Key<'a>: Ord
    where
        Self: 'a;

    /// The table and its columns; the stamps are its `Created`/`Touched` columns.
    const TABLE: &'static BulkTable<Stamped<Self>>;

    /// The `ORDER BY` of a day's rows (a unique order, so reads repeat).
    const ORDER_BY: &'static str;

    /// The row's key.
    fn key(&self) -> Self::Key<'_>;

    /// Checks the row before anything is written.
    fn validate(&self) -> Result<(), InvalidInput>;

    /// The row from a result whose columns are [`DayTable::columns`], in that order.
    fn read(row: &QueryResult) -> Result<Self, RepoError>;
}

impl<R: DayRow> BulkRow for Stamped<R> {
    type Key<'a> = R::Key<'a>;
    const TABLE: &'static BulkTable<Self> = R::TABLE;

    fn key(&self) -> Self::Key<'_> {
        self.row.key()
    }

    fn validate(&self) -> Result<(), InvalidInput> {
        self.row.validate()
    }
}

/// The reads and writes every day-keyed table shares, on a [`Db`].
#[derive(Debug, Clone)]
pub struct DayTable<R> {
    db: Db,
    row: PhantomData<fn() -> R>,
}

impl<R: DayRow> DayTable<R> {
    /// The table of `R` on `db`.
    pub fn new(db: Db) -> Self {
        Self {
            db,
            row: PhantomData,
        }
    }

    /// The handle the table reads and writes through.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The columns [`DayRow::read`] reads, comma-separated: every column but the stamps,
    /// in the table's order.
    pub fn columns() -> String {
        let names: Vec<&str> = R::TABLE
            .columns()
            .iter()
            .filter(|c| !matches!(c.rule(), ConflictRule::Created | ConflictRule::Touched))
            .map(|c| c.name())
            .collect();
        names.join(", ")
    }

    /// Validates every row, keeps the last of each key and upserts them in one
    /// transaction through the bulk engine, stamped with the handle's clock: a new row
    /// gets `created_at` and `updated_at`, a changed one a new `updated_at`, an equal one
    /// is not rewritten. Errors: `Invalid` naming the row, field and value; nothing is
    /// written.
    pub async fn save_all(&self, rows: Vec<R>) -> Result<UpsertReport, RepoError> {
        let at = self.db.now();
        let rows = rows.into_iter().map(|row| Stamped { row, at }).collect();
        upsert(&self.db, rows).await
    }

    /// The rows of `filter` (SQL after `WHERE`, with `values` for `$1` …), in
    /// [`DayRow::ORDER_BY`] order, at most `limit` of them.
    pub async fn select(
        &self,
        filter: &str,
        values: Vec<Value>,
        limit: Option<u64>,
    ) -> Result<Vec<R>, RepoError> {
        let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!(
            "SELECT {} FROM {} WHERE {filter} ORDER BY {}{limit}",
            Self::columns(),
            R::TABLE.name(),
            R::ORDER_BY,
        );
        let rows = self.db.read_all(&sql, values).await?;
        rows.iter().map(R::read).collect()
    }

    /// The rows of `day`, in [`DayRow::ORDER_BY`] order.
    pub async fn by_date(&self, day: NaiveDate) -> Result<Vec<R>, RepoError> {
        self.select("trade_date = $1", vec![day.into()], None).await
    }

    /// The newest day with rows, if any (one probe of the `trade_date` index).
    pub async fn latest_day(&self) -> Result<Option<NaiveDate>, RepoError> {
        let sql = format!("SELECT max(trade_date) FROM {}", R::TABLE.name());
        let rows = self.db.read_all(&sql, Vec::new()).await?;
        match rows.first() {
            Some(row) => Ok(row.try_get_by_index::<Option<NaiveDate>>(0)?),
            None => Ok(None),
        }
    }
}
