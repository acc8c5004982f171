//! Repository tests of the scheduler against PostgreSQL, and its rows beside the earlier
//! service's: each reads what the other wrote, through the statements that service issues
//! (its repositories' SQL, as its SQLAlchemy code sends it).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::sync::Arc;

use chrono::NaiveDateTime;
use scheduler::{JobSpec, PgSchedulerRepository, RunStatus, SchedulerRepository};
use serde_json::json;
use shared_db::{ManualClock, RepoError};
use test_support::TestDb;

fn at(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_job_is_saved_by_its_key_and_keeps_its_id_and_creation() {
    let test_db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2024-06-03T10:00:00")));
    let repo = PgSchedulerRepository::new(test_db.db().with_clock(clock.clone()));
    // Version 12 seeds the service's four default jobs with the table.
    let seeded: Vec<String> = repo
        .jobs(false)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.spec.job_id)
        .collect();
    assert_eq!(
        seeded,
        [
            "sync_concept_data",
            "sync_daily_by_date",
            "sync_incremental_finance",
            "sync_stock_basic"
        ]
    );
    let mut spec = JobSpec::new(
        "sync_akshare_market_data",
        "AkShare 市场数据",
        "0 17 * * 1-5",
    );
    spec.job_kwargs = Some(json!({"target_date": null}));
    let first = repo.save_job(&spec).await.unwrap();
    assert_eq!(
        (first.created_at, first.updated_at),
        (at("2024-06-03T10:00:00"), at("2024-06-03T10:00:00"))
    );
    clock.advance(chrono::Duration::hours(1));
    spec.cron_expression = "30 17 * * 1-5".into();
    let second = repo.save_job(&spec).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.created_at, first.created_at);
    assert_eq!(second.updated_at, at("2024-06-03T11:00:00"));
    assert_eq!(second.spec, spec);
    let off = repo.set_enabled("sync_stock_basic", false).await.unwrap();
    assert!(!off.spec.enabled);
    assert_eq!(repo.jobs(true).await.unwrap().len(), 4);
    assert!(matches!(
        repo.set_enabled("no_such_job", true).await,
        Err(RepoError::NotFound { .. })
    ));
    for (field, bad) in [
        ("cron_expression", JobSpec::new("j", "n", "0 18 * *")),
        (
            "timezone",
            JobSpec {
                timezone: "Mars/Olympus".into(),
                ..JobSpec::new("j", "n", "0 18 * * *")
            },
        ),
        (
            "job_kwargs",
            JobSpec {
                job_kwargs: Some(json!([1])),
                ..JobSpec::new("j", "n", "0 18 * * *")
            },
        ),
        ("job_id", JobSpec::new(" ", "n", "0 18 * * *")),
    ] {
        let err = repo.save_job(&bad).await.unwrap_err();
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

#[tokio::test]
async fn a_run_starts_finishes_once_and_lists_newest_first() {
    let test_db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2024-06-03T18:00:00")));
    let repo = PgSchedulerRepository::new(test_db.db().with_clock(clock.clone()));
    let first = repo.start_run("sync_daily_by_date").await.unwrap();
    assert_eq!(
        (first.status, first.finished_at),
        (RunStatus::Running, None)
    );
    clock.advance(chrono::Duration::milliseconds(2_500));
    let done = repo
        .finish_run(first.id, RunStatus::Success, Some("ignored"))
        .await
        .unwrap();
    assert_eq!(
        (done.status, done.duration_ms, done.error_message.as_deref()),
        (RunStatus::Success, Some(2_500), None)
    );
    let job = repo.job("sync_daily_by_date").await.unwrap().unwrap();
    assert_eq!(job.last_run_at, Some(at("2024-06-03T18:00:02.5")));
    let again = repo
        .finish_run(first.id, RunStatus::Failed, Some("late"))
        .await
        .unwrap_err();
    assert!(matches!(again, RepoError::StateConflict { .. }), "{again}");
    clock.advance(chrono::Duration::minutes(1));
    let second = repo.start_run("sync_daily_by_date").await.unwrap();
    let failed = repo
        .finish_run(second.id, RunStatus::Failed, Some("TimeoutError: tushare"))
        .await
        .unwrap();
    assert_eq!(
        failed.error_message.as_deref(),
        Some("TimeoutError: tushare")
    );
    repo.start_run("sync_stock_basic").await.unwrap();
    let runs = repo.runs(Some("sync_daily_by_date"), 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    assert_eq!(repo.runs(None, 2).await.unwrap().len(), 2);
    assert!(repo.runs(None, 0).await.is_err(), "a limit of 0 is refused");
    assert!(matches!(
        repo.finish_run(uuid::Uuid::new_v4(), RunStatus::Success, None)
            .await,
        Err(RepoError::NotFound { .. })
    ));
}

#[tokio::test]
async fn the_services_rows_and_ours_read_both_ways() {
    let test_db = TestDb::new().await;
    let pool = test_db.db().pool();
    let repo = PgSchedulerRepository::new(test_db.db().clone());
    // As the service's SchedulerJobConfigRepository.create and ExecutionTracker write them
    // (ids from uuid4, naive UTC times, job_kwargs '{}' from its DTO's default).
    sqlx::query(
        "INSERT INTO scheduler_job_config (id, job_id, job_name, cron_expression, timezone, \
             enabled, job_kwargs, created_at, updated_at) \
         VALUES (gen_random_uuid(), 'sync_akshare_market_data', 'AkShare', '0 17 * * *', 'UTC', \
                 true, '{}'::jsonb, '2024-06-01 09:00', '2024-06-01 09:00')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO scheduler_execution_log (id, job_id, started_at, status) \
         VALUES ('00000000-0000-4000-8000-0000000000a1', 'sync_akshare_market_data', \
                 '2024-06-03 09:00:00', 'RUNNING')",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE scheduler_execution_log SET status = 'FAILED', finished_at = '2024-06-03 09:00:01.25', \
             error_message = 'ValueError: no data', duration_ms = 1250 \
         WHERE id = '00000000-0000-4000-8000-0000000000a1'",
    )
    .execute(pool)
    .await
    .unwrap();
    let job = repo.job("sync_akshare_market_data").await.unwrap().unwrap();
    assert_eq!(
        (job.spec.timezone.as_str(), job.spec.job_kwargs),
        ("UTC", Some(json!({})))
    );
    let run = &repo
        .runs(Some("sync_akshare_market_data"), 5)
        .await
        .unwrap()[0];
    assert_eq!(
        (run.status, run.duration_ms, run.error_message.as_deref()),
        (RunStatus::Failed, Some(1250), Some("ValueError: no data"))
    );
    // What we write, read by its get_all_enabled and get_recent_by_job_id.
    repo.save_job(&JobSpec::new("nightly_report", "夜间报告", "0 22 * * *"))
        .await
        .unwrap();
    let ours = repo.start_run("nightly_report").await.unwrap();
    repo.finish_run(ours.id, RunStatus::Success, None)
        .await
        .unwrap();
    let enabled: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT job_id, cron_expression, timezone FROM scheduler_job_config \
         WHERE enabled = true ORDER BY job_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(enabled.contains(&(
        "nightly_report".to_owned(),
        "0 22 * * *".to_owned(),
        "Asia/Shanghai".to_owned()
    )));
    let (status, finished): (String, Option<NaiveDateTime>) = sqlx::query_as(
        "SELECT status, finished_at FROM scheduler_execution_log WHERE job_id = $1 \
         ORDER BY started_at DESC LIMIT 20",
    )
    .bind("nightly_report")
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(status, "SUCCESS");
    assert!(finished.is_some());
}

#[tokio::test]
async fn old_finished_runs_are_pruned_by_the_clock_and_a_running_one_is_kept() {
    let test_db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2024-01-01T18:00:00")));
    let repo = PgSchedulerRepository::new(test_db.db().with_clock(clock.clone()));
    // A run a day for 100 days; the first one never finishes (its process died).
    let stuck = repo.start_run("sync_daily_by_date").await.unwrap();
    for _ in 1..100 {
        clock.advance(chrono::Duration::days(1));
        let run = repo.start_run("sync_daily_by_date").await.unwrap();
        repo.finish_run(run.id, RunStatus::Success, None)
            .await
            .unwrap();
    }
    // Now 2024-04-09 18:00: keeping 30 days keeps the runs from 03-10 18:00 on (31 of
    // them); the 68 finished before go.
    assert_eq!(
        repo.prune_runs(30, true).await.unwrap(),
        68,
        "a dry run counts"
    );
    assert_eq!(
        repo.runs(None, 1_000).await.unwrap().len(),
        100,
        "and deletes nothing"
    );
    assert_eq!(repo.prune_runs(30, false).await.unwrap(), 68);
    let left = repo.runs(None, 1_000).await.unwrap();
    assert_eq!(left.len(), 32);
    assert!(
        left.iter().any(|r| r.id == stuck.id),
        "a running run is kept"
    );
    assert_eq!(
        repo.prune_runs(30, false).await.unwrap(),
        0,
        "again: nothing left to do"
    );
    let err = repo.prune_runs(0, true).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(_)), "{err}");
}
