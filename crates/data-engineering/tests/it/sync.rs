//! `PgSyncRepository`: the task state machine as stored, atomic claims, failures.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use data_engineering::{
    BatchRows, PgSyncRepository, RunOutcome, SyncBatch, SyncFailureRecord, SyncJobType,
    SyncRepository, SyncTask, SyncTaskStatus,
};
use serde_json::json;
use shared_db::{RepoError, utc_now};
use test_support::TestDb;

fn task(job_type: SyncJobType) -> SyncTask {
    SyncTask::new(
        job_type,
        50,
        Some(json!({"start_date": "20240101", "file": "daily.csv"})),
        utc_now(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_task_round_trips_through_its_lifecycle() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let mut task = task(SyncJobType::DailyHistory);
    repo.create(&task).await.unwrap();
    assert_eq!(
        repo.get_by_id(task.id).await.unwrap().unwrap(),
        task,
        "config (json) round-trips"
    );

    task.start(utc_now()).unwrap();
    task.record_batch(50, 12_345, utc_now()).unwrap();
    let stored = repo.update(&task).await.unwrap();
    assert_eq!(stored.status, SyncTaskStatus::Running);
    assert_eq!(
        (stored.current_offset, stored.total_processed),
        (50, 12_345)
    );

    task.complete(utc_now()).unwrap();
    let stored = repo.update(&task).await.unwrap();
    assert_eq!(stored.status, SyncTaskStatus::Completed);
    assert!(stored.completed_at.is_some());
    assert!(
        repo.get_by_id(uuid::Uuid::new_v4())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        repo.create(&task).await,
        Err(RepoError::Conflict { .. })
    ));
}

#[tokio::test]
async fn update_refuses_a_transition_from_the_stored_status() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let mut task = task(SyncJobType::FinanceHistory);
    repo.create(&task).await.unwrap();
    task.start(utc_now()).unwrap();
    repo.update(&task).await.unwrap();
    let mut other_worker = task.clone();
    task.complete(utc_now()).unwrap();
    repo.update(&task).await.unwrap();

    // A stale copy still thinks the task is running.
    other_worker.pause(utc_now()).unwrap();
    let err = repo.update(&other_worker).await.unwrap_err();
    assert!(
        matches!(err, RepoError::StateConflict { ref state, .. } if state == "COMPLETED"),
        "{err:?}"
    );
    assert_eq!(
        repo.get_by_id(task.id).await.unwrap().unwrap().status,
        SyncTaskStatus::Completed
    );

    let unknown = SyncTask::new(SyncJobType::FinanceHistory, 5, None, utc_now()).unwrap();
    assert!(matches!(
        repo.update(&unknown).await,
        Err(RepoError::NotFound { .. })
    ));
}

#[tokio::test]
async fn latest_by_job_type_is_the_most_recently_started() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let now = utc_now();
    let mut old = task(SyncJobType::DailyIncremental);
    old.start(now - Duration::days(2)).unwrap();
    let mut new = task(SyncJobType::DailyIncremental);
    new.start(now - Duration::days(1)).unwrap();
    let never_started = task(SyncJobType::DailyIncremental);
    let mut other_job = task(SyncJobType::FinanceIncremental);
    other_job.start(now).unwrap();
    for t in [&old, &new, &never_started, &other_job] {
        repo.create(t).await.unwrap();
    }
    let latest = repo
        .get_latest_by_job_type(SyncJobType::DailyIncremental)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id, new.id);
    assert!(
        repo.get_latest_by_job_type(SyncJobType::AkshareMarketData)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(repo.list_tasks(None, 10).await.unwrap().len(), 4);
    assert_eq!(
        repo.list_tasks(Some(SyncJobType::FinanceIncremental), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn take_continues_a_failed_task_from_its_offset_and_holds_it() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let mut task = task(SyncJobType::DailyHistory);
    repo.create(&task).await.unwrap();
    task.start(utc_now()).unwrap();
    repo.update(&task).await.unwrap();
    task.record_batch(150, 900, utc_now()).unwrap();
    task.fail(utc_now()).unwrap();
    repo.update(&task).await.unwrap();

    let lease = repo.take(task.id, None, utc_now()).await.unwrap();
    let taken = lease.task();
    assert_eq!(taken.status, SyncTaskStatus::Running);
    assert_eq!((taken.current_offset, taken.total_processed), (150, 900));
    assert_eq!(taken.started_at, task.started_at, "the first start is kept");
    assert_eq!(taken.completed_at, None);
    assert_eq!(
        taken.config.as_ref().unwrap()["file"],
        "daily.csv",
        "the config is kept"
    );
    let err = repo.take(task.id, None, utc_now()).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Busy { .. }),
        "a live run's task is not taken: {err:?}"
    );

    // The run ends; a completed task cannot be taken again.
    let done = repo
        .release(lease, RunOutcome::Completed, utc_now())
        .await
        .unwrap();
    assert_eq!(done.status, SyncTaskStatus::Completed);
    assert!(done.completed_at.is_some());
    assert!(
        done.config.as_ref().unwrap().get("lease").is_none(),
        "the token goes with the run"
    );
    assert!(matches!(
        repo.take(task.id, None, utc_now()).await,
        Err(RepoError::StateConflict { .. })
    ));
    assert!(matches!(
        repo.take(uuid::Uuid::new_v4(), None, utc_now()).await,
        Err(RepoError::NotFound { .. })
    ));
}

