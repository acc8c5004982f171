//! Model prices and what calls cost at the price in force when they ran.

use audit::{
    CallStatus, CostBy, CostScope, LlmCallLog, LlmCallLogRepository, ModelPrice,
    ModelPriceRepository, PgLlmCallLogRepository, PgModelPriceRepository, TimeWindow,
};

use shared_db::RepoError;
use test_support::TestDb;
use uuid::Uuid;

use super::{at, llm_call};

fn price(model: &str, from: &str, input: f64, output: f64) -> ModelPrice {
    ModelPrice {
        vendor: "deepseek".into(),
        model: model.into(),
        effective_from: from.parse().unwrap(),
        input_per_million: input,
        output_per_million: output,
        cached_input_per_million: None,
        reasoning_output_per_million: None,
        currency: "CNY".into(),
    }
}

/// A call of `model` at `seconds` after 2024-06-03 10:00 with 100 prompt and
/// `completion` completion tokens.
fn priced_call(session: Option<Uuid>, model: &str, seconds: i64, completion: i32) -> LlmCallLog {
    let mut call = llm_call(
        session,
        model,
        10 * completion,
        CallStatus::Success,
        seconds,
    );
    call.completion_tokens = Some(completion);
    call
}

#[tokio::test]
async fn calls_cost_the_price_in_force_when_they_ran_and_unpriced_ones_are_counted_apart() {
    let test_db = TestDb::new().await;
    let prices = PgModelPriceRepository::new(test_db.db().clone());
    let calls = PgLlmCallLogRepository::new(test_db.db().clone());
    // deepseek-chat: 2 / 8 per million from June 1st, 4 / 16 from 10:30 on June 3rd; any
    // other deepseek-… model 1 / 1 (a prefix); qwen-max: no price at all.
    prices
        .set(&price("deepseek-chat", "2024-06-01T00:00:00", 2.0, 8.0))
        .await
        .unwrap();
    prices
        .set(&price("deepseek-chat", "2024-06-03T10:30:00", 4.0, 16.0))
        .await
        .unwrap();
    prices
        .set(&price("deepseek-*", "2024-01-01T00:00:00", 1.0, 1.0))
        .await
        .unwrap();
    for call in [
        priced_call(None, "deepseek-chat", 0, 50), // (100×2 + 50×8) / 1e6 = 0.0006
        priced_call(None, "deepseek-chat", 3_600, 50), // (100×4 + 50×16) / 1e6 = 0.0012
        priced_call(None, "deepseek-reasoner", 60, 900), // (100 + 900) / 1e6 = 0.001
        priced_call(None, "qwen-max", 120, 10),    // no price: unpriced
        priced_call(None, "deepseek-chat", -4 * 86_400, 50), // May 30th: before any exact
    ] {
        calls.save(&call).await.unwrap();
    }
    let window = TimeWindow::new(at(-5 * 86_400), at(86_400)).unwrap();
    let by_model = prices
        .costs(CostScope::Window(window), CostBy::Model)
        .await
        .unwrap();
    let rows: Vec<(String, Option<String>, i64, Option<f64>)> = by_model
        .iter()
        .map(|r| {
            (
                r.group.clone(),
                r.currency.clone(),
                r.calls,
                r.cost.map(|c| (c * 1e7).round() / 1e7),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            // May 30th falls back to the prefix price (1 / 1): (100 + 50) / 1e6.
            (
                "deepseek/deepseek-chat".into(),
                Some("CNY".into()),
                3,
                Some(0.0006 + 0.0012 + 0.00015)
            ),
            (
                "deepseek/deepseek-reasoner".into(),
                Some("CNY".into()),
                1,
                Some(0.001)
            ),
            ("deepseek/qwen-max".into(), None, 1, None),
        ]
    );
    // A new price changes no past cost.
    prices
        .set(&price("deepseek-chat", "2024-06-04T00:00:00", 100.0, 100.0))
        .await
        .unwrap();
    assert_eq!(
        prices
            .costs(CostScope::Window(window), CostBy::Model)
            .await
            .unwrap(),
        by_model
    );
    let by_day = prices
        .costs(CostScope::Window(window), CostBy::Day)
        .await
        .unwrap();
    assert_eq!(
        by_day
            .iter()
            .map(|r| (r.group.as_str(), r.calls))
            .collect::<Vec<_>>(),
        [("2024-05-30", 1), ("2024-06-03", 3), ("2024-06-03", 1)],
        "each day, priced then unpriced"
    );
    // Prices are history: the same vendor, model and time again is a conflict.
    assert!(matches!(
        prices
            .set(&price("deepseek-chat", "2024-06-01T00:00:00", 3.0, 3.0))
            .await,
        Err(RepoError::Conflict { .. })
    ));
    assert!(matches!(
        prices.set(&price("deepseek-chat", "2024-06-05T00:00:00", -1.0, 3.0)).await,
        Err(RepoError::Invalid(ref e)) if e.field == "input_per_million"
    ));
    assert_eq!(prices.list(Some("deepseek")).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_sessions_cost_is_the_sum_of_its_calls_by_agent_and_in_total() {
    let test_db = TestDb::new().await;
    let prices = PgModelPriceRepository::new(test_db.db().clone());
    let calls = PgLlmCallLogRepository::new(test_db.db().clone());
    prices
        .set(&price("deepseek-chat", "2024-01-01T00:00:00", 2.0, 8.0))
        .await
        .unwrap();
    let session = Uuid::new_v4();
    let mut expected_total = 0.0;
    for (i, agent, completion) in [
        (0, "valuation", 100),
        (1, "news", 300),
        (2, "valuation", 50),
    ] {
        let mut call = priced_call(Some(session), "deepseek-chat", i * 10, completion);
        call.caller_agent = Some(agent.into());
        expected_total += (100.0 * 2.0 + f64::from(completion) * 8.0) / 1e6;
        calls.save(&call).await.unwrap();
    }
    // Another session's call is not counted.
    calls
        .save(&priced_call(Some(Uuid::new_v4()), "deepseek-chat", 5, 999))
        .await
        .unwrap();
    let total = prices
        .costs(CostScope::Session(session), CostBy::Total)
        .await
        .unwrap();
    assert_eq!(total.len(), 1);
    assert_eq!(total[0].calls, 3);
    assert!((total[0].cost.unwrap() - expected_total).abs() < 1e-12);
    let by_agent = prices
        .costs(CostScope::Session(session), CostBy::Agent)
        .await
        .unwrap();
    assert_eq!(
        by_agent
            .iter()
            .map(|r| (r.group.as_str(), r.calls))
            .collect::<Vec<_>>(),
        [("news", 1), ("valuation", 2)]
    );
    let sum: f64 = by_agent.iter().filter_map(|r| r.cost).sum();
    assert!((sum - expected_total).abs() < 1e-12);
}

#[tokio::test]
async fn each_token_kind_is_charged_at_its_own_rate() {
    let test_db = TestDb::new().await;
    let prices = PgModelPriceRepository::new(test_db.db().clone());
    let calls = PgLlmCallLogRepository::new(test_db.db().clone());
    // DeepSeek's way: a cache hit costs a quarter of a miss; no reasoning rate of its own.
    let mut chat = price("deepseek-chat", "2024-01-01T00:00:00", 2.0, 8.0);
    chat.cached_input_per_million = Some(0.5);
    prices.set(&chat).await.unwrap();
    // OpenAI's way (vendor `openai`): cached input at a tenth, reasoning billed apart.
    let mut o_series = price("o4-*", "2024-01-01T00:00:00", 1.25, 10.0);
    o_series.vendor = "openai".into();
    o_series.currency = "USD".into();
    o_series.cached_input_per_million = Some(0.125);
    o_series.reasoning_output_per_million = Some(12.0);
    prices.set(&o_series).await.unwrap();

    // 1,000,000 prompt tokens of which 600,000 hit the cache, 200,000 completion tokens:
    // 400,000 × 2 + 600,000 × 0.5 + 200,000 × 8, per million = 0.8 + 0.3 + 1.6 = 2.7.
    let mut cache_hit = priced_call(None, "deepseek-chat", 0, 200_000);
    (cache_hit.prompt_tokens, cache_hit.cached_prompt_tokens) = (Some(1_000_000), Some(600_000));
    cache_hit.reasoning_tokens = Some(0);
    // The same call without the breakdown is charged as before, and counted so:
    // 1,000,000 × 2 + 200,000 × 8, per million = 3.6.
    let mut unbroken = cache_hit.clone();
    unbroken.id = Uuid::new_v4();
    unbroken.config_alias = Some("deepseek-main".into());
    (unbroken.cached_prompt_tokens, unbroken.reasoning_tokens) = (None, None);
    // 10,000 prompt tokens (2,000 cached), 50,000 completion tokens (30,000 reasoning):
    // 8,000 × 1.25 + 2,000 × 0.125 + 20,000 × 10 + 30,000 × 12, per million
    // = 0.01 + 0.00025 + 0.2 + 0.36 = 0.57025.
    let mut reasoning = priced_call(None, "o4-mini", 60, 50_000);
    reasoning.vendor = "openai".into();
    (reasoning.prompt_tokens, reasoning.cached_prompt_tokens) = (Some(10_000), Some(2_000));
    reasoning.reasoning_tokens = Some(30_000);
    reasoning.config_alias = Some("openai-o4".into());
    for call in [&cache_hit, &unbroken, &reasoning] {
        calls.save(call).await.unwrap();
    }
    let window = TimeWindow::new(at(-60), at(3_600)).unwrap();
    let by_config = prices
        .costs(CostScope::Window(window), CostBy::Config)
        .await
        .unwrap();
    let rows: Vec<_> = by_config
        .iter()
        .map(|r| {
            (
                r.group.as_str(),
                r.currency.as_deref(),
                r.cost.map(|c| (c * 1e9).round() / 1e9),
                r.cached_prompt_tokens,
                r.reasoning_tokens,
                r.calls_without_breakdown,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("-", Some("CNY"), Some(2.7), 600_000, 0, 0),
            ("deepseek-main", Some("CNY"), Some(3.6), 0, 0, 1),
            ("openai-o4", Some("USD"), Some(0.57025), 2_000, 30_000, 0),
        ]
    );
    // The stored call reads back with its kinds and alias.
    let stored = calls
        .list(
            &audit::LlmCallFilter::default(),
            shared_db::Page::first(10).unwrap(),
        )
        .await
        .unwrap();
    let read = stored.iter().find(|c| c.id == reasoning.id).unwrap();
    assert_eq!(
        (
            read.cached_prompt_tokens,
            read.reasoning_tokens,
            read.config_alias.as_deref()
        ),
        (Some(2_000), Some(30_000), Some("openai-o4"))
    );
    // A part larger than its whole, or without it, is refused naming the field.
    let mut bad = reasoning.clone();
    bad.id = Uuid::new_v4();
    bad.reasoning_tokens = Some(60_000);
    assert!(matches!(calls.save(&bad).await,
        Err(RepoError::Invalid(ref e)) if e.field == "reasoning_tokens"));
    bad.reasoning_tokens = None;
    bad.prompt_tokens = None;
    assert!(matches!(calls.save(&bad).await,
        Err(RepoError::Invalid(ref e)) if e.field == "cached_prompt_tokens"));
}
