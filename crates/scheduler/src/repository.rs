//! The scheduler's contract.

use async_trait::async_trait;
use shared_db::RepoError;
use uuid::Uuid;

use crate::domain::{JobConfig, JobRun, JobSpec, RunStatus};

/// Job configurations and runs (`scheduler_job_config`, `scheduler_execution_log`).
#[async_trait]
pub trait SchedulerRepository: Send + Sync {
    /// Saves `spec` by its `job_id`: a new job gets a new id; a stored one keeps its id,
    /// `created_at` and `last_run_at`, everything else replaced. Stamped with the handle's
    /// clock. Returns the job as stored.
    async fn save_job(&self, spec: &JobSpec) -> Result<JobConfig, RepoError>;

    /// Every job (only the enabled ones when `enabled_only`), by `job_id`.
    async fn jobs(&self, enabled_only: bool) -> Result<Vec<JobConfig>, RepoError>;

    /// The job `job_id`, if stored.
    async fn job(&self, job_id: &str) -> Result<Option<JobConfig>, RepoError>;

    /// Switches a job on or off; `NotFound` for a job that is not stored.
    async fn set_enabled(&self, job_id: &str, enabled: bool) -> Result<JobConfig, RepoError>;

    /// Records that a run of `job_id` starts now: a `RUNNING` run with a new id.
    async fn start_run(&self, job_id: &str) -> Result<JobRun, RepoError>;

    /// Records that run `id` finished now with `status` (`Success` or `Failed`, with
    /// `error` for a failure) and its duration; the job's `last_run_at` becomes now. Only a
    /// `RUNNING` run finishes: another is `StateConflict`, an unknown id `NotFound`.
    async fn finish_run(
        &self,
        id: Uuid,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<JobRun, RepoError>;

    /// The newest `limit` (1..=10,000) runs, of `job_id` or of every job, newest start
    /// first.
    async fn runs(&self, job_id: Option<&str>, limit: u64) -> Result<Vec<JobRun>, RepoError>;

    /// Deletes the finished runs (`SUCCESS`, `FAILED`) that started more than `keep_days`
    /// (1..=36,500) days before the handle's clock, in one statement; with `dry_run`,
    /// only counts them. A `RUNNING` run is never deleted, however old (it may be a live
    /// job's, and a dead one is worth seeing). Returns how many.
    async fn prune_runs(&self, keep_days: u32, dry_run: bool) -> Result<u64, RepoError>;
}
