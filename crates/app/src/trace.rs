//! [`SessionTrace`]: one research session with everything recorded of it, read across the
//! coordinator's and the audit's repositories as one consistent snapshot.

use chrono::NaiveDateTime;
use serde::Serialize;
use shared_db::{Db, RepoError};
use uuid::Uuid;

use audit::{
    CostBy, CostRow, CostScope, ExternalApiCallLog, ExternalApiCallLogRepository as _, LlmCallLog,
    LlmCallLogRepository as _, ModelPriceRepository as _, PgExternalApiCallLogRepository,
    PgLlmCallLogRepository, PgModelPriceRepository, PgRetentionRepository,
    RetentionRepository as _,
};
use coordinator::{
    NodeExecution, PgResearchSessionRepository, ResearchSession, ResearchSessionRepository as _,
};

/// A research session's trace: the session, its nodes in order, the LLM and external-API
/// calls it made, the sessions that retried it, and what its LLM calls cost.
///
/// Serialises to the JSON `stockdb sessions show --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionTrace {
    /// The session.
    pub session: ResearchSession,
    /// Set when audit retention has dropped history from before the session began: its
    /// calls before this time are gone (and not in `cost`), so fewer calls than it made may
    /// be listed. `None` when all of its calls that were stored still are.
    pub calls_dropped_before: Option<NaiveDateTime>,
    /// Its node executions, by `started_at` (then id).
    pub nodes: Vec<NodeExecution>,
    /// Its LLM calls, oldest first; secrets redacted.
    pub llm_calls: Vec<LlmCallLog>,
    /// Its external-API calls, oldest first; secrets redacted.
    pub api_calls: Vec<ExternalApiCallLog>,
    /// Sessions that retried it, oldest first.
    pub retries: Vec<ResearchSession>,
    /// What its LLM calls cost, at the prices in force when each ran.
    pub cost: SessionCost,
}

/// What a session's LLM calls cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionCost {
    /// In total, one row per currency (and one for unpriced calls).
    pub total: Vec<CostRow>,
    /// Per agent (node), as [`CostBy::Agent`] groups them.
    pub by_agent: Vec<CostRow>,
}

/// The trace of session `id` on `db`, a handle bound to one snapshot; `None` when there is
/// no such session.
pub(crate) async fn read(db: Db, id: Uuid) -> Result<Option<SessionTrace>, RepoError> {
    let sessions = PgResearchSessionRepository::new(db.clone());
    let Some(session) = sessions.get_session_by_id(id).await? else {
        return Ok(None);
    };
    let prices = PgModelPriceRepository::new(db.clone());
    let scope = CostScope::Session(id);
    let calls_dropped_before = PgRetentionRepository::new(db.clone())
        .horizon()
        .await?
        .filter(|horizon| session.created_at < *horizon);
    Ok(Some(SessionTrace {
        calls_dropped_before,
        nodes: sessions.get_node_executions_by_session(id).await?,
        llm_calls: PgLlmCallLogRepository::new(db.clone())
            .get_by_session_id(id)
            .await?,
        api_calls: PgExternalApiCallLogRepository::new(db.clone())
            .get_by_session_id(id)
            .await?,
        retries: sessions.list_retries(id).await?,
        cost: SessionCost {
            total: prices.costs(scope, CostBy::Total).await?,
            by_agent: prices.costs(scope, CostBy::Agent).await?,
        },
        session,
    }))
}
