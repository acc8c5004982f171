//! Repository tests of coordinator against PostgreSQL: sessions, node executions,
//! filters, paging, JSONB round trips, cascade deletes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use chrono::{Duration, NaiveDateTime};
use coordinator::{
    NodeExecution, NodeStatus, PgResearchSessionRepository, ResearchSession,
    ResearchSessionRepository, SessionFilter, SessionStatus,
};
use serde_json::json;
use shared_db::{Page, RepoError};
use test_support::TestDb;

fn at(minutes: i64) -> NaiveDateTime {
    "2024-06-03T09:30:00".parse::<NaiveDateTime>().unwrap() + Duration::minutes(minutes)
}

fn session(symbol: &str, minutes: i64) -> ResearchSession {
    let mut session = ResearchSession::start(symbol, at(minutes));
    session.selected_experts = Some(vec!["macro".into(), "technical".into(), "估值".into()]);
    session.options = Some(json!({"depth": 2, "language": "zh", "nested": {"a": [1, 2.5, null]}}));
    session.trigger_source = Some("api".into());
    session
}

#[tokio::test]
async fn a_session_and_its_nodes_round_trip() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let s = session("600519.SH", 0);
    repo.save_session(&s).await.unwrap();
    assert_eq!(
        repo.get_session_by_id(s.id).await.unwrap().unwrap(),
        s,
        "JSONB fields round-trip"
    );

    let mut late = NodeExecution::new(s.id, "valuation", NodeStatus::Success, at(3));
    late.result_data = Some(json!({"pe": 28.5, "verdict": "高估", "peers": ["000858.SZ"]}));
    late.narrative_report = Some("估值偏高".into());
    late.completed_at = Some(at(4));
    late.duration_ms = Some(60_000);
    let mut early = NodeExecution::new(s.id, "fundamentals", NodeStatus::Failed, at(1));
    early.error_type = Some("TimeoutError".into());
    early.error_message = Some("tushare timed out".into());
    let skipped = NodeExecution::new(s.id, "news", NodeStatus::Skipped, at(2));
    for node in [&late, &early, &skipped] {
        repo.save_node_execution(node).await.unwrap();
    }
    let nodes = repo.get_node_executions_by_session(s.id).await.unwrap();
    assert_eq!(
        nodes,
        [early, skipped, late],
        "by started_at ascending, every field intact"
    );

    let finished = repo
        .update_session(s.id, SessionStatus::Partial, Some(at(5)), Some(300_000))
        .await
        .unwrap();
    assert_eq!(
        (finished.status, finished.duration_ms),
        (SessionStatus::Partial, Some(300_000))
    );
    assert_eq!(finished.completed_at, Some(at(5)));
}

#[tokio::test]
async fn only_a_running_session_can_be_finished() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let s = session("000001.SZ", 0);
    repo.save_session(&s).await.unwrap();
    repo.update_session(s.id, SessionStatus::Completed, Some(at(1)), Some(60_000))
        .await
        .unwrap();
    let err = repo
        .update_session(s.id, SessionStatus::Failed, Some(at(2)), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RepoError::StateConflict { ref state, .. } if state == "completed"),
        "{err:?}"
    );
    let err = repo
        .update_session(s.id, SessionStatus::Running, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Invalid(ref i) if i.field == "status"));
    let err = repo
        .update_session(uuid::Uuid::new_v4(), SessionStatus::Failed, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }));
    assert!(matches!(
        repo.save_session(&s).await,
        Err(RepoError::Conflict { .. })
    ));
}

