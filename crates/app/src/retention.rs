//! [`Retention`]: the audit logs' partitions and retention, with what each drop takes from
//! research sessions that are kept — composed here because sessions are the coordinator's
//! and calls the audit's, and neither context's SQL names the other's tables.

use std::sync::Arc;

use chrono::NaiveDateTime;
use shared_db::{Db, RepoError};

use audit::{
    MaintenanceReport, PartitionAction, PartitionStatus, PgRetentionRepository, RetentionPlan,
    RetentionPolicy, RetentionRepository,
};
use coordinator::{PgResearchSessionRepository, ResearchSessionRepository};

/// The monthly partitions of both audit logs and their retention, always on the primary.
///
/// Plans and reports count, for each partition to drop, the calls that belong to research
/// sessions still stored (`calls_of_stored_sessions`, `stored_sessions`): those sessions
/// keep their record and nodes and lose these calls.
#[derive(Clone)]
pub struct Retention {
    logs: Arc<dyn RetentionRepository>,
    sessions: Arc<dyn ResearchSessionRepository>,
}

impl std::fmt::Debug for Retention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retention").finish_non_exhaustive()
    }
}

impl Retention {
    pub(crate) fn new(db: &Db) -> Self {
        let primary = db.primary();
        Self {
            logs: Arc::new(PgRetentionRepository::new(primary.clone())),
            sessions: Arc::new(PgResearchSessionRepository::new(primary)),
        }
    }

    /// What [`Retention::apply`] would do now under `policy`, changing nothing
    /// ([`RetentionRepository::plan`]), with the kept sessions' calls counted.
    pub async fn plan(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        let plan = self.logs.plan(policy).await?;
        self.count_stored_sessions(plan).await
    }

    /// Makes partitions ahead, then blanks and drops what `policy` says
    /// ([`RetentionRepository::apply`]); returns what it did, with the kept sessions'
    /// calls it dropped counted. Sessions are never deleted by retention, so counting them
    /// after the drop counts what the drop took.
    pub async fn apply(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        let plan = self.logs.apply(policy).await?;
        self.count_stored_sessions(plan).await
    }

    /// Partition maintenance ([`RetentionRepository::maintain`]): what a scheduler runs.
    pub async fn maintain(&self) -> Result<MaintenanceReport, RepoError> {
        self.logs.maintain().await
    }

    /// Where each log's partitions stand ([`RetentionRepository::status`]).
    pub async fn status(&self) -> Result<Vec<PartitionStatus>, RepoError> {
        self.logs.status().await
    }

    /// [`RetentionRepository::horizon`].
    pub async fn horizon(&self) -> Result<Option<NaiveDateTime>, RepoError> {
        self.logs.horizon().await
    }

    async fn count_stored_sessions(
        &self,
        mut plan: RetentionPlan,
    ) -> Result<RetentionPlan, RepoError> {
        let stored = self
            .sessions
            .stored_session_ids(&plan.sessions_losing_calls())
            .await?;
        for partition in &mut plan.partitions {
            if partition.action == PartitionAction::Drop {
                partition.count_stored_sessions(|id| stored.contains(id));
            }
        }
        Ok(plan)
    }
}
