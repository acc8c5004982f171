//! The contracts of the audit context: the two call logs, model prices and costs, and the
//! logs' partitions and retention.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use shared_db::{Page, RepoError};
use uuid::Uuid;

use crate::domain::{
    ApiCallFilter, Budget, BudgetPeriod, BudgetScope, BudgetSpend, CallStats, CostBy, CostRow,
    CostScope, ExternalApiCallLog, LlmCallFilter, LlmCallLog, MaintenanceReport, ModelPrice,
    PartitionStatus, RetentionPlan, RetentionPolicy, RollupReport, TimeWindow,
};

/// Audit log of LLM calls (`llm_call_logs`).
#[async_trait]
pub trait LlmCallLogRepository: Send + Sync {
    /// Stores one call, with secrets in `error_message` redacted first (a provider's error
    /// may quote the key it refused), and in the prompt, system message and completion
    /// unless the repository keeps them verbatim (`PromptStorage`). An id already stored, whatever its `created_at`
    /// (the key is `(id, created_at)` across monthly partitions), is `Conflict`: one call
    /// is counted once by statistics and costs.
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
    /// [`crate::redact_text`]). An id already stored, whatever its `created_at`, is
    /// `Conflict`.
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

/// Model prices (`llm_model_prices`).
#[async_trait]
pub trait ModelPriceRepository: Send + Sync {
    /// Records a price from `price.effective_from` on. Prices are history: a price of the
    /// same vendor, model and time already stored is `Conflict` (record a later one).
    async fn set(&self, price: &ModelPrice) -> Result<(), RepoError>;

    /// Every price, of one vendor or of all, by vendor, model, then `effective_from`.
    async fn list(&self, vendor: Option<&str>) -> Result<Vec<ModelPrice>, RepoError>;

    /// What the LLM calls of `scope` cost, broken down `by`, ordered by group then
    /// currency (unpriced last). A call costs `prompt_tokens × input + completion_tokens ×
    /// output` per million, at the price in force when it was created: the most specific
    /// one (an exact model name over a prefix, a longer prefix over a shorter) of those
    /// of its vendor with `effective_from` at or before the call; among the prices of that
    /// model or prefix, the newest such. A call before any price of its model is unpriced.
    async fn costs(&self, scope: CostScope, by: CostBy) -> Result<Vec<CostRow>, RepoError>;
}

/// Spending budgets (`llm_budgets`) and the spend against them.
#[async_trait]
pub trait BudgetRepository: Send + Sync {
    /// Sets `budget`: one per scope, target, period and currency; setting it again
    /// replaces its amount.
    async fn set(&self, budget: &Budget) -> Result<(), RepoError>;

    /// Removes a budget; `false` when there was none.
    async fn remove(
        &self,
        scope: BudgetScope,
        target: &str,
        period: BudgetPeriod,
        currency: &str,
    ) -> Result<bool, RepoError>;

    /// Every budget with what its current period (by the handle's clock) has spent, by
    /// scope, target, period and currency. Spend is read as costs are: the days the rollup
    /// covers from it, the others from the rows; calls priced in another currency, or
    /// unpriced, do not count.
    async fn spend(&self) -> Result<Vec<BudgetSpend>, RepoError>;

    /// The budgets that cover a call served by configuration `config_alias` of model
    /// `model` (`vendor/model_name`), with their spend: what a router asks before a call.
    /// Reads the rollup and only that configuration's or model's calls of the days not
    /// rolled up yet (today's, once a day is caught up).
    async fn spend_for(
        &self,
        config_alias: &str,
        model: Option<&str>,
    ) -> Result<Vec<BudgetSpend>, RepoError>;
}

/// Partitions and retention of the audit logs.
#[async_trait]
pub trait RetentionRepository: Send + Sync {
    /// What [`RetentionRepository::apply`] would do now (by the handle's clock) under
    /// `policy`, changing nothing. A converted partition not split yet is listed with
    /// action `Split`, followed by the months its split would make (`pending`), each with
    /// what would happen to it.
    async fn plan(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError>;

    /// Runs [`RetentionRepository::maintain`] first, then blanks and drops what `policy`
    /// says, partition by partition (a partition's days rolled up in the transaction that
    /// drops it, so no call it held is missing from the rollup), each in its own short transaction (a lock is waited
    /// for at most 1 s, then tried again). Returns what it did.
    ///
    /// One run at a time (with `maintain` too): a second one fails with `RepoError::Busy`
    /// at once. A run killed half way leaves every partition either done or untouched;
    /// running it again finishes.
    async fn apply(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError>;

    /// Partition maintenance, which needs no policy and suits a scheduler: splits a
    /// converted partition into months (online: its rows are copied month by month while
    /// writers go on, then swapped in by one short transaction), moves the rows the
    /// default partitions caught into partitions of their months, makes the months
    /// from the current one through [`MONTHS_AHEAD`](crate::MONTHS_AHEAD) ahead, and
    /// rolls up the closed days ([`RetentionRepository::roll_up`]). Every
    /// step holds locks that block writers for at most a moment (1 s, retried), and a run
    /// killed at any point is finished by the next. One run at a time, as `apply`.
    async fn maintain(&self) -> Result<MaintenanceReport, RepoError>;

    /// The rollup catch-up: rolls up every closed day (before today by the handle's clock)
    /// whose rollup is missing or stale, from its rows; see [`RollupReport`] for what
    /// makes a day stale. Exact and idempotent: a second run with nothing new does
    /// nothing. `maintain` (and so `apply`) runs it too. One run at a time, as `apply`.
    async fn roll_up(&self) -> Result<RollupReport, RepoError>;

    /// Where each log's partitions stand: how far ahead months are ready, what the
    /// default partition holds, whether a converted partition awaits its split.
    async fn status(&self) -> Result<Vec<PartitionStatus>, RepoError>;

    /// The oldest time whose calls are still stored in both logs: the lower bound of
    /// their oldest partitions, the later of the two. `None` while a partition from the
    /// beginning of time (the converted one, or a split's oldest month of a log that had
    /// calls before it) is kept.
    async fn horizon(&self) -> Result<Option<NaiveDateTime>, RepoError>;
}
