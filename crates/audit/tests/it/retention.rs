//! Retention of the partitioned audit logs: what a plan says, what apply drops and
//! blanks, the report on sessions that lose calls, one run at a time, and partitions made
//! for a month that had none.

use audit::{
    CallStatus, LlmCallLogRepository, PartitionAction, PgLlmCallLogRepository,
    PgRetentionRepository, RetentionPolicy, RetentionRepository, SessionCalls, TimeWindow,
};
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use shared_db::{RepoError, utc_now};
use test_support::TestDb;
use uuid::Uuid;

use super::{api_call, llm_call};

/// The first instant of the month `offset` months from the current one.
fn month(offset: i32) -> NaiveDateTime {
    let now = utc_now().date();
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap();
    let shifted = if offset >= 0 {
        first + Months::new(offset.unsigned_abs())
    } else {
        first - Months::new(offset.unsigned_abs())
    };
    shifted.and_hms_opt(0, 0, 0).unwrap()
}

fn partition(table: &str, offset: i32) -> String {
    format!("{table}_{}", month(offset).format("%Y_%m"))
}

fn dated<T>(mut call: T, at: NaiveDateTime, set: impl Fn(&mut T, NaiveDateTime)) -> T {
    set(&mut call, at);
    call
}

async fn exists(test_db: &TestDb, relation: &str) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .bind(relation)
        .fetch_one(test_db.db().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn whole_old_partitions_are_dropped_older_text_blanked_and_kept_sessions_reported() {
    // Every call below lands in the partition the conversion to version 8 made of the
    // (then empty) log, as an adopted database's history does: retention splits it first.
    let test_db = TestDb::new().await;
    let llm = PgLlmCallLogRepository::new(test_db.db().clone());
    let api = audit::PgExternalApiCallLogRepository::new(test_db.db().clone());
    let retention = PgRetentionRepository::new(test_db.db().clone());

    // A research session's calls six months old, and a call of no session seven months
    // old: all in partitions past a 120-day horizon. (Whether the session is still stored
    // is the coordinator's to say: `stockdb::Retention` asks it.)
    let session = Uuid::new_v4();
    let old = month(-6) + Duration::days(4);
    let set_llm = |c: &mut audit::LlmCallLog, at| c.created_at = at;
    let set_api = |c: &mut audit::ExternalApiCallLog, at| c.created_at = at;
    for minutes in [0, 5, 60] {
        let call = llm_call(Some(session), "deepseek-chat", 800, CallStatus::Success, 0);
        llm.save(&dated(call, old + Duration::minutes(minutes), set_llm))
            .await
            .unwrap();
    }
    let call = llm_call(None, "deepseek-chat", 700, CallStatus::Success, 0);
    llm.save(&dated(call, month(-7) + Duration::days(1), set_llm))
        .await
        .unwrap();
    let call = api_call(Some(session), "tushare", 120, CallStatus::Success, 0);
    audit::ExternalApiCallLogRepository::save(&api, &dated(call, old, set_api))
        .await
        .unwrap();
    // Two months old: past a 20-day blanking horizon, not past 120 days.
    let recent = month(-2) + Duration::days(3);
    for minutes in [0, 1] {
        let call = llm_call(None, "deepseek-chat", 900, CallStatus::Success, 0);
        llm.save(&dated(call, recent + Duration::minutes(minutes), set_llm))
            .await
            .unwrap();
    }
    // Today: kept as it is.
    let call = llm_call(None, "deepseek-chat", 500, CallStatus::Success, 0);
    llm.save(&dated(call, utc_now(), set_llm)).await.unwrap();

    // Listing and statistics read across the monthly partitions: newest first, paged.
    let listed = llm
        .list(
            &audit::LlmCallFilter::default(),
            shared_db::Page::new(1, 5).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 5);
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at)
    );
    assert_eq!(listed[0].created_at.date(), recent.date());
    let year = llm
        .stats(TimeWindow::new(month(-8), month(1)).unwrap())
        .await
        .unwrap();
    assert_eq!(year[0].calls, 7);

    let policy = RetentionPolicy {
        keep_days: 120,
        blank_after_days: Some(20),
    };
    let plan = retention.plan(policy).await.unwrap();
    let find = |name: &str| {
        plan.partitions
            .iter()
            .find(|p| p.partition == name)
            .unwrap_or_else(|| panic!("no partition {name} in {plan:#?}"))
    };
    let converted = plan
        .partitions
        .iter()
        .find(|p| p.action == PartitionAction::Split)
        .expect("the converted partition is split first")
        .partition
        .clone();
    assert!(
        converted.starts_with("llm_call_logs_before_"),
        "{converted}"
    );
    let six = find(&partition("llm_call_logs", -6));
    assert!(six.pending);
    assert_eq!(six.action, PartitionAction::Drop);
    let calls_of = |session_id, calls| vec![SessionCalls { session_id, calls }];
    assert_eq!(
        (six.rows, six.calls_by_session.clone()),
        (3, calls_of(session, 3))
    );
    // The oldest month takes everything older too, so it starts at the beginning of time.
    let seven = find(&partition("llm_call_logs", -7));
    assert_eq!((seven.action, seven.from), (PartitionAction::Drop, None));
    assert_eq!((seven.rows, seven.calls_by_session.len()), (1, 0));
    let api_six = find(&partition("external_api_call_logs", -6));
    assert_eq!(
        (
            api_six.action,
            api_six.rows,
            api_six.calls_by_session.clone()
        ),
        (PartitionAction::Drop, 1, calls_of(session, 1))
    );
    assert_eq!(plan.sessions_losing_calls(), [session]);
    let two = find(&partition("llm_call_logs", -2));
    assert_eq!((two.action, two.rows), (PartitionAction::Blank, 2));
    assert_eq!(
        find(&partition("llm_call_logs", 0)).action,
        PartitionAction::Keep
    );
    // A plan changes nothing.
    assert_eq!(test_db.count("llm_call_logs").await, 7);
    assert!(exists(&test_db, &converted).await);
    assert!(!exists(&test_db, &partition("llm_call_logs", -6)).await);

    // One run at a time: while another holds the lock, apply refuses at once.
    let mut holder = test_db.db().dedicated_connection().await.unwrap();
    shared_db::LockKey::Retention
        .lock(&mut holder)
        .await
        .unwrap();
    let busy = retention.apply(policy).await.unwrap_err();
    assert!(matches!(busy, RepoError::Busy { .. }), "{busy:?}");
    drop(holder);
    assert_eq!(test_db.count("llm_call_logs").await, 7);

    let done = retention.apply(policy).await.unwrap();
    let split = &done.maintenance.as_ref().unwrap().split;
    assert_eq!(split.len(), 2, "{split:#?}");
    assert_eq!(
        (split[0].partition.as_str(), split[0].rows),
        (converted.as_str(), 7)
    );
    assert_eq!(
        done.with_action(PartitionAction::Drop).count(),
        plan.with_action(PartitionAction::Drop).count()
    );
    assert!(!exists(&test_db, &partition("llm_call_logs", -6)).await);
    assert!(!exists(&test_db, &converted).await);
    assert!(exists(&test_db, &partition("llm_call_logs", -2)).await);
    // The session's calls are gone with their partition; the horizon says so.
    assert!(llm.get_by_session_id(session).await.unwrap().is_empty());
    let horizon = retention
        .horizon()
        .await
        .unwrap()
        .expect("history was dropped");
    // The later of the two logs' oldest months kept: the API log kept nothing older than
    // this month (its only call went with month -6).
    assert_eq!(horizon, month(0));
    // Blanked calls keep their numbers: statistics still count them.
    assert_eq!(test_db.count("llm_call_logs").await, 3);
    let stats = llm
        .stats(TimeWindow::new(month(-2), month(-1)).unwrap())
        .await
        .unwrap();
    assert_eq!(stats[0].calls, 2);
    assert_eq!(stats[0].total_tokens, 2 * (100 + 90));
    let blanked: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT prompt_text, completion_text, system_message FROM llm_call_logs \
         WHERE created_at < $1 ORDER BY created_at",
    )
    .bind(month(-1))
    .fetch_all(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(blanked, vec![(String::new(), None, None); 2]);
    let today: String =
        sqlx::query_scalar("SELECT prompt_text FROM llm_call_logs WHERE created_at >= $1")
            .bind(month(0))
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
    assert_eq!(today, "分析贵州茅台的估值");

    // Again: nothing left to drop or to blank.
    let again = retention.apply(policy).await.unwrap();
    assert_eq!(again.with_action(PartitionAction::Drop).count(), 0);
    assert_eq!(again.with_action(PartitionAction::Blank).count(), 0);
    assert_eq!(test_db.count("llm_call_logs").await, 3);
}

