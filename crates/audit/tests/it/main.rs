//! Repository tests of audit against PostgreSQL, one module per room: the call logs
//! (saving, per-session history, statistics on a known data set, listings, redaction),
//! prices and costs, retention of the partitioned logs.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use audit::{CallStatus, ExternalApiCallLog, LlmCallLog};
use chrono::{Duration, NaiveDateTime};
use serde_json::json;
use uuid::Uuid;

mod budgets;
mod logs;
mod prices;
mod retention;
mod rollup;

pub(crate) fn at(seconds: i64) -> NaiveDateTime {
    "2024-06-03T10:00:00".parse::<NaiveDateTime>().unwrap() + Duration::seconds(seconds)
}

pub(crate) fn llm_call(
    session: Option<Uuid>,
    model: &str,
    latency_ms: i32,
    status: CallStatus,
    seconds: i64,
) -> LlmCallLog {
    let mut call = LlmCallLog::new(
        "research",
        "deepseek",
        model,
        "分析贵州茅台的估值",
        at(seconds),
    );
    call.session_id = session;
    call.caller_agent = Some("valuation-agent".into());
    call.system_message = Some("你是一名分析师".into());
    call.prompt_tokens = Some(100);
    call.completion_tokens = Some(latency_ms / 10);
    call.total_tokens = Some(100 + latency_ms / 10);
    call.temperature = 0.7;
    call.latency_ms = latency_ms;
    call.status = status;
    if status == CallStatus::Success {
        call.completion_text = Some("估值偏高".into());
    } else {
        call.error_message = Some("rate limited".into());
    }
    call
}

pub(crate) fn api_call(
    session: Option<Uuid>,
    service: &str,
    latency_ms: i32,
    status: CallStatus,
    seconds: i64,
) -> ExternalApiCallLog {
    let mut call = ExternalApiCallLog::new(service, "daily", at(seconds));
    call.session_id = session;
    call.request_params = Some(json!({"ts_code": "600519.SH", "start_date": "20240101"}));
    call.response_data = Some("[...]".into());
    call.status_code = Some(if status == CallStatus::Success {
        200
    } else {
        500
    });
    call.latency_ms = latency_ms;
    call.status = status;
    call
}
