//! `stockdb db start|stop|status|url`: the embedded cluster; `db health`; `db partitions`
//! (`stock_daily`'s years); `db distribute` on a Citus coordinator.

use shared_db::redact_url;
use stockdb::Health;

use super::target::Target;
use super::{DbCommand, output};
use crate::embedded::ClusterState;

pub(crate) async fn run(target: &Target, command: DbCommand, json: bool) -> anyhow::Result<()> {
    if matches!(command, DbCommand::Health) {
        return health(target, json).await;
    }
    if let DbCommand::Partitions { status } = command {
        return partitions(&target.open().await?, status, json).await;
    }
    if let DbCommand::Distribute { dry_run, yes } = command {
        return distribute(&target.open().await?, dry_run, yes, json).await;
    }
    if let (DbCommand::Url, Some(url)) = (&command, target.database_url()) {
        println!("{}", redact_url(url));
        return Ok(());
    }
    anyhow::ensure!(
        target.is_embedded() || matches!(command, DbCommand::Url),
        "`stockdb db {}` manages the embedded cluster; DATABASE_URL is set, so it is not in use",
        format!("{command:?}").to_lowercase()
    );
    let cluster = target.cluster()?;
    match command {
        DbCommand::Start => {
            target.migrated_url().await?;
            println!(
                "embedded cluster running in {}",
                cluster.data_dir().display()
            );
        }
        DbCommand::Stop => {
            cluster.stop()?;
            println!(
                "embedded cluster stopped ({})",
                cluster.data_dir().display()
            );
        }
        DbCommand::Status => {
            let state = match cluster.state() {
                ClusterState::Uninitialized => "not initialized",
                ClusterState::Stopped => "stopped",
                ClusterState::Running => "running",
            };
            if json {
                output::print_json(&serde_json::json!({
                    "state": state,
                    "data_dir": cluster.data_dir(),
                    "url": cluster.url()?,
                    "log": cluster.log_file(),
                }))?;
            } else {
                println!(
                    "state:    {state}\ndata dir: {}\nurl:      {}\nlog:      {}",
                    cluster.data_dir().display(),
                    cluster.url()?,
                    cluster.log_file().display()
                );
            }
        }
        DbCommand::Url => println!("{}", target.url().await?),
        DbCommand::Health | DbCommand::Partitions { .. } | DbCommand::Distribute { .. } => {}
    }
    Ok(())
}

/// `stockdb db health`: the report, then exit 1 when unhealthy.
async fn health(target: &Target, json: bool) -> anyhow::Result<()> {
    let health = match target.open_as_is().await {
        Ok(db) => db.health().await,
        Err(err) => Health::unreachable(format!("{err:#}")),
    };
    if json {
        output::print_json(&health)?;
    } else {
        let primary = &health.primary;
        match (&primary.server_version, primary.round_trip_ms) {
            (Some(version), Some(ms)) => {
                println!("primary:  reachable, PostgreSQL {version}, round trip {ms:.1} ms");
            }
            _ => println!("primary:  UNREACHABLE"),
        }
        if let Some(schema) = &health.schema {
            let golden = match schema.matches_golden {
                Some(true) => "matches its golden print",
                Some(false) => "DIFFERS from its golden print",
                None => "no golden print to compare",
            };
            println!(
                "schema:   version {} of {} ({} pending), {golden}",
                schema.version,
                schema.expected,
                schema.pending.len()
            );
        }
        if let Some(pool) = &health.pool {
            println!(
                "pool:     {} open, {} idle, at most {}",
                pool.open, pool.idle, pool.max
            );
        }
        for replica in &health.replicas {
            let state = match (replica.usable, replica.lag_ms) {
                (true, Some(lag)) => format!("in use, lag {lag:.0} ms"),
                (true, None) => "in use".to_owned(),
                (false, _) => "NOT USED".to_owned(),
            };
            println!(
                "replica:  {} {state}, {} reads served",
                output::clean(&replica.url),
                replica.reads
            );
        }
        for status in &health.partitions {
            println!(
                "partitions: {} monthly until {}, {} rows in default{}",
                status.table,
                status
                    .ready_until
                    .map_or_else(|| "-".to_owned(), |at| at.format("%Y-%m-%d").to_string()),
                status.rows_in_default,
                status
                    .converted
                    .as_ref()
                    .map_or_else(String::new, |name| format!(", {name} not split yet"))
            );
        }
        if let Some(citus) = &health.citus {
            let placed = |done: bool| {
                citus
                    .steps
                    .iter()
                    .filter(|s| s.done == done)
                    .map(|s| s.table)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "citus:    {} with {} worker(s) ({}); placed: {}; pending: {}",
                citus.citus_version,
                citus.workers.len(),
                output::clean(&citus.workers.join(", ")),
                or_none(placed(true)),
                or_none(placed(false))
            );
        }
        for warning in &health.warnings {
            println!("warning:  {}", output::clean(warning));
        }
        for problem in &health.problems {
            println!("problem:  {}", output::clean(problem));
        }
        println!(
            "{}",
            if health.healthy {
                "healthy"
            } else {
                "UNHEALTHY"
            }
        );
    }
    anyhow::ensure!(health.healthy, "unhealthy: {}", health.problems.join("; "));
    Ok(())
}

