//! Audit logs: every LLM call (`llm_call_logs`) and every external data-API call
//! (`external_api_call_logs`), with statistics over a time window computed in SQL.
//! Secret-looking request parameters are redacted before they are stored.

mod domain;
mod entity;
mod postgres;
mod redact;
mod repository;

pub use domain::{CallStats, CallStatus, ExternalApiCallLog, LlmCallLog, TimeWindow};
pub use postgres::{PgExternalApiCallLogRepository, PgLlmCallLogRepository};
pub use redact::{REDACTED, is_secret_name, redact_params};
pub use repository::{ExternalApiCallLogRepository, LlmCallLogRepository};
