//! The contract services hold.

use async_trait::async_trait;
use chrono::NaiveDate;
use shared_db::{RepoError, UpsertReport};

use crate::domain::{ConceptHeat, LimitUpEntry};

/// Concept heat and the day's limit-up stocks (`mi_concept_heat`, `mi_limit_up_stock`),
/// shared with the earlier service's daily report.
#[async_trait]
pub trait MarketInsightRepository: Send + Sync {
    /// Upserts `rows` on `(trade_date, concept_code)` in one transaction (the last
    /// duplicate wins; an equal row is not rewritten; new and changed rows stamped with the
    /// handle's clock). Errors: `Invalid` naming the row and field; nothing is written.
    async fn save_concept_heat(&self, rows: Vec<ConceptHeat>) -> Result<UpsertReport, RepoError>;

    /// The boards of `day`, hottest first (by `avg_pct_chg`, then code), at most `top`.
    async fn concept_heat(
        &self,
        day: NaiveDate,
        top: Option<u64>,
    ) -> Result<Vec<ConceptHeat>, RepoError>;

    /// One board's days from `start` to `end` (inclusive), oldest first.
    async fn concept_heat_history(
        &self,
        concept_code: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<ConceptHeat>, RepoError>;

    /// Upserts `rows` on `(trade_date, third_code)`, as [`Self::save_concept_heat`] does.
    async fn save_limit_ups(&self, rows: Vec<LimitUpEntry>) -> Result<UpsertReport, RepoError>;

    /// The limit-up stocks of `day`, biggest change first (then code); with `concept`,
    /// only those in that board (the service's `concepts @> [{"code": …}]`).
    async fn limit_ups(
        &self,
        day: NaiveDate,
        concept: Option<&str>,
    ) -> Result<Vec<LimitUpEntry>, RepoError>;

    /// The newest day with concept heat, if any.
    async fn latest_day(&self) -> Result<Option<NaiveDate>, RepoError>;
}
