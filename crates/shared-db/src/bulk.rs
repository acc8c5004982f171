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
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{Datelike, NaiveDate};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments as _, Postgres};

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

/// How an upsert treats a stored row's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Merge {
    /// Every column follows its table rule ([`OnConflict`]): the usual `save_all`.
    #[default]
    Overwrite,
    /// A `NULL` in the new row never erases a stored value (every `Overwrite` column acts
    /// as `KeepIfNull`): for imports that bring some columns of a row at a time, such as
    /// Tushare's `daily` then `daily_basic`.
    KeepStored,
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
    /// `COPY <table> (<columns>) FROM STDIN (FORMAT binary)`.
    pub fn copy_sql(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.name,
            names.join(", ")
        )
    }

    /// `SELECT EXISTS (…)`: does any of the rows given as arrays (like the upsert's) have a
    /// key that is already stored?
    pub fn exists_sql(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        let on: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.on_conflict == OnConflict::Key)
            .map(|c| format!("t.{0} = u.{0}", c.name))
            .collect();
        format!(
            "SELECT EXISTS (SELECT 1 FROM {} t JOIN UNNEST({}) AS u({}) ON {})",
            self.name,
            self.array_params(),
            names.join(", "),
            on.join(" AND ")
        )
    }

    /// `$1::varchar[], $2::date[], …`: one array parameter per column.
    fn array_params(&self) -> String {
        let mut arrays = String::new();
        for (idx, column) in self.columns.iter().enumerate() {
            let sep = if idx == 0 { "" } else { ", " };
            let _ = write!(arrays, "{sep}${}::{}", idx + 1, column.ty.array_cast());
        }
        arrays
    }

    /// The upsert statement for this table, with one array parameter per column.
    pub fn upsert_sql(&self, merge: Merge) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        let keys: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| c.on_conflict == OnConflict::Key)
            .map(|c| c.name)
            .collect();
        let arrays = self.array_params();
        let (mut set, mut stored, mut merged) = (Vec::new(), Vec::new(), Vec::new());
        for column in self.columns {
            let new_value = match (column.on_conflict, merge) {
                (OnConflict::Key, _) => continue,
                (OnConflict::Overwrite, Merge::Overwrite) => format!("EXCLUDED.{}", column.name),
                (OnConflict::KeepIfNull, _) | (OnConflict::Overwrite, Merge::KeepStored) => {
                    format!("COALESCE(EXCLUDED.{0}, t.{0})", column.name)
                }
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

/// Column-wise buffers for one `UNNEST` statement's rows.
#[derive(Debug)]
enum ColumnValues<'a> {
    Text(Vec<Option<&'a str>>),
    Date(Vec<Option<NaiveDate>>),
    Float8(Vec<Option<f64>>),
    Int4(Vec<Option<i32>>),
}

impl ColumnValues<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Text(v) => v.len(),
            Self::Date(v) => v.len(),
            Self::Float8(v) => v.len(),
            Self::Int4(v) => v.len(),
        }
    }
}

/// Where a [`RowWriter`] puts values.
#[derive(Debug)]
enum Sink<'a> {
    /// One typed array per column, for the `UNNEST` upsert.
    Columns(Vec<ColumnValues<'a>>),
    /// Rows in PostgreSQL's binary `COPY` format.
    Copy(Vec<u8>),
}

/// Receives one row's values; see [`BulkRow::write`].
#[derive(Debug)]
pub struct RowWriter<'a> {
    table: &'static BulkTable,
    sink: Sink<'a>,
    next: usize,
    /// The first column written with the wrong type or out of order, if any.
    mismatch: Option<usize>,
}

/// Days from 0001-01-01 (CE day 1) to 2000-01-01, PostgreSQL's date epoch.
const PG_EPOCH_CE_DAYS: i32 = 730_120;

