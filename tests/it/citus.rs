//! stockdb on a Citus cluster: a coordinator and two workers (`test_support::cluster`), stockdb's schema migrated on the coordinator, then
//! `Stockdb::distribute` run on tables that hold rows while a writer commits every 5 ms;
//! the repositories read and write through the coordinator after. A server without
//! Citus is refused by name.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use data_engineering::{StockDaily, ThirdCode};
use migration::MigrationRunner;
use stockdb::{Placement, Stockdb};
use test_support::TestDb;
use test_support::cluster::{CitusCluster, sql};

fn bar(code: &str, day: chrono::NaiveDate, close: f64) -> StockDaily {
    let mut bar = StockDaily::new(ThirdCode::parse(code).unwrap(), day);
    (bar.open, bar.high, bar.low, bar.close) = (Some(close), Some(close), Some(close), Some(close));
    bar
}

#[tokio::test]
async fn the_market_data_is_distributed_with_its_rows_while_a_writer_commits() {
    crate::logs();
    let mut cluster = CitusCluster::new(2).await;
    cluster.create_database("stockdb").await;
    let url = cluster.coordinator.url();
    let runner = MigrationRunner::connect(&url).await.unwrap();
    runner.up(None).await.unwrap();
    runner.close().await.unwrap();
    let db = Stockdb::connect(&shared_db::DbConfig::new(&url), None)
        .await
        .unwrap();
    let first: chrono::NaiveDate = "2020-01-01".parse().unwrap();
    let rows: Vec<StockDaily> = (0..200)
        .flat_map(|s| {
            (0..100).map(move |d| {
                bar(
                    &format!("{:06}.SZ", s + 1),
                    first + chrono::Duration::days(d),
                    10.0 + f64::from(s),
                )
            })
        })
        .collect();
    assert_eq!(db.dailies().save_all(rows).await.unwrap().inserted, 20_000);

    // What a distribution cut short leaves behind: the table in Citus's metadata as the
    // coordinator's own. It is still to be distributed, not "placed another way".
    sql(
        &url,
        "SELECT citus_add_local_table_to_metadata('stock_daily')",
    )
    .await;
    let plan = db.distribution().await.unwrap();
    assert_eq!(plan.workers.len(), 2, "{:?}", plan.workers);
    assert_eq!(plan.pending().count(), 3);

    // A writer commits a new bar every 5 ms through another pool while the tables move.
    let stop = Arc::new(AtomicBool::new(false));
    let writer_db = Stockdb::connect(&shared_db::DbConfig::new(&url), None)
        .await
        .unwrap();
    let writer = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let (mut commits, mut longest) = (0u64, Duration::ZERO);
            let day: chrono::NaiveDate = "2021-01-01".parse().unwrap();
            let mut retries = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                // Days of one year, whose partition the first write made: a year's first
                // bar makes its partition, which would wait for the distribution's locks.
                let row = bar(
                    "999999.SZ",
                    day + chrono::Duration::days(commits as i64 % 360),
                    1.0,
                );
                // A write Citus planned on shards the distribution just replaced fails as
                // transient (citus#6360); a service retries it, as it retries a cut
                // connection. The stall counts the retries.
                loop {
                    match writer_db.dailies().save_all(vec![row.clone()]).await {
                        Ok(_) => break,
                        Err(err) if err.is_transient() && retries < 100 => retries += 1,
                        Err(err) => panic!("commit {commits}: {err:?}"),
                    }
                }
                longest = longest.max(started.elapsed());
                commits += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (commits, longest, retries)
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let done = db.distribute().await.unwrap();
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let (commits, longest, retries) = writer.await.unwrap();
    eprintln!(
        "distributed in {took:?}; the writer committed {commits} times ({retries} retried), \
         the longest commit {longest:?}"
    );
    assert_eq!(done.pending().count(), 0);
    assert!(
        longest < Duration::from_millis(2500),
        "a commit waited {longest:?} while the tables were distributed"
    );

    // Placed as planned: co-located, the stock list on every node.
    let placed: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT logicalrelid::text, partmethod::text, colocationid FROM pg_dist_partition \
         WHERE logicalrelid::text IN ('stock_info', 'stock_daily', 'stock_finance') \
         ORDER BY logicalrelid::text",
    )
    .fetch_all(db.db().pool())
    .await
    .unwrap();
    assert_eq!(placed.len(), 3, "{placed:?}");
    assert_eq!(
        (placed[0].0.as_str(), placed[0].1.as_str()),
        ("stock_daily", "h")
    );
    assert_eq!(
        (placed[1].0.as_str(), placed[1].1.as_str()),
        ("stock_finance", "h")
    );
    assert_eq!(placed[0].2, placed[1].2, "co-located");
    assert_eq!(placed[2].1, "n", "stock_info a reference table");
    let steps: Vec<(&str, Placement)> = done.steps.iter().map(|s| (s.table, s.placement)).collect();
    assert_eq!(steps[0], ("stock_info", Placement::Reference));

    // Nothing lost, nothing twice; reads and writes go on through the coordinator.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_daily")
        .fetch_one(db.db().pool())
        .await
        .unwrap();
    assert_eq!(stored, 20_000 + (commits as i64).min(360));
    let again = db
        .dailies()
        .save_all(vec![
            bar("000001.SZ", first, 10.0),
            bar("000001.SZ", first, 10.5),
        ])
        .await
        .unwrap();
    assert_eq!((again.inserted, again.updated), (0, 1));
    let range = first_ten_days(&db, first).await;
    assert_eq!(range.len(), 10);
    assert_eq!(range[0].close, Some(10.5));
    assert_eq!(
        db.distribute().await.unwrap().pending().count(),
        0,
        "a second run has nothing to do"
    );
    // The coordinator prints as its version: no shards, no Citus objects.
    let print = migration::fingerprint(db.db().conn()).await.unwrap();
    let golden = migration::golden(MigrationRunner::LATEST).unwrap();
    assert!(
        print == golden,
        "{}",
        migration::diff("golden", golden, "coordinator", &print)
    );
    // Migrations after the distribution reach every shard: down to version 4 and up again
    // changes the distributed tables (their fill factors, `stock_finance`'s primary key).
    let runner = MigrationRunner::connect(&url)
        .await
        .unwrap()
        .breaking_earlier_service(true);
    runner.down(Some(4)).await.unwrap();
    assert!(
        shards(&cluster, "stock_daily")
            .await
            .iter()
            .all(|(_, options, _)| options.is_none())
    );
    runner.up(None).await.unwrap();
    let print = migration::fingerprint(db.db().conn()).await.unwrap();
    assert!(
        print == golden,
        "{}",
        migration::diff("golden", golden, "coordinator", &print)
    );
    // stock_daily is partitioned by year: each partition (the one the conversion made of
    // the distributed table, next year's, the default one) is distributed alike.
    let partitions: Vec<String> = sqlx::query_scalar(
        "SELECT inhrelid::regclass::text FROM pg_inherits \
         WHERE inhparent = 'stock_daily'::regclass ORDER BY 1",
    )
    .fetch_all(db.db().pool())
    .await
    .unwrap();
    assert_eq!(partitions.len(), 3, "{partitions:?}");
    assert!(
        partitions[1].starts_with("stock_daily_before_"),
        "{partitions:?}"
    );
    for partition in &partitions {
        let daily = shards(&cluster, partition).await;
        assert_eq!(daily.len(), 32, "Citus's 32 shards a table: {partition}");
        for (shard, options, _) in &daily {
            assert_eq!(options.as_deref(), Some("{fillfactor=40}"), "{shard}");
        }
    }
    let finance = shards(&cluster, "stock_finance").await;
    assert_eq!(finance.len(), 32, "Citus's 32 shards a table");
    for (shard, _, key) in &finance {
        assert_eq!(
            key.as_deref(),
            Some("PRIMARY KEY (third_code, ann_date, end_date)"),
            "{shard}"
        );
    }
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_daily")
        .fetch_one(db.db().pool())
        .await
        .unwrap();
    assert_eq!(kept, stored, "the rows stay where they are");
    let status = runner.status().await.unwrap();
    runner.close().await.unwrap();
    assert_eq!(status.matches_golden, Some(true));
    let placement = status.citus.expect("migrate status reads the placement");
    assert_eq!(placement.workers, 2);
    assert_eq!(
        placement.tables,
        [
            "stock_daily: distributed by third_code",
            "stock_finance: distributed by third_code",
            "stock_info: reference table"
        ]
    );
    // A third worker, then Citus's rebalance: shards move online, stockdb needs nothing.
    cluster.add_worker("stockdb").await;
    // Two statements apart: the job is seen by Citus's background runner once committed.
    sql(
        &url,
        "SELECT citus_rebalance_start(shard_transfer_mode => 'force_logical')",
    )
    .await;
    let rebalance = Instant::now();
    sql(&url, "SELECT citus_rebalance_wait()").await;
    eprintln!(
        "rebalanced onto a third worker in {:?}",
        rebalance.elapsed()
    );
    let placed_on: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT nodename) FROM citus_shards WHERE table_name = 'stock_daily'::regclass",
    )
    .fetch_one(db.db().pool())
    .await
    .unwrap();
    assert_eq!(placed_on, 3, "the shards are spread over the three workers");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_daily")
        .fetch_one(db.db().pool())
        .await
        .unwrap();
    assert_eq!(after, stored);
    assert_eq!(first_ten_days(&db, first).await.len(), 10);
    let health = db.health().await;
    let citus = health.citus.expect("health reads the placement");
    assert_eq!((citus.workers.len(), citus.pending().count()), (3, 0));
    assert!(health.healthy, "{:?}", health.problems);
}

