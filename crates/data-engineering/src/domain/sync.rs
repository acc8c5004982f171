//! Data-sync bookkeeping: the task state machine, failure records with bounded retries.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, RepoError, check_json, check_not_negative, check_text};
use uuid::Uuid;

pub use super::job::SyncJobType;

shared_db::string_enum! {
    /// Where a sync task stands, stored as its upper-case name.
    ///
    /// `PENDING → RUNNING → COMPLETED | FAILED | PAUSED`; a `PAUSED` or `FAILED` task resumes
    /// (`→ RUNNING`) from its `current_offset`; `COMPLETED` is final.
    pub enum SyncTaskStatus, field "status" {
        /// Created, never run.
        Pending = "PENDING",
        /// A worker owns it.
        Running = "RUNNING",
        /// Done; final.
        Completed = "COMPLETED",
        /// Stopped on an error; resumable.
        Failed = "FAILED",
        /// Stopped on purpose; resumable.
        Paused = "PAUSED",
    }
}

impl SyncTaskStatus {
    /// The statuses a task may be in to move to `self` (staying put included).
    pub fn allowed_previous(self) -> &'static [SyncTaskStatus] {
        use SyncTaskStatus::*;
        match self {
            Pending => &[Pending],
            Running => &[Pending, Running, Paused, Failed],
            Completed => &[Running, Completed],
            Failed => &[Running, Failed],
            Paused => &[Running, Paused],
        }
    }

    /// True when a task may move from `self` to `next`.
    pub fn can_become(self, next: SyncTaskStatus) -> bool {
        next.allowed_previous().contains(&self)
    }

    /// True for statuses a worker may resume from.
    pub fn is_resumable(self) -> bool {
        matches!(self, Self::Pending | Self::Paused | Self::Failed)
    }
}

/// A state change the task state machine forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync task {task} cannot move from {from} to {to}")]
pub struct TransitionError {
    /// The task.
    pub task: Uuid,
    /// Its status.
    pub from: SyncTaskStatus,
    /// The status asked for.
    pub to: SyncTaskStatus,
}

impl From<TransitionError> for RepoError {
    fn from(err: TransitionError) -> Self {
        RepoError::StateConflict {
            entity: "sync task",
            key: err.task.to_string(),
            state: err.from.to_string(),
            wanted: err.to.to_string(),
        }
    }
}

/// A resumable sync job (`sync_tasks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncTask {
    /// 任务 ID, chosen by the application.
    pub id: Uuid,
    /// 任务类型.
    pub job_type: SyncJobType,
    /// 任务状态.
    pub status: SyncTaskStatus,
    /// 当前同步偏移量: items (stocks, lines) done so far; a resumed task starts here.
    pub current_offset: i32,
    /// 每批处理的数量.
    pub batch_size: i32,
    /// 已处理总条数: rows processed so far.
    pub total_processed: i32,
    /// 任务启动时间 (UTC): set on the first start, kept on resume.
    pub started_at: Option<NaiveDateTime>,
    /// 最后更新时间 (UTC).
    pub updated_at: Option<NaiveDateTime>,
    /// 任务完成时间 (UTC): set on COMPLETED or FAILED, cleared on resume.
    pub completed_at: Option<NaiveDateTime>,
    /// 任务特定配置 (`start_date`, `end_date`, a file name …), a JSON object.
    pub config: Option<serde_json::Value>,
}

impl SyncTask {
    /// A `PENDING` task with a new id. `batch_size` must be positive; `config`, when
    /// given, must be a JSON object.
    pub fn new(
        job_type: SyncJobType,
        batch_size: i32,
        config: Option<serde_json::Value>,
        now: NaiveDateTime,
    ) -> Result<Self, InvalidInput> {
        let task = Self {
            id: Uuid::new_v4(),
            job_type,
            status: SyncTaskStatus::Pending,
            current_offset: 0,
            batch_size,
            total_processed: 0,
            started_at: None,
            updated_at: Some(now),
            completed_at: None,
            config,
        };
        task.validate()?;
        Ok(task)
    }

