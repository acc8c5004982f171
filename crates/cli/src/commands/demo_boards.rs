//! The demo's day boards and market insight: every day's boards saved through their
//! repositories but the last, whose five AkShare files go through `stockdb import` as an
//! operator's would; then the newest days' concept heat computed; then a short tour.

use std::path::Path;

use anyhow::Context as _;
use chrono::NaiveDate;
use sample::SampleBoards;
use stockdb::Stockdb;
use stockdb::data_engineering::BoardRows;

use super::boards::{self, DayArgs, InsightCommand, LimitUpArgs};
use super::import::{ImportArgs, Kind, import, print_summary};
use super::output::heading;

/// Days of concept heat the demo computes, newest first.
const INSIGHT_DAYS: usize = 20;

/// Loads `boards` (of `days`) and computes the newest days' insight.
pub(crate) async fn load(
    db: &Stockdb,
    dir: &Path,
    boards: SampleBoards,
    days: &[NaiveDate],
) -> anyhow::Result<()> {
    let Some(&last) = days.last() else {
        return Ok(());
    };
    let SampleBoards {
        limit_up,
        broken,
        previous,
        dragon_tiger,
        sector_flows,
    } = boards;
    // Everything before the last day through the repositories, as a sync would save it.
    let before = |day: NaiveDate| day < last;
    let (limit_up, limit_up_last) = split(limit_up, |r| before(r.trade_date));
    let (broken, broken_last) = split(broken, |r| before(r.trade_date));
    let (previous, previous_last) = split(previous, |r| before(r.trade_date));
    let (dragon_tiger, dragon_tiger_last) = split(dragon_tiger, |r| before(r.trade_date));
    let (sector_flows, flows_last) = split(sector_flows, |r| before(r.trade_date));
    let saved = [
        db.limit_up().save_all(limit_up).await?.inserted,
        db.broken_boards().save_all(broken).await?.inserted,
        db.previous_limit_up().save_all(previous).await?.inserted,
        db.dragon_tiger().save_all(dragon_tiger).await?.inserted,
        db.sector_flows().save_all(sector_flows).await?.inserted,
    ];
    println!(
        "day boards before {last} saved: {} limit-up, {} broken-board, {} previous-limit-up, \
         {} dragon-tiger, {} sector-flow rows",
        saved[0], saved[1], saved[2], saved[3], saved[4]
    );
    heading(&format!(
        "importing {last}'s AkShare board files (`stockdb import … --date {last}`)"
    ));
    for (kind, name, rows) in [
        (
            Kind::ZtPool,
            "stock_zt_pool_em.csv",
            BoardRows::LimitUp(limit_up_last),
        ),
        (
            Kind::ZbgcPool,
            "stock_zt_pool_zbgc_em.csv",
            BoardRows::BrokenBoard(broken_last),
        ),
        (
            Kind::PreviousPool,
            "stock_zt_pool_previous_em.csv",
            BoardRows::PreviousLimitUp(previous_last),
        ),
        (
            Kind::Lhb,
            "stock_lhb_detail_em.csv",
            BoardRows::DragonTiger(dragon_tiger_last),
        ),
        (
            Kind::SectorFlow,
            "stock_sector_fund_flow_rank.csv",
            BoardRows::SectorFlow(flows_last),
        ),
    ] {
        let file = super::demo::new_private_file(dir, name)?;
        tushare::write_board(std::io::BufWriter::new(file.1), &rows)?;
        let kind_name = tushare::ImportKind::from(kind).name();
        let needs_day = tushare::ImportKind::from(kind).needs_trade_date();
        let day_flag = if needs_day {
            format!(" --date {last}")
        } else {
            String::new()
        };
        println!("stockdb import {kind_name} {}{day_flag}", file.0.display());
        let mut args = ImportArgs::new(kind, file.0);
        if needs_day {
            args = args.of_day(last);
        }
        let summary = import(db, &args).await?;
        print_summary(&summary, false)?;
    }
    let mut computed = (0, 0);
    for &day in days.iter().rev().take(INSIGHT_DAYS) {
        let counts = db.compute_insight(day).await?;
        computed.0 += counts.concepts;
        computed.1 += counts.limit_ups;
    }
    println!(
        "market insight of the last {INSIGHT_DAYS} days computed: {} concept-heat rows, {} \
         limit-up stocks with their boards",
        computed.0, computed.1
    );
    Ok(())
}

/// Runs of the scheduler's seeded jobs on the last `days`, at their cron times (Beijing
/// 18:00, 18:30, 19:00 and midnight, stored in UTC as the service stores them), the daily
/// sync failing once: as the earlier service's scheduler would have logged them.
pub(crate) async fn record_runs(db: &Stockdb, days: &[NaiveDate]) -> anyhow::Result<usize> {
    let clock = std::sync::Arc::new(stockdb::shared_db::ManualClock::new(
        days.first()
            .copied()
            .unwrap_or_default()
            .and_time(chrono::NaiveTime::MIN),
    ));
    let scheduler = Stockdb::from_db(db.db().with_clock(clock.clone()), None).scheduler();
    let jobs = [
        ("sync_incremental_finance", 16, 0, 41_000),
        ("sync_daily_by_date", 10, 0, 95_000),
        ("sync_concept_data", 10, 30, 180_000),
        ("sync_stock_basic", 11, 0, 12_000),
    ];
    let mut recorded = 0;
    for (n, day) in days.iter().rev().take(RUN_DAYS).rev().enumerate() {
        for (job, hour, minute, ms) in jobs {
            let start = day.and_hms_opt(hour, minute, 0).context("a cron time")?;
            clock.set(start);
            let run = scheduler.start_run(job).await?;
            clock.advance(chrono::Duration::milliseconds(ms));
            let (status, error) = if job == "sync_daily_by_date" && n == 1 {
                (
                    stockdb::scheduler::RunStatus::Failed,
                    Some("TimeoutError: tushare daily did not answer in 60 s"),
                )
            } else {
                (stockdb::scheduler::RunStatus::Success, None)
            };
            scheduler.finish_run(run.id, status, error).await?;
            recorded += 1;
        }
    }
    Ok(recorded)
}

/// Days of scheduler runs the demo records.
const RUN_DAYS: usize = 3;

/// `rows` split into those `keep` holds for and the rest.
fn split<R>(rows: Vec<R>, keep: impl Fn(&R) -> bool) -> (Vec<R>, Vec<R>) {
    rows.into_iter().partition(keep)
}

/// The boards' commands on the sample: the last day's pools, the day before's
/// dragon-tiger list (with seats: AkShare's file of the last day has none), the hottest
/// boards.
pub(crate) async fn tour(db: &Stockdb, days: &[NaiveDate], json: bool) -> anyhow::Result<()> {
    let (Some(&last), Some(&before)) = (days.last(), days.iter().rev().nth(1)) else {
        return Ok(());
    };
    heading(&format!("stockdb limit-up {last}"));
    boards::limit_up(db, &LimitUpArgs::on(last, false), json).await?;
    heading(&format!("stockdb limit-up {last} --broken"));
    boards::limit_up(db, &LimitUpArgs::on(last, true), json).await?;
    heading(&format!("stockdb dragon-tiger {before}"));
    boards::dragon_tiger(db, &DayArgs::on(before), json).await?;
    heading(&format!("stockdb insight heat {last} --top 5"));
    boards::insight(db, InsightCommand::heat(last, 5), json)
        .await
        .context("the demo's insight tour")
}
