//! `stockdb retention apply`: drop whole monthly partitions of the audit logs older than a
//! horizon, blank the text of those older than a shorter one, make partitions ahead.

use clap::{Args, Subcommand};
use stockdb::Stockdb;
use stockdb::audit::{PartitionAction, RetentionPlan, RetentionPolicy};

use super::args::parse_days;
use super::output::{self, count, print_json, print_table, table};

#[derive(Debug, Subcommand)]
pub(crate) enum RetentionCommand {
    /// Make the audit logs' partitions ahead, blank text past --blank-after, drop
    /// partitions past --keep. Whole partitions only: one is dropped once every row in it
    /// is older than the horizon. Asks before changing anything unless --yes.
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ApplyArgs {
    /// Keep this much history, e.g. 90d.
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
    let RetentionCommand::Apply(args) = command;
    let policy = RetentionPolicy {
        keep_days: args.keep,
        blank_after_days: args.blank_after,
    };
    let retention = db.retention();
    let plan = retention.plan(policy).await?;
    let changes = plan
        .partitions
        .iter()
        .filter(|p| p.action != PartitionAction::Keep)
        .count();
    if args.dry_run || changes == 0 {
        if json {
            return print_json(&plan);
        }
        print_plan(&plan, if args.dry_run { "would" } else { "will" });
        if changes == 0 {
            let created = if args.dry_run {
                Vec::new()
            } else {
                retention.ensure_partitions().await?
            };
            for name in &created {
                println!("made partition {name}");
            }
            println!("nothing to drop or blank");
        }
        return Ok(());
    }
    if !json {
        print_plan(&plan, "will");
    }
    let dropped: u64 = plan
        .with_action(PartitionAction::Drop)
        .map(|p| p.rows)
        .sum();
    let blanked: u64 = plan
        .with_action(PartitionAction::Blank)
        .map(|p| p.rows)
        .sum();
    output::confirm(
        &format!(
            "drop {} audit rows and blank the text of {}",
            count(dropped),
            count(blanked)
        ),
        "`apply`",
        "apply",
        args.yes,
    )?;
    let done = retention.apply(policy).await?;
    if json {
        return print_json(&done);
    }
    for name in &done.created {
        println!("made partition {name}");
    }
    for p in done.with_action(PartitionAction::Blank) {
        println!("blanked  {} ({} rows)", p.partition, count(p.rows));
    }
    for p in done.with_action(PartitionAction::Drop) {
        println!("dropped  {} ({} rows)", p.partition, count(p.rows));
    }
    Ok(())
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
    let mut t = table(&["table", "partition", "from", "to", "rows", "MiB", "action"]);
    for p in &plan.partitions {
        t.add_row(vec![
            p.table.to_owned(),
            p.partition.clone(),
            p.from
                .map_or_else(|| "-".to_owned(), |f| f.format("%Y-%m-%d").to_string()),
            p.to.format("%Y-%m-%d").to_string(),
            match p.action {
                PartitionAction::Keep => format!("~{}", count(p.rows)),
                _ => count(p.rows),
            },
            format!("{:.1}", p.bytes as f64 / (1024.0 * 1024.0)),
            match p.action {
                PartitionAction::Keep => "keep".to_owned(),
                PartitionAction::Blank => format!("{verb} blank text"),
                PartitionAction::Drop => format!("{verb} drop"),
            },
        ]);
    }
    print_table(t);
    for p in plan.with_action(PartitionAction::Drop) {
        if p.calls_of_stored_sessions > 0 {
            println!(
                "{}: {} of its calls belong to {} research sessions that are kept; those \
                 sessions keep their nodes and lose these calls (and their cost)",
                p.partition,
                count(p.calls_of_stored_sessions),
                count(p.stored_sessions)
            );
        }
    }
}
