//! The bulk upsert engine behind every `save_all`.
//!
//! One call: validate every row (nothing is written if one is bad), deduplicate on the
//! key with the last row winning, sort by key, then send the rows in statements of
//! [`ROWS_PER_STATEMENT`] rows, all in one transaction. Each statement passes every column
//! as one typed array (`INSERT … SELECT * FROM UNNEST($1::varchar[], $2::date[], …)
//! ON CONFLICT … DO UPDATE`), so the statement size is independent of the column count:
//! PostgreSQL's 65,535 bind-parameter limit is never approached, whatever the table.
//! Sorting by key makes concurrent writers lock rows in the same order, so overlapping
//! batches wait for each other instead of deadlocking.
//!
//! Rows whose stored values already equal the new ones are left untouched (no dead tuple,
//! no WAL) and reported as `unchanged`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::NaiveDate;
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;

use crate::db::Db;
use crate::error::{InvalidInput, RepoError};

/// Rows sent in one statement. Bounds the memory of one statement on both sides; found by
/// `cargo xtask bench` (larger statements gain nothing measurable).
pub const ROWS_PER_STATEMENT: usize = 10_000;

/// What a bulk upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpsertReport {
    /// Rows the caller passed.
    pub received: u64,
    /// Rows left after deduplication on the key (the last duplicate wins).
    pub deduplicated: u64,
    /// Rows that did not exist and were inserted.
    pub inserted: u64,
    /// Existing rows whose values changed.
    pub updated: u64,
    /// Existing rows whose stored values already equalled the new ones (not rewritten).
    pub unchanged: u64,
}

impl UpsertReport {
    /// Adds another report's counts to this one.
    pub fn add(&mut self, other: &UpsertReport) {
        self.received += other.received;
        self.deduplicated += other.deduplicated;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
    }
}

/// The PostgreSQL type of a column, as the engine binds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `character varying` / `text`.
    Text,
    /// `date`.
    Date,
    /// `double precision`.
    Float8,
    /// `integer`.
    Int4,
}

impl ColumnType {
    fn array_cast(self) -> &'static str {
        match self {
            Self::Text => "varchar[]",
            Self::Date => "date[]",
            Self::Float8 => "float8[]",
            Self::Int4 => "int4[]",
        }
    }
}

/// What happens to a column when the key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Part of the conflict key.
    Key,
    /// The new value replaces the stored one.
    Overwrite,
    /// The new value replaces the stored one unless it is NULL (`COALESCE(new, old)`).
    KeepIfNull,
}

/// A column the engine writes.
#[derive(Debug, Clone, Copy)]
pub struct BulkColumn {
    /// Column name as the schema spells it.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// Its conflict rule.
    pub on_conflict: OnConflict,
}

impl BulkColumn {
    /// A key column.
    pub const fn key(name: &'static str, ty: ColumnType) -> Self {
        Self {
            name,
            ty,
            on_conflict: OnConflict::Key,
        }
    }

    /// A column overwritten on conflict.
    pub const fn value(name: &'static str, ty: ColumnType) -> Self {
        Self {
            name,
            ty,
            on_conflict: OnConflict::Overwrite,
        }
    }

    /// A column overwritten on conflict unless the new value is NULL.
    pub const fn keep_if_null(name: &'static str, ty: ColumnType) -> Self {
        Self {
            name,
            ty,
            on_conflict: OnConflict::KeepIfNull,
        }
    }
}

/// A table the engine writes: its name and the columns it sets, in the order rows write
/// them. The conflict target is the `Key` columns, which need a unique index.
#[derive(Debug, Clone, Copy)]
pub struct BulkTable {
    /// Table name.
    pub name: &'static str,
    /// Columns written, in write order.
    pub columns: &'static [BulkColumn],
}

impl BulkTable {
    /// The upsert statement for this table, with one array parameter per column.
    pub fn upsert_sql(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        let keys: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| c.on_conflict == OnConflict::Key)
            .map(|c| c.name)
            .collect();
        let mut arrays = String::new();
        for (idx, column) in self.columns.iter().enumerate() {
            let sep = if idx == 0 { "" } else { ", " };
            let _ = write!(arrays, "{sep}${}::{}", idx + 1, column.ty.array_cast());
        }
        let (mut set, mut stored, mut merged) = (Vec::new(), Vec::new(), Vec::new());
        for column in self.columns {
            let new_value = match column.on_conflict {
                OnConflict::Key => continue,
                OnConflict::Overwrite => format!("EXCLUDED.{}", column.name),
                OnConflict::KeepIfNull => format!("COALESCE(EXCLUDED.{0}, t.{0})", column.name),
            };
            set.push(format!("{} = {new_value}", column.name));
            stored.push(format!("t.{}", column.name));
            merged.push(new_value);
        }
        let table = self.name;
        let (names, keys) = (names.join(", "), keys.join(", "));
        let (set, stored, merged) = (set.join(", "), stored.join(", "), merged.join(", "));
        // `xmax = 0` tells a freshly inserted row from an updated one. The WHERE clause
        // skips rows whose values would not change.
        format!(
            "WITH upserted AS (\
               INSERT INTO {table} AS t ({names}) SELECT * FROM UNNEST({arrays}) \
               ON CONFLICT ({keys}) DO UPDATE SET {set} \
               WHERE ({stored}) IS DISTINCT FROM ({merged}) \
               RETURNING (t.xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted) AS inserted, \
                    count(*) FILTER (WHERE NOT inserted) AS updated \
             FROM upserted"
        )
    }
}

