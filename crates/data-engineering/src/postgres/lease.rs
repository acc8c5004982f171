//! The plumbing of task leases: the advisory locks that tell a live run from a dead one,
//! and the SQL that fences a run's writes with its token.

use chrono::NaiveDateTime;
use shared_db::{InvalidInput, LockKey, RepoError, SessionLock};
use uuid::Uuid;

use super::sync::PgSyncRepository;
use crate::domain::{SyncTaskStatus, TaskLease};
use crate::repository::SyncRepository as _;

/// Statuses `claim_next` takes, and those `take` accepts (a `RUNNING` task only when its
/// advisory lock is free: its run is gone).
pub(super) const CLAIMABLE: &str = "('PENDING', 'PAUSED')";
pub(super) const TAKABLE: &str = "('PENDING', 'PAUSED', 'FAILED', 'RUNNING')";

/// The columns a claim or a take sets: `$2` is now, `$3` the new lease token.
pub(super) const START_SET: &str = concat!(
    "status = 'RUNNING', started_at = COALESCE(started_at, $2), updated_at = $2, \
     completed_at = NULL, config = (COALESCE(config::jsonb, '{}'::jsonb) \
     || jsonb_build_object('",
    lease_key!(),
    "', $3::text))::json"
);

/// The fence of every write of a leased run: `$1` is the task, `$2` the run's token.
pub(super) const FENCE: &str = concat!(
    "id = $1 AND status = 'RUNNING' AND config->>'",
    lease_key!(),
    "' = $2"
);

/// The server process holding a lease's task lock (`$7`) and that lock's key (`$8`): the
/// parameters of [`LockKey::held_by`], bound after a statement's first six.
pub(super) fn lock_params(lease: &TaskLease) -> Result<(i32, i64), RepoError> {
    let pid = lease
        .holder()
        .downcast_ref::<SessionLock>()
        .map(SessionLock::pid)
        .ok_or(RepoError::Internal {
            component: "sync lease",
            detail: "a lease not made by PgSyncRepository".to_owned(),
        })?;
    let key = LockKey::SyncTask(lease.task_id())
        .as_bigint()
        .ok_or(RepoError::Internal {
            component: "sync lease",
            detail: "a task lock without a bigint key".to_owned(),
        })?;
    Ok((pid, key))
}

/// Whether task `$1` is still held with token `$2`.
pub(super) const STILL_HELD: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM sync_tasks WHERE id = $1 AND config->>'",
    lease_key!(),
    "' = $2)"
);

/// The task's config without the lease token: what a released task keeps.
pub(super) const CONFIG_UNLEASED: &str = concat!("(config::jsonb - '", lease_key!(), "')::json");

impl PgSyncRepository {
    /// The error for a fenced write that matched no row: the run's lease was taken over
    /// (`Superseded`), or the task is no longer running.
    pub(super) async fn lease_refused(&self, lease: &TaskLease) -> RepoError {
        match self.get_by_id(lease.task_id()).await {
            Ok(Some(stored)) if stored.status == SyncTaskStatus::Running => RepoError::Superseded {
                entity: "sync task",
                key: lease.task_id().to_string(),
            },
            Ok(_) => self.refused(lease.task_id(), SyncTaskStatus::Running).await,
            Err(err) => err,
        }
    }

    /// A dedicated connection holding the session advisory locks of `scope` (when given)
    /// and of task `id`; `Busy` when another live run holds either. The locks go with the
    /// connection: when the process dies or the connection is cut, they are free again.
    pub(super) async fn lock_run(
        &self,
        id: Uuid,
        scope: Option<&str>,
    ) -> Result<SessionLock, RepoError> {
        let task = LockKey::SyncTask(id);
        match scope {
            Some(scope) => {
                SessionLock::try_take(&self.db, LockKey::SyncScope(scope))
                    .await?
                    .and_take(task)
                    .await
            }
            None => SessionLock::try_take(&self.db, task).await,
        }
    }

    /// Moves the task `id` to `RUNNING` with a new token, under the locks `holder` holds.
    pub(super) async fn take_locked(
        &self,
        id: Uuid,
        holder: SessionLock,
        now: NaiveDateTime,
    ) -> Result<TaskLease, RepoError> {
        let token = Uuid::new_v4();
        let sql = format!(
            "UPDATE sync_tasks SET {START_SET} WHERE id = $1 AND status IN {TAKABLE} RETURNING *"
        );
        let values = vec![id.into(), now.into(), token.to_string().into()];
        match self.update_task_returning(&sql, values).await? {
            Some(task) => Ok(TaskLease::new(task, token, Box::new(holder))),
            None => Err(self.refused(id, SyncTaskStatus::Running).await),
        }
    }
}

/// `count` as an `integer` parameter, or `Invalid` naming `field`.
pub(super) fn count_param(field: &'static str, count: usize) -> Result<i32, InvalidInput> {
    i32::try_from(count)
        .map_err(|_| InvalidInput::new(field, count, "more than the column holds (2,147,483,647)"))
}

/// A batch's checkpoint as the JSON object merged into `config`: an object without the
/// lease key (a checkpoint must not forge or drop the run's fence).
pub(super) fn checked_checkpoint(
    checkpoint: Option<serde_json::Value>,
) -> Result<serde_json::Value, InvalidInput> {
    match checkpoint {
        None => Ok(serde_json::Value::Object(serde_json::Map::new())),
        Some(value) if !value.is_object() => Err(InvalidInput::new(
            "checkpoint",
            value,
            "must be a JSON object",
        )),
        Some(value) if value.get(TaskLease::CONFIG_KEY).is_some() => Err(InvalidInput::new(
            "checkpoint",
            TaskLease::CONFIG_KEY,
            "a reserved key of the task's config",
        )),
        Some(value) => Ok(value),
    }
}
