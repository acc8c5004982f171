//! Bad sync tasks and failure records.

use super::*;

/// Sync tasks and failures: negative counts, bad states, over-long fields.
#[tokio::test]
async fn sync_tasks_and_failures() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();
    let now = utc_now();
    cases.check_input(
        "task batch_size 0",
        "batch_size",
        "0",
        SyncTask::new(SyncJobType::DailyHistory, 0, None, now),
    );
    cases.check_input(
        "task batch_size -5",
        "batch_size",
        "-5",
        SyncTask::new(SyncJobType::DailyHistory, -5, None, now),
    );
    for (what, config) in [
        ("array", json!([1, 2])),
        ("string", json!("start=2024")),
        ("number", json!(7)),
        ("null", json!(null)),
        ("bool", json!(true)),
    ] {
        cases.check_input(
            format!("task config {what}"),
            "config",
            "",
            SyncTask::new(SyncJobType::DailyHistory, 10, Some(config), now),
        );
    }
    let mut negative = SyncTask::new(SyncJobType::DailyHistory, 10, None, now).unwrap();
    negative.current_offset = -1;
    cases.check(
        "task create offset -1",
        "current_offset",
        "-1",
        db.sync().create(&negative).await,
    );
    negative.current_offset = 0;
    negative.total_processed = -3;
    cases.check(
        "task update processed -3",
        "total_processed",
        "-3",
        db.sync().update(&negative).await.map(drop),
    );
    cases.check_input(
        "job type",
        "job_type",
        "daily",
        "daily".parse::<SyncJobType>(),
    );
    cases.check_input(
        "job type SQL",
        "job_type",
        "DAILY'--",
        "DAILY'--".parse::<SyncJobType>(),
    );
    for (what, locator) in [("empty", String::new()), ("21 chars", "x".repeat(21))] {
        let failure =
            SyncFailureRecord::new(SyncJobType::DailyHistory, locator.clone(), "boom", now);
        cases.check(
            format!("failure locator {what}"),
            "third_code",
            locator.clone(),
            db.sync().create_failure(&failure).await,
        );
        cases.check(
            format!("failure batch locator {what}"),
            "third_code",
            locator,
            db.sync()
                .create_failures(&[
                    SyncFailureRecord::new(SyncJobType::DailyHistory, "ok", "x", now),
                    failure,
                ])
                .await,
        );
    }
    let failure = SyncFailureRecord::new(SyncJobType::DailyHistory, "000001.SZ", "x", now)
        .with_max_retries(-1);
    cases.check(
        "failure max_retries -1",
        "max_retries",
        "-1",
        db.sync().create_failure(&failure).await,
    );
    let mut failure = SyncFailureRecord::new(SyncJobType::DailyHistory, "000001.SZ", "x", now);
    failure.retry_count = -2;
    cases.check(
        "failure retry_count -2",
        "retry_count",
        "-2",
        db.sync().update_failure(&failure).await,
    );
    cases.check(
        "list tasks limit 0",
        "limit",
        "0",
        db.sync().list_tasks(None, 0).await.map(drop),
    );
    cases.check(
        "list failures limit 20000",
        "limit",
        "20000",
        db.sync().list_failures(None, true, 20_000).await.map(drop),
    );

    cases.judge();
    untouched(&test_db, 0).await;
}
