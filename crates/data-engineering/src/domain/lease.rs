//! A leased run of a sync task: the lease that fences its writes, its batches and how it
//! ends.

use uuid::Uuid;

use super::{BatchRows, SyncFailureRecord, SyncTask, SyncTaskStatus};

/// A sync task held by one run: returned by `SyncRepository::take` and
/// `SyncRepository::claim_next`, and passed to every write of the run.
///
/// While a lease lives, nobody else can take its task (`RepoError::Busy`). Every write of
/// the run is fenced by the lease's token, checked in the statement that advances the
/// task: once another run has taken the task over (this process lost its hold, say its
/// connection died), this run's next write fails with `RepoError::Superseded` and writes
/// nothing. Dropping a lease without `SyncRepository::release` leaves its task `RUNNING`,
/// as a crash would; the next `take` recovers it.
pub struct TaskLease {
    task: SyncTask,
    token: Uuid,
    /// Whatever keeps the hold alive (the PostgreSQL implementation: the connection that
    /// holds the task's advisory lock).
    _holder: Box<dyn std::any::Any + Send + Sync>,
}

impl TaskLease {
    /// The JSON key of `sync_tasks.config` holding the token of the run that holds the
    /// task.
    pub const CONFIG_KEY: &'static str = lease_key!();

    pub(crate) fn new(
        task: SyncTask,
        token: Uuid,
        holder: Box<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        Self {
            task,
            token,
            _holder: holder,
        }
    }

    /// Whatever keeps the hold alive, for the implementation that made it.
    pub(crate) fn holder(&self) -> &(dyn std::any::Any + Send + Sync) {
        self._holder.as_ref()
    }

    /// The task as it was when the lease was taken (`RUNNING`, its offset where the run
    /// starts).
    pub fn task(&self) -> &SyncTask {
        &self.task
    }

    /// The task's id.
    pub fn task_id(&self) -> Uuid {
        self.task.id
    }

    /// The fencing token this run's writes carry.
    pub fn token(&self) -> Uuid {
        self.token
    }
}

impl std::fmt::Debug for TaskLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLease")
            .field("task", &self.task.id)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// How a leased run ends (`SyncRepository::release`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// The work is done: `COMPLETED`, final.
    Completed,
    /// Stopped on purpose: `PAUSED`, resumable.
    Paused,
    /// Stopped on an error: `FAILED`, resumable.
    Failed,
}

impl RunOutcome {
    /// The status the task ends in.
    pub fn status(self) -> SyncTaskStatus {
        match self {
            Self::Completed => SyncTaskStatus::Completed,
            Self::Paused => SyncTaskStatus::Paused,
            Self::Failed => SyncTaskStatus::Failed,
        }
    }
}

/// What `SyncRepository::commit_batch` did.
#[derive(Debug, Clone, PartialEq)]
pub struct CommittedBatch {
    /// The task as it stands after the batch.
    pub task: crate::SyncTask,
    /// The rows written.
    pub report: shared_db::UpsertReport,
    /// Rows of [`crate::BatchRows::DailyUpdates`] whose bar is not stored yet: not
    /// written, each recorded as a retryable failure.
    pub deferred: u64,
    /// Rows of [`crate::BatchRows::Stocks`] whose symbol another stock holds: not
    /// written, each recorded as a failure naming its line.
    pub refused: u64,
}

/// One batch of a leased run, committed as a whole by `SyncRepository::commit_batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncBatch {
    /// The rows to merge (a `None` never erases a stored value).
    pub rows: BatchRows,
    /// Failure records of items that could not become rows.
    pub failures: Vec<SyncFailureRecord>,
    /// Items (stocks, lines) the batch covers: the task's offset moves on by this much.
    pub items: u32,
    /// Keys merged into the task's `config` in the same transaction (a file position, a
    /// cursor): where a resumed run starts. Must be a JSON object.
    pub checkpoint: Option<serde_json::Value>,
}
