//! The day boards shared with the earlier service: `stockdb limit-up [DAY] [--broken |
//! --previous]`, `stockdb dragon-tiger [DAY]`, `stockdb sector-flow [DAY]`, and its
//! market insight: `stockdb insight heat|limit-ups|compute`.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use stockdb::Stockdb;
use stockdb::data_engineering::DayBoardRepository;

use super::args::parse_date;
use super::output::{clean, num, opt, print_json, print_table, table};

/// `stockdb limit-up` arguments.
#[derive(Debug, Args)]
pub(crate) struct LimitUpArgs {
    /// The day (default: the newest day with a pool).
    #[arg(value_parser = parse_date)]
    day: Option<NaiveDate>,
    /// The broken-board pool instead (炸板: reached the limit, did not close there).
    #[arg(long, conflicts_with = "previous")]
    broken: bool,
    /// How yesterday's limit-up stocks do on the day instead.
    #[arg(long)]
    previous: bool,
}

impl LimitUpArgs {
    /// The pool of `day`, or its broken-board pool.
    pub(crate) fn on(day: NaiveDate, broken: bool) -> Self {
        Self {
            day: Some(day),
            broken,
            previous: false,
        }
    }
}

/// A day argument: the one given, or the board's newest.
#[derive(Debug, Args)]
pub(crate) struct DayArgs {
    /// The day (default: the newest day with rows).
    #[arg(value_parser = parse_date)]
    day: Option<NaiveDate>,
}

impl DayArgs {
    /// `day`.
    pub(crate) fn on(day: NaiveDate) -> Self {
        Self { day: Some(day) }
    }
}

/// `stockdb sector-flow` arguments.
#[derive(Debug, Args)]
pub(crate) struct SectorFlowArgs {
    /// The day (default: the newest day with flows).
    #[arg(value_parser = parse_date)]
    day: Option<NaiveDate>,
    /// Only this ranking (行业资金流, 概念资金流, 地域资金流).
    #[arg(long = "type")]
    sector_type: Option<String>,
}

/// The day asked for, or the board's newest; `what` names the board in the error.
async fn day_of<R>(
    board: &Arc<dyn DayBoardRepository<R>>,
    day: Option<NaiveDate>,
    what: &str,
) -> anyhow::Result<NaiveDate> {
    match day {
        Some(day) => Ok(day),
        None => board
            .latest_day()
            .await?
            .with_context(|| format!("no {what} is stored")),
    }
}

pub(crate) async fn limit_up(db: &Stockdb, args: &LimitUpArgs, json: bool) -> anyhow::Result<()> {
    if args.broken {
        return broken_boards(db, args.day, json).await;
    }
    if args.previous {
        return previous_limit_up(db, args.day, json).await;
    }
    let pool = db.limit_up();
    let day = day_of(&pool, args.day, "limit-up pool").await?;
    let stocks = pool.by_date(day).await?;
    if json {
        return print_json(&stocks);
    }
    let mut t = table(&[
        "stock",
        "name",
        "boards",
        "first sealed",
        "close",
        "pct_chg",
        "turnover %",
        "industry",
    ]);
    for s in &stocks {
        t.add_row(vec![
            s.third_code.to_string(),
            clean(&s.stock_name).into_owned(),
            s.consecutive_boards.to_string(),
            opt(s.first_limit_up_time.as_deref().map(clean)),
            num(Some(s.close), 2),
            num(Some(s.pct_chg), 2),
            num(Some(s.turnover_rate), 2),
            clean(&s.industry).into_owned(),
        ]);
    }
    if !stocks.is_empty() {
        print_table(t);
    }
    println!(
        "{} stock(s) closed at their limit-up price on {day}",
        stocks.len()
    );
    Ok(())
}

