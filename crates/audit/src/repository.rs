//! The contracts of the audit logs.

use async_trait::async_trait;
use shared_db::{Page, RepoError};
use uuid::Uuid;

use crate::domain::{
    ApiCallFilter, CallStats, ExternalApiCallLog, LlmCallFilter, LlmCallLog, TimeWindow,
};

/// Audit log of LLM calls (`llm_call_logs`).
#[async_trait]
pub trait LlmCallLogRepository: Send + Sync {
    /// Stores one call, with secrets in `error_message` redacted first (a provider's error
    /// may quote the key it refused). An existing id is `Conflict`.
    async fn save(&self, log: &LlmCallLog) -> Result<(), RepoError>;

    /// The calls of session `session_id`, oldest `created_at` first (then by id).
    async fn get_by_session_id(&self, session_id: Uuid) -> Result<Vec<LlmCallLog>, RepoError>;

    /// Statistics of the calls created in `window`, one row per `vendor/model_name`,
    /// ordered by group; computed in SQL.
    async fn stats(&self, window: TimeWindow) -> Result<Vec<CallStats>, RepoError>;

    /// One page of the calls matching `filter`, newest `created_at` first (then by id).
    /// Served by the `created_at` index (and the session index for a session), so a page
    /// costs the same however long the history. Secrets in the texts are redacted on the
    /// way out too, for rows another writer (the earlier service) stored unredacted.
    async fn list(&self, filter: &LlmCallFilter, page: Page) -> Result<Vec<LlmCallLog>, RepoError>;
}

/// Audit log of external data-API calls (`external_api_call_logs`).
#[async_trait]
pub trait ExternalApiCallLogRepository: Send + Sync {
    /// Stores one call, with secrets in `request_params`, `response_data` and
    /// `error_message` redacted first (see [`crate::redact_params`],
    /// [`crate::redact_text`]). An existing id is `Conflict`.
    async fn save(&self, log: &ExternalApiCallLog) -> Result<(), RepoError>;

    /// The calls of session `session_id`, oldest `created_at` first (then by id).
    async fn get_by_session_id(
        &self,
        session_id: Uuid,
    ) -> Result<Vec<ExternalApiCallLog>, RepoError>;

    /// Statistics of the calls created in `window`, one row per `service_name`, ordered by
    /// service; token sums are 0. Computed in SQL.
    async fn stats(&self, window: TimeWindow) -> Result<Vec<CallStats>, RepoError>;

    /// One page of the calls matching `filter`, newest first, as
    /// [`LlmCallLogRepository::list`]; request parameters, response and error redacted.
    async fn list(
        &self,
        filter: &ApiCallFilter,
        page: Page,
    ) -> Result<Vec<ExternalApiCallLog>, RepoError>;
}
