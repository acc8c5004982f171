//! The scheduler context: which jobs run when (`scheduler_job_config`: a cron expression
//! and time zone per job, enabled or not, with keyword arguments) and each run of a job
//! (`scheduler_execution_log`: started, finished, status, error, duration), in the tables
//! and the shapes the earlier service's scheduler uses, so both read what the other wrote.
//!
//! Services hold [`SchedulerRepository`]; [`PgSchedulerRepository`] implements it on a
//! [`shared_db::Db`], whose clock stamps every write (UTC, as that service writes them).

mod domain;
mod postgres;
mod repository;

pub use domain::{JobConfig, JobRun, JobSpec, RunStatus};
pub use postgres::PgSchedulerRepository;
pub use repository::SchedulerRepository;
