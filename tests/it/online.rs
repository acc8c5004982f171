//! stockdb's own migrations on a live database: writers keep committing while they run,
//! a lock held by a long transaction delays them (never its readers and writers) and
//! makes them retry, and rows that break a new check constraint are named.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use migration::{MigrationRunner, golden};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use test_support::TestDb;

/// The version before stockdb's first online migration.
const BEFORE_ONLINE: usize = 4;

/// Rows of `stock_daily` the migration runs over; `STOCKDB_ONLINE_ROWS` raises it (the
/// issue's figure is 10,000,000: see docs/performance.md for that run).
fn daily_rows() -> i64 {
    std::env::var("STOCKDB_ONLINE_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(200_000)
}

async fn database_at(version: usize) -> (TestDb, MigrationRunner) {
    let test_db = TestDb::empty().await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    runner.up(Some(version)).await.unwrap();
    (test_db, runner)
}

async fn pool(test_db: &TestDb, size: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(size)
        .connect(test_db.url())
        .await
        .unwrap()
}

/// What a writer saw while it ran: commits, and the longest a commit took.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    pub(crate) commits: u64,
    pub(crate) longest: Duration,
}

/// Runs `commit` every 5 ms until `stop`, timing each.
async fn keep_committing<F, Fut>(stop: Arc<AtomicBool>, mut commit: F) -> Writes
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut writes = Writes::default();
    let mut round = 0_i64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let started = Instant::now();
        commit(round).await;
        writes.commits += 1;
        writes.longest = writes.longest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    writes
}

/// Commits, in a loop until `stop`, one upsert of a `stock_daily` row and one update of a
/// `sync_tasks` row, each in its own transaction: the two tables the migration alters.
async fn writer(pool: PgPool, stop: Arc<AtomicBool>) -> Writes {
    keep_committing(stop, |day| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO stock_daily (third_code, trade_date, close) \
                 VALUES ('WRITER.SZ', DATE '2000-01-01' + ($1 % 3000)::int, $1) \
                 ON CONFLICT (third_code, trade_date) DO UPDATE SET close = EXCLUDED.close",
            )
            .bind(day)
            .execute(&pool)
            .await
            .unwrap();
            sqlx::query(
                "UPDATE sync_tasks SET total_processed = total_processed + 1 \
                 WHERE job_type = 'DAILY_HISTORY'",
            )
            .execute(&pool)
            .await
            .unwrap();
        }
    })
    .await
}

