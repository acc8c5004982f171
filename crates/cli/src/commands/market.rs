//! Market-data queries: `stockdb stock show`, `stockdb daily`, `stockdb finance`.

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde_json::json;
use stockdb::Stockdb;
use stockdb::data_engineering::{Adjust, Exchange, ThirdCode};

use super::args::{code, parse_date};
use super::output::{num, opt, print_json, print_table, table};

#[derive(Debug, Subcommand)]
pub(crate) enum StockCommand {
    /// One stock: its listing, latest bar and latest report.
    Show {
        /// Tushare code, e.g. 600519.SH.
        code: String,
    },
}

/// `stockdb daily CODE --from --to [--adjust …] [--anchor DAY]`.
#[derive(Debug, Args)]
pub(crate) struct DailyArgs {
    /// Tushare code, e.g. 600519.SH.
    code: String,
    /// First day (YYYY-MM-DD or YYYYMMDD); default 30 days before --to.
    #[arg(long, value_parser = parse_date, conflicts_with = "days")]
    from: Option<NaiveDate>,
    /// The last N trading days up to --to instead (from the stock's exchange calendar).
    #[arg(long)]
    days: Option<u32>,
    /// Last day; default the newest day stored.
    #[arg(long, value_parser = parse_date)]
    to: Option<NaiveDate>,
    /// Prices as stored, or adjusted for splits and dividends with `adj_factor`: forward
    /// (前复权, prices of the anchor day as traded) or backward (后复权).
    #[arg(long, value_enum, default_value_t = AdjustArg::None)]
    adjust: AdjustArg,
    /// The forward adjustment's anchor day (default --to): factors from after it are never
    /// used.
    #[arg(long, value_parser = parse_date)]
    anchor: Option<NaiveDate>,
    /// Where --adjust takes its factors: the stored `adj_factor`, or derived from the
    /// implemented dividends and the closes before their ex-dates.
    #[arg(long, value_enum, default_value_t = FactorsArg::Stored, requires = "adjust")]
    factors: FactorsArg,
}

/// `--factors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FactorsArg {
    /// Tushare's `adj_factor`, as stored.
    Stored,
    /// Derived from the dividends (`stockdb check factors` compares the two).
    Dividends,
}

/// `--adjust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AdjustArg {
    /// As stored.
    None,
    /// 前复权.
    Forward,
    /// 后复权.
    Backward,
}

impl DailyArgs {
    /// `code` from `from` to `to`, as stored.
    pub(crate) fn new(code: &str, from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            code: code.to_owned(),
            from: Some(from),
            days: None,
            to: Some(to),
            adjust: AdjustArg::None,
            anchor: None,
            factors: FactorsArg::Stored,
        }
    }

    fn adjust(&self) -> anyhow::Result<Adjust> {
        Ok(match (self.adjust, self.anchor) {
            (AdjustArg::None, None) => Adjust::None,
            (AdjustArg::Forward, anchor) => Adjust::Forward { anchor },
            (AdjustArg::Backward, None) => Adjust::Backward,
            (_, Some(_)) => anyhow::bail!("--anchor applies to --adjust forward only"),
        })
    }
}

/// `stockdb finance CODE [--recent N] [--as-of DAY]`, `stockdb finance --market --as-of DAY`.
#[derive(Debug, Args)]
pub(crate) struct FinanceArgs {
    /// Tushare code, e.g. 600519.SH (not with --market).
    #[arg(required_unless_present = "market", conflicts_with = "market")]
    code: Option<String>,
    /// How many report periods, newest first.
    #[arg(long, default_value_t = 4)]
    recent: u64,
    /// Point in time: only what had been announced on or before this day (each period in
    /// its latest version known then).
    #[arg(long, value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Every stock's newest period known on --as-of, one row per stock.
    #[arg(long, requires = "as_of")]
    market: bool,
    /// With --market: only the members of this index on --as-of, as known then.
    #[arg(long, requires = "market")]
    universe: Option<String>,
}

impl FinanceArgs {
    /// The `recent` newest reports of `code`.
    pub(crate) fn new(code: &str, recent: u64) -> Self {
        Self {
            code: Some(code.to_owned()),
            recent,
            as_of: None,
            market: false,
            universe: None,
        }
    }
}

pub(crate) async fn stock(db: &Stockdb, command: StockCommand, json: bool) -> anyhow::Result<()> {
    let StockCommand::Show { code: text } = command;
    let code = code(&text)?;
    let stock = db
        .stocks()
        .get_by_third_code(&code)
        .await?
        .with_context(|| format!("no stock {code}"))?;
    let latest = db.dailies().get_latest_by_third_code(&code).await?;
    let report = db
        .finance()
        .get_by_third_code_recent(&code, 1)
        .await?
        .into_iter()
        .next();
    if json {
        return print_json(
            &json!({"stock": stock, "latest_daily": latest, "latest_finance": report}),
        );
    }
    let info = &stock.info;
    let mut t = table(&["field", "value"]);
    for (field, value) in [
        ("code", info.third_code.to_string()),
        ("name", info.name.clone()),
        ("symbol", info.symbol.clone()),
        ("fullname", opt(info.fullname.as_ref())),
        ("industry", opt(info.industry.as_ref())),
        ("area", opt(info.area.as_ref())),
        ("market", opt(info.market.as_ref())),
        ("exchange", opt(info.exchange.as_ref())),
        ("list date", opt(info.list_date)),
        ("status", opt(info.list_status.as_ref())),
        ("finance synced", opt(info.last_finance_sync_date)),
    ] {
        t.add_row(vec![field.to_owned(), value]);
    }
    if let Some(bar) = &latest {
        t.add_row(vec![
            "latest bar".to_owned(),
            format!(
                "{}  close {}  {}%  pe_ttm {}  pb {}",
                bar.trade_date,
                num(bar.close, 2),
                num(bar.pct_chg, 2),
                num(bar.pe_ttm, 2),
                num(bar.pb, 2)
            ),
        ]);
    }
    if let Some(r) = &report {
        t.add_row(vec![
            "latest report".to_owned(),
            format!(
                "{} (announced {})  eps {}  roe {}%",
                r.end_date,
                r.ann_date,
                num(r.eps, 3),
                num(r.roe, 2)
            ),
        ]);
    }
    print_table(t);
    Ok(())
}

