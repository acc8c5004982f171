//! `ResearchSessionRepository`: the contract of research traces.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use shared_db::{Page, RepoError};
use uuid::Uuid;

use crate::domain::{NodeExecution, ResearchSession, SessionFilter, SessionStatus};

/// Research sessions and their node executions.
#[async_trait]
pub trait ResearchSessionRepository: Send + Sync {
    /// Stores a new session (a first run, or a retry pointing at its parent with
    /// `parent_session_id`). An existing id is `Conflict`; an unknown parent `NotFound`.
    async fn save_session(&self, session: &ResearchSession) -> Result<(), RepoError>;

    /// The retries of session `parent` (those whose `parent_session_id` is `parent`),
    /// oldest first; empty when it has none.
    async fn list_retries(&self, parent: Uuid) -> Result<Vec<ResearchSession>, RepoError>;

    /// Finishes the running session `id`: sets its status, completion time and duration,
    /// and returns it. `NotFound` for an unknown id; `StateConflict` when the session is
    /// not `running` any more (only a running session can be finished); `Invalid` when
    /// `status` is `running`.
    async fn update_session(
        &self,
        id: Uuid,
        status: SessionStatus,
        completed_at: Option<NaiveDateTime>,
        duration_ms: Option<i32>,
    ) -> Result<ResearchSession, RepoError>;

    /// Stores a node execution, with secrets in `result_data`, `narrative_report` and
    /// `error_message` redacted first (a node may quote a key it was given or refused);
    /// every read redacts them again, for rows another writer stored. An unknown
    /// `session_id` is `NotFound`; an existing id is `Conflict`.
    async fn save_node_execution(&self, execution: &NodeExecution) -> Result<(), RepoError>;

    /// The session `id`, if any.
    async fn get_session_by_id(&self, id: Uuid) -> Result<Option<ResearchSession>, RepoError>;

    /// Sessions matching `filter`, newest `created_at` first (then by id), one page
    /// (the earlier service's default was 20 rows).
    async fn list_sessions(
        &self,
        filter: &SessionFilter,
        page: Page,
    ) -> Result<Vec<ResearchSession>, RepoError>;

    /// The node executions of session `id`, by `started_at` ascending (then by id); empty
    /// for an unknown session.
    async fn get_node_executions_by_session(
        &self,
        id: Uuid,
    ) -> Result<Vec<NodeExecution>, RepoError>;

    /// Which of `ids` are stored sessions (in no particular order; unknown ids are left
    /// out). One query however many ids: what retention asks of the sessions whose calls a
    /// dropped partition holds.
    async fn stored_session_ids(&self, ids: &[Uuid]) -> Result<HashSet<Uuid>, RepoError>;

    /// Deletes the session `id` and, by the foreign key's cascade, its node executions;
    /// false when there was none. A session that retries point at is `Conflict` (delete
    /// the retries first): the earlier service's foreign key has no cascade.
    async fn delete_session(&self, id: Uuid) -> Result<bool, RepoError>;
}