async fn broken_boards(db: &Stockdb, day: Option<NaiveDate>, json: bool) -> anyhow::Result<()> {
    let pool = db.broken_boards();
    let day = day_of(&pool, day, "broken-board pool").await?;
    let stocks = pool.by_date(day).await?;
    if json {
        return print_json(&stocks);
    }
    let mut t = table(&[
        "stock",
        "name",
        "breaks",
        "first sealed",
        "close",
        "pct_chg",
        "industry",
    ]);
    for s in &stocks {
        t.add_row(vec![
            s.third_code.to_string(),
            clean(&s.stock_name).into_owned(),
            s.open_count.to_string(),
            opt(s.first_limit_up_time.as_deref().map(clean)),
            num(Some(s.close), 2),
            num(Some(s.pct_chg), 2),
            clean(&s.industry).into_owned(),
        ]);
    }
    if !stocks.is_empty() {
        print_table(t);
    }
    let sealed = db.limit_up().by_date(day).await?.len();
    let touched = sealed + stocks.len();
    println!(
        "{} stock(s) reached their limit-up on {day} and did not close there ({} of {touched} \
         that reached it: {}%)",
        stocks.len(),
        stocks.len(),
        num(Some(percent(stocks.len(), touched)), 1)
    );
    Ok(())
}

/// `part` of `whole` in percent (0 of nothing is 0).
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

async fn previous_limit_up(db: &Stockdb, day: Option<NaiveDate>, json: bool) -> anyhow::Result<()> {
    let pool = db.previous_limit_up();
    let day = day_of(&pool, day, "previous-limit-up pool").await?;
    let stocks = pool.by_date(day).await?;
    if json {
        return print_json(&stocks);
    }
    let mut t = table(&[
        "stock",
        "name",
        "boards before",
        "pct_chg",
        "close",
        "industry",
    ]);
    for s in &stocks {
        t.add_row(vec![
            s.third_code.to_string(),
            clean(&s.stock_name).into_owned(),
            s.yesterday_consecutive_boards.to_string(),
            num(Some(s.pct_chg), 2),
            num(Some(s.close), 2),
            clean(&s.industry).into_owned(),
        ]);
    }
    if !stocks.is_empty() {
        print_table(t);
    }
    let up = stocks.iter().filter(|s| s.pct_chg > 0.0).count();
    println!(
        "{} of the previous day's limit-up stock(s) rose on {day} ({}%)",
        up,
        num(Some(percent(up, stocks.len())), 1)
    );
    Ok(())
}

pub(crate) async fn dragon_tiger(db: &Stockdb, args: &DayArgs, json: bool) -> anyhow::Result<()> {
    let list = db.dragon_tiger();
    let day = day_of(&list, args.day, "dragon-tiger list").await?;
    let entries = list.by_date(day).await?;
    if json {
        return print_json(&entries);
    }
    let mut t = table(&[
        "stock", "name", "reason", "close", "pct_chg", "net buy", "buy", "sell", "seats",
    ]);
    for e in &entries {
        t.add_row(vec![
            e.third_code.to_string(),
            clean(&e.stock_name).into_owned(),
            clean(&e.reason).into_owned(),
            num(Some(e.close), 2),
            num(Some(e.pct_chg), 2),
            num(Some(e.net_amount), 0),
            num(Some(e.buy_amount), 0),
            num(Some(e.sell_amount), 0),
            format!("{}/{}", e.buy_seats.len(), e.sell_seats.len()),
        ]);
    }
    if !entries.is_empty() {
        print_table(t);
    }
    println!(
        "{} listing(s) on the dragon-tiger list of {day}, most net buying first",
        entries.len()
    );
    Ok(())
}

pub(crate) async fn sector_flow(
    db: &Stockdb,
    args: &SectorFlowArgs,
    json: bool,
) -> anyhow::Result<()> {
    let flows_repo = db.sector_flows();
    let day = day_of(&flows_repo, args.day, "sector flow").await?;
    let mut flows = flows_repo.by_date(day).await?;
    if let Some(kind) = &args.sector_type {
        flows.retain(|f| &f.sector_type == kind);
    }
    if json {
        return print_json(&flows);
    }
    let mut t = table(&["type", "sector", "net inflow", "pct_chg"]);
    for f in &flows {
        t.add_row(vec![
            clean(&f.sector_type).into_owned(),
            clean(&f.sector_name).into_owned(),
            num(Some(f.net_amount), 0),
            num(Some(f.pct_chg), 2),
        ]);
    }
    if !flows.is_empty() {
        print_table(t);
    }
    println!("{} sector(s) on {day}, most net inflow first", flows.len());
    Ok(())
}

