//! The upsert pipeline: validate, deduplicate, then write in one transaction: a small
//! call by one `UNNEST` statement; a large one by binary `COPY`, into the table while the
//! rows are new and into a staging table once they are not (then one `INSERT … SELECT …
//! ON CONFLICT` from it), encoding the next chunk while the database takes the current.

use std::sync::Arc;

use sqlx::Postgres;

use super::dedup::last_of_each_key_in_order;
use super::encode::{COPY_HEADER, COPY_TRAILER, copy_rows, unnest_arguments};
use super::sql::{ATTACHED_SQL, Target};
use super::table::{BulkTable, CountedBy, Destination, Merge};
use crate::db::Db;
use crate::error::{InvalidInput, RepoError};

/// Rows encoded at a time, and copied into the table by one `COPY` (under one savepoint):
/// bounds the client's memory to two chunks and the work a stored key makes the engine
/// redo; found by `cargo xtask bench` (larger chunks gain nothing measurable).
pub const ROWS_PER_STATEMENT: usize = 10_000;

/// Calls of at least this many rows go by binary `COPY` (into the table, or into a
/// staging table); smaller ones by one `UNNEST` statement.
const STAGE_MIN_ROWS: usize = 1_000;

/// The most bytes sent in one `COPY` data message (see `send_in_pieces`).
const COPY_PIECE: usize = 1 << 20;

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

/// A row the engine can write: its table (columns and how to read them), its key and its
/// validation.
pub trait BulkRow: Send + Sync + Sized + 'static {
    /// The conflict key, borrowed from the row.
    type Key<'a>: Ord
    where
        Self: 'a;

    /// The table and its columns.
    const TABLE: &'static BulkTable<Self>;

    /// The row's key.
    fn key(&self) -> Self::Key<'_>;

    /// Checks the row before anything is written (lengths, finite numbers, date ranges).
    fn validate(&self) -> Result<(), InvalidInput>;
}

/// Validates `rows` (every row, before anything is written), keeps the last row of each
/// key, sorts by key and upserts them in one transaction.
///
/// A call of fewer than 1,000 rows is one `INSERT … SELECT * FROM UNNEST(…) ON CONFLICT
/// … DO UPDATE` (one round trip). A larger call goes by binary `COPY`, PostgreSQL's
/// fastest way in, in chunks of [`ROWS_PER_STATEMENT`] rows encoded on a blocking thread
/// while the database takes the previous one: chunks of new rows are copied straight into
/// the table, each under a savepoint; from the first chunk that meets a stored key (rolled
/// back to its savepoint), the rest is copied, as one stream, into a temporary staging
/// table and upserted from it by one `INSERT … SELECT … ON CONFLICT … DO UPDATE`. When a
/// sample of the keys (first, middle, last) is already stored, the call goes to the
/// staging table at once. Rows are written in key order either way (the staging table is
/// read in the order it was filled), so concurrent writers lock alike and wait for each
/// other instead of deadlocking. The staging table needs the `TEMP` privilege on the
/// database, which PostgreSQL grants to everyone by default.
///
/// Errors: `Invalid` naming the row (its index in `rows`), field and value; nothing is
/// written. Any database error rolls the whole call back.
pub async fn upsert<R: BulkRow>(db: &Db, rows: Vec<R>) -> Result<UpsertReport, RepoError> {
    upsert_with(db, rows, Merge::Overwrite).await
}

/// [`upsert`] with a choice of how stored rows are merged.
///
/// A handle bound to a transaction ([`Db::begin`]) is refused (`Internal`): the engine
/// writes in a transaction of its own on the pool, which could not commit or roll back
/// with the bound one. A transaction the server fails to break a deadlock is run again,
/// at most [`DEADLOCK_TRIES`] times in all: on one server, writes that lock rows in key
/// order never deadlock, but on Citus a batch's shards are written in parallel, so two
/// batches sharing rows of two shards can (the server detects it and fails one).
pub async fn upsert_with<R: BulkRow>(
    db: &Db,
    rows: Vec<R>,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    upsert_to(db, rows, merge, Destination::Table).await
}

