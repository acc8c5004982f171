//! Audit logs: every LLM call (`llm_call_logs`) and every external data-API call
//! (`external_api_call_logs`), with statistics over a time window computed in SQL, and
//! what the LLM calls cost at the model prices in force when they ran (`llm_model_prices`),
//! and the monthly partitions of both logs with their retention ([`RetentionRepository`]).
//! Secrets are redacted before anything is stored: request parameters, responses, error
//! messages and, unless a deployment keeps them verbatim ([`PromptStorage`]), prompts and
//! completions (see [`redact_text`]); every read redacts again.

mod domain;
mod entity;
mod postgres;
mod repository;

pub use domain::{
    ApiCallFilter, Budget, BudgetPeriod, BudgetScope, BudgetSpend, BudgetState, CallStats,
    CallStatus, CostBy, CostRow, CostScope, ExternalApiCallLog, LlmCallFilter, LlmCallLog,
    MONTHS_AHEAD, MaintenanceReport, ModelPrice, NEAR_SHARE, PartitionAction, PartitionStatus,
    PlannedPartition, PromptStorage, RetentionPlan, RetentionPolicy, RollupReport, SessionCalls,
    SplitReport, TimeWindow,
};
pub use postgres::{
    PgBudgetRepository, PgExternalApiCallLogRepository, PgLlmCallLogRepository,
    PgModelPriceRepository, PgRetentionRepository,
};
pub use repository::{
    BudgetRepository, ExternalApiCallLogRepository, LlmCallLogRepository, ModelPriceRepository,
    RetentionRepository,
};
pub use shared_db::{REDACTED, is_secret_name, redact_params, redact_text};