#[tokio::test]
async fn a_node_of_an_unknown_session_is_not_found() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let orphan = NodeExecution::new(uuid::Uuid::new_v4(), "x", NodeStatus::Success, at(0));
    let err = repo.save_node_execution(&orphan).await.unwrap_err();
    assert!(
        matches!(
            err,
            RepoError::NotFound {
                entity: "research session",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn list_filters_by_symbol_and_inclusive_bounds_newest_first_with_paging() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let mut ids = Vec::new();
    for minutes in 0..25 {
        let symbol = if minutes % 5 == 0 {
            "000001.SZ"
        } else {
            "600519.SH"
        };
        let s = session(symbol, minutes);
        repo.save_session(&s).await.unwrap();
        ids.push((minutes, symbol, s.id));
    }
    let default_page = Page::first(20).unwrap();
    let all = repo
        .list_sessions(&SessionFilter::default(), default_page)
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
    assert_eq!(all[0].created_at, at(24), "newest first");
    assert_eq!(all[19].created_at, at(5));
    let rest = repo
        .list_sessions(&SessionFilter::default(), Page::new(20, 20).unwrap())
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|s| s.created_at).collect::<Vec<_>>(),
        [at(4), at(3), at(2), at(1), at(0)]
    );

    let filter = SessionFilter {
        symbol: Some("000001.SZ".into()),
        created_after: Some(at(5)),
        created_before: Some(at(20)),
        ..SessionFilter::default()
    };
    let found = repo.list_sessions(&filter, default_page).await.unwrap();
    assert_eq!(
        found.iter().map(|s| s.created_at).collect::<Vec<_>>(),
        [at(20), at(15), at(10), at(5)],
        "both bounds inclusive"
    );
}

#[tokio::test]
async fn list_filters_by_an_expert_that_took_part_through_its_index() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let with_valuation = session("600519.SH", 0);
    let mut sentiment_only = session("000001.SZ", 1);
    sentiment_only.selected_experts = Some(vec!["sentiment".into()]);
    let mut none = session("000002.SZ", 2);
    none.selected_experts = None;
    for s in [&with_valuation, &sentiment_only, &none] {
        repo.save_session(s).await.unwrap();
    }
    let ids = async |expert: &str| {
        let filter = SessionFilter {
            expert: Some(expert.to_owned()),
            ..SessionFilter::default()
        };
        repo.list_sessions(&filter, Page::first(20).unwrap())
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids("估值").await, [with_valuation.id]);
    assert_eq!(ids("sentiment").await, [sentiment_only.id]);
    assert!(ids("tech").await.is_empty(), "exact names, not prefixes");
    assert!(
        ids("\"; DROP TABLE x; --").await.is_empty(),
        "a value, never SQL"
    );

    // The filter's operator is one the GIN index serves (were the table big enough).
    let mut conn = test_db.db().pool().acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM research_sessions WHERE selected_experts @> '[\"macro\"]'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    assert!(
        plan.iter()
            .any(|line| line.contains("ix_research_sessions_selected_experts")),
        "{plan:#?}"
    );
}

#[tokio::test]
async fn a_retry_points_at_its_parent_and_lists_under_it() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let first = session("600519.SH", 0);
    repo.save_session(&first).await.unwrap();
    let retry = ResearchSession::retry_of(&first, at(60));
    let again = ResearchSession::retry_of(&retry, at(120));
    repo.save_session(&retry).await.unwrap();
    repo.save_session(&again).await.unwrap();
    let stored = repo.get_session_by_id(again.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.retry_count, stored.parent_session_id),
        (2, Some(retry.id))
    );
    assert_eq!(stored.symbol, first.symbol);
    assert_eq!(
        repo.list_retries(first.id)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [retry.id]
    );
    let first_runs = repo
        .list_sessions(
            &SessionFilter {
                first_runs_only: true,
                ..SessionFilter::default()
            },
            Page::first(20).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        first_runs.iter().map(|s| s.id).collect::<Vec<_>>(),
        [first.id]
    );
    // A retry of an unknown session is refused; so is a session that retries itself.
    let orphan = ResearchSession::retry_of(&session("000001.SZ", 1), at(2));
    assert!(matches!(
        repo.save_session(&orphan).await,
        Err(RepoError::NotFound { .. })
    ));
    let mut itself = session("000001.SZ", 3);
    itself.parent_session_id = Some(itself.id);
    assert!(matches!(
        repo.save_session(&itself).await,
        Err(RepoError::Invalid(ref i)) if i.field == "parent_session_id"
    ));
    // A parent with retries is not deleted from under them.
    assert!(matches!(
        repo.delete_session(first.id).await,
        Err(RepoError::Conflict { .. })
    ));
    assert!(repo.delete_session(again.id).await.unwrap());
    assert!(repo.delete_session(retry.id).await.unwrap());
    assert!(repo.delete_session(first.id).await.unwrap());
}