    /// Checks counters and the config's shape.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.batch_size <= 0 {
            return Err(InvalidInput::new(
                "batch_size",
                self.batch_size,
                "must be positive",
            ));
        }
        check_not_negative("current_offset", Some(self.current_offset))?;
        check_not_negative("total_processed", Some(self.total_processed))?;
        check_json("config", self.config.as_ref())?;
        match &self.config {
            Some(config) if !config.is_object() => {
                Err(InvalidInput::new("config", config, "must be a JSON object"))
            }
            _ => Ok(()),
        }
    }

    fn transition(
        &mut self,
        to: SyncTaskStatus,
        now: NaiveDateTime,
    ) -> Result<(), TransitionError> {
        if !self.status.can_become(to) {
            return Err(TransitionError {
                task: self.id,
                from: self.status,
                to,
            });
        }
        self.status = to;
        self.updated_at = Some(now);
        Ok(())
    }

    /// `PENDING`, `PAUSED` or `FAILED` → `RUNNING`. Keeps the first `started_at` and the
    /// offset, so a resumed task continues where it stopped.
    pub fn start(&mut self, now: NaiveDateTime) -> Result<(), TransitionError> {
        if self.status == SyncTaskStatus::Running {
            return Err(TransitionError {
                task: self.id,
                from: self.status,
                to: SyncTaskStatus::Running,
            });
        }
        self.transition(SyncTaskStatus::Running, now)?;
        self.started_at.get_or_insert(now);
        self.completed_at = None;
        Ok(())
    }

    /// Records a finished batch of a `RUNNING` task: `items` more done (the offset moves
    /// on), `rows` more processed. A counter that would pass `i32::MAX` (the column's
    /// range) is `Invalid` and nothing changes.
    pub fn record_batch(
        &mut self,
        items: u32,
        rows: u32,
        now: NaiveDateTime,
    ) -> Result<(), RepoError> {
        if self.status != SyncTaskStatus::Running {
            return Err(TransitionError {
                task: self.id,
                from: self.status,
                to: SyncTaskStatus::Running,
            }
            .into());
        }
        let offset = add_count("current_offset", self.current_offset, items)?;
        let processed = add_count("total_processed", self.total_processed, rows)?;
        self.current_offset = offset;
        self.total_processed = processed;
        self.updated_at = Some(now);
        Ok(())
    }

    /// `RUNNING` → `COMPLETED`.
    pub fn complete(&mut self, now: NaiveDateTime) -> Result<(), TransitionError> {
        self.transition(SyncTaskStatus::Completed, now)?;
        self.completed_at = Some(now);
        Ok(())
    }

    /// `RUNNING` → `FAILED` (resumable).
    pub fn fail(&mut self, now: NaiveDateTime) -> Result<(), TransitionError> {
        self.transition(SyncTaskStatus::Failed, now)?;
        self.completed_at = Some(now);
        Ok(())
    }

    /// `RUNNING` → `PAUSED` (resumable).
    pub fn pause(&mut self, now: NaiveDateTime) -> Result<(), TransitionError> {
        self.transition(SyncTaskStatus::Paused, now)
    }
}

/// `counter + delta`, or `Invalid` naming `field` when it leaves the `integer` range.
fn add_count(field: &'static str, counter: i32, delta: u32) -> Result<i32, InvalidInput> {
    i32::try_from(delta)
        .ok()
        .and_then(|delta| counter.checked_add(delta))
        .ok_or_else(|| {
            InvalidInput::new(
                field,
                format!("{counter} + {delta}"),
                "past the largest value the column holds (2,147,483,647)",
            )
        })
}

/// A stock (or input line) a sync job failed on, retried up to `max_retries` times
/// (`sync_failure_records`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncFailureRecord {
    /// 失败记录 ID, chosen by the application.
    pub id: Uuid,
    /// 任务类型.
    pub job_type: SyncJobType,
    /// 失败的股票代码 (Tushare `ts_code`), or another short locator such as `line 42`;
    /// 1 to 20 characters.
    pub third_code: String,
    /// 错误信息, cut to 500 characters.
    pub error_message: Option<String>,
    /// 当前重试次数.
    pub retry_count: i32,
    /// 最大重试次数.
    pub max_retries: i32,
    /// 最后一次尝试时间 (UTC).
    pub last_attempt_at: Option<NaiveDateTime>,
    /// 解决时间 (UTC): set when a retry succeeded or someone marked it resolved.
    pub resolved_at: Option<NaiveDateTime>,
}

/// Longest `error_message` the schema stores.
const MAX_ERROR_CHARS: usize = 500;

/// `message` cut to the schema's 500 characters, on a character boundary.
fn cut_error(message: String) -> String {
    match message.char_indices().nth(MAX_ERROR_CHARS) {
        Some((byte_idx, _)) => message[..byte_idx].to_owned(),
        None => message,
    }
}

impl SyncFailureRecord {
    /// Default `max_retries`, as the schema's default.
    pub const DEFAULT_MAX_RETRIES: i32 = 3;