/// A row the engine can write: its table, key, validation and column values.
pub trait BulkRow: Send + Sync {
    /// The conflict key, borrowed from the row.
    type Key<'a>: Ord
    where
        Self: 'a;

    /// The table and its columns.
    const TABLE: &'static BulkTable;

    /// The row's key.
    fn key(&self) -> Self::Key<'_>;

    /// Checks the row before anything is written (lengths, finite numbers, date ranges).
    fn validate(&self) -> Result<(), InvalidInput>;

    /// Writes the row's values, one call per column, in [`BulkTable::columns`] order.
    fn write<'a>(&'a self, out: &mut RowWriter<'a>);
}

/// Column-wise buffers for one statement's rows.
#[derive(Debug)]
enum ColumnValues<'a> {
    Text(Vec<Option<&'a str>>),
    Date(Vec<Option<NaiveDate>>),
    Float8(Vec<Option<f64>>),
    Int4(Vec<Option<i32>>),
}

/// Receives one row's values; see [`BulkRow::write`].
#[derive(Debug)]
pub struct RowWriter<'a> {
    columns: Vec<ColumnValues<'a>>,
    next: usize,
    /// The first column written with the wrong type or out of order, if any.
    mismatch: Option<usize>,
}

macro_rules! writer_method {
    ($(#[$doc:meta])* $method:ident, $variant:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $method(&mut self, value: $ty) {
            match self.columns.get_mut(self.next) {
                Some(ColumnValues::$variant(values)) => values.push(value),
                _ => {
                    self.mismatch.get_or_insert(self.next);
                }
            }
            self.next += 1;
        }
    };
}

impl<'a> RowWriter<'a> {
    fn new(table: &BulkTable, capacity: usize) -> Self {
        let columns = table
            .columns
            .iter()
            .map(|column| match column.ty {
                ColumnType::Text => ColumnValues::Text(Vec::with_capacity(capacity)),
                ColumnType::Date => ColumnValues::Date(Vec::with_capacity(capacity)),
                ColumnType::Float8 => ColumnValues::Float8(Vec::with_capacity(capacity)),
                ColumnType::Int4 => ColumnValues::Int4(Vec::with_capacity(capacity)),
            })
            .collect();
        Self {
            columns,
            next: 0,
            mismatch: None,
        }
    }

    writer_method!(
        /// The next column is text.
        text, Text, Option<&'a str>
    );
    writer_method!(
        /// The next column is a date.
        date, Date, Option<NaiveDate>
    );
    writer_method!(
        /// The next column is a double.
        float, Float8, Option<f64>
    );
    writer_method!(
        /// The next column is an integer.
        int, Int4, Option<i32>
    );

    /// Ends a row: every column must have been written once, with its own type.
    fn end_row(&mut self, table: &BulkTable) -> Result<(), RepoError> {
        let written = std::mem::replace(&mut self.next, 0);
        let bad = self
            .mismatch
            .or((written != table.columns.len()).then_some(written));
        match bad {
            None => Ok(()),
            Some(idx) => Err(RepoError::InvalidState(format!(
                "bulk row for {} wrote column {} ({}) with the wrong type or count",
                table.name,
                idx,
                table
                    .columns
                    .get(idx)
                    .map_or("past the last column", |c| c.name)
            ))),
        }
    }

    fn bind<O>(
        self,
        mut query: QueryAs<'a, Postgres, O, PgArguments>,
    ) -> QueryAs<'a, Postgres, O, PgArguments> {
        for column in self.columns {
            query = match column {
                ColumnValues::Text(values) => query.bind(values),
                ColumnValues::Date(values) => query.bind(values),
                ColumnValues::Float8(values) => query.bind(values),
                ColumnValues::Int4(values) => query.bind(values),
            };
        }
        query
    }
}

