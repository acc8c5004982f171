//! The market's structure: `stockdb calendar`, `stockdb status`, `stockdb days`,
//! `stockdb universe`, `stockdb dividends` and `stockdb check factors`.

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde_json::json;
use stockdb::Stockdb;
use stockdb::data_engineering::{DayClass, Exchange, ThirdCode};

use super::args::{code, parse_date};
use super::output::{clean, num, opt, print_json, print_table, table};

/// `--exchange`.
fn parse_exchange(text: &str) -> Result<Exchange, String> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|err: shared_db::InvalidInput| err.to_string())
}

/// `stockdb calendar DAY [--before N]`, `stockdb calendar --from D --to D`.
#[derive(Debug, Args)]
pub(crate) struct CalendarArgs {
    /// A day: whether it is open, the trading days around it.
    #[arg(value_parser = parse_date, required_unless_present = "from")]
    day: Option<NaiveDate>,
    /// SSE, SZSE or BSE.
    #[arg(long, value_parser = parse_exchange, default_value = "SSE")]
    exchange: Exchange,
    /// Also list the N trading days before DAY.
    #[arg(long, requires = "day")]
    before: Option<u32>,
    /// List the open days from this day (with --to) instead.
    #[arg(long, value_parser = parse_date, requires = "to", conflicts_with = "day")]
    from: Option<NaiveDate>,
    /// Last day of --from's range.
    #[arg(long, value_parser = parse_date, requires = "from")]
    to: Option<NaiveDate>,
}

impl CalendarArgs {
    /// `DAY --before COUNT` on SSE.
    pub(crate) fn new(day: NaiveDate, before: u32) -> Self {
        Self {
            day: Some(day),
            exchange: Exchange::Sse,
            before: Some(before),
            from: None,
            to: None,
        }
    }
}

pub(crate) async fn calendar(db: &Stockdb, args: &CalendarArgs, json: bool) -> anyhow::Result<()> {
    let market = db.market();
    let exchange = args.exchange;
    if let (Some(from), Some(to)) = (args.from, args.to) {
        let days = market.trading_days(exchange, from, to).await?;
        if json {
            return print_json(
                &json!({"exchange": exchange, "from": from, "to": to, "open": days}),
            );
        }
        for day in &days {
            println!("{day}");
        }
        println!("{} open days of {exchange} from {from} to {to}", days.len());
        return Ok(());
    }
    let day = args.day.context("give a day, or --from and --to")?;
    let open = market
        .trading_days(exchange, day, day)
        .await?
        .contains(&day);
    let previous = market.previous_trading_day(exchange, day).await?;
    let next = market.next_trading_day(exchange, day).await?;
    let before = match args.before {
        Some(count) => market.trading_days_before(exchange, day, count).await?,
        None => Vec::new(),
    };
    if json {
        return print_json(&json!({
            "exchange": exchange, "day": day, "open": open, "previous": previous, "next": next,
            "before": before,
        }));
    }
    let mut t = table(&["field", "value"]);
    for (field, value) in [
        ("exchange", exchange.to_string()),
        ("day", day.to_string()),
        ("open", open.to_string()),
        ("previous trading day", opt(previous)),
        ("next trading day", opt(next)),
    ] {
        t.add_row(vec![field.to_owned(), value]);
    }
    if let Some(count) = args.before {
        let shown: Vec<String> = before.iter().map(ToString::to_string).collect();
        t.add_row(vec![
            format!("{count} trading days before"),
            shown.join(" "),
        ]);
    }
    print_table(t);
    Ok(())
}

/// `stockdb status CODE DAY`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Tushare code, e.g. 600518.SH.
    code: String,
    /// The day (YYYY-MM-DD or YYYYMMDD): everything as known that day.
    #[arg(value_parser = parse_date)]
    day: NaiveDate,
}

impl StatusArgs {
    /// `CODE DAY`.
    pub(crate) fn new(code: &str, day: NaiveDate) -> Self {
        Self {
            code: code.to_owned(),
            day,
        }
    }
}