async fn seed(pool: &PgPool, rows: i64) {
    sqlx::query(
        "INSERT INTO stock_daily (third_code, trade_date, open, high, low, close, vol) \
         SELECT lpad((n / 4000)::text, 6, '0') || '.SZ', DATE '2000-01-01' + (n % 4000)::int, \
                10, 11, 9, 10.5, 1000 \
         FROM generate_series(0, $1 - 1) AS n",
    )
    .bind(rows)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO sync_tasks (id, job_type, status) \
         VALUES (gen_random_uuid(), 'DAILY_HISTORY', 'RUNNING')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE stock_daily")
        .execute(pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_writer_keeps_committing_while_the_migration_runs_behind_a_long_reader() {
    let (test_db, runner) = database_at(BEFORE_ONLINE).await;
    let pool = pool(&test_db, 4).await;
    seed(&pool, daily_rows()).await;

    // A report that reads sync_tasks for 4 s: the migration's ADD CONSTRAINT must queue
    // behind it, and whoever queues behind that would wait the 4 s too, were the
    // migration's wait not cut to 1 s.
    let reader_pool = pool.clone();
    let reader = tokio::spawn(async move {
        let mut txn = reader_pool.begin().await.unwrap();
        sqlx::query("SELECT count(*) FROM sync_tasks")
            .execute(&mut *txn)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(4)).await;
        txn.commit().await.unwrap();
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writes = tokio::spawn(writer(pool.clone(), Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let applied = runner.up(None).await.unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let writes = writes.await.unwrap();
    reader.await.unwrap();

    eprintln!(
        "online migration over {} stock_daily rows took {took:?}; the writer: {writes:?}",
        daily_rows()
    );
    assert_eq!(applied.len(), MigrationRunner::LATEST - BEFORE_ONLINE);
    assert!(
        took >= Duration::from_secs(3),
        "the migration waited for the long reader ({took:?})"
    );
    assert!(
        writes.commits >= 20,
        "the writer kept committing during the migration: {writes:?} in {took:?}"
    );
    // The 1 s lock_timeout plus the writer's own work on a busy two-core machine; without
    // it the writer would wait the reader's 4 s.
    assert!(
        writes.longest < Duration::from_millis(2500),
        "no commit waited for the migration much longer than its 1 s lock_timeout: {writes:?}"
    );
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
    let invalid: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_index WHERE NOT indisvalid) \
              + (SELECT count(*) FROM pg_constraint WHERE NOT convalidated)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(invalid, 0, "no index or constraint left half built");
}

#[tokio::test]
async fn rows_that_break_a_new_check_are_named_and_a_second_run_finishes() {
    let (test_db, runner) = database_at(BEFORE_ONLINE).await;
    let pool = pool(&test_db, 2).await;
    sqlx::query(
        "INSERT INTO sync_tasks (id, job_type, status, total_processed) VALUES \
         ('00000000-0000-0000-0000-00000000000a', 'DAILY_HISTORY', 'STUCK', 3), \
         ('00000000-0000-0000-0000-00000000000b', 'DAILY_HISTORY', 'RUNNING', 4)",
    )
    .execute(&pool)
    .await
    .unwrap();

    let err = runner.up(None).await.unwrap_err().to_string();
    eprintln!("{err}");
    for needle in [
        "sync_tasks",
        "ck_sync_tasks_status",
        "00000000-0000-0000-0000-00000000000a",
        "STUCK",
    ] {
        assert!(err.contains(needle), "{needle:?} in: {err}");
    }
    assert!(
        !err.contains("00000000-0000-0000-0000-00000000000b"),
        "only the offending rows: {err}"
    );
    assert_eq!(runner.status().await.unwrap().version(), BEFORE_ONLINE);
    // Left NOT VALID: new rows are checked already, old ones wait for the fix.
    let bad_insert = sqlx::query(
        "INSERT INTO sync_tasks (id, job_type, status) \
         VALUES (gen_random_uuid(), 'DAILY_HISTORY', 'WHATEVER')",
    )
    .execute(&pool)
    .await;
    assert!(bad_insert.is_err(), "the constraint checks new rows");

    sqlx::query("UPDATE sync_tasks SET status = 'FAILED' WHERE status = 'STUCK'")
        .execute(&pool)
        .await
        .unwrap();
    runner.up(None).await.unwrap();
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
}

/// The version before the audit logs are partitioned.
const BEFORE_PARTITIONS: usize = 7;

/// Rows of `llm_call_logs` a day over the last 90 days, generated server-side.
async fn seed_calls(pool: &PgPool, rows: i64) {
    sqlx::query(
        "INSERT INTO llm_call_logs (id, caller_module, model_name, vendor, prompt_text, \
             temperature, latency_ms, status, created_at) \
         SELECT gen_random_uuid(), 'research', 'deepseek-chat', 'deepseek', repeat('分析', 50), \
                0.7, 100 + n % 900, 'success', \
                (now() AT TIME ZONE 'utc') - (n % 90) * interval '1 day' \
         FROM generate_series(0, $1 - 1) AS n",
    )
    .bind(rows)
    .execute(pool)
    .await
    .unwrap();
}

/// Saves one LLM call every 5 ms until `stop`: what every research service does.
pub(crate) async fn call_writer(pool: PgPool, stop: Arc<AtomicBool>) -> Writes {
    keep_committing(stop, |_| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO llm_call_logs (id, caller_module, model_name, vendor, prompt_text, \
                     temperature, latency_ms, status, created_at) \
                 VALUES (gen_random_uuid(), 'writer', 'deepseek-chat', 'deepseek', 'p', 0.7, 5, \
                     'success', now() AT TIME ZONE 'utc')",
            )
            .execute(&pool)
            .await
            .unwrap();
        }
    })
    .await
}

#[tokio::test]
async fn the_audit_logs_become_partitioned_with_their_rows_while_calls_keep_being_saved() {
    let (test_db, runner) = database_at(BEFORE_PARTITIONS).await;
    let pool = pool(&test_db, 4).await;
    let rows = daily_rows() / 2;
    seed_calls(&pool, rows).await;
    // A 3 s report over the calls: the swap must queue behind it for at most 1 s a try.
    let reader_pool = pool.clone();
    let reader = tokio::spawn(async move {
        let mut txn = reader_pool.begin().await.unwrap();
        sqlx::query("SELECT count(*) FROM llm_call_logs")
            .execute(&mut *txn)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        txn.commit().await.unwrap();
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writes = tokio::spawn(call_writer(pool.clone(), Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    runner.up(None).await.unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let writes = writes.await.unwrap();
    reader.await.unwrap();
    eprintln!("partitioning {rows} llm_call_logs rows took {took:?}; the writer: {writes:?}");

    assert!(writes.commits >= 20, "{writes:?} in {took:?}");
    assert!(
        writes.longest < Duration::from_millis(2500),
        "no save waited much longer than the 1 s lock_timeout: {writes:?}"
    );
    // Every row is there: the seeded ones and every one the writer saved.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM llm_call_logs")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, rows + i64::try_from(writes.commits).unwrap());
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
    let partitions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'llm_call_logs'::regclass",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        partitions, 5,
        "the rows' partition, three months ahead and the default one"
    );
}

#[tokio::test]
async fn a_partitioning_run_killed_half_way_finishes_when_run_again() {
    let (test_db, runner) = database_at(BEFORE_PARTITIONS).await;
    let pool = pool(&test_db, 2).await;
    seed_calls(&pool, 1_000).await;
    // What a run killed after its first steps leaves: the new key's index half built
    // (invalid) on one table, the bound constraint not yet validated on the other.
    use chrono::Datelike as _;
    let today = chrono::Utc::now().date_naive();
    let bound = chrono::NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap()
        + chrono::Months::new(2);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE UNIQUE INDEX llm_call_logs_id_created_at_key ON llm_call_logs (id, created_at); \
         UPDATE pg_index SET indisvalid = false \
             WHERE indexrelid = 'llm_call_logs_id_created_at_key'::regclass; \
         CREATE UNIQUE INDEX external_api_call_logs_id_created_at_key \
             ON external_api_call_logs (id, created_at); \
         ALTER TABLE external_api_call_logs ADD CONSTRAINT external_api_call_logs_partition_bound \
             CHECK (created_at < '{bound} 00:00:00') NOT VALID"
    )))
    .execute(&pool)
    .await
    .unwrap();
    runner.up(None).await.unwrap();
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
    assert_eq!(test_db.count("llm_call_logs").await, 1_000);
    // And back: down returns the plain tables with every row.
    runner.down(Some(BEFORE_PARTITIONS)).await.unwrap();
    assert_eq!(
        migration::fingerprint(test_db.db().conn()).await.unwrap(),
        golden(BEFORE_PARTITIONS).unwrap()
    );
    assert_eq!(test_db.count("llm_call_logs").await, 1_000);
}

/// The version before `stock_daily` is partitioned by year.
const BEFORE_YEARS: usize = 13;

#[tokio::test]
async fn stock_daily_becomes_partitioned_by_year_with_its_rows_while_bars_keep_being_saved() {
    let (test_db, runner) = database_at(BEFORE_YEARS).await;
    let pool = pool(&test_db, 4).await;
    let rows = daily_rows();
    seed(&pool, rows).await;
    // What a run killed after its first step leaves: the bound added, not validated.
    let next_year = {
        use chrono::Datelike as _;
        chrono::Utc::now().year() + 1
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE stock_daily ADD CONSTRAINT stock_daily_partition_bound \
         CHECK (trade_date < '{next_year}-01-01') NOT VALID"
    )))
    .execute(&pool)
    .await
    .unwrap();
    // A 3 s report over the bars: the swap must queue behind it for at most 1 s a try.
    let reader_pool = pool.clone();
    let reader = tokio::spawn(async move {
        let mut txn = reader_pool.begin().await.unwrap();
        sqlx::query("SELECT count(*) FROM stock_daily")
            .execute(&mut *txn)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        txn.commit().await.unwrap();
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writes = tokio::spawn(writer(pool.clone(), Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    runner.up(None).await.unwrap();
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let writes = writes.await.unwrap();
    reader.await.unwrap();
    eprintln!("partitioning {rows} stock_daily rows took {took:?}; the writer: {writes:?}");

    assert!(
        took >= Duration::from_secs(2),
        "the swap waited for the reader ({took:?})"
    );
    assert!(writes.commits >= 20, "{writes:?} in {took:?}");
    assert!(
        writes.longest < Duration::from_millis(2500),
        "no save waited much longer than the 1 s lock_timeout: {writes:?}"
    );
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
    // The writer's upserts land on 3,000 days of one stock: what is stored is the seed
    // and as many of its days as it wrote.
    let written = i64::try_from(writes.commits.min(3_000)).unwrap();
    assert_eq!(test_db.count("stock_daily").await, rows + written);
    let partitions: Vec<String> = sqlx::query_scalar(
        "SELECT inhrelid::regclass::text FROM pg_inherits \
         WHERE inhparent = 'stock_daily'::regclass ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        partitions,
        [
            format!("stock_daily_{next_year}"),
            format!("stock_daily_before_{next_year}"),
            "stock_daily_default".to_owned(),
        ],
        "the old table attached whole, next year's and the default partition"
    );
    // And back: down returns the plain table with every row.
    runner.down(Some(BEFORE_YEARS)).await.unwrap();
    assert_eq!(
        migration::fingerprint(test_db.db().conn()).await.unwrap(),
        golden(BEFORE_YEARS).unwrap()
    );
    assert_eq!(test_db.count("stock_daily").await, rows + written);
}

#[tokio::test]
async fn an_empty_stock_daily_becomes_this_years_and_next_years_partitions() {
    let (test_db, runner) = database_at(BEFORE_YEARS).await;
    runner.up(None).await.unwrap();
    let year = {
        use chrono::Datelike as _;
        chrono::Utc::now().year()
    };
    let pool = pool(&test_db, 1).await;
    let partitions: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT c.relname::text, c.reloptions::text FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'stock_daily'::regclass ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let open = Some("{fillfactor=40}".to_owned());
    assert_eq!(
        partitions,
        [
            (format!("stock_daily_{year}"), open.clone()),
            (format!("stock_daily_{}", year + 1), open.clone()),
            ("stock_daily_default".to_owned(), open),
        ]
    );
}