impl<'a> RowWriter<'a> {
    fn columns(table: &'static BulkTable, capacity: usize) -> Self {
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
            table,
            sink: Sink::Columns(columns),
            next: 0,
            mismatch: None,
        }
    }

    fn copy(table: &'static BulkTable, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(19 + capacity * (2 + table.columns.len() * 12));
        // Signature, flags, header extension length.
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes());
        buf.extend_from_slice(&0i32.to_be_bytes());
        Self {
            table,
            sink: Sink::Copy(buf),
            next: 0,
            mismatch: None,
        }
    }

    /// Checks that the next column has type `ty`; false (and a recorded mismatch) if not.
    fn expect(&mut self, ty: ColumnType) -> bool {
        let ok = self
            .table
            .columns
            .get(self.next)
            .is_some_and(|c| c.ty == ty);
        if !ok {
            self.mismatch.get_or_insert(self.next);
        }
        self.next += 1;
        ok
    }

    /// Appends one binary `COPY` field: its length, then its bytes (`None` is NULL).
    fn copy_field(buf: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            Some(bytes) => {
                buf.extend_from_slice(
                    &i32::try_from(bytes.len()).unwrap_or(i32::MAX).to_be_bytes(),
                );
                buf.extend_from_slice(bytes);
            }
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Writes the next column, of type `ty`: into its array, or as a `COPY` field.
    fn put(
        &mut self,
        ty: ColumnType,
        to_column: impl FnOnce(&mut ColumnValues<'a>),
        to_copy: impl FnOnce(&mut Vec<u8>),
    ) {
        let idx = self.next;
        if !self.expect(ty) {
            return;
        }
        match &mut self.sink {
            Sink::Columns(columns) => {
                if let Some(column) = columns.get_mut(idx) {
                    to_column(column);
                }
            }
            Sink::Copy(buf) => to_copy(buf),
        }
    }

    /// The next column is text.
    pub fn text(&mut self, value: Option<&'a str>) {
        self.put(
            ColumnType::Text,
            |column| {
                if let ColumnValues::Text(values) = column {
                    values.push(value);
                }
            },
            |buf| Self::copy_field(buf, value.map(str::as_bytes)),
        );
    }

    /// The next column is a date.
    pub fn date(&mut self, value: Option<NaiveDate>) {
        self.put(
            ColumnType::Date,
            |column| {
                if let ColumnValues::Date(values) = column {
                    values.push(value);
                }
            },
            |buf| {
                let days = value.map(|d| (d.num_days_from_ce() - PG_EPOCH_CE_DAYS).to_be_bytes());
                Self::copy_field(buf, days.as_ref().map(|d| d.as_slice()));
            },
        );
    }

    /// The next column is a double.
    pub fn float(&mut self, value: Option<f64>) {
        self.put(
            ColumnType::Float8,
            |column| {
                if let ColumnValues::Float8(values) = column {
                    values.push(value);
                }
            },
            |buf| {
                Self::copy_field(
                    buf,
                    value.map(f64::to_be_bytes).as_ref().map(|b| b.as_slice()),
                )
            },
        );
    }

    /// The next column is an integer.
    pub fn int(&mut self, value: Option<i32>) {
        self.put(
            ColumnType::Int4,
            |column| {
                if let ColumnValues::Int4(values) = column {
                    values.push(value);
                }
            },
            |buf| {
                Self::copy_field(
                    buf,
                    value.map(i32::to_be_bytes).as_ref().map(|b| b.as_slice()),
                )
            },
        );
    }

    /// Writes `row` and checks that every column was written once, with its own type.
    fn push<R: BulkRow>(&mut self, row: &'a R) -> Result<(), RepoError> {
        if let Sink::Copy(buf) = &mut self.sink {
            let fields = i16::try_from(self.table.columns.len()).unwrap_or(i16::MAX);
            buf.extend_from_slice(&fields.to_be_bytes());
        }
        row.write(self);
        let written = std::mem::replace(&mut self.next, 0);
        let bad = self
            .mismatch
            .or((written != self.table.columns.len()).then_some(written));
        match bad {
            None => Ok(()),
            Some(idx) => Err(RepoError::InvalidState(format!(
                "bulk row for {} wrote column {} ({}) with the wrong type or count",
                self.table.name,
                idx,
                self.table
                    .columns
                    .get(idx)
                    .map_or("past the last column", |c| c.name)
            ))),
        }
    }

    /// The column arrays as bind parameters, encoded now: the result owns its bytes, so it
    /// can be built on another thread while the previous statement runs.
    fn into_arguments(self) -> Result<PgArguments, RepoError> {
        let mut args = PgArguments::default();
        if let Sink::Columns(columns) = self.sink {
            let rows = columns.first().map_or(0, ColumnValues::len);
            args.reserve(columns.len(), rows * columns.len() * 16);
            for column in columns {
                let added = match column {
                    ColumnValues::Text(values) => args.add(values),
                    ColumnValues::Date(values) => args.add(values),
                    ColumnValues::Float8(values) => args.add(values),
                    ColumnValues::Int4(values) => args.add(values),
                };
                added.map_err(RepoError::Database)?;
            }
        }
        Ok(args)
    }

    /// The finished binary `COPY` payload (empty for an `UNNEST` writer).
    fn into_copy_payload(self) -> Vec<u8> {
        match self.sink {
            Sink::Copy(mut buf) => {
                buf.extend_from_slice(&(-1i16).to_be_bytes());
                buf
            }
            Sink::Columns(_) => Vec::new(),
        }
    }
}

/// Chunks at least this large first try a plain binary `COPY` (see [`upsert`]).
const COPY_MIN_ROWS: usize = 1_000;

/// One chunk, encoded for the way it is to be written.
enum Encoded {
    /// A binary `COPY` payload.
    Copy(Vec<u8>),
    /// The `UNNEST` statement's array parameters.
    Arrays(PgArguments),
}

/// Encodes `chunk` as a `COPY` payload when `copy`, else as `UNNEST` arrays.
fn encode<R: BulkRow>(chunk: &[R], copy: bool) -> Result<Encoded, RepoError> {
    let table = R::TABLE;
    if copy {
        let mut writer = RowWriter::copy(table, chunk.len());
        for row in chunk {
            writer.push(row)?;
        }
        Ok(Encoded::Copy(writer.into_copy_payload()))
    } else {
        let mut writer = RowWriter::columns(table, chunk.len());
        for row in chunk {
            writer.push(row)?;
        }
        Ok(Encoded::Arrays(writer.into_arguments()?))
    }
}

/// Validates `rows` (every row, before anything is written), keeps the last row of each
/// key, sorts by key and upserts them in one transaction.
///
/// Chunks of new rows go in by binary `COPY`, PostgreSQL's fastest way in: each large
/// chunk is first copied under a savepoint, and only when that meets an existing key is
/// it rolled back to the savepoint and upserted instead (and so are the call's remaining
/// chunks). Both ways insert in key order, so concurrent writers still lock alike. Calls
/// of more than one chunk encode the next chunk on a blocking thread while the database
/// works on the current one.
///
/// Errors: `Invalid` naming the row (its index in `rows`), field and value; nothing is
/// written. Any database error rolls the whole call back.
pub async fn upsert<R: BulkRow + 'static>(
    db: &Db,
    rows: Vec<R>,
) -> Result<UpsertReport, RepoError> {
    upsert_with(db, rows, Merge::Overwrite).await
}

