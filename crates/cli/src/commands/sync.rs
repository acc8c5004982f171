//! `stockdb sync status|failures|gaps`: sync tasks, failure records, and the open days
//! the bars still miss.

use clap::Subcommand;
use stockdb::Stockdb;
use stockdb::data_engineering::SyncJobType;

use super::args::{parse_date, parse_job};
use super::output::{clean, count, opt, print_json, print_table, table};
use tushare::ImportCheckpoint;

#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// Recent sync tasks with their progress.
    Status {
        /// Only this job type (IMPORT_DAILY, IMPORT_STOCK_LIST, DAILY_HISTORY …).
        #[arg(long, value_parser = parse_job)]
        job: Option<SyncJobType>,
        /// How many tasks.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Failure records, newest first.
    Failures {
        /// Only this job type.
        #[arg(long, value_parser = parse_job)]
        job: Option<SyncJobType>,
        /// Include resolved failures.
        #[arg(long)]
        all: bool,
        /// How many records.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Per listed stock, the open days in a range with no bar and no halt: what a sync
    /// still has to fetch (needs the trading calendar; halts from the suspensions).
    Gaps {
        /// First day.
        #[arg(long, value_parser = parse_date)]
        from: chrono::NaiveDate,
        /// Last day.
        #[arg(long, value_parser = parse_date)]
        to: chrono::NaiveDate,
    },
}

pub(crate) async fn run(db: &Stockdb, command: SyncCommand, json: bool) -> anyhow::Result<()> {
    match command {
        SyncCommand::Status { job, limit } => {
            let tasks = db.sync().list_tasks(job, limit).await?;
            let abandoned = db.sync().abandoned(&tasks).await?;
            if json {
                let shown = tasks
                    .iter()
                    .map(|task| {
                        let mut shown = serde_json::to_value(task)?;
                        if let Some(fields) = shown.as_object_mut() {
                            fields.insert("abandoned".into(), abandoned.contains(&task.id).into());
                        }
                        Ok(shown)
                    })
                    .collect::<Result<Vec<_>, serde_json::Error>>()?;
                return print_json(&shown);
            }
            let mut t = table(&[
                "task",
                "job",
                "status",
                "offset",
                "processed",
                "started (UTC)",
                "updated (UTC)",
                "file",
            ]);
            let mut notes = Vec::new();
            for task in &tasks {
                let import = ImportCheckpoint::of_task(task);
                let file = import
                    .as_ref()
                    .and_then(|i| i.file.rsplit('/').next())
                    .unwrap_or("-");
                let status = if abandoned.contains(&task.id) {
                    notes.push(match &import {
                        Some(import) => format!(
                            "task {}: its run is gone (killed, or cut off from the database) \
                             after {} lines; `stockdb import {} {} --resume` continues it",
                            task.id,
                            count(task.current_offset),
                            import.kind.name(),
                            clean(&import.file),
                        ),
                        None => format!("task {}: its run is gone", task.id),
                    });
                    format!("{} (abandoned)", task.status)
                } else {
                    task.status.to_string()
                };
                t.add_row(vec![
                    task.id.to_string()[..8].to_owned(),
                    task.job_type.to_string(),
                    status,
                    count(task.current_offset),
                    count(task.total_processed),
                    opt(task.started_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
                    opt(task.updated_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
                    clean(file).into_owned(),
                ]);
            }
            print_table(t);
            for note in notes {
                println!("{note}");
            }
        }
        SyncCommand::Failures { job, all, limit } => {
            let failures = db.sync().list_failures(job, all, limit).await?;
            if json {
                return print_json(&failures);
            }
            let mut t = table(&[
                "job",
                "stock / line",
                "retries",
                "error",
                "last attempt (UTC)",
                "resolved",
            ]);
            for f in &failures {
                t.add_row(vec![
                    f.job_type.to_string(),
                    f.third_code.clone(),
                    format!("{}/{}", f.retry_count, f.max_retries),
                    opt(f.error_message.as_ref()),
                    opt(f.last_attempt_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
                    opt(f.resolved_at.map(|t| t.format("%Y-%m-%d %H:%M"))),
                ]);
            }
            print_table(t);
            println!("{} failure record(s)", failures.len());
        }
        SyncCommand::Gaps { from, to } => {
            let gaps = db.market().sync_gaps(from, to).await?;
            if json {
                return print_json(&gaps);
            }
            let mut t = table(&["stock", "missing days", "first", "last"]);
            for gap in &gaps {
                t.add_row(vec![
                    gap.third_code.to_string(),
                    count(gap.days),
                    gap.first.to_string(),
                    gap.last.to_string(),
                ]);
            }
            if !gaps.is_empty() {
                print_table(t);
            }
            let days: u64 = gaps.iter().map(|g| u64::from(g.days)).sum();
            println!(
                "{} stock(s) miss {} open day(s) from {from} to {to} (halted days are not gaps)",
                gaps.len(),
                count(days)
            );
        }
    }
    Ok(())
}
