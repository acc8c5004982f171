//! Bad audit logs.

use super::*;

/// LLM and external-API call logs.
#[tokio::test]
async fn audit_logs() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();
    for (field, value, call) in [
        (
            "caller_module",
            "",
            llm_call(|c| c.caller_module = String::new()),
        ),
        (
            "caller_module",
            "",
            llm_call(|c| c.caller_module = "m".repeat(51)),
        ),
        (
            "caller_agent",
            "",
            llm_call(|c| c.caller_agent = Some("a".repeat(51))),
        ),
        (
            "model_name",
            "",
            llm_call(|c| c.model_name = "m".repeat(101)),
        ),
        ("vendor", "", llm_call(|c| c.vendor = String::new())),
        ("temperature", "NaN", llm_call(|c| c.temperature = f64::NAN)),
        (
            "temperature",
            "inf",
            llm_call(|c| c.temperature = f64::INFINITY),
        ),
        ("latency_ms", "-1", llm_call(|c| c.latency_ms = -1)),
        (
            "prompt_tokens",
            "-10",
            llm_call(|c| c.prompt_tokens = Some(-10)),
        ),
        (
            "completion_tokens",
            "-1",
            llm_call(|c| c.completion_tokens = Some(-1)),
        ),
        (
            "total_tokens",
            "-2",
            llm_call(|c| c.total_tokens = Some(-2)),
        ),
    ] {
        cases.check(
            format!("llm call bad {field}"),
            field,
            value,
            db.llm_calls().save(&call).await,
        );
    }
    for (field, value, call) in [
        (
            "service_name",
            "",
            api_call(|c| c.service_name = String::new()),
        ),
        (
            "service_name",
            "",
            api_call(|c| c.service_name = "s".repeat(51)),
        ),
        ("operation", "", api_call(|c| c.operation = "o".repeat(101))),
        ("latency_ms", "-7", api_call(|c| c.latency_ms = -7)),
        ("status_code", "99", api_call(|c| c.status_code = Some(99))),
        (
            "status_code",
            "600",
            api_call(|c| c.status_code = Some(600)),
        ),
        (
            "request_params",
            "***",
            api_call(|c| {
                c.request_params = Some(json!(["token", {"api_key": "sk-bad-input-0002"}]))
            }),
        ),
        (
            "request_params",
            "q=1",
            api_call(|c| c.request_params = Some(json!("q=1&token=sk-bad-input-0003"))),
        ),
    ] {
        cases.check(
            format!("api call bad {field}"),
            field,
            value,
            db.api_calls().save(&call).await,
        );
    }
    cases.check_input(
        "window reversed",
        "from",
        "2024-06-03",
        audit::TimeWindow::new(at("2024-06-03T10:00:00"), at("2024-06-02T10:00:00")),
    );
    cases.check_input("call status", "status", "ok", "ok".parse::<CallStatus>());

    cases.judge();
    untouched(&test_db, 0).await;
}