/// [`upsert`] with a choice of how stored rows are merged.
pub async fn upsert_with<R: BulkRow + 'static>(
    db: &Db,
    rows: Vec<R>,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    let mut txn = db.pool().begin().await?;
    let report = upsert_in(&mut txn, rows, merge).await?;
    txn.commit().await?;
    Ok(report)
}

/// [`upsert_with`] inside the caller's transaction, so that the rows commit (or roll
/// back) together with the caller's other writes. Nothing is committed here.
pub async fn upsert_in<R: BulkRow + 'static>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    rows: Vec<R>,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    for (idx, row) in rows.iter().enumerate() {
        row.validate().map_err(|err| err.at_row(idx))?;
    }
    let received = rows.len() as u64;
    let rows = Arc::new(sorted_last_of_each_key(rows));
    let mut report = UpsertReport {
        received,
        deduplicated: rows.len() as u64,
        ..UpsertReport::default()
    };
    if rows.is_empty() {
        return Ok(report);
    }
    let table = R::TABLE;
    // Start with COPY unless a sample of the keys (first, middle, last) is already stored:
    // a re-sync then goes straight to the upsert instead of failing a COPY first.
    let sample = [0, rows.len() / 2, rows.len() - 1];
    let copy_mode = Arc::new(AtomicBool::new(
        rows.len() >= COPY_MIN_ROWS
            && !any_stored(txn, table, sample.iter().map(|&idx| &rows[idx])).await?,
    ));
    let wants_copy = |copy_mode: &AtomicBool, chunk: &[R]| {
        copy_mode.load(Ordering::Relaxed) && chunk.len() >= COPY_MIN_ROWS
    };
    let (sender, mut encoded) = tokio::sync::mpsc::channel::<Result<Encoded, RepoError>>(1);
    if rows.len() <= ROWS_PER_STATEMENT {
        let chunk = rows.as_slice();
        let _ = sender.try_send(encode(chunk, wants_copy(&copy_mode, chunk)));
        drop(sender);
    } else {
        let (rows, copy_mode) = (Arc::clone(&rows), Arc::clone(&copy_mode));
        // Not awaited: when the call fails early, the closed channel stops it.
        drop(tokio::task::spawn_blocking(move || {
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                if sender
                    .blocking_send(encode(chunk, wants_copy(&copy_mode, chunk)))
                    .is_err()
                {
                    break;
                }
            }
        }));
    }

    let upsert_sql: Arc<str> = table.upsert_sql(merge).into();
    let copy_sql = table.copy_sql();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut chunk_encoded = encoded.recv().await.ok_or_else(|| {
            RepoError::InvalidState("the bulk encoder stopped before the last chunk".to_owned())
        })??;
        if let Encoded::Copy(payload) = chunk_encoded {
            if copy_mode.load(Ordering::Relaxed) {
                if let Some(copied) = copy_chunk(txn, &copy_sql, payload).await? {
                    report.inserted += copied;
                    continue;
                }
                // An existing key: this call is (partly) an update; upsert from here on.
                copy_mode.store(false, Ordering::Relaxed);
            }
            chunk_encoded = encode(chunk, false)?;
        }
        if let Encoded::Arrays(args) = chunk_encoded {
            let query = sqlx::query_as_with::<_, (i64, i64), _>(
                sqlx::AssertSqlSafe(Arc::clone(&upsert_sql)),
                args,
            );
            let (inserted, updated) = query.fetch_one(&mut **txn).await?;
            report.inserted += inserted.unsigned_abs();
            report.updated += updated.unsigned_abs();
        }
    }
    report.unchanged = report.deduplicated - report.inserted - report.updated;
    Ok(report)
}

