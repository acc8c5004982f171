//! `stockdb scheduler jobs|runs`: the scheduler's job configurations and their runs, the
//! earlier service's and stockdb's alike.

use clap::Subcommand;
use stockdb::Stockdb;

use super::output::{clean, opt, print_json, print_table, table};

#[derive(Debug, Subcommand)]
pub(crate) enum SchedulerCommand {
    /// Job configurations, by job id.
    Jobs {
        /// Only the enabled ones.
        #[arg(long)]
        enabled: bool,
    },
    /// Runs, newest start first.
    Runs {
        /// Only this job's.
        #[arg(long)]
        job: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Deletes finished runs that started longer ago than --keep (a running one is
    /// kept): the log grows by every run of every job, and nothing else trims it.
    Prune {
        /// Keep this much history, e.g. 90d (at most 36500d).
        #[arg(long, value_parser = super::args::parse_days)]
        keep: u32,
        /// Count them; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(crate) async fn run(db: &Stockdb, command: SchedulerCommand, json: bool) -> anyhow::Result<()> {
    let scheduler = db.scheduler();
    match command {
        SchedulerCommand::Jobs { enabled } => {
            let jobs = scheduler.jobs(enabled).await?;
            if json {
                return print_json(&jobs);
            }
            let mut t = table(&[
                "job",
                "name",
                "cron",
                "time zone",
                "enabled",
                "last run (UTC)",
            ]);
            for j in &jobs {
                t.add_row(vec![
                    clean(&j.spec.job_id).into_owned(),
                    clean(&j.spec.job_name).into_owned(),
                    clean(&j.spec.cron_expression).into_owned(),
                    clean(&j.spec.timezone).into_owned(),
                    if j.spec.enabled { "yes" } else { "no" }.to_owned(),
                    opt(j.last_run_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
                ]);
            }
            print_table(t);
            println!("{} job(s)", jobs.len());
        }
        SchedulerCommand::Runs { job, limit } => {
            let runs = scheduler.runs(job.as_deref(), limit).await?;
            if json {
                return print_json(&runs);
            }
            let mut t = table(&["job", "started (UTC)", "status", "ms", "error"]);
            for r in &runs {
                t.add_row(vec![
                    clean(&r.job_id).into_owned(),
                    r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    r.status.to_string(),
                    opt(r.duration_ms),
                    opt(r.error_message.as_deref().map(clean)),
                ]);
            }
            if !runs.is_empty() {
                print_table(t);
            }
            println!("{} run(s)", runs.len());
        }
        SchedulerCommand::Prune { keep, dry_run } => {
            let pruned = scheduler.prune_runs(keep, dry_run).await?;
            if json {
                return print_json(&serde_json::json!({ "runs": pruned, "dry_run": dry_run }));
            }
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!("{verb} {pruned} finished run(s) started more than {keep} days ago");
        }
    }
    Ok(())
}
