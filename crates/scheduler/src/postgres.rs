//! `PgSchedulerRepository`: the scheduler's tables on PostgreSQL, in the shapes the earlier
//! service writes (ids chosen by the writer, times in UTC without a time zone).

use async_trait::async_trait;
use sea_orm::{ConnectionTrait as _, DatabaseBackend, QueryResult, Statement, Value};
use shared_db::{Db, InvalidInput, Page, RepoError};
use uuid::Uuid;

use crate::domain::{JobConfig, JobRun, JobSpec, RunStatus, check_run};
use crate::repository::SchedulerRepository;

/// The scheduler on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgSchedulerRepository {
    db: Db,
}

impl PgSchedulerRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    async fn query(&self, sql: &str, values: Vec<Value>) -> Result<Vec<QueryResult>, RepoError> {
        Ok(self
            .db
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                values,
            ))
            .await?)
    }
}

const JOB_COLUMNS: &str = "id, job_id, job_name, cron_expression, timezone, enabled, job_kwargs, \
     created_at, updated_at, last_run_at";
const RUN_COLUMNS: &str = "id, job_id, started_at, finished_at, status, error_message, duration_ms";

fn job(row: &QueryResult) -> Result<JobConfig, RepoError> {
    Ok(JobConfig {
        id: row.try_get_by_index(0)?,
        spec: JobSpec {
            job_id: row.try_get_by_index(1)?,
            job_name: row.try_get_by_index(2)?,
            cron_expression: row.try_get_by_index(3)?,
            timezone: row.try_get_by_index(4)?,
            enabled: row.try_get_by_index(5)?,
            job_kwargs: row.try_get_by_index(6)?,
        },
        created_at: row.try_get_by_index(7)?,
        updated_at: row.try_get_by_index(8)?,
        last_run_at: row.try_get_by_index(9)?,
    })
}

fn run(row: &QueryResult) -> Result<JobRun, RepoError> {
    Ok(JobRun {
        id: row.try_get_by_index(0)?,
        job_id: row.try_get_by_index(1)?,
        started_at: row.try_get_by_index(2)?,
        finished_at: row.try_get_by_index(3)?,
        status: row.try_get_by_index::<String>(4)?.parse()?,
        error_message: row.try_get_by_index(5)?,
        duration_ms: row.try_get_by_index(6)?,
    })
}

fn one<T>(
    rows: &[QueryResult],
    map: fn(&QueryResult) -> Result<T, RepoError>,
    entity: &'static str,
    key: impl ToString,
) -> Result<T, RepoError> {
    rows.first().map(map).ok_or_else(|| RepoError::NotFound {
        entity,
        key: key.to_string(),
    })?
}

#[async_trait]
impl SchedulerRepository for PgSchedulerRepository {
    async fn save_job(&self, spec: &JobSpec) -> Result<JobConfig, RepoError> {
        spec.validate()?;
        let now = self.db.now();
        let rows = self
            .query(
                &format!(
                    "INSERT INTO scheduler_job_config (id, job_id, job_name, cron_expression, \
                         timezone, enabled, job_kwargs, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
                     ON CONFLICT (job_id) DO UPDATE SET job_name = EXCLUDED.job_name, \
                         cron_expression = EXCLUDED.cron_expression, timezone = EXCLUDED.timezone, \
                         enabled = EXCLUDED.enabled, job_kwargs = EXCLUDED.job_kwargs, \
                         updated_at = EXCLUDED.updated_at \
                     RETURNING {JOB_COLUMNS}"
                ),
                vec![
                    Uuid::new_v4().into(),
                    spec.job_id.clone().into(),
                    spec.job_name.clone().into(),
                    spec.cron_expression.clone().into(),
                    spec.timezone.clone().into(),
                    spec.enabled.into(),
                    spec.job_kwargs.clone().into(),
                    now.into(),
                ],
            )
            .await?;
        one(&rows, job, "scheduler job", &spec.job_id)
    }