#[tokio::test]
async fn deleting_a_session_cascades_to_its_nodes() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let (kept, deleted) = (session("000001.SZ", 0), session("000002.SZ", 1));
    for s in [&kept, &deleted] {
        repo.save_session(s).await.unwrap();
        for minute in 0..3 {
            repo.save_node_execution(&NodeExecution::new(
                s.id,
                "n",
                NodeStatus::Success,
                at(minute),
            ))
            .await
            .unwrap();
        }
    }
    assert!(repo.delete_session(deleted.id).await.unwrap());
    assert!(!repo.delete_session(deleted.id).await.unwrap());
    assert!(
        repo.get_node_executions_by_session(deleted.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        repo.get_node_executions_by_session(kept.id)
            .await
            .unwrap()
            .len(),
        3
    );
    let remaining: i64 = sqlx::query_scalar("SELECT count(*) FROM node_executions")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(remaining, 3);
}

#[tokio::test]
async fn json_that_is_not_an_object_is_refused() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let mut s = session("000001.SZ", 0);
    s.options = Some(json!("depth=2"));
    let err = repo.save_session(&s).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(ref i) if i.field == "options"));
    s.options = None;
    repo.save_session(&s).await.unwrap();
    let mut node = NodeExecution::new(s.id, "n", NodeStatus::Success, at(0));
    node.result_data = Some(json!([1, 2]));
    let err = repo.save_node_execution(&node).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(ref i) if i.field == "result_data"));
}

#[tokio::test]
async fn keys_quoted_by_a_node_are_masked_when_stored_and_when_read() {
    let test_db = TestDb::new().await;
    let repo = PgResearchSessionRepository::new(test_db.db().clone());
    let s = session("600519.SH", 0);
    repo.save_session(&s).await.unwrap();
    let key = "sk-live-4f9a8b7c6d5e4f3a2b1c";
    let mut node = NodeExecution::new(s.id, "news", NodeStatus::Failed, at(1));
    node.error_type = Some("AuthError".into());
    node.error_message = Some(format!(
        "401 from https://api.x.com/v1?api_key={key}&q=茅台"
    ));
    node.narrative_report = Some(format!("called with Authorization: Bearer {key}; 估值偏高"));
    node.result_data =
        Some(json!({"request": {"api_key": key, "q": "茅台"}, "raw": format!("token={key}")}));
    repo.save_node_execution(&node).await.unwrap();
    // What is stored: no key, the rest kept.
    let stored: String = test_db
        .text(
            "SELECT concat_ws('|', error_message, narrative_report, result_data::text) \
             FROM node_executions",
        )
        .await;
    assert!(!stored.contains("4f9a8b7c6d5e"), "{stored}");
    assert!(
        stored.contains("茅台") && stored.contains("估值偏高"),
        "{stored}"
    );

    // A row another writer stored raw is masked when read.
    test_db
        .execute(&format!(
            "UPDATE node_executions SET error_message = 'refused: password={key}', \
             result_data = '{{\"secret\": \"{key}\", \"pe\": 28.5}}'"
        ))
        .await;
    let read = repo.get_node_executions_by_session(s.id).await.unwrap();
    let shown = format!("{read:?}");
    assert!(!shown.contains("4f9a8b7c6d5e"), "{shown}");
    assert_eq!(
        read[0].result_data,
        Some(json!({"secret": "***", "pe": 28.5}))
    );
    assert_eq!(
        read[0].error_message.as_deref(),
        Some("refused: password=***")
    );
}

