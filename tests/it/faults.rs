//! Faults: a connection killed in the middle of a batch, and a pool with more callers
//! than connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use data_engineering::{
    PgStockDailyRepository, PgStockRepository, StockDaily, StockDailyRepository, StockRepository,
    ThirdCode,
};
use shared_db::{Db, RepoError};
use test_support::TestDb;

/// `stocks` × `days` bars with a few values set.
fn bars(stocks: usize, days: usize, close: f64) -> Vec<StockDaily> {
    let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    (0..stocks)
        .flat_map(|s| {
            let code = ThirdCode::parse(&format!("{s:06}.SZ")).unwrap();
            (0..days).map(move |d| {
                let mut bar =
                    StockDaily::new(code.clone(), start + chrono::Duration::days(d as i64));
                bar.close = Some(close);
                bar.vol = Some(d as f64);
                bar
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_batch_leaves_nothing_and_the_pool_recovers() {
    let test_db = TestDb::new().await;
    let name = format!("victim-{}", &test_db.name()[test_db.name().len() - 8..]);
    let db = Db::connect(
        &test_db
            .config()
            .with_application_name(&name)
            .with_max_connections(2),
    )
    .await
    .unwrap();
    let repo = Arc::new(PgStockDailyRepository::new(db.clone()));
    // Large enough to be still running when the kill lands, on its COPY (not on the
    // catalog read that finds its years' partitions first).
    let writer = {
        let repo = Arc::clone(&repo);
        tokio::spawn(async move { repo.save_all(bars(1_000, 300, 1.0)).await })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND datname = current_database() AND state <> 'idle' \
               AND query LIKE 'COPY %'",
        )
        .bind(&name)
        .fetch_all(test_db.db().pool())
        .await
        .unwrap();
        if killed.contains(&true) {
            break;
        }
        assert!(
            !writer.is_finished(),
            "the batch finished before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the writer never showed up in pg_stat_activity"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let err = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("the killed call returns")
        .unwrap()
        .unwrap_err();
    assert!(
        err.is_transient(),
        "a killed connection is a transient, typed error: {err:?}"
    );
    assert!(matches!(err, RepoError::Unavailable(_)), "{err:?}");
    assert_eq!(test_db.count("stock_daily").await, 0, "no partial rows");

    // The pool drops the dead connection and the next call succeeds.
    let report = repo.save_all(bars(10, 10, 2.0)).await.unwrap();
    assert_eq!(report.inserted, 100);
    assert_eq!(test_db.count("stock_daily").await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_callers_than_connections_time_out_instead_of_hanging() {
    let test_db = TestDb::new().await;
    let db = Db::connect(
        &test_db
            .config()
            .with_max_connections(2)
            .with_acquire_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    // Two callers hold both connections.
    let held = (
        db.pool().begin().await.unwrap(),
        db.pool().begin().await.unwrap(),
    );
    let stocks = PgStockRepository::new(db.clone());
    let dailies = PgStockDailyRepository::new(db.clone());
    let started = Instant::now();
    let through_seaorm = tokio::time::timeout(Duration::from_secs(10), stocks.count())
        .await
        .expect("no hang");
    let through_bulk =
        tokio::time::timeout(Duration::from_secs(10), dailies.save_all(bars(1, 1, 1.0)))
            .await
            .expect("no hang");
    for result in [through_seaorm.map(drop), through_bulk.map(drop)] {
        let err = result.unwrap_err();
        assert!(
            matches!(
                err,
                RepoError::Timeout {
                    what: shared_db::TimedOut::AcquiringConnection
                }
            ),
            "{err:?}"
        );
        assert!(err.is_transient());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(held);
    assert_eq!(stocks.count().await.unwrap(), 0, "connections come back");
}
