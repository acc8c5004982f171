//! `stock_daily`'s yearly partitions (schema version 14) over time: the partition the
//! conversion made of a database's whole history split into years online while bars keep
//! being saved and updated; years made by the writes that bring them and ahead by
//! maintenance; a year packed once it closes; what a second writer put in the default
//! partition moved into its year. The clock is injected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Datelike as _, NaiveDate};
use data_engineering::{
    CLOSED_FILLFACTOR, OPEN_FILLFACTOR, PgDailyPartitions, PgStockDailyRepository, StockDaily,
    StockDailyRepository, ThirdCode, YearPartition, fillfactor_of,
};
use migration::{MigrationRunner, golden};
use shared_db::ManualClock;
use test_support::TestDb;

/// Bars of the history the split runs over; `STOCKDB_SPLIT_ROWS` raises it.
fn history_rows() -> i64 {
    std::env::var("STOCKDB_SPLIT_ROWS")
        .ok()
        .and_then(|rows| rows.parse().ok())
        .unwrap_or(100_000)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn bar(code: &str, on: NaiveDate, close: f64) -> StockDaily {
    let mut bar = StockDaily::new(ThirdCode::parse(code).unwrap(), on);
    bar.close = Some(close);
    bar
}

/// A database of version 13 holding [`history_rows`] bars up to today (100 stocks a day,
/// the stock of row `n` is `n % 100`, its day `n / 100` days ago), migrated to the latest
/// version: the whole history in the partition the conversion made. With a pool on it,
/// and the rows.
async fn converted_history() -> (TestDb, sqlx::PgPool, i64) {
    let test_db = TestDb::empty().await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    runner.up(Some(13)).await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(test_db.url())
        .await
        .unwrap();
    let rows = history_rows();
    sqlx::query(
        "INSERT INTO stock_daily (third_code, trade_date, close) \
         SELECT lpad((n % 100)::text, 6, '0') || '.SZ', \
                (now() AT TIME ZONE 'utc')::date - (n / 100)::int, n \
         FROM generate_series(0, $1 - 1) AS n",
    )
    .bind(rows)
    .execute(&pool)
    .await
    .unwrap();
    runner.up(None).await.unwrap();
    runner.close().await.unwrap();
    (test_db, pool, rows)
}

/// The triggers of rewrites under way.
async fn rewrite_triggers(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'stockdb_rewrite%'")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The partitions' names and fill factors, oldest first, the default one last.
async fn layout(partitions: &PgDailyPartitions) -> Vec<(String, Option<u32>)> {
    partitions
        .status()
        .await
        .unwrap()
        .into_iter()
        .map(
            |YearPartition {
                 name, fillfactor, ..
             }| (name, fillfactor),
        )
        .collect()
}

#[tokio::test]
async fn the_converted_history_splits_into_years_while_bars_keep_being_saved_and_updated() {
    let (test_db, pool, rows) = converted_history().await;
    let today = chrono::Utc::now().date_naive();
    let db = test_db.db().clone();
    let partitions = PgDailyPartitions::new(db.clone());
    assert!(
        layout(&partitions).await[0]
            .0
            .starts_with("stock_daily_before_")
    );

    // A service writes throughout: new bars of one stock on days all over the history,
    // and new closes of stored bars, each its own transaction. What it wrote last is
    // what must be stored.
    let written: Arc<Mutex<HashMap<(String, NaiveDate), f64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (dailies, written, stop) = (
            PgStockDailyRepository::new(db.clone()),
            Arc::clone(&written),
            Arc::clone(&stop),
        );
        let days = rows / 100;
        tokio::spawn(async move {
            let mut n = 0_i64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let on = today - chrono::Duration::days((n * 37) % days);
                let code = if n % 2 == 0 { "WRITER.SZ" } else { "000007.SZ" };
                let close = n as f64;
                dailies.save_all(vec![bar(code, on, close)]).await.unwrap();
                written.lock().unwrap().insert((code.to_owned(), on), close);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            n
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = partitions.maintain().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.unwrap();
    eprintln!("split {rows} bars while the writer saved {writes}: {done:?}");

    assert!(writes >= 20, "the writer kept saving: {writes}");
    let first_year = (today - chrono::Duration::days(rows / 100 - 1)).year();
    let years: Vec<String> = (first_year..=today.year())
        .map(|y| format!("stock_daily_{y}"))
        .collect();
    assert_eq!(done.split_into, years);
    let mut expected: Vec<(String, Option<u32>)> = (first_year..=today.year() + 1)
        .map(|y| (format!("stock_daily_{y}"), Some(fillfactor_of(y, today))))
        .collect();
    expected.push(("stock_daily_default".to_owned(), Some(OPEN_FILLFACTOR)));
    assert_eq!(layout(&partitions).await, expected);
    // Every bar is stored once, with the value written last.
    let written = written.lock().unwrap().clone();
    let stored: HashMap<(String, NaiveDate), f64> = sqlx::query_as::<_, (String, NaiveDate, f64)>(
        "SELECT third_code, trade_date, close FROM stock_daily \
         WHERE third_code IN ('WRITER.SZ', '000007.SZ')",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(code, on, close)| ((code, on), close))
    .collect();
    for (key, close) in &written {
        assert_eq!(stored.get(key), Some(close), "{key:?}");
    }
    let new_bars = written
        .keys()
        .filter(|(code, _)| code == "WRITER.SZ")
        .count() as i64;
    assert_eq!(test_db.count("stock_daily").await, rows + new_bars);
    assert_eq!(test_db.count("stock_daily_default").await, 0);
    assert_eq!(
        rewrite_triggers(&pool).await,
        0,
        "the split's trigger went with its partition"
    );
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
    // Nothing left to do.
    let again = partitions.maintain().await.unwrap();
    assert_eq!(
        (again.split, again.packed.len(), again.created.len()),
        (None, 0, 0)
    );
}

#[tokio::test]
async fn years_are_made_by_the_writes_that_bring_them_and_packed_once_they_close() {
    let test_db = TestDb::new().await;
    // Years past the ones the migration made (this year's and next year's).
    let year = chrono::Utc::now().year() + 3;
    let clock = ManualClock::new(day(year + 1, 1, 10).and_hms_opt(9, 0, 0).unwrap());
    let db = test_db.db().with_clock(Arc::new(clock.clone()));
    let dailies = PgStockDailyRepository::new(db.clone());
    let partitions = PgDailyPartitions::new(db.clone());

    // The new year's first days and the old year's last: each year gets its partition
    // before its bars come, open (fill factor 40) while the old year is not closed yet.
    let bars = vec![
        bar("000001.SZ", day(year, 12, 30), 10.0),
        bar("000001.SZ", day(year, 12, 31), 10.5),
        bar("000001.SZ", day(year + 1, 1, 4), 11.0),
    ];
    let report = dailies.save_all(bars).await.unwrap();
    assert_eq!(report.inserted, 3);
    let names = layout(&partitions).await;
    assert!(
        names.contains(&(format!("stock_daily_{year}"), Some(OPEN_FILLFACTOR))),
        "{names:?}"
    );
    assert!(
        names.contains(&(format!("stock_daily_{}", year + 1), Some(OPEN_FILLFACTOR))),
        "{names:?}"
    );
    assert_eq!(test_db.count("stock_daily_default").await, 0);
    // A late value of the old year's last bar still updates it in place.
    let mut late = bar("000001.SZ", day(year, 12, 31), 10.5);
    late.pe = Some(15.0);
    assert_eq!(dailies.merge_all(vec![late]).await.unwrap().updated, 1);

    // Maintenance on 10 January makes next year's partition and packs nothing of the
    // old year yet.
    let done = partitions.maintain().await.unwrap();
    assert!(
        done.created.contains(&format!("stock_daily_{}", year + 2)),
        "{done:?}"
    );
    assert!(
        !done.packed.contains(&format!("stock_daily_{year}")),
        "{done:?}"
    );

    // A second writer (the earlier service) saves a bar of a year no partition covers:
    // it lands in the default partition, and the next maintenance moves it into its year.
    test_db
        .execute(&format!(
            "INSERT INTO stock_daily (third_code, trade_date, close) \
             VALUES ('000002.SZ', '{}-03-02', 9.0)",
            year + 6
        ))
        .await;
    assert_eq!(test_db.count("stock_daily_default").await, 1);

    // A month later the old year is closed: packed at fill factor 100, its bars intact.
    clock.set(day(year + 1, 2, 2).and_hms_opt(9, 0, 0).unwrap());
    let done = partitions.maintain().await.unwrap();
    // On Citus the online rewrite cannot follow the shards: the packing is left, and said.
    let citus = db.is_citus().await.unwrap();
    let closed = format!("stock_daily_{year}");
    let packed_or_left = if citus {
        &done.left_on_citus
    } else {
        &done.packed
    };
    assert!(packed_or_left.contains(&closed), "{done:?}");
    assert!(
        done.created.contains(&format!("stock_daily_{}", year + 6)),
        "{done:?}"
    );
    assert_eq!(done.moved_from_default, 1);
    assert_eq!(test_db.count("stock_daily_default").await, 0);
    let names = layout(&partitions).await;
    let closed_fillfactor = if citus {
        OPEN_FILLFACTOR
    } else {
        CLOSED_FILLFACTOR
    };
    assert!(
        names.contains(&(closed, Some(closed_fillfactor))),
        "{names:?}"
    );
    assert!(
        names.contains(&(format!("stock_daily_{}", year + 1), Some(OPEN_FILLFACTOR))),
        "{names:?}"
    );
    let kept = dailies
        .get_by_third_code_and_date_range(
            &ThirdCode::parse("000001.SZ").unwrap(),
            day(year, 12, 1),
            day(year + 1, 1, 31),
        )
        .await
        .unwrap();
    let closes: Vec<_> = kept.iter().map(|b| (b.trade_date, b.close, b.pe)).collect();
    assert_eq!(
        closes,
        [
            (day(year, 12, 30), Some(10.0), None),
            (day(year, 12, 31), Some(10.5), Some(15.0)),
            (day(year + 1, 1, 4), Some(11.0), None),
        ]
    );
    // Nothing left to do; the schema is still the golden one.
    let again = partitions.maintain().await.unwrap();
    assert_eq!(
        (
            again.packed.len(),
            again.created.len(),
            again.moved_from_default
        ),
        (0, 0, 0)
    );
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
}

/// A split killed while it copies (its connection terminated, as a killed process's would
/// be) leaves the history whole and its trigger in place; a write in between reaches its
/// year's copy through the trigger; the next maintenance resumes and finishes it.
#[tokio::test]
async fn a_split_killed_in_its_copy_finishes_when_run_again() {
    let (test_db, pool, rows) = converted_history().await;

    // The split on connections of its own, to be found and killed in a batch of its copy.
    let name = "stockdb-split-under-test";
    let splitter = shared_db::Db::connect(&test_db.config().with_application_name(name))
        .await
        .unwrap();
    let split = tokio::spawn(async move { PgDailyPartitions::new(splitter).maintain().await });
    let mut killed = false;
    while !killed && !split.is_finished() {
        killed = sqlx::query_scalar::<_, bool>(
            "SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity \
             WHERE application_name = $1 AND state = 'active' AND query LIKE 'WITH batch AS%'",
        )
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    }
    assert!(killed, "the split finished before it could be killed");
    let err = split.await.unwrap().unwrap_err();
    eprintln!("the killed split: {err}");
    assert_eq!(
        rewrite_triggers(&pool).await,
        1,
        "the trigger stays until the swap"
    );
    assert_eq!(test_db.count("stock_daily").await, rows);

    // A service keeps writing meanwhile: an update of the oldest bar, and a new bar today.
    let db = test_db.db().clone();
    let dailies = PgStockDailyRepository::new(db.clone());
    let today = chrono::Utc::now().date_naive();
    let oldest = today - chrono::Duration::days(rows / 100 - 1);
    let report = dailies
        .save_all(vec![
            bar("000099.SZ", oldest, -1.0),
            bar("WRITER.SZ", today, 7.0),
        ])
        .await
        .unwrap();
    assert_eq!((report.inserted, report.updated), (1, 1));

    let done = PgDailyPartitions::new(db.clone()).maintain().await.unwrap();
    let years: Vec<String> = (oldest.year()..=today.year())
        .map(|y| format!("stock_daily_{y}"))
        .collect();
    assert_eq!(done.split_into, years);
    assert_eq!(test_db.count("stock_daily").await, rows + 1);
    assert_eq!(test_db.count("stock_daily_default").await, 0);
    let closes: Vec<(String, f64)> = sqlx::query_as(
        "SELECT third_code, close FROM stock_daily \
         WHERE (third_code, trade_date) IN (('000099.SZ', $1), ('WRITER.SZ', $2)) \
         ORDER BY third_code",
    )
    .bind(oldest)
    .bind(today)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        closes,
        [
            ("000099.SZ".to_owned(), -1.0),
            ("WRITER.SZ".to_owned(), 7.0)
        ]
    );
    let print = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(print, golden(MigrationRunner::LATEST).unwrap());
}
