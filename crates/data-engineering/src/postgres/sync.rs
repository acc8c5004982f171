//! `PgSyncRepository`: sync tasks and failure records on PostgreSQL.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::sea_query::{Expr, ExprTrait, NullOrdering, Order};
use sea_orm::{
    ActiveValue, ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use shared_db::{Db, LockKey, Merge, RepoError, upsert_in, upsert_in_to, utc_now};
use uuid::Uuid;

use super::batch::{insert_failures, split_by_stored_bar, split_symbol_collisions};
use super::board::upsert_boards;
use super::lease::{
    CLAIMABLE, CONFIG_UNLEASED, FENCE, START_SET, STILL_HELD, checked_checkpoint, count_param,
    lock_params,
};
use super::market::upsert_market;
use super::{batch_year, checked_limit};
use crate::domain::{
    BatchRows, CommittedBatch, RunOutcome, SyncBatch, SyncFailureRecord, SyncJobType, SyncTask,
    SyncTaskStatus, TaskLease,
};
use crate::entity::{sync_failure_records as failures, sync_tasks as tasks};
use crate::repository::SyncRepository;

/// Sync tasks and failure records on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgSyncRepository {
    pub(super) db: Db,
}

impl PgSyncRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Runs an `UPDATE … RETURNING *` on `sync_tasks` and converts the row, if any.
    pub(super) async fn update_task_returning(
        &self,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Option<SyncTask>, RepoError> {
        let model = tasks::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                values,
            ))
            .one(self.db.conn())
            .await?;
        Ok(model.map(SyncTask::try_from).transpose()?)
    }

    /// The error for a conditional update that matched no row: unknown id, or a status
    /// that may not move to `to`.
    pub(super) async fn refused(&self, id: Uuid, to: SyncTaskStatus) -> RepoError {
        match self.get_by_id(id).await {
            Ok(Some(stored)) => RepoError::StateConflict {
                entity: "sync task",
                key: id.to_string(),
                state: stored.status.to_string(),
                wanted: to.to_string(),
            },
            Ok(None) => RepoError::NotFound {
                entity: "sync task",
                key: id.to_string(),
            },
            Err(err) => err,
        }
    }
}

#[async_trait]
impl SyncRepository for PgSyncRepository {
    async fn create(&self, task: &SyncTask) -> Result<(), RepoError> {
        task.validate()?;
        tasks::Entity::insert(tasks::ActiveModel::from(task))
            .exec_without_returning(self.db.conn())
            .await?;
        Ok(())
    }

    async fn update(&self, task: &SyncTask) -> Result<SyncTask, RepoError> {
        task.validate()?;
        let mut active = tasks::ActiveModel::from(task);
        active.updated_at = ActiveValue::Set(Some(utc_now()));
        let allowed = task.status.allowed_previous().iter().map(|s| s.as_str());
        let updated = tasks::Entity::update_many()
            .set(active)
            .filter(tasks::Column::Id.eq(task.id))
            .filter(tasks::Column::Status.is_in(allowed))
            .exec_with_returning(self.db.conn())
            .await?;
        match updated.into_iter().next() {
            Some(model) => Ok(SyncTask::try_from(model)?),
            None => Err(self.refused(task.id, task.status).await),
        }
    }

    async fn get_by_id(&self, id: Uuid) -> Result<Option<SyncTask>, RepoError> {
        let model = tasks::Entity::find_by_id(id).one(self.db.conn()).await?;
        Ok(model.map(SyncTask::try_from).transpose()?)
    }

    async fn get_latest_by_job_type(
        &self,
        job_type: SyncJobType,
    ) -> Result<Option<SyncTask>, RepoError> {
        let model = tasks::Entity::find()
            .filter(tasks::Column::JobType.eq(job_type.as_str()))
            .order_by_with_nulls(tasks::Column::StartedAt, Order::Desc, NullOrdering::Last)
            .order_by_with_nulls(tasks::Column::UpdatedAt, Order::Desc, NullOrdering::Last)
            .one(self.db.conn())
            .await?;
        Ok(model.map(SyncTask::try_from).transpose()?)
    }