#[tokio::test]
async fn a_server_without_citus_is_refused_by_name() {
    // Empty: a plain database on every target (on the Citus one, too, it has no extension).
    let test_db = TestDb::empty().await;
    let db = Stockdb::from_db(test_db.db().clone(), None);
    let err = db.distribute().await.unwrap_err();
    assert!(err.to_string().contains("no Citus"), "{err}");
    assert!(db.distribution().await.is_err());
    assert_eq!(db.health().await.citus.map(|c| c.workers), None);
}

/// Every shard of `table` on the workers: its name, storage options and primary key.
async fn shards(
    cluster: &CitusCluster,
    table: &str,
) -> Vec<(String, Option<String>, Option<String>)> {
    let mut all = Vec::new();
    for worker in &cluster.workers {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&worker.url())
            .await
            .unwrap();
        // Citus hides shards from the catalog unless asked.
        sqlx::raw_sql("SET citus.override_table_visibility = off")
            .execute(&mut conn)
            .await
            .unwrap();
        let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT c.relname::text, c.reloptions::text, \
                    (SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k \
                     WHERE k.conrelid = c.oid AND k.contype = 'p') \
             FROM pg_class c WHERE c.relkind = 'r' AND c.relname ~ ('^' || $1 || '_[0-9]+$') \
             ORDER BY 1",
        )
        .bind(table)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        all.extend(rows);
    }
    all
}

/// Stock 000001.SZ's bars of its first ten days, through the repository.
async fn first_ten_days(db: &Stockdb, first: chrono::NaiveDate) -> Vec<StockDaily> {
    db.dailies()
        .get_by_third_code_and_date_range(
            &ThirdCode::parse("000001.SZ").unwrap(),
            first,
            first + chrono::Duration::days(9),
        )
        .await
        .unwrap()
}
