//! Reads through `Stockdb` with real streaming replicas: a primary and two replicas made
//! with `initdb` and `pg_basebackup -R` (see `cluster`). Reads are spread over the
//! replicas, stay off a replica whose replay is paused once it lags past the bound, fall
//! back to the primary at once when a replica is stopped, and `Stockdb::primary` reads
//! its own writes.

use std::time::Duration;

use data_engineering::{StockInfo, ThirdCode};
use migration::MigrationRunner;
use stockdb::{DbConfig, Stockdb};

use test_support::cluster::{Cluster, sql};

fn stock(code: &str, symbol: &str) -> StockInfo {
    StockInfo::new(ThirdCode::parse(code).unwrap(), symbol, "测试")
}

/// Waits (at most 20 s) until `done` holds for what `db` says of its replicas.
async fn wait_for(db: &Stockdb, what: &str, done: impl Fn(&[stockdb::ReplicaStatus]) -> bool) {
    for _ in 0..200 {
        if done(&db.replicas()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited 20 s for {what}; replicas: {:#?}", db.replicas());
}

async fn stored(db: &Stockdb, code: &str) -> bool {
    db.stocks()
        .get_by_third_code(&ThirdCode::parse(code).unwrap())
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn reads_go_to_replicas_within_the_lag_bound_and_to_the_primary_otherwise() {
    let primary = Cluster::primary();
    primary.create_stockdb().await;
    let runner = MigrationRunner::connect(&primary.url()).await.unwrap();
    runner.up(None).await.unwrap();
    runner.close().await.unwrap();
    let replicas = [primary.replica(), primary.replica()];

    let config = DbConfig::new(primary.url())
        .with_replicas(replicas.iter().map(Cluster::url))
        .with_replica_max_lag(Duration::from_millis(500))
        .with_replica_check_interval(Duration::from_millis(100));
    let db = Stockdb::connect(&config, None).await.unwrap();
    // The same replicas with a bound no replica exceeds here: it shows what a replica
    // serves, stale or not.
    let lenient = Stockdb::connect(
        &config
            .clone()
            .with_replica_max_lag(Duration::from_secs(3600)),
        None,
    )
    .await
    .unwrap();

    db.stocks()
        .save_all(vec![stock("000001.SZ", "000001")])
        .await
        .unwrap();
    wait_for(&db, "both replicas in use", |rs| {
        rs.iter().all(|r| r.usable)
    })
    .await;
    for _ in 0..100 {
        if stored(&lenient, "000001.SZ").await && stored(&lenient, "000001.SZ").await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Spread: twenty reads, both replicas serve some, the primary none of them.
    let before: Vec<u64> = db.replicas().iter().map(|r| r.reads).collect();
    for _ in 0..20 {
        assert!(stored(&db, "000001.SZ").await);
    }
    let served: Vec<u64> = db
        .replicas()
        .iter()
        .zip(&before)
        .map(|(r, b)| r.reads - b)
        .collect();
    assert_eq!(served.iter().sum::<u64>(), 20, "{served:?}");
    assert!(
        served.iter().all(|n| *n >= 5),
        "reads not spread: {served:?}"
    );

    // Replay paused on both: a new row is on the primary only.
    for replica in &replicas {
        sql(&replica.url(), "SELECT pg_wal_replay_pause()").await;
    }
    db.stocks()
        .save_all(vec![stock("000002.SZ", "000002")])
        .await
        .unwrap();
    // Read-your-writes: on the primary at once.
    assert!(stored(&db.primary(), "000002.SZ").await);
    // A replica that may lag an hour serves the read, without the row: the replicas are
    // really what serves reads, and they really are behind.
    assert!(!stored(&lenient, "000002.SZ").await);
    // Past the 500 ms bound both are skipped and the read goes to the primary.
    wait_for(&db, "both replicas past the lag bound", |rs| {
        rs.iter()
            .all(|r| !r.usable && r.lag_ms.is_some_and(|lag| lag > 500.0))
    })
    .await;
    let reads_before: u64 = db.replicas().iter().map(|r| r.reads).sum();
    assert!(stored(&db, "000002.SZ").await);
    assert_eq!(
        db.replicas().iter().map(|r| r.reads).sum::<u64>(),
        reads_before
    );
    let health = db.health().await;
    assert!(health.healthy, "{health:?}");
    assert_eq!(health.warnings.len(), 2, "{health:?}");
    assert!(health.warnings[0].contains("lags"), "{health:?}");

    // Replay resumed: the replicas catch up and serve the row.
    for replica in &replicas {
        sql(&replica.url(), "SELECT pg_wal_replay_resume()").await;
    }
    wait_for(&db, "both replicas back in use", |rs| {
        rs.iter().all(|r| r.usable)
    })
    .await;
    assert!(stored(&db, "000002.SZ").await);
    assert!(stored(&lenient, "000002.SZ").await);

    // One replica stopped: every read still succeeds, at once (the first one that meets
    // the dead replica goes again to the primary), and the replica is reported down.
    replicas[0].stop();
    for _ in 0..10 {
        assert!(stored(&db, "000002.SZ").await);
    }
    let statuses = db.replicas();
    assert!(!statuses[0].usable, "{statuses:?}");
    assert!(statuses[1].usable, "{statuses:?}");
    let health = db.health().await;
    assert!(health.healthy, "{health:?}");
    assert!(
        health.warnings.iter().any(|w| w.contains("unreachable")),
        "{health:?}"
    );
    // Both stopped: the primary serves everything.
    replicas[1].stop();
    for _ in 0..10 {
        assert!(stored(&db, "000002.SZ").await);
    }
    let statuses = db.db().check_replicas().await;
    assert!(statuses.iter().all(|r| !r.usable), "{statuses:?}");
}

#[tokio::test]
async fn a_replica_url_naming_another_database_or_cluster_is_never_read() {
    let primary = Cluster::primary();
    primary.create_stockdb().await;
    let runner = MigrationRunner::connect(&primary.url()).await.unwrap();
    runner.up(None).await.unwrap();
    runner.close().await.unwrap();
    let standby = primary.replica();
    // A standby of this cluster but its database `postgres` (a staging URL mixed up with
    // production's), and the machine's own server: another cluster altogether.
    let other_cluster = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let config = DbConfig::new(primary.url())
        .with_replicas([standby.url_of("postgres"), other_cluster])
        .with_replica_check_interval(Duration::from_millis(100));
    let db = Stockdb::connect(&config, None).await.unwrap();
    db.stocks()
        .save_all(vec![stock("000001.SZ", "000001")])
        .await
        .unwrap();
    wait_for(&db, "both replicas checked", |rs| {
        rs.iter().all(|r| r.checked_ms_ago.is_some())
    })
    .await;
    let statuses = db.replicas();
    assert!(statuses.iter().all(|r| !r.usable), "{statuses:?}");
    assert!(
        matches!(
            &statuses[0].problem,
            Some(stockdb::ReplicaProblem::NotThisPrimary { database, same_cluster: true })
                if database == "postgres"
        ),
        "{statuses:?}"
    );
    assert!(
        matches!(
            &statuses[1].problem,
            Some(stockdb::ReplicaProblem::NotThisPrimary {
                same_cluster: false,
                ..
            })
        ),
        "{statuses:?}"
    );
    // Every read goes to the primary, and finds the row.
    for _ in 0..5 {
        assert!(stored(&db, "000001.SZ").await);
    }
    assert_eq!(db.replicas().iter().map(|r| r.reads).sum::<u64>(), 0);
    let health = db.health().await;
    assert!(health.healthy, "{health:?}");
    assert!(
        health
            .warnings
            .iter()
            .any(|w| w.contains("not a replica of this primary")),
        "{health:?}"
    );
}
