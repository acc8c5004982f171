//! Job configurations and runs, and their rules.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_len, check_not_empty, check_text};
use uuid::Uuid;

/// The time zones the earlier service's scheduler accepts for a job.
const TIMEZONES: [&str; 4] = ["UTC", "Asia/Shanghai", "Asia/Tokyo", "America/New_York"];

shared_db::string_enum! {
    /// How a run stands, stored as the earlier service writes it.
    pub enum RunStatus, field "status" {
        /// Started, not finished (or its process died).
        Running = "RUNNING",
        /// Finished without error.
        Success = "SUCCESS",
        /// Finished with an error.
        Failed = "FAILED",
    }
}

/// What an operator sets of a job: saved by `job_id`, the rest replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job's key in the service's job registry (1 to 100 characters).
    pub job_id: String,
    /// A name for people (1 to 200 characters).
    pub job_name: String,
    /// Five cron fields (`minute hour day month weekday`).
    pub cron_expression: String,
    /// One of `UTC`, `Asia/Shanghai`, `Asia/Tokyo`, `America/New_York`.
    pub timezone: String,
    /// Whether the scheduler runs it.
    pub enabled: bool,
    /// Keyword arguments of the job (a JSON object), if any.
    pub job_kwargs: Option<serde_json::Value>,
}

impl JobSpec {
    /// An enabled job in `Asia/Shanghai` without arguments.
    pub fn new(job_id: &str, job_name: &str, cron_expression: &str) -> Self {
        Self {
            job_id: job_id.to_owned(),
            job_name: job_name.to_owned(),
            cron_expression: cron_expression.to_owned(),
            timezone: "Asia/Shanghai".to_owned(),
            enabled: true,
            job_kwargs: None,
        }
    }

    /// Checks every field; errors name the field and the value.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("job_id", &self.job_id)?;
        check_len("job_id", Some(&self.job_id), 100)?;
        check_not_empty("job_name", &self.job_name)?;
        check_len("job_name", Some(&self.job_name), 200)?;
        check_len("cron_expression", Some(&self.cron_expression), 100)?;
        let fields = self.cron_expression.split_whitespace().count();
        if fields != 5 {
            return Err(InvalidInput::new(
                "cron_expression",
                &self.cron_expression,
                format!(
                    "has {fields} fields; a cron expression has 5 (minute hour day month weekday)"
                ),
            ));
        }
        if !TIMEZONES.contains(&self.timezone.as_str()) {
            return Err(InvalidInput::new(
                "timezone",
                &self.timezone,
                format!("not one of {}", TIMEZONES.join(", ")),
            ));
        }
        match &self.job_kwargs {
            None | Some(serde_json::Value::Object(_)) => {
                shared_db::check_json("job_kwargs", self.job_kwargs.as_ref())
            }
            Some(other) => Err(InvalidInput::new(
                "job_kwargs",
                other,
                "must be a JSON object of keyword arguments",
            )),
        }
    }
}

/// A stored job configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobConfig {
    /// The row's id (kept when the job is saved again).
    pub id: Uuid,
    /// What is configured.
    #[serde(flatten)]
    pub spec: JobSpec,
    /// First saved (UTC).
    pub created_at: NaiveDateTime,
    /// Last saved (UTC).
    pub updated_at: NaiveDateTime,
    /// When its last run finished (UTC), if stockdb recorded one; the earlier service
    /// never writes it.
    pub last_run_at: Option<NaiveDateTime>,
}

/// One run of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    /// The run's id.
    pub id: Uuid,
    /// The job it ran.
    pub job_id: String,
    /// When it started (UTC).
    pub started_at: NaiveDateTime,
    /// When it finished (UTC); `None` while running.
    pub finished_at: Option<NaiveDateTime>,
    /// How it stands.
    pub status: RunStatus,
    /// Why it failed, when it did.
    pub error_message: Option<String>,
    /// Milliseconds from start to finish.
    pub duration_ms: Option<i32>,
}

/// Checks a run's job id and error text.
pub(crate) fn check_run(job_id: &str, error: Option<&str>) -> Result<(), InvalidInput> {
    check_not_empty("job_id", job_id)?;
    check_len("job_id", Some(job_id), 100)?;
    check_text("error_message", error)
}
