//! Bad research sessions and node executions.

use super::*;

/// Research sessions and nodes (one running session is set up, and stays).
#[tokio::test]
async fn sessions_and_nodes() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();
    let session_with = |edit: &dyn Fn(&mut ResearchSession)| {
        let mut session = ResearchSession::start("600519.SH", at("2024-06-03T10:00:00"));
        edit(&mut session);
        session
    };
    for (field, value, session) in [
        ("symbol", "", session_with(&|s| s.symbol = String::new())),
        (
            "symbol",
            "600519.SH.TOO.LONG.SYM",
            session_with(&|s| s.symbol = "600519.SH.TOO.LONG.SYM".into()),
        ),
        (
            "trigger_source",
            "",
            session_with(&|s| s.trigger_source = Some("t".repeat(51))),
        ),
        (
            "options",
            "[",
            session_with(&|s| s.options = Some(json!(["depth", 2]))),
        ),
        (
            "options",
            "depth=2",
            session_with(&|s| s.options = Some(json!("depth=2"))),
        ),
        (
            "options",
            "42",
            session_with(&|s| s.options = Some(json!(42))),
        ),
        (
            "options",
            "true",
            session_with(&|s| s.options = Some(json!(true))),
        ),
        (
            "duration_ms",
            "-1",
            session_with(&|s| s.duration_ms = Some(-1)),
        ),
        (
            "completed_at",
            "2024-06-03 09:00:00",
            session_with(&|s| s.completed_at = Some(at("2024-06-03T09:00:00"))),
        ),
    ] {
        cases.check(
            format!("session bad {field}"),
            field,
            value,
            db.sessions().save_session(&session).await,
        );
    }
    let running = session_with(&|_| {});
    db.sessions().save_session(&running).await.unwrap();
    cases.check(
        "finish as running",
        "status",
        "running",
        db.sessions()
            .update_session(running.id, SessionStatus::Running, None, None)
            .await
            .map(drop),
    );
    cases.check(
        "finish with -5 ms",
        "duration_ms",
        "-5",
        db.sessions()
            .update_session(running.id, SessionStatus::Completed, None, Some(-5))
            .await
            .map(drop),
    );
    cases.check_input(
        "session status",
        "status",
        "done",
        "done".parse::<SessionStatus>(),
    );
    let node_with = |edit: &dyn Fn(&mut NodeExecution)| {
        let mut node = NodeExecution::new(
            running.id,
            "valuation",
            NodeStatus::Success,
            at("2024-06-03T10:00:01"),
        );
        edit(&mut node);
        node
    };
    for (field, value, node) in [
        ("node_type", "", node_with(&|n| n.node_type = String::new())),
        (
            "node_type",
            "",
            node_with(&|n| n.node_type = "n".repeat(51)),
        ),
        (
            "error_type",
            "",
            node_with(&|n| n.error_type = Some("E".repeat(101))),
        ),
        (
            "result_data",
            "[1,2]",
            node_with(&|n| n.result_data = Some(json!([1, 2]))),
        ),
        (
            "result_data",
            "\"ok\"",
            node_with(&|n| n.result_data = Some(json!("ok"))),
        ),
        (
            "duration_ms",
            "-100",
            node_with(&|n| n.duration_ms = Some(-100)),
        ),
        (
            "completed_at",
            "2024-06-03 09:59:00",
            node_with(&|n| n.completed_at = Some(at("2024-06-03T09:59:00"))),
        ),
    ] {
        cases.check(
            format!("node bad {field}"),
            field,
            value,
            db.sessions().save_node_execution(&node).await,
        );
    }
    cases.check(
        "sessions page limit 0",
        "limit",
        "0",
        Page::new(0, 0).map(drop).map_err(RepoError::from),
    );

    cases.judge();
    untouched(&test_db, 1).await;
}