    async fn jobs(&self, enabled_only: bool) -> Result<Vec<JobConfig>, RepoError> {
        let rows = self
            .query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM scheduler_job_config \
                     WHERE enabled OR NOT $1 ORDER BY job_id"
                ),
                vec![enabled_only.into()],
            )
            .await?;
        rows.iter().map(job).collect()
    }

    async fn job(&self, job_id: &str) -> Result<Option<JobConfig>, RepoError> {
        let rows = self
            .query(
                &format!("SELECT {JOB_COLUMNS} FROM scheduler_job_config WHERE job_id = $1"),
                vec![job_id.into()],
            )
            .await?;
        rows.first().map(job).transpose()
    }

    async fn set_enabled(&self, job_id: &str, enabled: bool) -> Result<JobConfig, RepoError> {
        let rows = self
            .query(
                &format!(
                    "UPDATE scheduler_job_config SET enabled = $2, updated_at = $3 \
                     WHERE job_id = $1 RETURNING {JOB_COLUMNS}"
                ),
                vec![job_id.into(), enabled.into(), self.db.now().into()],
            )
            .await?;
        one(&rows, job, "scheduler job", job_id)
    }

    async fn start_run(&self, job_id: &str) -> Result<JobRun, RepoError> {
        check_run(job_id, None)?;
        let rows = self
            .query(
                &format!(
                    "INSERT INTO scheduler_execution_log (id, job_id, started_at, status) \
                     VALUES ($1, $2, $3, 'RUNNING') RETURNING {RUN_COLUMNS}"
                ),
                vec![Uuid::new_v4().into(), job_id.into(), self.db.now().into()],
            )
            .await?;
        one(&rows, run, "scheduler run", job_id)
    }

    async fn finish_run(
        &self,
        id: Uuid,
        status: RunStatus,
        error: Option<&str>,
    ) -> Result<JobRun, RepoError> {
        if status == RunStatus::Running {
            return Err(
                InvalidInput::new("status", status, "a run finishes as SUCCESS or FAILED").into(),
            );
        }
        shared_db::check_text("error_message", error)?;
        let error = error.filter(|_| status == RunStatus::Failed);
        let now = self.db.now();
        // One statement: the run finishes only if it is still running, and its job
        // records when it last ran.
        let rows = self
            .query(
                &format!(
                    "WITH done AS ( \
                       UPDATE scheduler_execution_log SET status = $2, finished_at = $3, \
                           error_message = $4, \
                           duration_ms = LEAST(extract(epoch FROM $3 - started_at) * 1000, 2147483647)::int \
                       WHERE id = $1 AND status = 'RUNNING' RETURNING {RUN_COLUMNS}), \
                     job AS (UPDATE scheduler_job_config SET last_run_at = $3 \
                             WHERE job_id = (SELECT job_id FROM done)) \
                     SELECT * FROM done"
                ),
                vec![id.into(), status.as_str().into(), now.into(), error.map(str::to_owned).into()],
            )
            .await?;
        if let Some(row) = rows.first() {
            return run(row);
        }
        let stored = self
            .query(
                &format!("SELECT {RUN_COLUMNS} FROM scheduler_execution_log WHERE id = $1"),
                vec![id.into()],
            )
            .await?;
        let stored = one(&stored, run, "scheduler run", id)?;
        Err(RepoError::StateConflict {
            entity: "scheduler run",
            key: id.to_string(),
            state: stored.status.to_string(),
            wanted: status.to_string(),
        })
    }

    async fn runs(&self, job_id: Option<&str>, limit: u64) -> Result<Vec<JobRun>, RepoError> {
        let limit = Page::first(limit)?.limit();
        let rows = self
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM scheduler_execution_log \
                     WHERE $1::varchar IS NULL OR job_id = $1 \
                     ORDER BY started_at DESC, id LIMIT $2"
                ),
                vec![
                    job_id.map(str::to_owned).into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            )
            .await?;
        rows.iter().map(run).collect()
    }

    async fn prune_runs(&self, keep_days: u32, dry_run: bool) -> Result<u64, RepoError> {
        if !(1..=36_500).contains(&keep_days) {
            return Err(InvalidInput::new("keep_days", keep_days, "must be 1 to 36,500").into());
        }
        let cutoff = self.db.now() - chrono::Duration::days(i64::from(keep_days));
        let matching = "FROM scheduler_execution_log WHERE status <> 'RUNNING' AND started_at < $1";
        let sql = if dry_run {
            format!("SELECT count(*) {matching}")
        } else {
            format!("WITH gone AS (DELETE {matching} RETURNING 1) SELECT count(*) FROM gone")
        };
        let rows = self.query(&sql, vec![cutoff.into()]).await?;
        let count: i64 = match rows.first() {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        Ok(count.unsigned_abs())
    }
}