#[tokio::test]
async fn one_run_per_scope_at_a_time() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let scope = Some("import DAILY_HISTORY /data/daily.csv");
    let first = task(SyncJobType::DailyHistory);
    let lease = repo.start(&first, scope, utc_now()).await.unwrap();
    assert_eq!(lease.task().status, SyncTaskStatus::Running);
    let second = task(SyncJobType::DailyHistory);
    let err = repo.start(&second, scope, utc_now()).await.unwrap_err();
    assert!(matches!(err, RepoError::Busy { .. }), "{err:?}");
    assert!(
        repo.get_by_id(second.id).await.unwrap().is_none(),
        "a refused start stores nothing"
    );
    // Another scope runs beside it; the scope is free once the first run ends.
    let other = task(SyncJobType::DailyHistory);
    let other = repo
        .start(
            &other,
            Some("import DAILY_HISTORY /data/other.csv"),
            utc_now(),
        )
        .await
        .unwrap();
    repo.release(lease, RunOutcome::Paused, utc_now())
        .await
        .unwrap();
    repo.start(&second, scope, utc_now()).await.unwrap();
    drop(other);
}

#[tokio::test]
async fn a_run_whose_lock_connection_was_cut_writes_nothing_beside_a_fresh_run() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let scope = Some("import DAILY_HISTORY /data/daily.csv");
    let batch = |code: &str| SyncBatch {
        rows: BatchRows::Dailies(vec![crate::bar(code, "2024-01-02", 1.0)]),
        failures: vec![SyncFailureRecord::new(
            SyncJobType::DailyHistory,
            code,
            "line 7: bad",
            utc_now(),
        )],
        items: 1,
        checkpoint: None,
    };
    let first = repo
        .start(&task(SyncJobType::DailyHistory), scope, utc_now())
        .await
        .unwrap();
    repo.commit_batch(&first, batch("000001.SZ")).await.unwrap();
    // The first run's lock connection is cut; it lives on, not knowing.
    let cut = test_db.cut_advisory_lock_holders().await;
    assert_eq!(cut, [true]);
    // A fresh import of the same file starts a task of its own: the scope is free.
    let second = loop {
        match repo
            .start(&task(SyncJobType::DailyHistory), scope, utc_now())
            .await
        {
            Ok(lease) => break lease,
            Err(RepoError::Busy { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => panic!("{err:?}"),
        }
    };
    // The first run's next batch is refused: one run per file, even now.
    let err = repo
        .commit_batch(&first, batch("000002.SZ"))
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Superseded { .. }), "{err:?}");
    repo.commit_batch(&second, batch("000002.SZ"))
        .await
        .unwrap();
    assert_eq!(
        test_db.count("sync_failure_records").await,
        2,
        "one per line"
    );
    assert_eq!(test_db.count("stock_daily").await, 2);
}