#[tokio::test]
async fn a_call_in_a_month_without_a_partition_is_kept_and_moved_into_its_month() {
    let test_db = TestDb::new().await;
    let llm = PgLlmCallLogRepository::new(test_db.db().clone());
    let far = month(14) + Duration::days(2);
    let name = partition("llm_call_logs", 14);
    assert!(!exists(&test_db, &name).await);
    let call = llm_call(None, "deepseek-chat", 500, CallStatus::Success, 0);
    let set_llm = |c: &mut audit::LlmCallLog, at| c.created_at = at;
    let call = dated(call, far, set_llm);
    llm.save(&call).await.unwrap();
    // The default partition took it: read, counted, waiting for maintenance.
    assert_eq!(test_db.count("llm_call_logs_default").await, 1);
    assert_eq!(llm.get_by_session_id(Uuid::nil()).await.unwrap().len(), 0);
    let listed = llm
        .list(
            &audit::LlmCallFilter::default(),
            shared_db::Page::new(0, 5).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(listed, std::slice::from_ref(&call));
    let retention = PgRetentionRepository::new(test_db.db().clone());
    let status = retention.status().await.unwrap();
    assert_eq!(status[0].rows_in_default, 1);
    // Maintenance moves it into a partition of its month, and makes the months ahead.
    let report = retention.maintain().await.unwrap();
    assert_eq!(report.moved_from_default, 1);
    assert!(report.created.contains(&name), "{report:?}");
    assert_eq!(test_db.count(&name).await, 1);
    assert_eq!(test_db.count("llm_call_logs_default").await, 0);
    let again = retention.maintain().await.unwrap();
    assert!(
        again.created.is_empty() && again.moved_from_default == 0,
        "{again:?}"
    );
    let plan = retention
        .plan(RetentionPolicy {
            keep_days: 3650,
            blank_after_days: None,
        })
        .await
        .unwrap();
    for table in ["llm_call_logs", "external_api_call_logs"] {
        for offset in 0..=3 {
            let start = month(offset);
            assert!(
                plan.partitions.iter().any(|p| p.table == table
                    && p.from.is_none_or(|from| from <= start)
                    && p.to.is_some_and(|to| to > start)),
                "no partition of {table} holds {start}: {plan:#?}"
            );
        }
    }
}

#[tokio::test]
async fn bad_policies_name_the_field() {
    let test_db = TestDb::new().await;
    let retention = PgRetentionRepository::new(test_db.db().clone());
    let err = retention
        .apply(RetentionPolicy {
            keep_days: 30,
            blank_after_days: Some(60),
        })
        .await
        .unwrap_err();
    let RepoError::Invalid(invalid) = err else {
        panic!("{err:?}");
    };
    assert_eq!(invalid.field, "blank_after");
}

#[tokio::test]
async fn two_concurrent_applies_never_act_on_an_outdated_plan() {
    let test_db = TestDb::new().await;
    let llm = PgLlmCallLogRepository::new(test_db.db().clone());
    let set_llm = |c: &mut audit::LlmCallLog, at| c.created_at = at;
    for offset in 1..=8 {
        let call = llm_call(None, "deepseek-chat", 100, CallStatus::Success, 0);
        llm.save(&dated(call, month(-offset) + Duration::days(3), set_llm))
            .await
            .unwrap();
    }
    let policy = RetentionPolicy {
        keep_days: 90,
        blank_after_days: None,
    };
    // Rounds of two runs at once: each either does the work or is told another run is
    // at it; neither fails on a partition the other dropped.
    for _ in 0..5 {
        let first = PgRetentionRepository::new(test_db.db().clone());
        let second = PgRetentionRepository::new(test_db.db().clone());
        let (a, b) = tokio::join!(first.apply(policy), second.apply(policy));
        for result in [&a, &b] {
            assert!(
                matches!(result, Ok(_) | Err(RepoError::Busy { .. })),
                "{result:?}"
            );
        }
        assert!(a.is_ok() || b.is_ok(), "one of them ran: {a:?} {b:?}");
    }
    // Calls older than 90 days are gone, counted once.
    let kept = test_db.count("llm_call_logs").await;
    assert!(kept <= 3, "{kept} calls kept");
}
