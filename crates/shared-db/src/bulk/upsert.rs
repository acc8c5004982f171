//! The upsert pipeline: validate, deduplicate, then write chunk by chunk in one
//! transaction, by binary `COPY` while the rows are new and by the `UNNEST` upsert once
//! they are not, encoding the next chunk while the database works on the current one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::Postgres;
use sqlx::postgres::PgArguments;

use super::dedup::sorted_last_of_each_key;
use super::encode::{copy_payload, unnest_arguments};
use super::table::{BulkTable, Merge};
use crate::db::Db;
use crate::error::{InvalidInput, RepoError};

/// Rows sent in one statement. Bounds the memory of one statement on both sides; found by
/// `cargo xtask bench` (larger statements gain nothing measurable).
pub const ROWS_PER_STATEMENT: usize = 10_000;

/// Chunks at least this large first try a plain binary `COPY` (see [`upsert`]).
const COPY_MIN_ROWS: usize = 1_000;

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

/// One chunk, encoded for the way it is to be written.
enum Encoded {
    /// A binary `COPY` payload.
    Copy(Vec<u8>),
    /// The `UNNEST` statement's array parameters.
    Arrays(PgArguments),
}

/// Encodes `chunk` as a `COPY` payload when `copy`, else as `UNNEST` arrays.
fn encode<R: BulkRow>(chunk: &[R], copy: bool) -> Result<Encoded, RepoError> {
    if copy {
        copy_payload(R::TABLE, chunk).map(Encoded::Copy)
    } else {
        unnest_arguments(R::TABLE, chunk).map(Encoded::Arrays)
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
pub async fn upsert<R: BulkRow>(db: &Db, rows: Vec<R>) -> Result<UpsertReport, RepoError> {
    upsert_with(db, rows, Merge::Overwrite).await
}

/// [`upsert`] with a choice of how stored rows are merged.
pub async fn upsert_with<R: BulkRow>(
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
pub async fn upsert_in<R: BulkRow>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    rows: Vec<R>,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    for (idx, row) in rows.iter().enumerate() {
        row.validate().map_err(|err| err.at_row(idx))?;
    }
    let received = rows.len() as u64;
    let rows = Arc::new(sorted_last_of_each_key(rows, |a, b| a.key().cmp(&b.key())));
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
    let sample = [0, rows.len() / 2, rows.len() - 1].map(|idx| &rows[idx]);
    let copy_mode = Arc::new(AtomicBool::new(
        rows.len() >= COPY_MIN_ROWS && !any_stored(txn, table, &sample).await?,
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
        let mut chunk_encoded = encoded.recv().await.ok_or_else(|| RepoError::Internal {
            component: "bulk encoder",
            detail: "stopped before the last chunk".to_owned(),
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
async fn any_stored<R: BulkRow>(
    txn: &mut sqlx::Transaction<'static, Postgres>,
    table: &'static BulkTable<R>,
    rows: &[&R],
) -> Result<bool, RepoError> {
    let args = unnest_arguments(table, rows)?;
    let query =
        sqlx::query_scalar_with::<_, bool, _>(sqlx::AssertSqlSafe(table.exists_sql()), args);
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
