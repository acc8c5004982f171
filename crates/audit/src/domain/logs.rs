//! Audit records of LLM and external-API calls, and their statistics.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared_db::{
    InvalidInput, check_finite, check_json, check_len, check_not_empty, check_not_negative,
    check_text,
};
use uuid::Uuid;

shared_db::string_enum! {
    /// How a call ended, stored as `success` / `failed`.
    pub enum CallStatus, field "status" {
        /// The call returned a usable answer.
        Success = "success",
        /// The call failed.
        Failed = "failed",
    }
}

/// How stockdb stores an LLM call's prompt, system message and completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PromptStorage {
    /// Secret-shaped content (keys, passwords, tokens: see [`crate::redact_text`]) masked
    /// before storing, every other byte as given. The default.
    #[default]
    Redacted,
    /// As given, for deployments that must keep prompts verbatim. Reads through stockdb
    /// still mask them; whoever reads the table directly sees what was sent.
    Verbatim,
}

/// One call to an LLM (`llm_call_logs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCallLog {
    /// 记录唯一标识, chosen by the application.
    pub id: Uuid,
    /// 关联 session (`None` outside a research session). Not a foreign key: logs outlive
    /// sessions.
    pub session_id: Option<Uuid>,
    /// 调用方模块名 (at most 50 characters).
    pub caller_module: String,
    /// 调用方 Agent 标识 (at most 50 characters).
    pub caller_agent: Option<String>,
    /// 模型名称 (at most 100 characters).
    pub model_name: String,
    /// 供应商 (at most 50 characters).
    pub vendor: String,
    /// 完整 user prompt.
    pub prompt_text: String,
    /// system prompt.
    pub system_message: Option<String>,
    /// LLM 完整输出.
    pub completion_text: Option<String>,
    /// prompt token 数.
    pub prompt_tokens: Option<i32>,
    /// completion token 数.
    pub completion_tokens: Option<i32>,
    /// 总 token 数.
    pub total_tokens: Option<i32>,
    /// Of the prompt tokens, those the vendor served from its cache (DeepSeek's
    /// `prompt_cache_hit_tokens`, OpenAI's `prompt_tokens_details.cached_tokens`): at most
    /// `prompt_tokens`, charged at the cached-input price. `None`: not reported.
    #[serde(default)]
    pub cached_prompt_tokens: Option<i32>,
    /// Of the completion tokens, those spent reasoning (`completion_tokens_details.
    /// reasoning_tokens`): at most `completion_tokens`, charged at the reasoning-output
    /// price where the model has one. `None`: not reported.
    #[serde(default)]
    pub reasoning_tokens: Option<i32>,
    /// The alias of the LLM configuration that served the call (at most 100 characters); the earlier
    /// service's rows have none.
    #[serde(default)]
    pub config_alias: Option<String>,
    /// 温度参数.
    pub temperature: f64,
    /// 调用耗时（毫秒）.
    pub latency_ms: i32,
    /// success / failed.
    pub status: CallStatus,
    /// 错误信息.
    pub error_message: Option<String>,
    /// 记录时间 (UTC).
    pub created_at: NaiveDateTime,
}

impl LlmCallLog {
    /// A successful call of `vendor`'s `model_name` by `caller_module`, recorded at
    /// `created_at` with a new id: no session, tokens unknown, latency 0 ms, temperature
    /// 0. Set the other fields the call has.
    pub fn new(
        caller_module: impl Into<String>,
        vendor: impl Into<String>,
        model_name: impl Into<String>,
        prompt_text: impl Into<String>,
        created_at: NaiveDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            session_id: None,
            caller_module: caller_module.into(),
            caller_agent: None,
            model_name: model_name.into(),
            vendor: vendor.into(),
            prompt_text: prompt_text.into(),
            system_message: None,
            completion_text: None,
            prompt_tokens: None,
            completion_tokens: None,
            total_tokens: None,
            cached_prompt_tokens: None,
            reasoning_tokens: None,
            config_alias: None,
            temperature: 0.0,
            latency_ms: 0,
            status: CallStatus::Success,
            error_message: None,
            created_at,
        }
    }

    /// Checks lengths, that numbers are finite and not negative.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("caller_module", &self.caller_module)?;
        check_not_empty("model_name", &self.model_name)?;
        check_not_empty("vendor", &self.vendor)?;
        check_len("caller_module", Some(&self.caller_module), 50)?;
        check_len("caller_agent", self.caller_agent.as_deref(), 50)?;
        check_len("model_name", Some(&self.model_name), 100)?;
        check_len("vendor", Some(&self.vendor), 50)?;
        check_finite("temperature", Some(self.temperature))?;
        check_not_negative("latency_ms", Some(self.latency_ms))?;
        check_not_negative("prompt_tokens", self.prompt_tokens)?;
        check_not_negative("completion_tokens", self.completion_tokens)?;
        check_not_negative("total_tokens", self.total_tokens)?;
        check_part(
            "cached_prompt_tokens",
            self.cached_prompt_tokens,
            "prompt_tokens",
            self.prompt_tokens,
        )?;
        check_part(
            "reasoning_tokens",
            self.reasoning_tokens,
            "completion_tokens",
            self.completion_tokens,
        )?;
        check_len("config_alias", self.config_alias.as_deref(), 100)?;
        check_text("prompt_text", Some(&self.prompt_text))?;
        check_text("system_message", self.system_message.as_deref())?;
        check_text("completion_text", self.completion_text.as_deref())?;
        check_text("error_message", self.error_message.as_deref())
    }
}

