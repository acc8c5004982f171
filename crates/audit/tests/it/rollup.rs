//! The daily rollups: equal to the rows, caught up exactly and idempotently (calls saved
//! late, prices set for the past), and outliving the rows retention drops.

use audit::{
    CallStatus, CostBy, CostRow, CostScope, ExternalApiCallLogRepository, LlmCallLog,
    LlmCallLogRepository, ModelPrice, ModelPriceRepository, PgExternalApiCallLogRepository,
    PgLlmCallLogRepository, PgModelPriceRepository, PgRetentionRepository, RetentionPolicy,
    RetentionRepository, RollupReport, TimeWindow,
};
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use shared_db::utc_now;
use test_support::TestDb;
use uuid::Uuid;

use super::{api_call, llm_call};

/// The first instant of the month `back` months before the current one.
fn months_ago(back: u32) -> NaiveDateTime {
    let now = utc_now().date();
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap() - Months::new(back);
    first.and_hms_opt(0, 0, 0).unwrap()
}

fn price(vendor: &str, model: &str, from: NaiveDateTime, rates: [f64; 4]) -> ModelPrice {
    let [input, output, cached, reasoning] = rates;
    ModelPrice {
        vendor: vendor.into(),
        model: model.into(),
        effective_from: from,
        input_per_million: input,
        output_per_million: output,
        cached_input_per_million: Some(cached),
        reasoning_output_per_million: Some(reasoning),
        currency: if vendor == "openai" { "USD" } else { "CNY" }.into(),
    }
}

/// Call `i` of a fixed, varied set: three months of calls of three models (one unpriced),
/// four agents, two configurations and none, five sessions and none, some failed, some
/// with the token breakdown.
fn call(i: i64, start: NaiveDateTime, sessions: &[Uuid]) -> LlmCallLog {
    let (vendor, model) = [
        ("deepseek", "deepseek-chat"),
        ("openai", "o4-mini"),
        ("qwen", "qwen-max"),
    ][(i % 3) as usize];
    let status = if i % 11 == 0 {
        CallStatus::Failed
    } else {
        CallStatus::Success
    };
    let mut call = llm_call(None, model, 100 + (i % 17) as i32 * 40, status, 0);
    call.vendor = vendor.into();
    // Every 7 hours and 13 minutes over about three months.
    call.created_at = start + Duration::minutes(i * 433);
    call.caller_agent = ["valuation", "news", "risk", ""]
        .get((i % 4) as usize)
        .filter(|a| !a.is_empty())
        .map(|a| (*a).to_owned());
    call.config_alias = [Some("main"), Some("backup"), None][(i % 5 % 3) as usize].map(Into::into);
    call.session_id = sessions.get((i % 6) as usize).copied();
    call.prompt_tokens = Some(1_000 + (i as i32 % 7) * 300);
    call.completion_tokens = Some(200 + (i as i32 % 5) * 100);
    if i % 2 == 0 {
        call.cached_prompt_tokens = Some(i as i32 % 900);
        call.reasoning_tokens = Some(i as i32 % 150);
    }
    call
}

/// Costs as numbers that compare exactly: cost rounded to 1e-12.
fn rounded(rows: Vec<CostRow>) -> Vec<CostRow> {
    rows.into_iter()
        .map(|mut r| {
            r.cost = r.cost.map(|c| (c * 1e12).round() / 1e12);
            r
        })
        .collect()
}

/// Asserts two ledgers equal, naming the first row that differs.
fn assert_same(left: &[Vec<CostRow>], right: &[Vec<CostRow>], what: &str) {
    assert_eq!(left.len(), right.len(), "{what}");
    for (idx, (l, r)) in left.iter().zip(right).enumerate() {
        for (a, b) in l.iter().zip(r) {
            assert_eq!(a, b, "{what}: breakdown {idx}");
        }
        assert_eq!(l.len(), r.len(), "{what}: breakdown {idx}");
    }
}