/// True when any of `rows` has a key that is already stored.
async fn any_stored<'a, R: BulkRow + 'a>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    table: &'static BulkTable,
    rows: impl ExactSizeIterator<Item = &'a R>,
) -> Result<bool, RepoError> {
    let mut writer = RowWriter::columns(table, rows.len());
    for row in rows {
        writer.push(row)?;
    }
    let query = sqlx::query_scalar_with::<_, bool, _>(
        sqlx::AssertSqlSafe(table.exists_sql()),
        writer.into_arguments()?,
    );
    Ok(query.fetch_one(&mut **txn).await?)
}

/// Copies one encoded chunk under a savepoint. `Some(rows copied)`, or `None` when a key
/// already existed (the savepoint is rolled back and nothing of the chunk remains).
async fn copy_chunk(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    copy_sql: &str,
    payload: Vec<u8>,
) -> Result<Option<u64>, RepoError> {
    sqlx::raw_sql("SAVEPOINT stockdb_bulk_copy")
        .execute(&mut **txn)
        .await?;
    let copied = async {
        let mut copy = txn.copy_in_raw(copy_sql).await?;
        copy.send(payload).await?;
        copy.finish().await
    }
    .await;
    match copied {
        Ok(rows) => {
            sqlx::raw_sql("RELEASE SAVEPOINT stockdb_bulk_copy")
                .execute(&mut **txn)
                .await?;
            Ok(Some(rows))
        }
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("23505") => {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT stockdb_bulk_copy")
                .execute(&mut **txn)
                .await?;
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// `rows` sorted by key, keeping the last row of each key (input order decides).
///
/// Sorts indices, not rows, and then moves the rows into place: a stable sort of a million
/// wide rows would allocate a buffer of half of them, and a copy would double the call's
/// memory; this needs three `usize` per row.
fn sorted_last_of_each_key<R: BulkRow>(mut rows: Vec<R>) -> Vec<R> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| rows[a].key().cmp(&rows[b].key()).then(a.cmp(&b)));
    let mut kept: Vec<usize> = Vec::with_capacity(order.len());
    for idx in order {
        match kept.last_mut() {
            Some(last) if rows[*last].key() == rows[idx].key() => *last = idx,
            _ => kept.push(idx),
        }
    }
    // Where each row goes: its place in `kept`, or nowhere.
    let mut target = vec![usize::MAX; rows.len()];
    for (place, &idx) in kept.iter().enumerate() {
        target[idx] = place;
    }
    // Follow the permutation's cycles; every swap puts one row in its final place.
    for idx in 0..rows.len() {
        while target[idx] != usize::MAX && target[idx] != idx {
            let to = target[idx];
            rows.swap(idx, to);
            target.swap(idx, to);
        }
    }
    rows.truncate(kept.len());
    rows
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
        let sql = TABLE.upsert_sql(Merge::Overwrite);
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
            crate::check_finite("price", Some(self.1))
        }
        fn write<'a>(&'a self, out: &mut RowWriter<'a>) {
            out.text(Some(self.0));
            out.float(Some(self.1));
            out.date(None);
        }
    }

    #[test]
    fn the_last_duplicate_wins() {
        let rows = vec![
            Demo("b", 1.0),
            Demo("a", 2.0),
            Demo("c", 0.5),
            Demo("b", 3.0),
            Demo("a", 4.0),
        ];
        let kept: Vec<(&str, f64)> = sorted_last_of_each_key(rows)
            .iter()
            .map(|d| (d.0, d.1))
            .collect();
        assert_eq!(kept, [("a", 4.0), ("b", 3.0), ("c", 0.5)]);
    }

    #[test]
    fn dedup_matches_a_last_wins_map_on_many_duplicates() {
        const KEYS: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];
        let mut state = 12_345u64;
        let rows: Vec<Demo> = (0..2_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                Demo(KEYS[(state >> 33) as usize % KEYS.len()], f64::from(i))
            })
            .collect();
        let mut expected = std::collections::BTreeMap::new();
        for row in &rows {
            expected.insert(row.0, row.1);
        }
        let kept: Vec<(&str, f64)> = sorted_last_of_each_key(rows)
            .iter()
            .map(|d| (d.0, d.1))
            .collect();
        assert_eq!(kept, expected.into_iter().collect::<Vec<_>>());
    }

    struct WrongType;

    impl BulkRow for WrongType {
        type Key<'a> = ();
        const TABLE: &'static BulkTable = &TABLE;
        fn key(&self) {}
        fn validate(&self) -> Result<(), InvalidInput> {
            Ok(())
        }
        fn write<'a>(&'a self, out: &mut RowWriter<'a>) {
            out.text(Some("x"));
            out.text(Some("not a float"));
            out.date(None);
        }
    }

    struct TooShort;

    impl BulkRow for TooShort {
        type Key<'a> = ();
        const TABLE: &'static BulkTable = &TABLE;
        fn key(&self) {}
        fn validate(&self) -> Result<(), InvalidInput> {
            Ok(())
        }
        fn write<'a>(&'a self, out: &mut RowWriter<'a>) {
            out.text(Some("x"));
        }
    }

    #[test]
    fn a_row_writing_the_wrong_type_is_an_error_not_a_panic() {
        for mut writer in [RowWriter::columns(&TABLE, 1), RowWriter::copy(&TABLE, 1)] {
            assert!(matches!(
                writer.push(&WrongType),
                Err(RepoError::InvalidState(_))
            ));
        }
        let mut writer = RowWriter::columns(&TABLE, 1);
        assert!(writer.push(&TooShort).is_err(), "too few columns");
    }

    #[test]
    fn copy_rows_are_in_binary_copy_format() {
        let mut writer = RowWriter::copy(&TABLE, 1);
        writer.push(&Demo("ab", 1.5)).unwrap();
        let payload = writer.into_copy_payload();
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&3i16.to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(b"ab");
        expected.extend_from_slice(&8i32.to_be_bytes());
        expected.extend_from_slice(&1.5f64.to_be_bytes());
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        expected.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(payload, expected);
    }

    #[test]
    fn dates_count_days_from_2000() {
        let day = NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
        assert_eq!(day.num_days_from_ce() - PG_EPOCH_CE_DAYS, 1);
    }
}