#[tokio::test]
async fn a_run_whose_task_was_taken_over_writes_nothing_more() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let task = task(SyncJobType::DailyHistory);
    repo.create(&task).await.unwrap();
    let first = repo.take(task.id, None, utc_now()).await.unwrap();
    let batch = |close: f64| SyncBatch {
        rows: BatchRows::Dailies(vec![crate::bar("000001.SZ", "2024-01-02", close)]),
        failures: Vec::new(),
        items: 1,
        checkpoint: Some(json!({"bytes": 10})),
    };
    repo.commit_batch(&first, batch(1.0)).await.unwrap();

    // The first run's hold is lost (the connection holding its lock is cut, as an idle
    // timeout or a proxy would), and a second run takes the task over.
    let cut = test_db.cut_advisory_lock_holders().await;
    assert_eq!(cut, [true], "the first run's lock connection");
    let second = loop {
        // The server drops the lock once the backend has gone.
        match repo.take(task.id, None, utc_now()).await {
            Ok(lease) => break lease,
            Err(RepoError::Busy { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => panic!("{err:?}"),
        }
    };
    assert_ne!(second.token(), first.token());
    assert_eq!(second.task().current_offset, 1);
    assert_eq!(second.task().config.as_ref().unwrap()["bytes"], 10);
    let stale = first;
    let err = repo.commit_batch(&stale, batch(2.0)).await.unwrap_err();
    assert!(matches!(err, RepoError::Superseded { .. }), "{err:?}");
    let err = repo
        .release(stale, RunOutcome::Completed, utc_now())
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Superseded { .. }), "{err:?}");
    let stored = repo.get_by_id(task.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.current_offset),
        (SyncTaskStatus::Running, 1)
    );
    let close: f64 = sqlx::query_scalar("SELECT close FROM stock_daily")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(close, 1.0, "the superseded batch wrote nothing");
    repo.commit_batch(&second, batch(3.0)).await.unwrap();
    let done = repo
        .release(second, RunOutcome::Paused, utc_now())
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.current_offset, done.completed_at),
        (SyncTaskStatus::Paused, 2, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_share_a_task() {
    let test_db = TestDb::new().await;
    let repo = Arc::new(PgSyncRepository::new(test_db.db().clone()));
    let mut created = HashSet::new();
    for _ in 0..20 {
        let t = task(SyncJobType::FinanceHistory);
        repo.create(&t).await.unwrap();
        created.insert(t.id);
    }
    repo.create(&task(SyncJobType::DailyHistory)).await.unwrap();
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(lease) = repo
                    .claim_next(SyncJobType::FinanceHistory, utc_now())
                    .await
                    .unwrap()
                {
                    assert_eq!(lease.task().status, SyncTaskStatus::Running);
                    mine.push(lease.task_id());
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    let unique: HashSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 20, "every task claimed once");
    assert_eq!(unique, created);
}

#[tokio::test]
async fn unresolved_failures_respect_the_retry_cap() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let now = utc_now();
    let fresh = SyncFailureRecord::new(SyncJobType::DailyHistory, "000001.SZ", "timeout", now);
    let mut exhausted =
        SyncFailureRecord::new(SyncJobType::DailyHistory, "000002.SZ", "timeout", now)
            .with_max_retries(2);
    let mut retried_once = SyncFailureRecord::new(
        SyncJobType::DailyHistory,
        "000003.SZ",
        "timeout",
        now - Duration::hours(1),
    );
    let mut resolved =
        SyncFailureRecord::new(SyncJobType::DailyHistory, "000004.SZ", "timeout", now);
    let other_job =
        SyncFailureRecord::new(SyncJobType::FinanceHistory, "000005.SZ", "timeout", now);
    repo.create_failures(&[
        fresh.clone(),
        exhausted.clone(),
        retried_once.clone(),
        resolved.clone(),
        other_job,
    ])
    .await
    .unwrap();

    exhausted.record_retry("still failing", now);
    exhausted.record_retry("still failing", now);
    repo.update_failure(&exhausted).await.unwrap();
    retried_once.record_retry("429 too many requests", now - Duration::minutes(30));
    repo.update_failure(&retried_once).await.unwrap();
    resolved = repo.resolve_failure(resolved.id).await.unwrap();
    assert!(resolved.resolved_at.is_some());
    let again = repo.resolve_failure(resolved.id).await.unwrap();
    assert_eq!(
        again.resolved_at, resolved.resolved_at,
        "resolving twice keeps the first time"
    );

    let open = repo
        .get_unresolved_failures(SyncJobType::DailyHistory)
        .await
        .unwrap();
    let codes: Vec<&str> = open.iter().map(|f| f.third_code.as_str()).collect();
    assert_eq!(
        codes,
        ["000003.SZ", "000001.SZ"],
        "least recently attempted first"
    );
    assert_eq!(open[0].retry_count, 1);
    assert_eq!(
        open[0].error_message.as_deref(),
        Some("429 too many requests")
    );

    assert_eq!(repo.list_failures(None, true, 100).await.unwrap().len(), 5);
    assert_eq!(
        repo.list_failures(Some(SyncJobType::DailyHistory), false, 100)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(matches!(
        repo.resolve_failure(uuid::Uuid::new_v4()).await,
        Err(RepoError::NotFound { .. })
    ));
    let missing = SyncFailureRecord::new(SyncJobType::DailyHistory, "x", "y", now);
    assert!(matches!(
        repo.update_failure(&missing).await,
        Err(RepoError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_bad_failure_record_in_a_batch_writes_nothing() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let good = SyncFailureRecord::new(SyncJobType::DailyHistory, "000001.SZ", "x", utc_now());
    let bad = SyncFailureRecord::new(
        SyncJobType::DailyHistory,
        "a locator that is far too long",
        "x",
        utc_now(),
    );
    let err = repo.create_failures(&[good, bad]).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Invalid(ref i) if i.field == "third_code" && i.row == Some(1)),
        "{err:?}"
    );
    assert!(repo.list_failures(None, true, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_batch_commits_rows_failures_and_progress_together() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let task = task(SyncJobType::DailyHistory);
    repo.create(&task).await.unwrap();
    let lease = repo.take(task.id, None, utc_now()).await.unwrap();
    let rows = vec![
        crate::bar("000001.SZ", "2024-01-02", 1.0),
        crate::bar("000001.SZ", "2024-01-03", 2.0),
    ];
    let failures = vec![
        SyncFailureRecord::new(SyncJobType::DailyHistory, "line 3", "bad close", utc_now())
            .with_max_retries(0),
    ];
    let committed = repo
        .commit_batch(
            &lease,
            SyncBatch {
                rows: BatchRows::Dailies(rows),
                failures,
                items: 3,
                checkpoint: Some(json!({"bytes": 120})),
            },
        )
        .await
        .unwrap();
    let (after, report) = (committed.task, committed.report);
    assert_eq!(report.inserted, 2);
    assert_eq!(committed.deferred, 0);
    assert_eq!((after.current_offset, after.total_processed), (3, 2));
    assert_eq!(after.config.as_ref().unwrap()["bytes"], 120);
    assert_eq!(repo.list_failures(None, true, 10).await.unwrap().len(), 1);

    // A bad checkpoint is refused before anything is written.
    let more = || BatchRows::Dailies(vec![crate::bar("000002.SZ", "2024-01-02", 1.0)]);
    for checkpoint in [json!([1]), json!({"lease": "forged"})] {
        let err = repo
            .commit_batch(
                &lease,
                SyncBatch {
                    rows: more(),
                    failures: Vec::new(),
                    items: 1,
                    checkpoint: Some(checkpoint),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, RepoError::Invalid(ref i) if i.field == "checkpoint"),
            "{err:?}"
        );
    }

    // Paused by someone else: the next batch is refused and writes nothing.
    let mut paused = after.clone();
    paused.pause(utc_now()).unwrap();
    repo.update(&paused).await.unwrap();
    let err = repo
        .commit_batch(
            &lease,
            SyncBatch {
                rows: more(),
                failures: Vec::new(),
                items: 1,
                checkpoint: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::StateConflict { .. }), "{err:?}");
    assert_eq!(test_db.count("stock_daily").await, 2);
    let stored = repo.get_by_id(task.id).await.unwrap().unwrap();
    assert_eq!((stored.current_offset, stored.total_processed), (3, 2));
}

#[tokio::test]
async fn values_without_prices_complete_stored_bars_and_wait_for_the_others() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let dailies = data_engineering::PgStockDailyRepository::new(test_db.db().clone());
    use data_engineering::StockDailyRepository as _;
    // Prices of one day are stored; a daily_basic file covers that day and the next.
    dailies
        .save_all(vec![crate::bar("000001.SZ", "2024-01-02", 10.0)])
        .await
        .unwrap();
    let valuation = |day: &str, pe: f64| {
        let mut row = data_engineering::StockDaily::new(
            data_engineering::ThirdCode::parse("000001.SZ").unwrap(),
            day.parse().unwrap(),
        );
        row.pe_ttm = Some(pe);
        row
    };
    let task = task(SyncJobType::ImportDaily);
    let lease = repo.start(&task, None, utc_now()).await.unwrap();
    let committed = repo
        .commit_batch(
            &lease,
            SyncBatch {
                rows: BatchRows::DailyUpdates {
                    rows: vec![valuation("2024-01-02", 8.5), valuation("2024-01-03", 8.7)],
                    lines: vec![2, 3],
                },
                failures: Vec::new(),
                items: 2,
                checkpoint: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(committed.deferred, 1);
    assert_eq!(committed.report.updated, 1);
    // The stored bar is completed and keeps its price; no bar without prices is made.
    let code = data_engineering::ThirdCode::parse("000001.SZ").unwrap();
    let bars = dailies
        .get_by_third_code_and_date_range(
            &code,
            "2024-01-01".parse().unwrap(),
            "2024-01-31".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(bars.len(), 1);
    assert_eq!((bars[0].close, bars[0].pe_ttm), (Some(10.0), Some(8.5)));
    // The waiting line is a retryable failure naming it and what to do.
    let failures = repo
        .get_unresolved_failures(SyncJobType::ImportDaily)
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    let message = failures[0].error_message.as_deref().unwrap();
    assert!(
        message.starts_with("line 3: no bar of 000001.SZ on 2024-01-03 is stored yet"),
        "{message}"
    );
    assert!(failures[0].max_retries > 0);
}

#[tokio::test]
async fn the_latest_unfinished_task_of_some_work_is_found_by_its_config() {
    let test_db = TestDb::new().await;
    let repo = PgSyncRepository::new(test_db.db().clone());
    let of_file = |file: &str, minutes_ago: i64| {
        let config = json!({"source": "csv", "file": file, "bytes": 10});
        SyncTask::new(
            SyncJobType::ImportDaily,
            50,
            Some(config),
            utc_now() - Duration::minutes(minutes_ago),
        )
        .unwrap()
    };
    // Of a.csv: an older failed run, a newer paused one, and the newest, completed.
    let mut failed = of_file("/d/a.csv", 30);
    failed.start(utc_now()).unwrap();
    failed.fail(utc_now() - Duration::minutes(30)).unwrap();
    let mut paused = of_file("/d/a.csv", 20);
    paused.start(utc_now()).unwrap();
    paused.pause(utc_now() - Duration::minutes(20)).unwrap();
    let mut done = of_file("/d/a.csv", 10);
    done.start(utc_now()).unwrap();
    done.complete(utc_now() - Duration::minutes(10)).unwrap();
    let other_file = of_file("/d/b.csv", 0);
    let mut other_job = of_file("/d/a.csv", 0);
    other_job.job_type = SyncJobType::ImportFinance;
    for task in [&failed, &paused, &done, &other_file, &other_job] {
        repo.create(task).await.unwrap();
    }
    let found = repo
        .get_latest_unfinished(SyncJobType::ImportDaily, &json!({"file": "/d/a.csv"}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, paused.id);
    assert!(
        repo.get_latest_unfinished(SyncJobType::ImportDaily, &json!({"file": "/d/c.csv"}))
            .await
            .unwrap()
            .is_none()
    );
}