pub(crate) async fn status(db: &Stockdb, args: &StatusArgs, json: bool) -> anyhow::Result<()> {
    let code = code(&args.code)?;
    let status = db.market().status_on(&code, args.day).await?;
    if json {
        return print_json(&json!({"status": status, "tradable": status.tradable()}));
    }
    let halt = status.halt.as_ref().map(|h| {
        format!(
            "since {}{}",
            h.trade_date,
            h.reason
                .as_deref()
                .map(|r| format!(" ({})", clean(r)))
                .unwrap_or_default()
        )
    });
    let intraday = status.intraday_halt.as_ref().map(|h| {
        format!(
            "intraday {}",
            clean(h.suspend_timing.as_deref().unwrap_or_default())
        )
    });
    let limit = status.limit.as_ref().map(|l| {
        format!(
            "up {}  down {}  (pre-close {})",
            num(Some(l.up_limit), 2),
            num(Some(l.down_limit), 2),
            num(l.pre_close, 2)
        )
    });
    let name = status.name.as_ref().map(|n| {
        format!(
            "{} (from {}, announced {})",
            clean(&n.name),
            n.start_date,
            opt(n.ann_date)
        )
    });
    let flags = status.flags;
    let mut marks = Vec::new();
    for (set, mark) in [
        (flags.st, "ST"),
        (flags.star_st, "*ST"),
        (flags.delisting, "delisting"),
    ] {
        if set {
            marks.push(mark);
        }
    }
    let mut t = table(&["field", "value"]);
    for (field, value) in [
        ("code", code.to_string()),
        ("day", args.day.to_string()),
        ("exchange", opt(status.exchange)),
        ("exchange open", opt(status.open)),
        ("listed", opt(status.listed)),
        ("bar stored", status.has_bar.to_string()),
        (
            "halted",
            halt.or(intraday).unwrap_or_else(|| "no".to_owned()),
        ),
        ("limits", opt(limit)),
        ("name", opt(name)),
        ("flags", marks.join(" ")),
        ("tradable", status.tradable().to_string()),
    ] {
        t.add_row(vec![field.to_owned(), value]);
    }
    print_table(t);
    Ok(())
}

/// `stockdb days CODE --from D --to D`.
#[derive(Debug, Args)]
pub(crate) struct DaysArgs {
    /// Tushare code, e.g. 000001.SZ.
    code: String,
    /// First day.
    #[arg(long, value_parser = parse_date)]
    from: NaiveDate,
    /// Last day.
    #[arg(long, value_parser = parse_date)]
    to: NaiveDate,
    /// List traded days too (by default only the others).
    #[arg(long)]
    all: bool,
}

impl DaysArgs {
    /// `CODE --from FROM --to TO`.
    pub(crate) fn new(code: &str, from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            code: code.to_owned(),
            from,
            to,
            all: false,
        }
    }
}

pub(crate) async fn days(db: &Stockdb, args: &DaysArgs, json: bool) -> anyhow::Result<()> {
    let code = code(&args.code)?;
    let days = db.market().classify_days(&code, args.from, args.to).await?;
    if json {
        return print_json(&days);
    }
    let mut t = table(&["day", "class"]);
    for day in days
        .iter()
        .filter(|d| args.all || d.class != DayClass::Traded)
    {
        t.add_row(vec![day.day.to_string(), day.class.to_string()]);
    }
    print_table(t);
    let counted = |class| days.iter().filter(|d| d.class == class).count();
    println!(
        "{} open days of {code} from {} to {}: {} traded, {} halted, {} not synced, {} not listed",
        days.len(),
        args.from,
        args.to,
        counted(DayClass::Traded),
        counted(DayClass::Halted),
        counted(DayClass::NotSynced),
        counted(DayClass::NotListed),
    );
    Ok(())
}

/// `stockdb universe INDEX DAY`, `stockdb universe INDEX --history`.
#[derive(Debug, Args)]
pub(crate) struct UniverseArgs {
    /// Index code, e.g. 000300.SH.
    index: String,
    /// The members on this day, as known then (its latest snapshot by then).
    #[arg(value_parser = parse_date, required_unless_present = "history")]
    day: Option<NaiveDate>,
    /// Every member's stretches in the index instead.
    #[arg(long, conflicts_with = "day")]
    history: bool,
}

pub(crate) async fn universe(db: &Stockdb, args: &UniverseArgs, json: bool) -> anyhow::Result<()> {
    let index = code(&args.index)?;
    let Some(day) = args.day else {
        let stretches = db.market().memberships(&index).await?;
        if json {
            return print_json(&stretches);
        }
        let mut t = table(&["member", "in", "out"]);
        for s in &stretches {
            t.add_row(vec![
                s.con_code.to_string(),
                s.in_date.to_string(),
                opt(s.out_date),
            ]);
        }
        print_table(t);
        println!("{} membership stretches of {index}", stretches.len());
        return Ok(());
    };
    let universe = db.market().universe_as_of(&index, day).await?;
    if json {
        return print_json(&universe);
    }
    let mut t = table(&["member", "weight %"]);
    for (member, weight) in &universe.members {
        t.add_row(vec![member.to_string(), num(*weight, 3)]);
    }
    print_table(t);
    match universe.snapshot {
        Some(snapshot) => println!(
            "{} members of {index} on {day} (snapshot of {snapshot})",
            universe.members.len()
        ),
        None => println!("no snapshot of {index} on or before {day}"),
    }
    Ok(())
}

