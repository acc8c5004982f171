//! What a sync batch writes beside its rows: failure records, the split of values that
//! only complete stored bars into those that can and those that must wait, and of stock
//! rows into those free to be written and those whose symbol another stock holds.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use shared_db::RepoError;
use uuid::Uuid;

use crate::domain::{StockDaily, StockInfo, SyncFailureRecord};

/// Splits `rows` (from `lines`) into those whose bar is stored — locked, so it stays
/// until the batch commits — and those whose is not, with their lines.
///
/// On Citus (`citus`), which locks no rows of a query over several shards, the bars are
/// not locked: stockdb deletes no bar, so only another writer deleting one between this
/// read and the batch's write could have its values stored without prices.
pub(super) async fn split_by_stored_bar(
    txn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: Vec<StockDaily>,
    lines: Vec<u64>,
    citus: bool,
) -> Result<(Vec<StockDaily>, Vec<(u64, StockDaily)>), RepoError> {
    let codes: Vec<&str> = rows.iter().map(|r| r.third_code.as_str()).collect();
    let days: Vec<NaiveDate> = rows.iter().map(|r| r.trade_date).collect();
    const STORED: &str = "SELECT d.third_code, d.trade_date FROM stock_daily d \
         JOIN UNNEST($1::varchar[], $2::date[]) AS k(third_code, trade_date) \
           ON d.third_code = k.third_code AND d.trade_date = k.trade_date \
         ORDER BY 1, 2";
    let sql = if citus {
        STORED.to_owned()
    } else {
        format!("{STORED} FOR UPDATE OF d")
    };
    let found: Vec<(String, NaiveDate)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(codes)
        .bind(days)
        .fetch_all(&mut **txn)
        .await?;
    let found: HashSet<(String, NaiveDate)> = found.into_iter().collect();
    let mut stored = Vec::with_capacity(rows.len());
    let mut waiting = Vec::new();
    for (row, line) in rows.into_iter().zip(lines) {
        if found.contains(&(row.third_code.as_str().to_owned(), row.trade_date)) {
            stored.push(row);
        } else {
            waiting.push((line, row));
        }
    }
    Ok((stored, waiting))
}

/// A line of a stock list refused for its symbol.
pub(super) struct RefusedLine {
    /// The line's number in its file.
    pub(super) number: u64,
    /// The stock it names.
    pub(super) code: String,
}

/// Splits stock rows (from `lines`) into those free to be written and those whose
/// `symbol` another stock holds — stored (locked, so it stays so until the batch commits)
/// or an earlier row of the batch — each with its line and why: `symbol` has a unique
/// key, and one such row would make the database refuse the whole batch.
pub(super) async fn split_symbol_collisions(
    txn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: Vec<StockInfo>,
    lines: Vec<u64>,
) -> Result<(Vec<StockInfo>, Vec<(RefusedLine, String)>), RepoError> {
    let symbols: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT symbol, third_code FROM stock_info WHERE symbol = ANY($1::varchar[]) \
         ORDER BY third_code FOR UPDATE",
    )
    .bind(symbols)
    .fetch_all(&mut **txn)
    .await?;
    let stored: HashMap<String, String> = stored.into_iter().collect();
    // The first line to claim each symbol in this batch.
    let mut claimed: HashMap<String, (String, u64)> = HashMap::new();
    let mut free = Vec::with_capacity(rows.len());
    let mut taken = Vec::new();
    for (row, line) in rows.into_iter().zip(lines) {
        let code = row.third_code.as_str();
        let holder = match (stored.get(&row.symbol), claimed.get(&row.symbol)) {
            (Some(owner), _) if owner != code => Some(format!("stored for {owner}")),
            (_, Some((owner, at))) if owner != code => {
                Some(format!("given to {owner} on line {at}"))
            }
            _ => None,
        };
        match holder {
            Some(holder) => taken.push((
                RefusedLine {
                    number: line,
                    code: code.to_owned(),
                },
                format!(
                    "symbol {:?} of {code} is already {holder}: a symbol names one stock, so \
                     this line was not imported (correct the file, or the stored stock)",
                    row.symbol
                ),
            )),
            None => {
                claimed
                    .entry(row.symbol.clone())
                    .or_insert_with(|| (code.to_owned(), line));
                free.push(row);
            }
        }
    }
    Ok((free, taken))
}

/// Inserts `failures` with one statement of column arrays.
pub(super) async fn insert_failures(
    txn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    failures: &[SyncFailureRecord],
) -> Result<(), RepoError> {
    let ids: Vec<Uuid> = failures.iter().map(|f| f.id).collect();
    let job_types: Vec<&str> = failures.iter().map(|f| f.job_type.as_str()).collect();
    let codes: Vec<&str> = failures.iter().map(|f| f.third_code.as_str()).collect();
    let errors: Vec<Option<String>> = failures
        .iter()
        .map(SyncFailureRecord::stored_error)
        .collect();
    let retries: Vec<i32> = failures.iter().map(|f| f.retry_count).collect();
    let max_retries: Vec<i32> = failures.iter().map(|f| f.max_retries).collect();
    let attempted: Vec<Option<NaiveDateTime>> =
        failures.iter().map(|f| f.last_attempt_at).collect();
    let resolved: Vec<Option<NaiveDateTime>> = failures.iter().map(|f| f.resolved_at).collect();
    sqlx::query(
        "INSERT INTO sync_failure_records \
           (id, job_type, third_code, error_message, retry_count, max_retries, last_attempt_at, resolved_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], $5::int4[], \
                              $6::int4[], $7::timestamp[], $8::timestamp[])",
    )
    .bind(ids)
    .bind(job_types)
    .bind(codes)
    .bind(errors)
    .bind(retries)
    .bind(max_retries)
    .bind(attempted)
    .bind(resolved)
    .execute(&mut **txn)
    .await?;
    Ok(())
}