    /// A new unresolved failure of `third_code`, first attempted `now`.
    pub fn new(
        job_type: SyncJobType,
        third_code: impl Into<String>,
        error_message: impl Into<String>,
        now: NaiveDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            job_type,
            third_code: third_code.into(),
            error_message: Some(cut_error(error_message.into())),
            retry_count: 0,
            max_retries: Self::DEFAULT_MAX_RETRIES,
            last_attempt_at: Some(now),
            resolved_at: None,
        }
    }

    /// The same failure with another retry cap.
    #[must_use]
    pub fn with_max_retries(mut self, max_retries: i32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Checks the locator and the counters.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.third_code.is_empty() || self.third_code.chars().count() > 20 {
            return Err(InvalidInput::new(
                "third_code",
                &self.third_code,
                "must be 1 to 20 characters",
            ));
        }
        check_text("third_code", Some(&self.third_code))?;
        check_text("error_message", self.error_message.as_deref())?;
        check_not_negative("retry_count", Some(self.retry_count))?;
        check_not_negative("max_retries", Some(self.max_retries))?;
        Ok(())
    }

    /// True while unresolved and under the retry cap.
    pub fn can_retry(&self) -> bool {
        self.resolved_at.is_none() && self.retry_count < self.max_retries
    }

    /// Records one more failed attempt.
    pub fn record_retry(&mut self, error_message: impl Into<String>, now: NaiveDateTime) {
        self.retry_count = self.retry_count.saturating_add(1);
        self.error_message = Some(cut_error(error_message.into()));
        self.last_attempt_at = Some(now);
    }

    /// Marks it resolved (a retry succeeded, or someone decided so). Resolving twice keeps
    /// the first time.
    pub fn resolve(&mut self, now: NaiveDateTime) {
        self.resolved_at.get_or_insert(now);
    }

    /// `error_message` as the schema stores it: at most 500 characters.
    pub(crate) fn stored_error(&self) -> Option<String> {
        self.error_message.clone().map(cut_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        shared_db::utc_now()
    }

    #[test]
    fn names_round_trip() {
        for job in SyncJobType::ALL {
            assert_eq!(job.as_str().parse::<SyncJobType>().unwrap(), *job);
        }
        for status in SyncTaskStatus::ALL {
            assert_eq!(status.as_str().parse::<SyncTaskStatus>().unwrap(), *status);
        }
        assert_eq!(
            "daily".parse::<SyncJobType>().unwrap_err().field,
            "job_type"
        );
    }

    #[test]
    fn a_task_runs_pauses_resumes_and_completes() {
        let mut task = SyncTask::new(SyncJobType::DailyHistory, 50, None, now()).unwrap();
        task.start(now()).unwrap();
        let first_start = task.started_at;
        task.record_batch(50, 12_000, now()).unwrap();
        task.pause(now()).unwrap();
        task.start(now()).unwrap();
        assert_eq!(task.started_at, first_start, "resume keeps the first start");
        assert_eq!(task.current_offset, 50, "resume keeps the offset");
        task.record_batch(25, 100, now()).unwrap();
        task.complete(now()).unwrap();
        assert_eq!((task.current_offset, task.total_processed), (75, 12_100));
        assert!(task.completed_at.is_some());
    }

    #[test]
    fn forbidden_transitions_are_errors() {
        let mut task = SyncTask::new(SyncJobType::FinanceHistory, 50, None, now()).unwrap();
        let err = task.complete(now()).unwrap_err();
        assert_eq!(
            (err.from, err.to),
            (SyncTaskStatus::Pending, SyncTaskStatus::Completed)
        );
        assert!(
            task.record_batch(1, 1, now()).is_err(),
            "only a running task makes progress"
        );
        task.start(now()).unwrap();
        assert!(
            task.start(now()).is_err(),
            "a running task cannot be started twice"
        );
        task.complete(now()).unwrap();
        for next in [
            SyncTaskStatus::Running,
            SyncTaskStatus::Paused,
            SyncTaskStatus::Failed,
        ] {
            assert!(!task.status.can_become(next), "COMPLETED is final");
        }
        assert!(task.start(now()).is_err());
    }

    #[test]
    fn a_failed_task_resumes() {
        let mut task = SyncTask::new(SyncJobType::DailyIncremental, 10, None, now()).unwrap();
        task.start(now()).unwrap();
        task.fail(now()).unwrap();
        assert!(task.status.is_resumable());
        task.start(now()).unwrap();
        assert_eq!(task.completed_at, None);
    }

    #[test]
    fn task_input_is_checked() {
        assert_eq!(
            SyncTask::new(SyncJobType::DailyHistory, 0, None, now())
                .unwrap_err()
                .field,
            "batch_size"
        );
        assert_eq!(
            SyncTask::new(
                SyncJobType::DailyHistory,
                5,
                Some(serde_json::json!([1])),
                now()
            )
            .unwrap_err()
            .field,
            "config"
        );
    }

    #[test]
    fn failures_retry_up_to_their_cap() {
        let mut failure =
            SyncFailureRecord::new(SyncJobType::DailyHistory, "000001.SZ", "timeout", now())
                .with_max_retries(2);
        assert!(failure.can_retry());
        failure.record_retry("timeout again", now());
        failure.record_retry("timeout again", now());
        assert!(!failure.can_retry());
        assert_eq!(failure.retry_count, 2);
    }

    #[test]
    fn long_error_messages_are_cut_on_a_char_boundary() {
        let failure =
            SyncFailureRecord::new(SyncJobType::DailyHistory, "x", "错".repeat(600), now());
        assert_eq!(failure.error_message.unwrap().chars().count(), 500);
    }
}
