//! Budgets per configuration and model, per day and month, and the spend against them.

use std::sync::Arc;

use audit::{
    Budget, BudgetPeriod, BudgetRepository, BudgetScope, BudgetState, LlmCallLogRepository,
    ModelPrice, ModelPriceRepository, PgBudgetRepository, PgLlmCallLogRepository,
    PgModelPriceRepository, PgRetentionRepository, RetentionRepository,
};
use chrono::{Duration, NaiveDateTime};
use shared_db::{ManualClock, RepoError};
use test_support::TestDb;

use super::llm_call;

fn budget(scope: BudgetScope, target: &str, period: BudgetPeriod, amount: f64) -> Budget {
    Budget {
        scope,
        target: target.into(),
        period,
        amount,
        currency: "CNY".into(),
    }
}

#[tokio::test]
async fn spend_counts_this_periods_calls_of_the_configuration_or_model_in_its_currency() {
    let test_db = TestDb::new().await;
    // 2026-03-20 15:00 UTC, and the days before it.
    let now: NaiveDateTime = "2026-03-20T15:00:00".parse().unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let db = test_db.db().with_clock(clock.clone());
    let (calls, prices, budgets) = (
        PgLlmCallLogRepository::new(db.clone()),
        PgModelPriceRepository::new(db.clone()),
        PgBudgetRepository::new(db.clone()),
    );
    prices
        .set(&ModelPrice {
            vendor: "deepseek".into(),
            model: "deepseek-chat".into(),
            effective_from: "2026-01-01T00:00:00".parse().unwrap(),
            input_per_million: 2.0,
            output_per_million: 8.0,
            cached_input_per_million: Some(0.5),
            reasoning_output_per_million: None,
            currency: "CNY".into(),
        })
        .await
        .unwrap();
    // Each call: 1,000,000 prompt tokens (half cached), 100,000 completion tokens:
    // 0.5 × 2 + 0.5 × 0.5 + 0.1 × 8 = 2.05 CNY.
    let save = |at: NaiveDateTime, alias: Option<&str>, model: &str| {
        let mut call = llm_call(None, model, 100, audit::CallStatus::Success, 0);
        call.created_at = at;
        call.config_alias = alias.map(Into::into);
        (call.prompt_tokens, call.cached_prompt_tokens) = (Some(1_000_000), Some(500_000));
        (call.completion_tokens, call.reasoning_tokens) = (Some(100_000), Some(0));
        call
    };
    for call in [
        save(now - Duration::hours(2), Some("research"), "deepseek-chat"), // today
        save(now - Duration::days(3), Some("research"), "deepseek-chat"),  // this month
        save(now - Duration::days(25), Some("research"), "deepseek-chat"), // last month
        save(now - Duration::hours(1), Some("backup"), "deepseek-chat"),   // another config
        save(now - Duration::hours(1), Some("research"), "qwen-max"),      // unpriced
    ] {
        calls.save(&call).await.unwrap();
    }
    for b in [
        budget(BudgetScope::Config, "research", BudgetPeriod::Day, 2.5),
        budget(BudgetScope::Config, "research", BudgetPeriod::Month, 4.0),
        budget(
            BudgetScope::Model,
            "deepseek/deepseek-chat",
            BudgetPeriod::Day,
            100.0,
        ),
    ] {
        budgets.set(&b).await.unwrap();
    }
    // Setting one again replaces its amount.
    budgets
        .set(&budget(
            BudgetScope::Config,
            "research",
            BudgetPeriod::Month,
            5.0,
        ))
        .await
        .unwrap();
    let shown =
        |spend: Vec<audit::BudgetSpend>| -> Vec<(String, BudgetPeriod, f64, f64, BudgetState)> {
            spend
                .into_iter()
                .map(|s| {
                    (
                        s.budget.target,
                        s.budget.period,
                        s.budget.amount,
                        (s.spent * 1e6).round() / 1e6,
                        s.state,
                    )
                })
                .collect()
        };
    // By scope (configurations first), target, period.
    let expected = vec![
        // Today's call of `research`: 2.05 of 2.5 is 82 %.
        (
            "research".to_owned(),
            BudgetPeriod::Day,
            2.5,
            2.05,
            BudgetState::Near,
        ),
        // March's: 4.1 of 5.
        (
            "research".to_owned(),
            BudgetPeriod::Month,
            5.0,
            4.1,
            BudgetState::Near,
        ),
        // The model's calls of today, both configurations: 2 × 2.05.
        (
            "deepseek/deepseek-chat".to_owned(),
            BudgetPeriod::Day,
            100.0,
            4.1,
            BudgetState::Within,
        ),
    ];
    assert_eq!(shown(budgets.spend().await.unwrap()), expected);
    // The same once the closed days are rolled up: the month's earlier day comes from the
    // rollup, today's from the rows.
    let report = PgRetentionRepository::new(db.clone())
        .roll_up()
        .await
        .unwrap();
    assert_eq!(report.llm_days, 2, "{report:?}");
    assert_eq!(shown(budgets.spend().await.unwrap()), expected);
    // A router asks for one configuration of one model.
    let research = shown(
        budgets
            .spend_for("research", Some("deepseek/deepseek-chat"))
            .await
            .unwrap(),
    );
    assert_eq!(research, expected);
    assert_eq!(
        shown(
            budgets
                .spend_for("backup", Some("deepseek/deepseek-chat"))
                .await
                .unwrap()
        ),
        expected[2..]
    );
    // A day later the day budget starts again; the month's goes on.
    clock.advance(Duration::days(1));
    let next_day = shown(budgets.spend().await.unwrap());
    assert_eq!((next_day[0].3, next_day[1].3), (0.0, 4.1));
    // Removing, and bad budgets named by field.
    assert!(
        budgets
            .remove(BudgetScope::Config, "research", BudgetPeriod::Day, "CNY")
            .await
            .unwrap()
    );
    assert!(
        !budgets
            .remove(BudgetScope::Config, "research", BudgetPeriod::Day, "CNY")
            .await
            .unwrap()
    );
    assert!(matches!(
        budgets.set(&budget(BudgetScope::Model, "qwen-max", BudgetPeriod::Day, 1.0)).await,
        Err(RepoError::Invalid(ref e)) if e.field == "target"
    ));
}
