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

#[tokio::test]
async fn a_router_asks_whether_a_configuration_may_still_spend() {
    use stockdb::audit::{Budget, BudgetPeriod, BudgetScope, ModelPrice};
    let test_db = TestDb::new().await;
    let db = Stockdb::from_db(test_db.db().clone(), None);
    db.llm_configs()
        .upsert(NewLlmConfig::new(
            "research",
            "deepseek",
            "openai",
            "deepseek-chat",
            ApiKey::new("sk-1"),
        ))
        .await
        .unwrap();
    db.prices()
        .set(&ModelPrice {
            vendor: "deepseek".into(),
            model: "deepseek-chat".into(),
            effective_from: "2024-01-01T00:00:00".parse().unwrap(),
            input_per_million: 2.0,
            output_per_million: 8.0,
            cached_input_per_million: None,
            reasoning_output_per_million: None,
            currency: "CNY".into(),
        })
        .await
        .unwrap();
    // No budget: allowed, nothing to say.
    let check = db.may_spend("research").await.unwrap();
    assert!(check.allowed && check.budgets.is_empty());
    // 1,000,000 prompt tokens at 2 per million: 2 CNY, against 1.5 a day on the model.
    let mut call = LlmCallLog::new("research", "deepseek", "deepseek-chat", "?", utc_now());
    (call.prompt_tokens, call.completion_tokens) = (Some(1_000_000), Some(0));
    call.config_alias = Some("research".into());
    db.llm_calls().save(&call).await.unwrap();
    for (scope, target, amount) in [
        (BudgetScope::Config, "research", 100.0),
        (BudgetScope::Model, "deepseek/deepseek-chat", 1.5),
    ] {
        db.budgets()
            .set(&Budget {
                scope,
                target: target.into(),
                period: BudgetPeriod::Day,
                amount,
                currency: "CNY".into(),
            })
            .await
            .unwrap();
    }
    let check = db.may_spend("research").await.unwrap();
    assert!(!check.allowed);
    assert_eq!(check.budgets.len(), 2);
    assert_eq!(
        check.budgets[0].budget.target, "deepseek/deepseek-chat",
        "most spent first"
    );
    assert!((check.budgets[0].spent - 2.0).abs() < 1e-9);
    // `db health` warns of it; an unknown alias is `NotFound`.
    let health = db.health().await;
    assert!(
        health
            .warnings
            .iter()
            .any(|w| w.contains("deepseek/deepseek-chat") && w.contains("is past")),
        "{:?}",
        health.warnings
    );
    assert!(matches!(
        db.may_spend("nobody").await,
        Err(stockdb::RepoError::NotFound { .. })
    ));
}

/// stockdb's queries are short index walks: a connection starts with `jit = off` unless
/// the configuration leaves the server's setting (see `DbConfig::jit`).
#[tokio::test]
async fn connections_start_without_jit_unless_the_configuration_allows_it() {
    let test_db = TestDb::new().await;
    let jit_of = async |db: &sqlx::PgPool| -> String {
        sqlx::query_scalar("SHOW jit").fetch_one(db).await.unwrap()
    };
    let stockdb =
        |config: shared_db::DbConfig| async move { shared_db::Db::connect(&config).await.unwrap() };
    let bare = sqlx::PgPool::connect(&test_db.config().url).await.unwrap();
    let server = jit_of(&bare).await;
    assert_eq!(
        server, "on",
        "PostgreSQL's default, which the test servers keep"
    );
    assert_eq!(jit_of(stockdb(test_db.config()).await.pool()).await, "off");
    let allowed = stockdb(test_db.config().with_jit(true)).await;
    assert_eq!(jit_of(allowed.pool()).await, server);
}