    async fn get_latest_unfinished(
        &self,
        job_type: SyncJobType,
        config: &serde_json::Value,
    ) -> Result<Option<SyncTask>, RepoError> {
        // `config` is `json`, which has no containment operator: compared as `jsonb`.
        let model = tasks::Entity::find()
            .filter(tasks::Column::JobType.eq(job_type.as_str()))
            .filter(tasks::Column::Status.ne(SyncTaskStatus::Completed.as_str()))
            .filter(Expr::cust_with_values(
                "config::jsonb @> $1::jsonb",
                [config.clone()],
            ))
            .order_by_with_nulls(tasks::Column::UpdatedAt, Order::Desc, NullOrdering::Last)
            .order_by_asc(tasks::Column::Id)
            .one(self.db.conn())
            .await?;
        Ok(model.map(SyncTask::try_from).transpose()?)
    }

    async fn abandoned(&self, tasks: &[SyncTask]) -> Result<HashSet<Uuid>, RepoError> {
        let running: Vec<&SyncTask> = tasks
            .iter()
            .filter(|t| t.status == SyncTaskStatus::Running && t.job_type.is_leased())
            .collect();
        if running.is_empty() {
            return Ok(HashSet::new());
        }
        let held = LockKey::held_bigints(self.db.pool()).await?;
        Ok(running
            .into_iter()
            .filter(|t| {
                LockKey::SyncTask(t.id)
                    .as_bigint()
                    .is_none_or(|key| !held.contains(&key))
            })
            .map(|t| t.id)
            .collect())
    }