/// `stockdb dividends CODE`.
#[derive(Debug, Args)]
pub(crate) struct DividendsArgs {
    /// Tushare code, e.g. 600000.SH.
    code: String,
}

pub(crate) async fn dividends(
    db: &Stockdb,
    args: &DividendsArgs,
    json: bool,
) -> anyhow::Result<()> {
    let code = code(&args.code)?;
    let dividends = db.market().dividends(&code).await?;
    if json {
        return print_json(&dividends);
    }
    let mut t = table(&[
        "period",
        "announced",
        "stage",
        "shares/sh",
        "cash/sh pre-tax",
        "record",
        "ex-date",
    ]);
    for d in &dividends {
        t.add_row(vec![
            d.end_date.to_string(),
            d.ann_date.to_string(),
            clean(&d.div_proc).into_owned(),
            num(d.stk_div, 4),
            num(d.cash_div_tax, 4),
            opt(d.record_date),
            opt(d.ex_date),
        ]);
    }
    print_table(t);
    println!("{} dividend plan stages of {code}", dividends.len());
    Ok(())
}

/// `stockdb check …`: data-quality checks.
#[derive(Debug, Subcommand)]
pub(crate) enum CheckCommand {
    /// Stored adjustment factors against the dividends: at each implemented ex-date, the
    /// factor step the event implies, (P × (1 + shares)) / (P − cash) for the previous
    /// close P, beside the stored step. Lists disagreements; exits 1 when there are any.
    Factors {
        /// Only this stock.
        #[arg(long)]
        code: Option<String>,
        /// First ex-date.
        #[arg(long, value_parser = parse_date, default_value = "1900-01-01")]
        from: NaiveDate,
        /// Last ex-date.
        #[arg(long, value_parser = parse_date, default_value = "2200-12-31")]
        to: NaiveDate,
        /// Relative difference tolerated.
        #[arg(long, default_value_t = DEFAULT_TOLERANCE)]
        tolerance: f64,
    },
}

impl CheckCommand {
    /// `factors` over every stock and ex-date, at the default tolerance.
    pub(crate) fn factors() -> Self {
        Self::Factors {
            code: None,
            from: EARLIEST,
            to: LATEST,
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

/// The ex-dates `check factors` covers by default: every date stockdb stores.
const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
const LATEST: NaiveDate = NaiveDate::from_ymd_opt(2200, 12, 31).expect("a valid date");

/// The relative difference `check factors` tolerates by default: a factor stored to six
/// places, prices to the fen.
const DEFAULT_TOLERANCE: f64 = 0.001;

pub(crate) async fn check(db: &Stockdb, command: CheckCommand, json: bool) -> anyhow::Result<()> {
    let CheckCommand::Factors {
        code: text,
        from,
        to,
        tolerance,
    } = command;
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        anyhow::bail!("--tolerance {tolerance} must be a finite number of at least 0");
    }
    let code: Option<ThirdCode> = text.as_deref().map(code).transpose()?;
    let checks = db.market().check_factors(code.as_ref(), from, to).await?;
    let disagree: Vec<_> = checks.iter().filter(|c| !c.agrees(tolerance)).collect();
    if json {
        print_json(&json!({"checked": checks.len(), "disagree": disagree}))?;
    } else if !disagree.is_empty() {
        let mut t = table(&[
            "code",
            "ex-date",
            "prev close",
            "cash",
            "shares",
            "derived step",
            "stored step",
        ]);
        for c in &disagree {
            t.add_row(vec![
                c.third_code.to_string(),
                c.ex_date.to_string(),
                num(c.prev_close, 2),
                num(Some(c.cash), 4),
                num(Some(c.shares), 4),
                num(c.derived_step, 6),
                num(c.stored_step, 6),
            ]);
        }
        print_table(t);
    }
    if !json {
        println!(
            "{} of {} ex-dates disagree beyond {tolerance} (a missing factor or bar disagrees)",
            disagree.len(),
            checks.len()
        );
    }
    anyhow::ensure!(
        disagree.is_empty(),
        "{} stored adjustment factor step(s) disagree with the dividends",
        disagree.len()
    );
    Ok(())
}