/// Validates `rows` (every row, before anything is written), keeps the last row of each
/// key, sorts by key and upserts them in one transaction.
///
/// Errors: `Invalid` naming the row (its index in `rows`), field and value; nothing is
/// written. Any database error rolls the whole call back.
pub async fn upsert<R: BulkRow>(db: &Db, mut rows: Vec<R>) -> Result<UpsertReport, RepoError> {
    for (idx, row) in rows.iter().enumerate() {
        row.validate().map_err(|err| err.at_row(idx))?;
    }
    let received = rows.len() as u64;
    // A stable sort keeps duplicates in input order; keeping the last of each run makes
    // the last duplicate win.
    rows.sort_by(|a, b| a.key().cmp(&b.key()));
    let rows = keep_last_of_each_key(rows);
    let mut report = UpsertReport {
        received,
        deduplicated: rows.len() as u64,
        ..UpsertReport::default()
    };
    if rows.is_empty() {
        return Ok(report);
    }
    let sql: Arc<str> = R::TABLE.upsert_sql().into();
    let mut txn = db.pool().begin().await?;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut writer = RowWriter::new(R::TABLE, chunk.len());
        for row in chunk {
            row.write(&mut writer);
            writer.end_row(R::TABLE)?;
        }
        let query = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(Arc::clone(&sql)));
        let (inserted, updated) = writer.bind(query).fetch_one(&mut *txn).await?;
        report.inserted += inserted.unsigned_abs();
        report.updated += updated.unsigned_abs();
    }
    txn.commit().await?;
    report.unchanged = report.deduplicated - report.inserted - report.updated;
    Ok(report)
}

fn keep_last_of_each_key<R: BulkRow>(sorted: Vec<R>) -> Vec<R> {
    let mut out: Vec<R> = Vec::with_capacity(sorted.len());
    for row in sorted {
        match out.last_mut() {
            Some(last) if last.key() == row.key() => *last = row,
            _ => out.push(row),
        }
    }
    out
}

/// Checks that an optional text fits `max_chars` characters.
pub fn check_len(
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<(), InvalidInput> {
    match value {
        Some(text) if text.chars().count() > max_chars => Err(InvalidInput::new(
            field,
            text,
            format!("longer than {max_chars} characters"),
        )),
        _ => Ok(()),
    }
}

/// Checks that an optional float is finite: NaN and infinities are refused (a missing
/// value is `None`).
pub fn check_finite(field: &'static str, value: Option<f64>) -> Result<(), InvalidInput> {
    match value {
        Some(number) if !number.is_finite() => Err(InvalidInput::new(
            field,
            number,
            "not a finite number (use None for a missing value)",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: BulkTable = BulkTable {
        name: "demo",
        columns: &[
            BulkColumn::key("code", ColumnType::Text),
            BulkColumn::value("price", ColumnType::Float8),
            BulkColumn::keep_if_null("synced", ColumnType::Date),
        ],
    };

    #[test]
    fn upsert_sql_binds_one_array_per_column() {
        let sql = TABLE.upsert_sql();
        assert!(
            sql.contains("UNNEST($1::varchar[], $2::float8[], $3::date[])"),
            "{sql}"
        );
        assert!(sql.contains("ON CONFLICT (code) DO UPDATE SET price = EXCLUDED.price, synced = COALESCE(EXCLUDED.synced, t.synced)"), "{sql}");
        assert!(sql.contains("WHERE (t.price, t.synced) IS DISTINCT FROM (EXCLUDED.price, COALESCE(EXCLUDED.synced, t.synced))"), "{sql}");
    }

    struct Demo(&'static str, f64);

    impl BulkRow for Demo {
        type Key<'a> = &'a str;
        const TABLE: &'static BulkTable = &TABLE;
        fn key(&self) -> &str {
            self.0
        }
        fn validate(&self) -> Result<(), InvalidInput> {
            check_finite("price", Some(self.1))
        }
        fn write<'a>(&'a self, out: &mut RowWriter<'a>) {
            out.text(Some(self.0));
            out.float(Some(self.1));
            out.date(None);
        }
    }

    #[test]
    fn the_last_duplicate_wins() {
        let mut rows = vec![
            Demo("b", 1.0),
            Demo("a", 2.0),
            Demo("b", 3.0),
            Demo("a", 4.0),
        ];
        rows.sort_by(|a, b| a.key().cmp(b.key()));
        let kept: Vec<(&str, f64)> = keep_last_of_each_key(rows)
            .iter()
            .map(|d| (d.0, d.1))
            .collect();
        assert_eq!(kept, [("a", 4.0), ("b", 3.0)]);
    }

    #[test]
    fn a_row_writing_the_wrong_type_is_an_error_not_a_panic() {
        let mut writer = RowWriter::new(&TABLE, 1);
        writer.text(Some("x"));
        writer.text(Some("not a float"));
        writer.date(None);
        assert!(matches!(
            writer.end_row(&TABLE),
            Err(RepoError::InvalidState(_))
        ));
        let mut writer = RowWriter::new(&TABLE, 1);
        writer.text(Some("x"));
        assert!(writer.end_row(&TABLE).is_err(), "too few columns");
    }

    #[test]
    fn non_finite_floats_are_refused() {
        assert!(check_finite("close", Some(f64::NAN)).is_err());
        assert!(check_finite("close", Some(f64::INFINITY)).is_err());
        assert!(check_finite("close", None).is_ok());
    }
}
