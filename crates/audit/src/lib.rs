//! Audit logs: every LLM call (`llm_call_logs`) and every external data-API call
//! (`external_api_call_logs`), with statistics over a time window computed in SQL, and
//! what the LLM calls cost at the model prices in force when they ran (`llm_model_prices`),
//! and the monthly partitions of both logs with their retention ([`RetentionRepository`]).
//! Secrets are redacted before anything is stored: request parameters, responses and error
//! messages (see [`redact_text`]).

mod cost;
mod domain;
mod entity;
mod postgres;
mod redact;
mod repository;
mod retention;

pub use cost::{
    CostBy, CostRow, CostScope, ModelPrice, ModelPriceRepository, PgModelPriceRepository,
};
pub use domain::{
    ApiCallFilter, CallStats, CallStatus, ExternalApiCallLog, LlmCallFilter, LlmCallLog, TimeWindow,
};
pub use postgres::{PgExternalApiCallLogRepository, PgLlmCallLogRepository};
pub use redact::{REDACTED, is_secret_name, redact_params, redact_text};
pub use repository::{ExternalApiCallLogRepository, LlmCallLogRepository};
pub use retention::{
    MONTHS_AHEAD, PartitionAction, PgRetentionRepository, PlannedPartition, RetentionPlan,
    RetentionPolicy, RetentionRepository, SessionCalls, parse_days,
};