/// `stockdb insight` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum InsightCommand {
    /// Concept boards of a day, hottest (equal-weighted change) first.
    Heat {
        /// The day (default: the newest with heat).
        #[arg(value_parser = parse_date)]
        day: Option<NaiveDate>,
        /// At most this many boards.
        #[arg(long, default_value_t = 10)]
        top: u64,
    },
    /// A day's limit-up stocks with their boards.
    LimitUps {
        /// The day (default: the newest with heat).
        #[arg(value_parser = parse_date)]
        day: Option<NaiveDate>,
        /// Only the stocks of this board.
        #[arg(long)]
        concept: Option<String>,
    },
    /// Computes and stores a day's heat and limit-up stocks from the stored bars and
    /// boards, as the earlier service's daily report does.
    Compute {
        /// The day.
        #[arg(value_parser = parse_date)]
        day: NaiveDate,
    },
}

impl InsightCommand {
    /// `heat DAY --top N`.
    pub(crate) fn heat(day: NaiveDate, top: u64) -> Self {
        Self::Heat {
            day: Some(day),
            top,
        }
    }
}

pub(crate) async fn insight(
    db: &Stockdb,
    command: InsightCommand,
    json: bool,
) -> anyhow::Result<()> {
    let repo = db.insight();
    let newest = async || -> anyhow::Result<NaiveDate> {
        repo.latest_day()
            .await?
            .context("no concept heat is stored (stockdb insight compute DAY makes it)")
    };
    match command {
        InsightCommand::Heat { day, top } => {
            let day = match day {
                Some(day) => day,
                None => newest().await?,
            };
            let heat = repo.concept_heat(day, Some(top)).await?;
            if json {
                return print_json(&heat);
            }
            let mut t = table(&[
                "board",
                "name",
                "avg pct_chg",
                "up",
                "down",
                "limit-up",
                "stocks",
            ]);
            for h in &heat {
                t.add_row(vec![
                    clean(&h.concept_code).into_owned(),
                    clean(&h.concept_name).into_owned(),
                    num(Some(h.avg_pct_chg), 2),
                    h.up_count.to_string(),
                    h.down_count.to_string(),
                    h.limit_up_count.to_string(),
                    h.stock_count.to_string(),
                ]);
            }
            if !heat.is_empty() {
                print_table(t);
            }
            println!("the {} hottest concept board(s) of {day}", heat.len());
        }
        InsightCommand::LimitUps { day, concept } => {
            let day = match day {
                Some(day) => day,
                None => newest().await?,
            };
            let stocks = repo.limit_ups(day, concept.as_deref()).await?;
            if json {
                return print_json(&stocks);
            }
            let mut t = table(&["stock", "name", "limit", "pct_chg", "boards"]);
            for s in &stocks {
                let boards: Vec<&str> = s.concepts.iter().map(|c| c.name.as_str()).collect();
                t.add_row(vec![
                    clean(&s.third_code).into_owned(),
                    clean(&s.stock_name).into_owned(),
                    s.limit_type.to_string(),
                    num(Some(s.pct_chg), 2),
                    clean(&boards.join(", ")).into_owned(),
                ]);
            }
            if !stocks.is_empty() {
                print_table(t);
            }
            println!("{} stock(s) at their limit-up on {day}", stocks.len());
        }
        InsightCommand::Compute { day } => {
            let counts = db.compute_insight(day).await?;
            if json {
                return print_json(&counts);
            }
            println!(
                "{day}: heat of {} concept board(s), {} limit-up stock(s) stored",
                counts.concepts, counts.limit_ups
            );
        }
    }
    Ok(())
}
