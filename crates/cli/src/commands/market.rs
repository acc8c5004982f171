//! Market-data queries: `stockdb stock show`, `stockdb daily`, `stockdb finance`.

use anyhow::Context as _;
use app::Stockdb;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde_json::json;

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

/// `stockdb daily CODE --from --to`.
#[derive(Debug, Args)]
pub(crate) struct DailyArgs {
    /// Tushare code, e.g. 600519.SH.
    code: String,
    /// First day (YYYY-MM-DD or YYYYMMDD); default 30 days before --to.
    #[arg(long, value_parser = parse_date)]
    from: Option<NaiveDate>,
    /// Last day; default the newest day stored.
    #[arg(long, value_parser = parse_date)]
    to: Option<NaiveDate>,
}

impl DailyArgs {
    /// `code` from `from` to `to`.
    pub(crate) fn new(code: &str, from: NaiveDate, to: NaiveDate) -> Self {
        Self {
            code: code.to_owned(),
            from: Some(from),
            to: Some(to),
        }
    }
}

/// `stockdb finance CODE --recent N`.
#[derive(Debug, Args)]
pub(crate) struct FinanceArgs {
    /// Tushare code, e.g. 600519.SH.
    code: String,
    /// How many report periods, newest first.
    #[arg(long, default_value_t = 4)]
    recent: u64,
}

impl FinanceArgs {
    /// The `recent` newest reports of `code`.
    pub(crate) fn new(code: &str, recent: u64) -> Self {
        Self {
            code: code.to_owned(),
            recent,
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
    let from = args.from.unwrap_or(to - chrono::Duration::days(30));
    let bars = db
        .dailies()
        .get_by_third_code_and_date_range(&code, from, to)
        .await?;
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
    println!("{} bars of {code} from {from} to {to}", bars.len());
    Ok(())
}

pub(crate) async fn finance(db: &Stockdb, args: &FinanceArgs, json: bool) -> anyhow::Result<()> {
    let code = code(&args.code)?;
    let reports = db
        .finance()
        .get_by_third_code_recent(&code, args.recent)
        .await?;
    if json {
        return print_json(&reports);
    }
    let mut t = table(&[
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
    println!(
        "{} reports of {code} (all 87 indicators with --json)",
        reports.len()
    );
    Ok(())
}