/// Every breakdown of the window, and the cost of each session.
async fn ledger(
    prices: &PgModelPriceRepository,
    window: TimeWindow,
    sessions: &[Uuid],
) -> Vec<Vec<CostRow>> {
    let mut all = Vec::new();
    for by in [
        CostBy::Model,
        CostBy::Agent,
        CostBy::Config,
        CostBy::Day,
        CostBy::Total,
    ] {
        all.push(rounded(
            prices.costs(CostScope::Window(window), by).await.unwrap(),
        ));
    }
    for &session in sessions {
        all.push(rounded(
            prices
                .costs(CostScope::Session(session), CostBy::Total)
                .await
                .unwrap(),
        ));
    }
    all
}

/// Each session's cost by agent.
async fn by_agent(prices: &PgModelPriceRepository, sessions: &[Uuid]) -> Vec<Vec<CostRow>> {
    let mut all = Vec::new();
    for &session in sessions {
        all.push(rounded(
            prices
                .costs(CostScope::Session(session), CostBy::Agent)
                .await
                .unwrap(),
        ));
    }
    all
}

#[tokio::test]
async fn the_rollup_equals_the_rows_catches_up_exactly_and_outlives_retention() {
    let test_db = TestDb::new().await;
    let db = test_db.db().clone();
    let (calls, prices) = (
        PgLlmCallLogRepository::new(db.clone()),
        PgModelPriceRepository::new(db.clone()),
    );
    let retention = PgRetentionRepository::new(db.clone());
    let start = months_ago(5);
    prices
        .set(&price(
            "deepseek",
            "deepseek-*",
            start,
            [2.0, 8.0, 0.5, 8.0],
        ))
        .await
        .unwrap();
    prices
        .set(&price(
            "openai",
            "o4-mini",
            start,
            [1.25, 10.0, 0.125, 12.0],
        ))
        .await
        .unwrap();
    let sessions: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let n = 300;
    for i in 0..n {
        calls.save(&call(i, start, &sessions)).await.unwrap();
    }
    let api = PgExternalApiCallLogRepository::new(db.clone());
    for i in 0..40 {
        let status = if i % 7 == 0 {
            CallStatus::Failed
        } else {
            CallStatus::Success
        };
        let mut call = api_call(
            None,
            ["tushare", "bochai"][i % 2],
            50 + i as i32 * 10,
            status,
            0,
        );
        call.created_at = start + Duration::hours(i as i64 * 50);
        api.save(&call).await.unwrap();
    }
    let window = TimeWindow::new(months_ago(6), months_ago(0)).unwrap();
    // Nothing rolled up yet: every figure comes from the rows.
    let from_rows = ledger(&prices, window, &sessions).await;
    let agents_from_rows = by_agent(&prices, &sessions).await;
    let total = |ledger: &[Vec<CostRow>]| ledger[4].iter().map(|r| r.calls).sum::<i64>();
    assert_eq!(total(&from_rows), n);

    let report = retention.roll_up().await.unwrap();
    let days = i64::try_from(report.llm_days).unwrap();
    assert!(days > 80, "{report:?}");
    assert_eq!(report.llm_calls, 300);
    let rolled_up = ledger(&prices, window, &sessions).await;
    assert_same(
        &by_agent(&prices, &sessions).await,
        &agents_from_rows,
        "a session's stored calls are read from its rows",
    );
    assert_same(
        &rolled_up,
        &from_rows,
        "the rollup's totals equal the rows'",
    );
    assert_eq!(
        retention.roll_up().await.unwrap(),
        RollupReport::default(),
        "a second catch-up with nothing new does nothing"
    );
    let rolled: i64 = test_db
        .text("SELECT sum(calls)::text FROM llm_call_daily")
        .await
        .parse()
        .unwrap();
    assert_eq!(rolled, n, "every call is in the rollup once");

    // A call saved late, into a day already rolled up: counted from the next catch-up.
    let mut late = call(n, start, &sessions);
    late.created_at = start + Duration::hours(30);
    calls.save(&late).await.unwrap();
    assert_eq!(total(&ledger(&prices, window, &sessions).await), n);
    let report = retention.roll_up().await.unwrap();
    assert_eq!(report.llm_days, 1, "{report:?}");
    let caught_up = ledger(&prices, window, &sessions).await;
    assert_eq!(total(&caught_up), n + 1);
    // ... exactly as the rows say: with the rollup's days forgotten, reads use the rows.
    test_db.execute("DELETE FROM audit_rollup_days").await;
    assert_same(
        &ledger(&prices, window, &sessions).await,
        &caught_up,
        "late call",
    );
    retention.roll_up().await.unwrap();

    // A price set for the past reprices the days it covers that still have rows.
    let repriced_from = start + Duration::days(40);
    prices
        .set(&price(
            "deepseek",
            "deepseek-chat",
            repriced_from,
            [4.0, 16.0, 1.0, 16.0],
        ))
        .await
        .unwrap();
    let report = retention.roll_up().await.unwrap();
    assert!(
        report.llm_days >= u64::try_from(days).unwrap() - 41,
        "every day from the new price's on: {report:?}"
    );
    let repriced = ledger(&prices, window, &sessions).await;
    assert_ne!(repriced, caught_up);
    test_db.execute("DELETE FROM audit_rollup_days").await;
    assert_same(
        &ledger(&prices, window, &sessions).await,
        &repriced,
        "repriced",
    );
    retention.roll_up().await.unwrap();

    let llm_stats = calls.stats(window).await.unwrap();
    let api_stats = api.stats(window).await.unwrap();
    // Retention drops every partition of those months: costs by model, agent,
    // configuration, day and session are what they were.
    let plan = retention
        .apply(RetentionPolicy {
            keep_days: 31,
            blank_after_days: None,
        })
        .await
        .unwrap();
    assert!(
        plan.partitions
            .iter()
            .any(|p| p.action == audit::PartitionAction::Drop)
    );
    let left: i64 = test_db
        .text(&format!(
            "SELECT count(*)::text FROM llm_call_logs WHERE created_at < '{}'",
            months_ago(1)
        ))
        .await
        .parse()
        .unwrap();
    assert_eq!(left, 0, "the rows are gone");
    assert_same(
        &ledger(&prices, window, &sessions).await,
        &repriced,
        "after retention",
    );
    // Statistics count the dropped days from the rollup; only percentiles need rows.
    for (before, after) in [
        (&llm_stats, &calls.stats(window).await.unwrap()),
        (&api_stats, &api.stats(window).await.unwrap()),
    ] {
        assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(after) {
            assert_eq!(
                (
                    &b.group,
                    b.calls,
                    b.errors,
                    b.prompt_tokens,
                    b.completion_tokens,
                    b.total_tokens
                ),
                (
                    &a.group,
                    a.calls,
                    a.errors,
                    a.prompt_tokens,
                    a.completion_tokens,
                    a.total_tokens
                )
            );
            assert!(
                (b.latency_mean_ms - a.latency_mean_ms).abs() < 1e-9,
                "{b:?} {a:?}"
            );
            assert_eq!((a.latency_sampled, a.latency_p50_ms), (0, None), "{a:?}");
        }
    }
    // A session's breakdown by agent needs its rows: what they cost is one group now.
    for (by_agent, total) in by_agent(&prices, &sessions)
        .await
        .iter()
        .zip(&repriced[5..])
    {
        assert!(
            by_agent.iter().all(|r| r.group == "(past retention)"),
            "{by_agent:?}"
        );
        let calls = |rows: &[CostRow]| rows.iter().map(|r| r.calls).sum::<i64>();
        assert_eq!(calls(by_agent), calls(total));
    }
    // A price set later for that past changes nothing: its rows are gone.
    prices
        .set(&price(
            "openai",
            "o4-mini",
            start + Duration::days(1),
            [9.0, 9.0, 9.0, 9.0],
        ))
        .await
        .unwrap();
    assert_eq!(retention.roll_up().await.unwrap(), RollupReport::default());
    assert_same(
        &ledger(&prices, window, &sessions).await,
        &repriced,
        "a price for dropped days",
    );
}