/// [`upsert_with`] into a chosen relation: the table, or one of its partitions that holds
/// every row ([`Destination::Partition`]).
pub async fn upsert_to<R: BulkRow>(
    db: &Db,
    rows: Vec<R>,
    merge: Merge,
    destination: Destination<'_>,
) -> Result<UpsertReport, RepoError> {
    if db.is_bound() {
        return Err(RepoError::Internal {
            component: "bulk upsert",
            detail: "bulk writes run in a transaction of their own; they cannot join a unit \
                     of work"
                .to_owned(),
        });
    }
    let (received, rows) = prepared(rows)?;
    let target = Target::new(R::TABLE, destination);
    let mut tries = 1;
    loop {
        let mut txn = db.pool().begin().await?;
        match upsert_prepared(&mut txn, &target, received, Arc::clone(&rows), merge).await {
            Ok(report) => {
                txn.commit().await?;
                return Ok(report);
            }
            Err(err) if err.is_deadlock() && tries < DEADLOCK_TRIES => {
                tracing::warn!(
                    "bulk upsert into {}: failed to break a deadlock, try {tries} of \
                     {DEADLOCK_TRIES}; running it again",
                    R::TABLE.name
                );
                tries += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The rows an upsert inserted and updated, from what it returned: `(inserted, updated)`
/// as counted by `xmax`, or, when `stored` of its `sent` rows had a stored key (counted
/// just before it, in the same transaction), `(written, 0)`. A key another transaction
/// stored in between is counted as inserted; the counts never go negative.
fn split_written(written: (i64, i64), stored: Option<i64>, sent: usize) -> (u64, u64) {
    let (first, second) = (written.0.unsigned_abs(), written.1.unsigned_abs());
    match stored {
        None => (first, second),
        Some(stored) => {
            let new = (sent as u64).saturating_sub(stored.unsigned_abs());
            let inserted = new.min(first);
            (inserted, first - inserted)
        }
    }
}

/// How often [`upsert_with`] runs a batch the server failed to break a deadlock.
pub const DEADLOCK_TRIES: u32 = 3;

/// [`upsert_with`] inside the caller's transaction, so that the rows commit (or roll
/// back) together with the caller's other writes. Nothing is committed here.
pub async fn upsert_in<R: BulkRow>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    rows: Vec<R>,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    upsert_in_to(txn, rows, merge, Destination::Table).await
}

/// [`upsert_in`] into a chosen relation (see [`upsert_to`]).
pub async fn upsert_in_to<R: BulkRow>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    rows: Vec<R>,
    merge: Merge,
    destination: Destination<'_>,
) -> Result<UpsertReport, RepoError> {
    let (received, rows) = prepared(rows)?;
    upsert_prepared(
        txn,
        &Target::new(R::TABLE, destination),
        received,
        rows,
        merge,
    )
    .await
}

/// A call's rows as the caller passed them, and the order they are written in: by key,
/// the last row of each key only.
struct Prepared<R> {
    rows: Vec<R>,
    order: Vec<usize>,
}

impl<R> Prepared<R> {
    /// The rows to write.
    fn len(&self) -> usize {
        self.order.len()
    }

    /// The `n`th row to write.
    fn row(&self, n: usize) -> &R {
        &self.rows[self.order[n]]
    }

    /// The rows at these indices of `rows` (a stretch of `order`).
    fn rows_of(&self, indices: &[usize]) -> Vec<&R> {
        indices.iter().map(|&idx| &self.rows[idx]).collect()
    }
}

/// The rows checked, then put in key order with the last of each key kept; and how many
/// were received.
fn prepared<R: BulkRow>(rows: Vec<R>) -> Result<(u64, Arc<Prepared<R>>), RepoError> {
    for (idx, row) in rows.iter().enumerate() {
        row.validate().map_err(|err| err.at_row(idx))?;
    }
    let received = rows.len() as u64;
    let order = last_of_each_key_in_order(&rows, R::key);
    Ok((received, Arc::new(Prepared { rows, order })))
}

async fn upsert_prepared<R: BulkRow>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    target: &Target<R>,
    received: u64,
    rows: Arc<Prepared<R>>,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    let mut report = UpsertReport {
        received,
        deduplicated: rows.len() as u64,
        ..UpsertReport::default()
    };
    if rows.len() == 0 {
        return Ok(report);
    }
    let table = R::TABLE;
    if rows.len() < STAGE_MIN_ROWS {
        let in_order = rows.rows_of(&rows.order);
        // Small calls: one round trip (two when the stored keys are counted), no staging
        // table.
        let stored = match target.counted_by() {
            CountedBy::Xmax => None,
            CountedBy::StoredKeys => Some(
                sqlx::query_scalar_with::<_, i64, _>(
                    sqlx::AssertSqlSafe(target.stored_sql(false)),
                    unnest_arguments(table, &in_order)?,
                )
                .fetch_one(&mut **txn)
                .await?,
            ),
        };
        let args = unnest_arguments(table, &in_order)?;
        let written = sqlx::query_as_with::<_, (i64, i64), _>(
            sqlx::AssertSqlSafe(target.upsert_sql(merge)),
            args,
        )
        .fetch_one(&mut **txn)
        .await?;
        (report.inserted, report.updated) = split_written(written, stored, rows.len());
        report.unchanged = report.deduplicated - report.inserted - report.updated;
        check_attached(txn, target).await?;
        return Ok(report);
    }
    // Start with COPY into the table unless a sample of the keys (first, middle, last) is
    // already stored: a re-sync then goes straight to the staging table instead of
    // failing a COPY first.
    let sample = [0, rows.len() / 2, rows.len() - 1].map(|n| rows.row(n));
    let copy_into_table = !any_stored(txn, target, &sample).await?;
    let (sender, mut encoded) = tokio::sync::mpsc::channel::<Result<Vec<u8>, RepoError>>(1);
    let encoder_rows = Arc::clone(&rows);
    // Not awaited: when the call fails early, the closed channel stops it.
    drop(tokio::task::spawn_blocking(move || {
        for chunk in encoder_rows.order.chunks(ROWS_PER_STATEMENT) {
            let chunk = encoder_rows.rows_of(chunk);
            if sender.blocking_send(copy_rows(table, &chunk)).is_err() {
                break;
            }
        }
    }));

    let mut next_chunk = async || {
        encoded.recv().await.ok_or_else(|| RepoError::Internal {
            component: "bulk encoder",
            detail: "stopped before the last chunk".to_owned(),
        })?
    };
    let mut remaining = rows.len().div_ceil(ROWS_PER_STATEMENT);
    // The chunk that met a stored key, to be staged with the rest.
    let mut met_stored = None;
    if copy_into_table {
        let copy_sql = target.copy_sql();
        while remaining > 0 {
            let chunk = next_chunk().await?;
            remaining -= 1;
            match copy_chunk(txn, &copy_sql, &chunk).await? {
                Some(copied) => report.inserted += copied,
                None => {
                    met_stored = Some(chunk);
                    break;
                }
            }
        }
    }
    if met_stored.is_some() || remaining > 0 {
        sqlx::raw_sql(sqlx::AssertSqlSafe(table.create_stage_sql()))
            .execute(&mut **txn)
            .await?;
        let mut copy = txn.copy_in_raw(&table.copy_stage_sql()).await?;
        copy.send(COPY_HEADER).await?;
        if let Some(chunk) = met_stored {
            send_in_pieces(&mut copy, &chunk).await?;
        }
        while remaining > 0 {
            send_in_pieces(&mut copy, &next_chunk().await?).await?;
            remaining -= 1;
        }
        copy.send(COPY_TRAILER).await?;
        copy.finish().await?;
        // Not cached prepared statements: the staging table is new in every call.
        let stored = match target.counted_by() {
            CountedBy::Xmax => None,
            CountedBy::StoredKeys => Some(
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(target.stored_sql(true)))
                    .persistent(false)
                    .fetch_one(&mut **txn)
                    .await?,
            ),
        };
        let written = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(
            target.upsert_from_stage_sql(merge),
        ))
        .persistent(false)
        .fetch_one(&mut **txn)
        .await?;
        // Another call in the same transaction makes its own.
        sqlx::raw_sql(sqlx::AssertSqlSafe(table.drop_stage_sql()))
            .execute(&mut **txn)
            .await?;
        // The staged rows: all but those copied into the table before the first stored key.
        let staged = rows.len() - usize::try_from(report.inserted).unwrap_or(rows.len());
        let (inserted, updated) = split_written(written, stored, staged);
        report.inserted += inserted;
        report.updated += updated;
    }
    report.unchanged = report.deduplicated - report.inserted - report.updated;
    check_attached(txn, target).await?;
    Ok(report)
}