    async fn list_tasks(
        &self,
        job_type: Option<SyncJobType>,
        limit: u64,
    ) -> Result<Vec<SyncTask>, RepoError> {
        let mut query = tasks::Entity::find();
        if let Some(job_type) = job_type {
            query = query.filter(tasks::Column::JobType.eq(job_type.as_str()));
        }
        query
            .order_by_with_nulls(tasks::Column::UpdatedAt, Order::Desc, NullOrdering::Last)
            .order_by_asc(tasks::Column::Id)
            .limit(checked_limit(limit)?)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| Ok(SyncTask::try_from(m)?))
            .collect()
    }

    async fn claim_next(
        &self,
        job_type: SyncJobType,
        now: NaiveDateTime,
    ) -> Result<Option<TaskLease>, RepoError> {
        // SKIP LOCKED: a concurrent claimer passes over the row this one is taking.
        let sql = format!(
            "UPDATE sync_tasks SET {START_SET} \
             WHERE id = (SELECT id FROM sync_tasks \
                         WHERE job_type = $1 AND status IN {CLAIMABLE} \
                         ORDER BY updated_at NULLS FIRST, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
               AND status IN {CLAIMABLE} \
             RETURNING *"
        );
        loop {
            let token = Uuid::new_v4();
            let values = vec![
                job_type.as_str().into(),
                now.into(),
                token.to_string().into(),
            ];
            let Some(task) = self.update_task_returning(&sql, values).await? else {
                return Ok(None);
            };
            // The claim is ours unless someone took the task between the claim and the
            // lock; then it is theirs, and the next candidate is tried.
            let mut holder = match self.lock_run(task.id, None).await {
                Ok(holder) => holder,
                Err(RepoError::Busy { .. }) => continue,
                Err(err) => return Err(err),
            };
            let still_ours: bool = sqlx::query_scalar(STILL_HELD)
                .bind(task.id)
                .bind(token.to_string())
                .fetch_one(holder.connection())
                .await?;
            if still_ours {
                return Ok(Some(TaskLease::new(task, token, Box::new(holder))));
            }
        }
    }

    async fn start(
        &self,
        task: &SyncTask,
        scope: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<TaskLease, RepoError> {
        task.validate()?;
        let holder = self.lock_run(task.id, scope).await?;
        self.create(task).await?;
        self.take_locked(task.id, holder, now).await
    }

    async fn take(
        &self,
        id: Uuid,
        scope: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<TaskLease, RepoError> {
        let holder = self.lock_run(id, scope).await?;
        self.take_locked(id, holder, now).await
    }

    async fn commit_batch(
        &self,
        lease: &TaskLease,
        batch: SyncBatch,
    ) -> Result<CommittedBatch, RepoError> {
        for (idx, failure) in batch.failures.iter().enumerate() {
            failure.validate().map_err(|err| err.at_row(idx))?;
        }
        let items = count_param("items", batch.items as usize)?;
        let received = count_param("rows", batch.rows.len())?;
        let checkpoint = checked_checkpoint(batch.checkpoint)?;
        // A year's partition is made in a transaction of its own, before the batch's; a
        // batch of one year is written straight into it.
        let year = batch_year(&self.db, &batch.rows).await?;
        let year = year.as_deref().into();
        let mut txn = self.db.pool().begin().await?;
        let (pid, key) = lock_params(lease)?;
        // The fence first: it locks the task's row, so no other run can take the task
        // while this batch is written, and a superseded run writes nothing at all. It
        // checks the run's lock too: once the connection holding it is cut, another run
        // may have started a fresh import of the same scope, and this one must stop.
        let advanced = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sync_tasks SET current_offset = current_offset + $3, \
                    total_processed = total_processed + $4, updated_at = $5, \
                    config = (COALESCE(config::jsonb, '{{}}'::jsonb) || $6::jsonb)::json \
             WHERE {FENCE} AND {}",
            LockKey::held_by("$7", "$8")
        )))
        .bind(lease.task_id())
        .bind(lease.token().to_string())
        .bind(items)
        .bind(received)
        .bind(utc_now())
        .bind(checkpoint)
        .bind(pid)
        .bind(key)
        .execute(&mut *txn)
        .await?
        .rows_affected();
        if advanced == 0 {
            // Dropping the transaction rolls the batch back.
            drop(txn);
            return Err(self.lease_refused(lease).await);
        }
        let mut failures = batch.failures;
        let mut deferred = 0;
        let mut refused = 0;
        let report = match batch.rows {
            BatchRows::Stocks { rows, lines } => {
                let (free, taken) = split_symbol_collisions(&mut txn, rows, lines).await?;
                refused = taken.len() as u64;
                let job_type = lease.task().job_type;
                failures.extend(taken.into_iter().map(|(line, message)| {
                    SyncFailureRecord::new(
                        job_type,
                        line.code,
                        format!("line {}: {message}", line.number),
                        utc_now(),
                    )
                    // The line is refused as it is: retrying cannot change that.
                    .with_max_retries(0)
                }));
                upsert_in(&mut txn, free, Merge::KeepStored).await?
            }
            BatchRows::Dailies(rows) => {
                upsert_in_to(&mut txn, rows, Merge::KeepStored, year).await?
            }
            BatchRows::DailyUpdates { rows, lines } => {
                let (stored, waiting) =
                    split_by_stored_bar(&mut txn, rows, lines, self.db.is_citus().await?).await?;
                let job_type = lease.task().job_type;
                for (line, row) in waiting {
                    deferred += 1;
                    failures.push(SyncFailureRecord::new(
                        job_type,
                        row.third_code.as_str(),
                        format!(
                            "line {line}: no bar of {} on {} is stored yet, so its values have \
                             nothing to complete: import the day's prices (Tushare daily), \
                             then this file again",
                            row.third_code, row.trade_date
                        ),
                        utc_now(),
                    ));
                }
                upsert_in_to(&mut txn, stored, Merge::KeepStored, year).await?
            }
            BatchRows::Finance(rows) => upsert_in(&mut txn, rows, Merge::KeepStored).await?,
            BatchRows::Market(rows) => upsert_market(&mut txn, rows, Merge::KeepStored).await?,
            BatchRows::Boards(rows) => {
                upsert_boards(&mut txn, rows, self.db.now(), Merge::KeepStored).await?
            }
        };
        if !failures.is_empty() {
            insert_failures(&mut txn, &failures).await?;
        }
        txn.commit().await?;
        let task = self
            .get_by_id(lease.task_id())
            .await?
            .ok_or_else(|| RepoError::NotFound {
                entity: "sync task",
                key: lease.task_id().to_string(),
            })?;
        Ok(CommittedBatch {
            task,
            report,
            deferred,
            refused,
        })
    }

    async fn release(
        &self,
        lease: TaskLease,
        outcome: RunOutcome,
        now: NaiveDateTime,
    ) -> Result<SyncTask, RepoError> {
        let completed_at = (outcome != RunOutcome::Paused).then_some(now);
        let sql = format!(
            "UPDATE sync_tasks SET status = $3, updated_at = $4, completed_at = $5, \
                    config = {CONFIG_UNLEASED} \
             WHERE {FENCE} RETURNING *"
        );
        let values = vec![
            lease.task_id().into(),
            lease.token().to_string().into(),
            outcome.status().as_str().into(),
            now.into(),
            completed_at.into(),
        ];
        match self.update_task_returning(&sql, values).await? {
            Some(task) => Ok(task),
            None => Err(self.lease_refused(&lease).await),
        }
    }

    async fn create_failure(&self, failure: &SyncFailureRecord) -> Result<(), RepoError> {
        self.create_failures(std::slice::from_ref(failure)).await
    }

    async fn create_failures(&self, records: &[SyncFailureRecord]) -> Result<(), RepoError> {
        for (idx, record) in records.iter().enumerate() {
            record.validate().map_err(|err| err.at_row(idx))?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let records = records.to_vec();
        self.db
            .transaction(async move |txn| {
                // 8 columns × 1,000 rows stays far below the 65,535 bind parameters.
                for chunk in records.chunks(1_000) {
                    failures::Entity::insert_many(chunk.iter().map(failures::ActiveModel::from))
                        .exec_without_returning(txn)
                        .await?;
                }
                Ok(())
            })
            .await
    }

    async fn update_failure(&self, failure: &SyncFailureRecord) -> Result<(), RepoError> {
        failure.validate()?;
        let result = failures::Entity::update_many()
            .set(failures::ActiveModel::from(failure))
            .filter(failures::Column::Id.eq(failure.id))
            .exec(self.db.conn())
            .await?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound {
                entity: "sync failure",
                key: failure.id.to_string(),
            });
        }
        Ok(())
    }

    async fn get_unresolved_failures(
        &self,
        job_type: SyncJobType,
    ) -> Result<Vec<SyncFailureRecord>, RepoError> {
        failures::Entity::find()
            .filter(failures::Column::JobType.eq(job_type.as_str()))
            .filter(failures::Column::ResolvedAt.is_null())
            .filter(
                Expr::col(failures::Column::RetryCount).lt(Expr::col(failures::Column::MaxRetries)),
            )
            .order_by_with_nulls(
                failures::Column::LastAttemptAt,
                Order::Asc,
                NullOrdering::First,
            )
            .order_by_asc(failures::Column::ThirdCode)
            .order_by_asc(failures::Column::Id)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| Ok(SyncFailureRecord::try_from(m)?))
            .collect()
    }

    async fn list_failures(
        &self,
        job_type: Option<SyncJobType>,
        include_resolved: bool,
        limit: u64,
    ) -> Result<Vec<SyncFailureRecord>, RepoError> {
        let mut query = failures::Entity::find();
        if let Some(job_type) = job_type {
            query = query.filter(failures::Column::JobType.eq(job_type.as_str()));
        }
        if !include_resolved {
            query = query.filter(failures::Column::ResolvedAt.is_null());
        }
        query
            .order_by_with_nulls(
                failures::Column::LastAttemptAt,
                Order::Desc,
                NullOrdering::Last,
            )
            .order_by_asc(failures::Column::Id)
            .limit(checked_limit(limit)?)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| Ok(SyncFailureRecord::try_from(m)?))
            .collect()
    }

    async fn resolve_failure(&self, id: Uuid) -> Result<SyncFailureRecord, RepoError> {
        let model = failures::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "UPDATE sync_failure_records SET resolved_at = COALESCE(resolved_at, $2) \
                 WHERE id = $1 RETURNING *",
                [id.into(), utc_now().into()],
            ))
            .one(self.db.conn())
            .await?;
        match model {
            Some(model) => Ok(SyncFailureRecord::try_from(model)?),
            None => Err(RepoError::NotFound {
                entity: "sync failure",
                key: id.to_string(),
            }),
        }
    }
}
