//! `PgSyncRepository`: sync tasks and failure records on PostgreSQL.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::sea_query::{Expr, ExprTrait, NullOrdering, Order};
use sea_orm::{
    ActiveValue, ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};
use shared_db::{Db, Merge, RepoError, UpsertReport, upsert_in, utc_now};
use uuid::Uuid;

use super::checked_limit;
use crate::domain::{BatchRows, SyncFailureRecord, SyncJobType, SyncTask, SyncTaskStatus};
use crate::entity::{sync_failure_records as failures, sync_tasks as tasks};
use crate::repository::SyncRepository;

/// Sync tasks and failure records on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgSyncRepository {
    db: Db,
}

impl PgSyncRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Runs an `UPDATE … RETURNING *` on `sync_tasks` and converts the row, if any.
    async fn update_task_returning(
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
    async fn refused(&self, id: Uuid, to: SyncTaskStatus) -> RepoError {
        match self.get_by_id(id).await {
            Ok(Some(stored)) => RepoError::InvalidState(format!(
                "sync task {id} is {}; it cannot become {to}",
                stored.status
            )),
            Ok(None) => RepoError::NotFound {
                entity: "sync task",
                key: id.to_string(),
            },
            Err(err) => err,
        }
    }
}

/// Inserts `failures` with one statement of column arrays.
async fn insert_failures(
    txn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    failures: &[SyncFailureRecord],
) -> Result<(), RepoError> {
    let ids: Vec<Uuid> = failures.iter().map(|f| f.id).collect();
    let job_types: Vec<&str> = failures.iter().map(|f| f.job_type.as_str()).collect();
    let codes: Vec<&str> = failures.iter().map(|f| f.third_code.as_str()).collect();
    let errors: Vec<Option<String>> = failures
        .iter()
        .map(SyncFailureRecord::stored_error)
        .collect();
    let retries: Vec<i32> = failures.iter().map(|f| f.retry_count).collect();
    let max_retries: Vec<i32> = failures.iter().map(|f| f.max_retries).collect();
    let attempted: Vec<Option<NaiveDateTime>> =
        failures.iter().map(|f| f.last_attempt_at).collect();
    let resolved: Vec<Option<NaiveDateTime>> = failures.iter().map(|f| f.resolved_at).collect();
    sqlx::query(
        "INSERT INTO sync_failure_records \
           (id, job_type, third_code, error_message, retry_count, max_retries, last_attempt_at, resolved_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::varchar[], $3::varchar[], $4::varchar[], $5::int4[], \
                              $6::int4[], $7::timestamp[], $8::timestamp[])",
    )
    .bind(ids)
    .bind(job_types)
    .bind(codes)
    .bind(errors)
    .bind(retries)
    .bind(max_retries)
    .bind(attempted)
    .bind(resolved)
    .execute(&mut **txn)
    .await?;
    Ok(())
}

/// Resumable statuses `claim_next` takes, and those `resume` accepts.
const CLAIMABLE: &str = "('PENDING', 'PAUSED')";
const RESUMABLE: &str = "('PENDING', 'PAUSED', 'FAILED')";

/// The columns a claim or a resume sets; `$2` is now.
const START_SET: &str = "status = 'RUNNING', started_at = COALESCE(started_at, $2), \
                         updated_at = $2, completed_at = NULL";

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
    ) -> Result<Option<SyncTask>, RepoError> {
        // SKIP LOCKED: a concurrent claimer passes over the row this one is taking.
        let sql = format!(
            "UPDATE sync_tasks SET {START_SET} \
             WHERE id = (SELECT id FROM sync_tasks \
                         WHERE job_type = $1 AND status IN {CLAIMABLE} \
                         ORDER BY updated_at NULLS FIRST, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
               AND status IN {CLAIMABLE} \
             RETURNING *"
        );
        self.update_task_returning(&sql, vec![job_type.as_str().into(), now.into()])
            .await
    }

    async fn resume(&self, id: Uuid, now: NaiveDateTime) -> Result<SyncTask, RepoError> {
        let sql = format!(
            "UPDATE sync_tasks SET {START_SET} WHERE id = $1 AND status IN {RESUMABLE} RETURNING *"
        );
        match self
            .update_task_returning(&sql, vec![id.into(), now.into()])
            .await?
        {
            Some(task) => Ok(task),
            None => Err(self.refused(id, SyncTaskStatus::Running).await),
        }
    }

    async fn commit_batch(
        &self,
        task_id: Uuid,
        rows: BatchRows,
        failures: &[SyncFailureRecord],
        items: u32,
    ) -> Result<(SyncTask, UpsertReport), RepoError> {
        for (idx, failure) in failures.iter().enumerate() {
            failure.validate().map_err(|err| err.at_row(idx))?;
        }
        let received = i32::try_from(rows.len()).unwrap_or(i32::MAX);
        let items = i32::try_from(items).unwrap_or(i32::MAX);
        let mut txn = self.db.pool().begin().await?;
        let report = match rows {
            BatchRows::Stocks(rows) => upsert_in(&mut txn, rows, Merge::KeepStored).await?,
            BatchRows::Dailies(rows) => upsert_in(&mut txn, rows, Merge::KeepStored).await?,
            BatchRows::Finance(rows) => upsert_in(&mut txn, rows, Merge::KeepStored).await?,
        };
        if !failures.is_empty() {
            insert_failures(&mut txn, failures).await?;
        }
        let advanced = sqlx::query(
            "UPDATE sync_tasks SET current_offset = current_offset + $2, \
                    total_processed = total_processed + $3, updated_at = $4 \
             WHERE id = $1 AND status = 'RUNNING'",
        )
        .bind(task_id)
        .bind(items)
        .bind(received)
        .bind(utc_now())
        .execute(&mut *txn)
        .await?
        .rows_affected();
        if advanced == 0 {
            // Dropping the transaction rolls the batch back.
            return Err(self.refused(task_id, SyncTaskStatus::Running).await);
        }
        txn.commit().await?;
        let task = self
            .get_by_id(task_id)
            .await?
            .ok_or_else(|| RepoError::NotFound {
                entity: "sync task",
                key: task_id.to_string(),
            })?;
        Ok((task, report))
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