/// Checks that `part` (a kind of the tokens counted by `whole`) is not negative and not
/// more than `whole`, which must be known when `part` is.
fn check_part(
    field: &'static str,
    part: Option<i32>,
    whole_field: &str,
    whole: Option<i32>,
) -> Result<(), InvalidInput> {
    check_not_negative(field, part)?;
    match (part, whole) {
        (Some(part), None) => Err(InvalidInput::new(
            field,
            part,
            format!("given without {whole_field}, of which it is a part"),
        )),
        (Some(part), Some(whole)) if part > whole => Err(InvalidInput::new(
            field,
            part,
            format!("more than {whole_field} ({whole}), of which it is a part"),
        )),
        _ => Ok(()),
    }
}

/// One call to an external data API (`external_api_call_logs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalApiCallLog {
    /// 记录唯一标识, chosen by the application.
    pub id: Uuid,
    /// 关联 session (`None` outside a research session).
    pub session_id: Option<Uuid>,
    /// 服务名 (`tushare`, `bochai` …; at most 50 characters).
    pub service_name: String,
    /// 操作 (`daily`, `web-search` …; at most 100 characters).
    pub operation: String,
    /// 请求参数: a JSON object. Secret-looking keys are redacted before storing.
    pub request_params: Option<Value>,
    /// 完整响应.
    pub response_data: Option<String>,
    /// HTTP 状态码.
    pub status_code: Option<i32>,
    /// 调用耗时（毫秒）.
    pub latency_ms: i32,
    /// success / failed.
    pub status: CallStatus,
    /// 错误信息.
    pub error_message: Option<String>,
    /// 记录时间 (UTC).
    pub created_at: NaiveDateTime,
}

impl ExternalApiCallLog {
    /// A successful call of `service_name`'s `operation`, recorded at `created_at` with a
    /// new id: no session, no parameters or response, latency 0 ms. Set the other fields
    /// the call has.
    pub fn new(
        service_name: impl Into<String>,
        operation: impl Into<String>,
        created_at: NaiveDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            session_id: None,
            service_name: service_name.into(),
            operation: operation.into(),
            request_params: None,
            response_data: None,
            status_code: None,
            latency_ms: 0,
            status: CallStatus::Success,
            error_message: None,
            created_at,
        }
    }

    /// Checks lengths, that `request_params` is a JSON object and that numbers are sane.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("service_name", &self.service_name)?;
        check_not_empty("operation", &self.operation)?;
        check_len("service_name", Some(&self.service_name), 50)?;
        check_len("operation", Some(&self.operation), 100)?;
        check_not_negative("latency_ms", Some(self.latency_ms))?;
        check_text("response_data", self.response_data.as_deref())?;
        check_text("error_message", self.error_message.as_deref())?;
        check_json("request_params", self.request_params.as_ref())?;
        if let Some(code) = self.status_code.filter(|code| !(100..=599).contains(code)) {
            return Err(InvalidInput::new(
                "status_code",
                code,
                "not an HTTP status (100..=599)",
            ));
        }
        match &self.request_params {
            // Shown redacted: the value may hold the very secrets this field protects.
            Some(params) if !params.is_object() => Err(InvalidInput::new(
                "request_params",
                shared_db::redact_params(params),
                "must be a JSON object",
            )),
            _ => Ok(()),
        }
    }
}

/// Filters of the LLM call listing; `None` (or `false`) means no filter, and every filter
/// given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmCallFilter {
    /// Calls created at or after this time (UTC).
    pub since: Option<NaiveDateTime>,
    /// Calls created before this time (UTC).
    pub until: Option<NaiveDateTime>,
    /// Calls that ended so.
    pub status: Option<CallStatus>,
    /// Calls to this vendor (exact).
    pub vendor: Option<String>,
    /// Calls to this model (exact `model_name`).
    pub model: Option<String>,
    /// Calls of this research session.
    pub session_id: Option<Uuid>,
}

/// Filters of the external-API call listing, as [`LlmCallFilter`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiCallFilter {
    /// Calls created at or after this time (UTC).
    pub since: Option<NaiveDateTime>,
    /// Calls created before this time (UTC).
    pub until: Option<NaiveDateTime>,
    /// Calls that ended so.
    pub status: Option<CallStatus>,
    /// Calls to this service (exact `service_name`).
    pub service: Option<String>,
    /// Calls of this research session.
    pub session_id: Option<Uuid>,
}

/// A half-open time window `[from, to)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Inclusive start.
    pub from: NaiveDateTime,
    /// Exclusive end.
    pub to: NaiveDateTime,
}

impl TimeWindow {
    /// `[from, to)`; `from` must not be after `to`.
    pub fn new(from: NaiveDateTime, to: NaiveDateTime) -> Result<Self, InvalidInput> {
        if from > to {
            return Err(InvalidInput::new("from", from, format!("after to ({to})")));
        }
        Ok(Self { from, to })
    }
}

/// Call statistics of one group (a model of a vendor, or an external service).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallStats {
    /// The model (`vendor/model_name`) or the service name.
    pub group: String,
    /// Calls in the window.
    pub calls: i64,
    /// Calls whose status is `failed`.
    pub errors: i64,
    /// `errors / calls`.
    pub error_rate: f64,
    /// Sum of `prompt_tokens` (LLM calls; 0 for external APIs).
    pub prompt_tokens: i64,
    /// Sum of `completion_tokens`.
    pub completion_tokens: i64,
    /// Sum of `total_tokens`.
    pub total_tokens: i64,
    /// Mean latency of every call counted, ms.
    pub latency_mean_ms: f64,
    /// The calls the percentiles are of: those whose rows are stored. Fewer than `calls`
    /// when retention dropped some of the window's days, whose calls the daily rollup
    /// still counts (calls, errors, tokens, the mean) but cannot sort.
    pub latency_sampled: i64,
    /// Median latency, ms (continuous percentile, as `percentile_cont`); `None` when no
    /// call of the group is stored.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    pub latency_p95_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: Option<f64>,
}
