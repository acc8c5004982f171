//! The partition the conversion to schema version 8 made of an adopted database's whole
//! history, split into months online by retention, while calls keep being saved: no row
//! lost or counted twice, no writer held up past the lock bound, and `--keep 90d` then
//! drops the months past it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use audit::{PartitionAction, PgRetentionRepository, RetentionPolicy, RetentionRepository};
use test_support::TestDb;

use crate::online::call_writer;

/// Calls of the history; `STOCKDB_SPLIT_ROWS` raises it (the figure is 10,000,000
/// over 24 months: see docs/performance.md for that run).
fn history_rows() -> i64 {
    std::env::var("STOCKDB_SPLIT_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(100_000)
}

async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn two_years_of_history_split_into_months_and_retention_drops_all_but_the_last_90_days() {
    let test_db = TestDb::new().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(test_db.url())
        .await
        .unwrap();
    let rows = history_rows();
    // Two years of calls, evenly over the 730 days before now: all in the converted
    // partition, as the conversion of an adopted database leaves them.
    sqlx::query(
        "INSERT INTO llm_call_logs (id, session_id, caller_module, model_name, vendor, \
             prompt_text, completion_text, prompt_tokens, completion_tokens, total_tokens, \
             temperature, latency_ms, status, created_at) \
         SELECT gen_random_uuid(), NULL, 'research', 'deepseek-chat', 'deepseek', \
                repeat('分析', 10), repeat('结论', 10), 800, 300, 1100, 0.7, 100 + n % 900, \
                'success', (now() AT TIME ZONE 'utc') - (n % 730) * interval '1 day' \
                           - (n % 86000) * interval '1 second' \
         FROM generate_series(0, $1 - 1) AS n",
    )
    .bind(rows)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("VACUUM ANALYZE llm_call_logs")
        .execute(&pool)
        .await
        .unwrap();
    let converted = count(
        &pool,
        "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'llm_call_logs'::regclass AND c.relname LIKE 'llm_call_logs_before_%'",
    )
    .await;
    assert_eq!(converted, 1);

    // A service saves a call every 5 ms throughout, dated now: into the converted partition
    // while the split copies it (its trigger keeps up), into this month's after the swap.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = tokio::spawn(call_writer(pool.clone(), Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let retention = PgRetentionRepository::new(test_db.db().clone());
    let policy = RetentionPolicy {
        keep_days: 90,
        blank_after_days: None,
    };
    let started = Instant::now();
    let done = retention.apply(policy).await.unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let writes = writes.await.unwrap();

    let split = &done.maintenance.as_ref().unwrap().split;
    let llm_split = split
        .iter()
        .find(|s| s.partition.starts_with("llm_call_logs_"))
        .unwrap();
    let dropped: u64 = done
        .with_action(PartitionAction::Drop)
        .filter(|p| p.table == "llm_call_logs")
        .map(|p| p.rows)
        .sum();
    let months_dropped = done
        .with_action(PartitionAction::Drop)
        .filter(|p| p.table == "llm_call_logs")
        .count();
    let after = count(&pool, "SELECT count(*) FROM llm_call_logs").await;
    eprintln!(
        "split of {rows} calls over 24 months into {} months and retention of 90 days took \
         {took:?}; {months_dropped} months ({dropped} calls) dropped, {after} kept; the writer: \
         {} commits, the longest {:?}",
        llm_split.months.len(),
        writes.commits,
        writes.longest
    );
    // Nothing lost, nothing counted twice: what was there and what the writer saved is
    // either kept or reported dropped.
    let commits = i64::try_from(writes.commits).unwrap();
    assert_eq!(after + i64::try_from(dropped).unwrap(), rows + commits);
    // The split's rows are the history plus what the writer saved before the swap.
    assert!(
        llm_split.rows >= u64::try_from(rows).unwrap()
            && llm_split.rows <= u64::try_from(rows + commits).unwrap(),
        "{llm_split:?}"
    );
    // 24 or 25 months, of which all but the last three or four are past 90 days.
    assert!((24..=26).contains(&llm_split.months.len()), "{llm_split:?}");
    assert!((20..=22).contains(&months_dropped), "{months_dropped}");
    assert!(writes.commits >= 20, "{writes:?} in {took:?}");
    assert!(
        writes.longest < Duration::from_millis(2500),
        "no save waited much longer than the 1 s lock_timeout: {writes:?}"
    );
    // No row older than the horizon's month is left, none newer is gone, and no converted
    // partition either.
    let oldest = count(
        &pool,
        "SELECT count(*) FROM llm_call_logs \
         WHERE created_at < (now() AT TIME ZONE 'utc') - interval '125 days'",
    )
    .await;
    assert_eq!(oldest, 0);
    let kept_90 = count(
        &pool,
        "SELECT count(*) FROM llm_call_logs \
         WHERE created_at >= (now() AT TIME ZONE 'utc') - interval '90 days'",
    )
    .await;
    assert!(kept_90 >= rows * 89 / 730, "{kept_90}");
    let status = retention.status().await.unwrap();
    assert!(
        status
            .iter()
            .all(|s| s.converted.is_none() && s.rows_in_default == 0)
    );
}