pub(crate) async fn daily(db: &Stockdb, args: &DailyArgs, json: bool) -> anyhow::Result<()> {
    let code = code(&args.code)?;
    let to = match args.to {
        Some(to) => to,
        None => match db.dailies().get_latest_by_third_code(&code).await? {
            Some(bar) => bar.trade_date,
            None => anyhow::bail!("no daily bars for {code}"),
        },
    };
    let from = match (args.from, args.days) {
        (Some(from), _) => from,
        (None, Some(days)) => first_of_trading_days(db, &code, to, days).await?,
        (None, None) => to - chrono::Duration::days(30),
    };
    let adjust = args.adjust()?;
    let bars = match args.factors {
        FactorsArg::Stored => db.dailies().get_adjusted(&code, from, to, adjust).await?,
        FactorsArg::Dividends => {
            db.market()
                .get_adjusted_by_dividends(&code, from, to, adjust)
                .await?
        }
    };
    if json {
        return print_json(&bars);
    }
    let mut t = table(&[
        "date", "open", "high", "low", "close", "pct_chg", "vol", "amount", "pe_ttm", "pb",
        "total_mv",
    ]);
    for bar in &bars {
        t.add_row(vec![
            bar.trade_date.to_string(),
            num(bar.open, 2),
            num(bar.high, 2),
            num(bar.low, 2),
            num(bar.close, 2),
            num(bar.pct_chg, 2),
            num(bar.vol, 0),
            num(bar.amount, 0),
            num(bar.pe_ttm, 2),
            num(bar.pb, 2),
            num(bar.total_mv, 0),
        ]);
    }
    print_table(t);
    let adjusted = match adjust {
        Adjust::None => String::new(),
        Adjust::Backward => ", prices adjusted backward (后复权)".to_owned(),
        Adjust::Forward { anchor } => format!(
            ", prices adjusted forward (前复权) to {}",
            anchor.unwrap_or(to)
        ),
    };
    let adjusted = match (adjust, args.factors) {
        (Adjust::None, _) | (_, FactorsArg::Stored) => adjusted,
        (_, FactorsArg::Dividends) => format!("{adjusted} with factors derived from dividends"),
    };
    println!(
        "{} bars of {code} from {from} to {to}{adjusted}",
        bars.len()
    );
    Ok(())
}

/// The first of the `days` trading days of `code`'s exchange that end on `to`.
async fn first_of_trading_days(
    db: &Stockdb,
    code: &ThirdCode,
    to: NaiveDate,
    days: u32,
) -> anyhow::Result<NaiveDate> {
    anyhow::ensure!(days >= 1, "--days must be at least 1");
    let exchange = Exchange::of(code)
        .with_context(|| format!("{code} has no exchange suffix (.SH, .SZ, .BJ) for --days"))?;
    if days == 1 {
        return Ok(to);
    }
    let before = db
        .market()
        .trading_days_before(exchange, to, days - 1)
        .await?;
    before.first().copied().with_context(|| {
        format!("the {exchange} trading calendar holds no day before {to}: import trade_cal")
    })
}

pub(crate) async fn finance(db: &Stockdb, args: &FinanceArgs, json: bool) -> anyhow::Result<()> {
    let (reports, what) = match (&args.code, args.as_of) {
        (None, Some(as_of)) => match &args.universe {
            None => (
                db.finance().get_market_as_of(as_of).await?,
                format!("stocks' newest reports known on {as_of}"),
            ),
            Some(index) => {
                let index = code(index)?;
                (
                    db.finance().get_universe_as_of(&index, as_of).await?,
                    format!("newest reports known on {as_of} of the members of {index} then"),
                )
            }
        },
        (Some(text), as_of) => {
            let code = code(text)?;
            match as_of {
                Some(as_of) => (
                    db.finance().get_as_of(&code, as_of, args.recent).await?,
                    format!("reports of {code} known on {as_of}"),
                ),
                None => (
                    db.finance()
                        .get_by_third_code_recent(&code, args.recent)
                        .await?,
                    format!("reports of {code}"),
                ),
            }
        }
        (None, None) => anyhow::bail!("give a stock code, or --market with --as-of"),
    };
    if json {
        return print_json(&reports);
    }
    let mut t = table(&[
        "code",
        "period",
        "announced",
        "eps",
        "bps",
        "roe %",
        "roa %",
        "gross margin %",
        "net margin %",
        "debt/assets %",
        "current ratio",
    ]);
    for r in &reports {
        t.add_row(vec![
            r.third_code.to_string(),
            r.end_date.to_string(),
            r.ann_date.to_string(),
            num(r.eps, 3),
            num(r.bps, 2),
            num(r.roe, 2),
            num(r.roa, 2),
            num(r.grossprofit_margin, 2),
            num(r.netprofit_margin, 2),
            num(r.debt_to_assets, 2),
            num(r.current_ratio, 2),
        ]);
    }
    print_table(t);
    println!("{} {what} (all 87 indicators with --json)", reports.len());
    Ok(())
}