/// `stockdb db partitions`: the maintenance (unless `status_only`), then the partitions.
async fn partitions(db: &stockdb::Stockdb, status_only: bool, json: bool) -> anyhow::Result<()> {
    let partitions = db.daily_partitions();
    let done = if status_only {
        None
    } else {
        Some(partitions.maintain().await?)
    };
    let status = partitions.status().await?;
    if json {
        return output::print_json(
            &serde_json::json!({ "maintenance": done, "partitions": status }),
        );
    }
    if let Some(done) = &done {
        if let Some(split) = &done.split {
            println!("split    {split} into {}", done.split_into.join(", "));
        }
        for name in &done.packed {
            println!("packed   {name}");
        }
        for name in &done.created {
            println!("created  {name}");
        }
        if done.moved_from_default > 0 {
            println!(
                "moved    {} bars out of the default partition",
                output::count(done.moved_from_default)
            );
        }
        for name in &done.left_on_citus {
            println!("left     {name} (not split or packed on Citus)");
        }
    }
    let day = |d: Option<chrono::NaiveDate>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
    let mut t = output::table(&["partition", "from", "to", "fillfactor", "rows", "MiB"]);
    for p in &status {
        t.add_row(vec![
            p.name.clone(),
            day(p.from),
            p.to.map_or_else(|| "default".to_owned(), |d| d.to_string()),
            p.fillfactor
                .map_or_else(|| "-".to_owned(), |f| f.to_string()),
            format!("~{}", output::count(p.rows)),
            format!("{:.1}", p.bytes as f64 / 1_048_576.0),
        ]);
    }
    output::print_table(t);
    Ok(())
}

/// `stockdb db distribute`: the plan, then (confirmed) carried out.
async fn distribute(
    db: &stockdb::Stockdb,
    dry_run: bool,
    yes: bool,
    json: bool,
) -> anyhow::Result<()> {
    let plan = db.distribution().await?;
    let describe = |plan: &stockdb::Distribution| {
        println!(
            "Citus {} with {} worker(s): {}",
            plan.citus_version,
            plan.workers.len(),
            plan.workers.join(", ")
        );
        for step in &plan.steps {
            let placement = match step.placement {
                stockdb::Placement::Reference => {
                    "reference table (a copy on every node)".to_owned()
                }
                stockdb::Placement::Distributed {
                    column,
                    colocate_with,
                } => format!(
                    "distributed by {column}{}",
                    colocate_with
                        .map(|t| format!(", co-located with {t}"))
                        .unwrap_or_default()
                ),
            };
            let state = if step.done { "done" } else { "pending" };
            println!("  {:<14} {placement}: {state}", step.table);
        }
    };
    let pending = plan.pending().count();
    if dry_run || pending == 0 {
        if json {
            return output::print_json(&plan);
        }
        describe(&plan);
        if pending == 0 {
            println!("nothing to do");
        }
        return Ok(());
    }
    if !json {
        describe(&plan);
    }
    output::confirm(
        &format!("place {pending} table(s) on the workers"),
        "`distribute`",
        "distribute",
        yes,
    )?;
    let done = db.distribute().await?;
    if json {
        return output::print_json(&done);
    }
    println!("{pending} table(s) placed");
    describe(&done);
    Ok(())
}

/// `-` for an empty list.
fn or_none(list: String) -> String {
    if list.is_empty() {
        "-".to_owned()
    } else {
        list
    }
}
