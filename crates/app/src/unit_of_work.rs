//! [`UnitOfWork`]: the research-trace repositories bound to one transaction, so that a
//! service finishing a session writes its status, its last node and its calls all or
//! nothing.

use audit::{
    ExternalApiCallLogRepository, LlmCallLogRepository, PgExternalApiCallLogRepository,
    PgLlmCallLogRepository, PromptStorage,
};
use coordinator::{PgResearchSessionRepository, ResearchSessionRepository};
use shared_db::{Db, RepoError};

/// Repositories whose every call runs in one transaction on the primary, committed by
/// [`UnitOfWork::commit`] or rolled back by [`UnitOfWork::rollback`] (or by dropping it).
///
/// Reads inside see the unit's own writes. The repositories are lent (`&dyn …`), so none
/// can outlive the unit. It holds one pooled connection until it ends: keep it short.
///
/// It covers what a research trace writes: sessions and node executions, LLM calls and
/// external-API calls. Market data and sync batches have atomic writes of their own
/// (`save_all`, `commit_batch`) and are not part of it.
///
/// ```no_run
/// # async fn finish(
/// #     db: &stockdb::Stockdb,
/// #     node: stockdb::coordinator::NodeExecution,
/// #     call: stockdb::audit::LlmCallLog,
/// # ) -> Result<(), stockdb::RepoError> {
/// use stockdb::coordinator::SessionStatus;
///
/// let work = db.unit_of_work().await?;
/// work.sessions().save_node_execution(&node).await?;
/// work.llm_calls().save(&call).await?;
/// work.sessions()
///     .update_session(node.session_id, SessionStatus::Completed, node.completed_at, None)
///     .await?;
/// work.commit().await // or nothing of the three is stored
/// # }
/// ```
#[derive(Debug)]
pub struct UnitOfWork {
    db: Db,
    sessions: PgResearchSessionRepository,
    llm_calls: PgLlmCallLogRepository,
    api_calls: PgExternalApiCallLogRepository,
}

impl UnitOfWork {
    pub(crate) async fn begin(db: &Db, prompts: PromptStorage) -> Result<Self, RepoError> {
        let db = db.begin().await?;
        Ok(Self {
            sessions: PgResearchSessionRepository::new(db.clone()),
            llm_calls: PgLlmCallLogRepository::new(db.clone()).with_prompt_storage(prompts),
            api_calls: PgExternalApiCallLogRepository::new(db.clone()),
            db,
        })
    }

    /// Research sessions and node executions, in this unit.
    pub fn sessions(&self) -> &dyn ResearchSessionRepository {
        &self.sessions
    }

    /// The audit log of LLM calls, in this unit.
    pub fn llm_calls(&self) -> &dyn LlmCallLogRepository {
        &self.llm_calls
    }

    /// The audit log of external API calls, in this unit.
    pub fn api_calls(&self) -> &dyn ExternalApiCallLogRepository {
        &self.api_calls
    }

    /// Commits every write of the unit at once. On an error nothing of it is stored.
    pub async fn commit(self) -> Result<(), RepoError> {
        self.into_db().commit().await
    }

    /// Discards every write of the unit.
    pub async fn rollback(self) -> Result<(), RepoError> {
        self.into_db().rollback().await
    }

    /// The bound handle, alone: the repositories hold the transaction too, and it can end
    /// only once they are gone.
    fn into_db(self) -> Db {
        let Self {
            db,
            sessions,
            llm_calls,
            api_calls,
        } = self;
        drop((sessions, llm_calls, api_calls));
        db
    }
}
