//! `Stockdb::unit_of_work`: a session's finish, its last node and its calls commit
//! together or not at all, and reads inside see the unit's writes.

use shared_db::{RepoError, utc_now};
use stockdb::Stockdb;
use stockdb::audit::{ExternalApiCallLog, LlmCallLog};
use stockdb::coordinator::{NodeExecution, NodeStatus, ResearchSession, SessionStatus};
use test_support::TestDb;

/// A running session stored outside the unit, and the node and call that finish it.
async fn running(db: &Stockdb) -> (ResearchSession, NodeExecution, LlmCallLog) {
    let session = ResearchSession::start("600519.SH", utc_now());
    db.sessions().save_session(&session).await.unwrap();
    let node = NodeExecution::new(session.id, "valuation", NodeStatus::Success, utc_now());
    let mut call = LlmCallLog::new("research", "deepseek", "deepseek-chat", "?", utc_now());
    call.session_id = Some(session.id);
    (session, node, call)
}

#[tokio::test]
async fn a_failure_half_way_leaves_nothing_of_the_unit() {
    let test_db = TestDb::new().await;
    let db = Stockdb::from_db(test_db.db().clone(), None);
    let (session, node, call) = running(&db).await;

    let work = db.unit_of_work().await.unwrap();
    work.sessions().save_node_execution(&node).await.unwrap();
    work.llm_calls().save(&call).await.unwrap();
    // Reads inside the unit see its writes; outside, nothing yet.
    assert_eq!(
        work.llm_calls()
            .get_by_session_id(session.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        db.llm_calls()
            .get_by_session_id(session.id)
            .await
            .unwrap()
            .is_empty()
    );
    // The third write fails: a call whose id is taken.
    let mut api = ExternalApiCallLog::new("tushare", "daily", utc_now());
    api.session_id = Some(session.id);
    work.api_calls().save(&api).await.unwrap();
    let err = work.api_calls().save(&api).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");
    // The service gives up on the unit: nothing of it is stored.
    work.rollback().await.unwrap();
    assert_eq!(test_db.count("node_executions").await, 0);
    assert_eq!(test_db.count("llm_call_logs").await, 0);
    assert_eq!(test_db.count("external_api_call_logs").await, 0);
    let stored = db
        .sessions()
        .get_session_by_id(session.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, SessionStatus::Running);

    // A unit dropped without commit (a panic, an early return) is rolled back too.
    {
        let work = db.unit_of_work().await.unwrap();
        work.sessions().save_node_execution(&node).await.unwrap();
    }
    assert_eq!(test_db.count("node_executions").await, 0);
}

#[tokio::test]
async fn a_committed_unit_stores_every_write_at_once() {
    let test_db = TestDb::new().await;
    let db = Stockdb::from_db(test_db.db().clone(), None);
    let (session, node, call) = running(&db).await;

    let work = db.unit_of_work().await.unwrap();
    work.sessions().save_node_execution(&node).await.unwrap();
    work.llm_calls().save(&call).await.unwrap();
    let finished = work
        .sessions()
        .update_session(
            session.id,
            SessionStatus::Completed,
            Some(utc_now()),
            Some(5),
        )
        .await
        .unwrap();
    assert_eq!(finished.status, SessionStatus::Completed);
    // A state rule inside the unit still holds: a finished session cannot finish again.
    let again = work
        .sessions()
        .update_session(session.id, SessionStatus::Failed, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(again, RepoError::StateConflict { .. }),
        "{again:?}"
    );
    work.commit().await.unwrap();

    let trace = db.session_trace(session.id).await.unwrap().unwrap();
    assert_eq!(trace.session.status, SessionStatus::Completed);
    assert_eq!(trace.nodes, [node]);
    assert_eq!(trace.llm_calls, [call]);
}

#[tokio::test]
async fn the_prompt_storage_a_deployment_chose_holds_in_the_unit_and_on_the_primary() {
    let test_db = TestDb::new().await;
    let key = "sk-live-4f9a8b7c6d5e4f3a2b1c";
    let redacting = Stockdb::from_db(test_db.db().clone(), None);
    let verbatim = redacting.with_prompt_storage(stockdb::audit::PromptStorage::Verbatim);
    let (_, _, mut kept) = running(&verbatim).await;
    kept.prompt_text = format!("unit token={key}");
    let work = verbatim.unit_of_work().await.unwrap();
    work.llm_calls().save(&kept).await.unwrap();
    work.commit().await.unwrap();
    let (_, _, mut primary) = running(&verbatim).await;
    primary.prompt_text = format!("primary token={key}");
    verbatim.primary().llm_calls().save(&primary).await.unwrap();
    let (_, _, mut masked) = running(&redacting).await;
    masked.prompt_text = format!("default token={key}");
    redacting.llm_calls().save(&masked).await.unwrap();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT prompt_text FROM llm_call_logs ORDER BY prompt_text")
            .fetch_all(test_db.db().pool())
            .await
            .unwrap();
    assert_eq!(
        stored,
        [
            "default token=***".to_owned(),
            format!("primary token={key}"),
            format!("unit token={key}"),
        ]
    );
}