/// Fails the call (its transaction is rolled back) when it wrote into a partition that is
/// not the table's: a wrong name, or one detached before the call's first write to it
/// locked it (rows written there would not be in the table).
async fn check_attached<R: BulkRow>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    target: &Target<R>,
) -> Result<(), RepoError> {
    let Some(partition) = target.partition() else {
        return Ok(());
    };
    let attached = sqlx::query_scalar::<_, bool>(ATTACHED_SQL)
        .bind(partition)
        .bind(R::TABLE.name)
        .fetch_one(&mut **txn)
        .await?;
    if attached {
        Ok(())
    } else {
        Err(InvalidInput::new(
            "partition",
            partition,
            format!("is not a partition of {}", R::TABLE.name),
        )
        .into())
    }
}

/// Sends `bytes` as `COPY` data in pieces of [`COPY_PIECE`] bytes: PostgreSQL parses a
/// piece while the next one arrives, where one message of a whole chunk would first be
/// received whole (measured: 1.6 times slower for 10,000-row chunks).
async fn send_in_pieces<C: std::ops::DerefMut<Target = sqlx::PgConnection>>(
    copy: &mut sqlx::postgres::PgCopyIn<C>,
    bytes: &[u8],
) -> Result<(), sqlx::Error> {
    for piece in bytes.chunks(COPY_PIECE) {
        copy.send(piece).await?;
    }
    Ok(())
}
/// True when any of `rows` has a key that is already stored.
async fn any_stored<R: BulkRow>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    target: &Target<R>,
    rows: &[&R],
) -> Result<bool, RepoError> {
    let args = unnest_arguments(R::TABLE, rows)?;
    let query =
        sqlx::query_scalar_with::<_, bool, _>(sqlx::AssertSqlSafe(target.exists_sql()), args);
    Ok(query.fetch_one(&mut **txn).await?)
}

/// Copies one encoded chunk under a savepoint. `Some(rows copied)`, or `None` when a key
/// already existed (the savepoint is rolled back and nothing of the chunk remains).
async fn copy_chunk(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    copy_sql: &str,
    rows: &[u8],
) -> Result<Option<u64>, RepoError> {
    sqlx::raw_sql("SAVEPOINT stockdb_bulk_copy")
        .execute(&mut **txn)
        .await?;
    let copied = async {
        let mut copy = txn.copy_in_raw(copy_sql).await?;
        copy.send(COPY_HEADER).await?;
        send_in_pieces(&mut copy, rows).await?;
        copy.send(COPY_TRAILER).await?;
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
        Err(sqlx::Error::Database(err)) if crate::error::is_unique_violation(err.as_ref()) => {
            sqlx::raw_sql("ROLLBACK TO SAVEPOINT stockdb_bulk_copy")
                .execute(&mut **txn)
                .await?;
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}
