//! `Stockdb::session_trace`: a session with its nodes, calls, retries and cost, read as one
//! snapshot.

use chrono::Duration;
use shared_db::utc_now;
use stockdb::Stockdb;
use stockdb::audit::{ExternalApiCallLog, LlmCallLog, ModelPrice};
use stockdb::coordinator::{NodeExecution, NodeStatus, ResearchSession};
use test_support::TestDb;

#[tokio::test]
async fn a_trace_holds_everything_recorded_of_its_session_and_nothing_else() {
    let test_db = TestDb::new().await;
    let db = Stockdb::from_db(test_db.db().clone(), None);
    let start = utc_now() - Duration::minutes(10);
    let session = ResearchSession::start("600519.SH", start);
    let other = ResearchSession::start("000001.SZ", start);
    for s in [&session, &other] {
        db.sessions().save_session(s).await.unwrap();
    }
    let retry = ResearchSession::retry_of(&session, start + Duration::minutes(5));
    db.sessions().save_session(&retry).await.unwrap();
    let mut nodes = Vec::new();
    for (offset, node_type) in [(1, "data_collection"), (2, "valuation")] {
        let node = NodeExecution::new(
            session.id,
            node_type,
            NodeStatus::Success,
            start + Duration::seconds(offset),
        );
        db.sessions().save_node_execution(&node).await.unwrap();
        nodes.push(node);
    }
    // Two calls of the session at 1,000 + 500 and 2,000 + 1,000 tokens, one of another.
    let mut calls = Vec::new();
    for (offset, session_id, prompt, completion) in [
        (1, session.id, 1_000, 500),
        (2, session.id, 2_000, 1_000),
        (3, other.id, 9_000, 9_000),
    ] {
        let mut call = LlmCallLog::new(
            "research",
            "deepseek",
            "deepseek-chat",
            "?",
            start + Duration::seconds(offset),
        );
        call.session_id = Some(session_id);
        call.caller_agent = Some("valuation_agent".to_owned());
        call.prompt_tokens = Some(prompt);
        call.completion_tokens = Some(completion);
        db.llm_calls().save(&call).await.unwrap();
        if session_id == session.id {
            calls.push(call);
        }
    }
    let mut api = ExternalApiCallLog::new("tushare", "daily", start);
    api.session_id = Some(session.id);
    db.api_calls().save(&api).await.unwrap();
    // 2 per million input tokens, 8 per million output tokens.
    let price = ModelPrice {
        vendor: "deepseek".to_owned(),
        model: "deepseek-chat".to_owned(),
        effective_from: start - Duration::days(1),
        input_per_million: 2.0,
        output_per_million: 8.0,
        cached_input_per_million: None,
        reasoning_output_per_million: None,
        currency: "CNY".to_owned(),
    };
    db.prices().set(&price).await.unwrap();

    let trace = db.session_trace(session.id).await.unwrap().unwrap();
    assert_eq!(trace.session, session);
    assert_eq!(trace.nodes, nodes);
    assert_eq!(trace.llm_calls, calls);
    assert_eq!(trace.api_calls, [api]);
    assert_eq!(trace.retries, [retry]);
    assert_eq!(trace.calls_dropped_before, None);
    // (3,000 × 2 + 1,500 × 8) / 1,000,000 = 0.018, by hand.
    assert_eq!(trace.cost.total.len(), 1);
    let total = &trace.cost.total[0];
    assert_eq!((total.calls, total.prompt_tokens), (2, 3_000));
    assert!((total.cost.unwrap() - 0.018).abs() < 1e-12, "{total:?}");
    assert_eq!(trace.cost.by_agent[0].group, "valuation_agent");
    // As JSON: the shape `stockdb sessions show --json` prints.
    let json = serde_json::to_value(&trace).unwrap();
    assert_eq!(json["cost"]["total"][0]["calls"], 2);
    assert_eq!(json["nodes"].as_array().unwrap().len(), 2);

    assert!(
        db.session_trace(uuid::Uuid::new_v4())
            .await
            .unwrap()
            .is_none()
    );
}
