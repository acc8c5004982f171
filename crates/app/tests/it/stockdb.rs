//! `Stockdb` hands out every repository on one pool.

use shared_db::utc_now;
use stockdb::Stockdb;
use stockdb::audit::LlmCallLog;
use stockdb::coordinator::{NodeExecution, NodeStatus, ResearchSession};
use stockdb::data_engineering::{StockInfo, ThirdCode};
use stockdb::llm_platform::{ApiKey, NewLlmConfig, SecretCipher};
use test_support::TestDb;

#[tokio::test]
async fn every_repository_works_through_one_stockdb() {
    let test_db = TestDb::new().await;
    let cipher = SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap();
    let db = Stockdb::from_db(test_db.db().clone(), Some(cipher));
    let code = ThirdCode::parse("600519.SH").unwrap();

    db.stocks()
        .save(StockInfo::new(code.clone(), "600519", "贵州茅台"))
        .await
        .unwrap();
    assert_eq!(db.stocks().count().await.unwrap(), 1);
    let config = NewLlmConfig::new(
        "deepseek",
        "deepseek",
        "openai",
        "deepseek-chat",
        ApiKey::new("sk-1"),
    );
    assert_eq!(
        db.llm_configs()
            .upsert(config)
            .await
            .unwrap()
            .api_key
            .unwrap()
            .expose(),
        "sk-1"
    );

    let session = ResearchSession::start(code.as_str(), utc_now());
    db.sessions().save_session(&session).await.unwrap();
    db.sessions()
        .save_node_execution(&NodeExecution::new(
            session.id,
            "valuation",
            NodeStatus::Success,
            utc_now(),
        ))
        .await
        .unwrap();
    let mut call = LlmCallLog::new("research", "deepseek", "deepseek-chat", "?", utc_now());
    call.session_id = Some(session.id);
    call.latency_ms = 5;
    db.llm_calls().save(&call).await.unwrap();
    assert_eq!(
        db.llm_calls().get_by_session_id(session.id).await.unwrap(),
        [call]
    );
    assert!(
        db.api_calls()
            .get_by_session_id(session.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        db.sessions()
            .get_node_executions_by_session(session.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        db.dailies()
            .get_latest_trade_date()
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.finance()
            .get_by_third_code_recent(&code, 4)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(db.sync().list_tasks(None, 10).await.unwrap().is_empty());
}
