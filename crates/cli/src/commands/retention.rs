//! `stockdb retention apply|partitions`: drop whole monthly partitions of the audit logs
//! older than a horizon, blank the text of those older than a shorter one; and partition
//! maintenance alone (split a converted partition into months, move what the default
//! partitions caught into its months, make months ahead, roll closed days up), for a
//! scheduler.

use clap::{Args, Subcommand};
use stockdb::Stockdb;
use stockdb::audit::{MaintenanceReport, PartitionAction, RetentionPlan, RetentionPolicy};

use super::args::parse_days;
use super::output::{self, count, print_json, print_table, table};

#[derive(Debug, Subcommand)]
pub(crate) enum RetentionCommand {
    /// Partition maintenance first (as `partitions`), then blank text past --blank-after
    /// and drop partitions past --keep. Whole partitions only: one is dropped once every
    /// row in it is older than the horizon. Asks before dropping or blanking unless --yes.
    Apply(ApplyArgs),
    /// Partition maintenance only, no policy needed (run it daily from a scheduler): split
    /// the partition the conversion to schema version 8 made into months, move the rows
    /// the default partitions caught into partitions of their months, make the months
    /// ahead, and roll the closed days up into the daily rollups that costs read and
    /// retention keeps. Online; one run at a time.
    Partitions,
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Keep this much history, e.g. 90d (at most 36500d).
    #[arg(long, value_parser = parse_days)]
    keep: u32,
    /// Blank prompts, completions and responses older than this (shorter than --keep),
    /// keeping each call's numbers for statistics and costs, e.g. 30d.
    #[arg(long, value_parser = parse_days)]
    blank_after: Option<u32>,
    /// Show what would be done; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask.
    #[arg(long)]
    yes: bool,
}

pub(crate) async fn run(db: &Stockdb, command: RetentionCommand, json: bool) -> anyhow::Result<()> {
    let args = match command {
        RetentionCommand::Apply(args) => args,
        RetentionCommand::Partitions => {
            let report = db.retention().maintain().await?;
            if json {
                return print_json(&report);
            }
            print_maintenance(&report);
            return Ok(());
        }
    };
    let policy = RetentionPolicy {
        keep_days: args.keep,
        blank_after_days: args.blank_after,
    };
    let retention = db.retention();
    let plan = retention.plan(policy).await?;
    let destructive = plan
        .partitions
        .iter()
        .filter(|p| matches!(p.action, PartitionAction::Drop | PartitionAction::Blank))
        .count();
    if args.dry_run {
        if json {
            return print_json(&plan);
        }
        print_plan(&plan, "would");
        return Ok(());
    }
    if destructive == 0 {
        let report = retention.maintain().await?;
        if json {
            return print_json(&report);
        }
        print_plan(&plan, "will");
        print_maintenance(&report);
        println!("nothing to drop or blank");
        return Ok(());
    }
    if !json {
        print_plan(&plan, "will");
    }
    let sum = |action| plan.with_action(action).map(|p| p.rows).sum::<u64>();
    output::confirm(
        &format!(
            "drop {} audit rows and blank the text of {}",
            count(sum(PartitionAction::Drop)),
            count(sum(PartitionAction::Blank))
        ),
        "`apply`",
        "apply",
        args.yes,
    )?;
    let done = retention.apply(policy).await?;
    if json {
        return print_json(&done);
    }
    if let Some(report) = &done.maintenance {
        print_maintenance(report);
    }
    for p in done.with_action(PartitionAction::Blank) {
        println!("blanked  {} ({} rows)", p.partition, count(p.rows));
    }
    for p in done.with_action(PartitionAction::Drop) {
        println!("dropped  {} ({} rows)", p.partition, count(p.rows));
    }
    Ok(())
}

fn print_maintenance(report: &MaintenanceReport) {
    for split in &report.split {
        println!(
            "split    {} into {} monthly partitions ({} rows)",
            split.partition,
            split.months.len(),
            count(split.rows)
        );
    }
    let split_months: Vec<&String> = report.split.iter().flat_map(|s| &s.months).collect();
    for name in report.created.iter().filter(|n| !split_months.contains(n)) {
        println!("made     {name}");
    }
    if report.moved_from_default > 0 {
        println!(
            "moved    {} rows from the default partitions into their months",
            count(report.moved_from_default)
        );
    }
    let rolled = report.rolled_up;
    if rolled.llm_days + rolled.api_days > 0 {
        println!(
            "rolled   up {} day(s) of LLM calls ({} calls) and {} of API calls ({} calls)",
            count(rolled.llm_days),
            count(rolled.llm_calls),
            count(rolled.api_days),
            count(rolled.api_calls)
        );
    }
}

fn print_plan(plan: &RetentionPlan, verb: &str) {
    println!(
        "now {} UTC: partitions ending before {} are dropped{}",
        plan.now.format("%Y-%m-%d %H:%M"),
        plan.drop_before.format("%Y-%m-%d %H:%M"),
        plan.blank_before.map_or_else(String::new, |b| format!(
            ", before {} blanked",
            b.format("%Y-%m-%d %H:%M")
        ))
    );
    let day = |at: chrono::NaiveDateTime| at.format("%Y-%m-%d").to_string();
    let mut t = table(&["table", "partition", "from", "to", "rows", "MiB", "action"]);
    for p in &plan.partitions {
        let after = if p.pending { " (after split)" } else { "" };
        t.add_row(vec![
            p.table.to_owned(),
            p.partition.clone(),
            p.from.map_or_else(|| "-".to_owned(), day),
            p.to.map_or_else(|| "default".to_owned(), day),
            match p.action {
                PartitionAction::Keep | PartitionAction::Split if !p.pending => {
                    format!("~{}", count(p.rows))
                }
                _ => count(p.rows),
            },
            format!("{:.1}", p.bytes as f64 / (1024.0 * 1024.0)),
            match p.action {
                PartitionAction::Keep => format!("keep{after}"),
                PartitionAction::Split => format!("{verb} split into months"),
                PartitionAction::Blank => format!("{verb} blank text{after}"),
                PartitionAction::Drop => format!("{verb} drop{after}"),
            },
        ]);
    }
    print_table(t);
    for p in plan.with_action(PartitionAction::Drop) {
        if p.calls_of_stored_sessions > 0 {
            println!(
                "{}: {} of its calls belong to {} research sessions that are kept; those \
                 sessions keep their nodes and their cost (in the daily rollup) and lose these calls",
                p.partition,
                count(p.calls_of_stored_sessions),
                count(p.stored_sessions)
            );
        }
    }
}