#[tokio::test]
async fn scores_are_saved_listed_by_target_and_summarised_by_name_and_agent() {
    use coordinator::{
        PgScoreRepository, Score, ScoreRepository, ScoreSource, ScoreTarget, ScoreValue,
    };
    let test_db = TestDb::new().await;
    let sessions = PgResearchSessionRepository::new(test_db.db().clone());
    let scores = PgScoreRepository::new(test_db.db().clone());
    let s = session("600519.SH", 0);
    sessions.save_session(&s).await.unwrap();
    let node = NodeExecution::new(s.id, "valuation", NodeStatus::Success, at(1));
    sessions.save_node_execution(&node).await.unwrap();
    let call = uuid::Uuid::new_v4();
    let mut given = Vec::new();
    for (kind, target, value, minutes) in [
        (ScoreTarget::Session, s.id, ScoreValue::Numeric(4.0), 2),
        (ScoreTarget::Node, node.id, ScoreValue::Numeric(0.5), 3),
        (ScoreTarget::Node, node.id, ScoreValue::Numeric(1.0), 4),
        (
            ScoreTarget::Call,
            call,
            ScoreValue::Categorical("hallucinated".into()),
            5,
        ),
        (
            ScoreTarget::Call,
            call,
            ScoreValue::Categorical("correct".into()),
            6,
        ),
        (
            ScoreTarget::Call,
            call,
            ScoreValue::Categorical("correct".into()),
            7,
        ),
    ] {
        let name = if kind == ScoreTarget::Session {
            "user_feedback"
        } else {
            "accuracy"
        };
        let mut score = Score::new(kind, target, name, value, ScoreSource::Model, at(minutes));
        if kind == ScoreTarget::Call {
            (score.session_id, score.agent) = (Some(s.id), Some("news".into()));
            score.comment = Some("quoted api_key=sk-live-0123456789abcdef".into());
        }
        scores.save(&score).await.unwrap();
        given.push(score);
    }
    // A node's session and agent come from the node.
    let of_node = scores
        .list_by_target(ScoreTarget::Node, node.id)
        .await
        .unwrap();
    assert_eq!(of_node.len(), 2);
    assert!(
        of_node
            .iter()
            .all(|x| x.session_id == Some(s.id) && x.agent.as_deref() == Some("valuation"))
    );
    // Every score of the session, its node and its call, oldest first; comments masked.
    let all = scores.list_by_session(s.id).await.unwrap();
    assert_eq!(
        all.iter().map(|x| x.id).collect::<Vec<_>>(),
        given.iter().map(|x| x.id).collect::<Vec<_>>()
    );
    assert!(
        all[3]
            .comment
            .as_deref()
            .is_some_and(|c| !c.contains("0123456789abcdef")),
        "{:?}",
        all[3].comment
    );
    // Summaries per name and agent over a window.
    let summary = scores
        .summarize(at(0), at(60), Some("accuracy"))
        .await
        .unwrap();
    let shown: Vec<_> = summary
        .iter()
        .map(|x| {
            (
                x.agent.as_str(),
                x.scores,
                x.mean,
                x.categories.clone().into_iter().collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                "news",
                3,
                None,
                vec![("correct".to_owned(), 2), ("hallucinated".to_owned(), 1)]
            ),
            ("valuation", 2, Some(0.75), vec![]),
        ]
    );
    assert!(
        scores
            .summarize(at(10), at(60), Some("accuracy"))
            .await
            .unwrap()
            .is_empty()
    );
    // A node that does not exist, an id stored twice, a bad value: refused.
    let ghost = Score::new(
        ScoreTarget::Node,
        uuid::Uuid::new_v4(),
        "accuracy",
        ScoreValue::Numeric(1.0),
        ScoreSource::Rule,
        at(8),
    );
    assert!(matches!(
        scores.save(&ghost).await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(matches!(
        scores.save(&given[0]).await,
        Err(RepoError::Conflict { .. })
    ));
    let mut bad = given[0].clone();
    bad.id = uuid::Uuid::new_v4();
    bad.value = ScoreValue::Numeric(f64::NAN);
    assert!(
        matches!(scores.save(&bad).await, Err(RepoError::Invalid(ref e)) if e.field == "value")
    );
}
