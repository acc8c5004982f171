//! `stockdb demo`: a realistic sample through the same import paths as real data, then a
//! short tour of the queries.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{NaiveDate, NaiveTime};
use clap::Args;
use sample::SampleTrace;
use stockdb::Stockdb;
use stockdb::data_engineering::{MarketRows, StockInfo};
use stockdb::llm_platform::{ApiKey, NewLlmConfig};

use super::import::{ImportArgs, Kind, import, print_summary};
use super::market::{self, DailyArgs, FinanceArgs, StockCommand};
use super::output::heading;
use super::structure::{self, CalendarArgs, CheckCommand, DaysArgs, StatusArgs};
use super::sync::SyncCommand;
use super::target::Target;
use super::traces::{self, AuditCommand, SessionsCommand};

/// `stockdb demo` arguments.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Stocks in the sample.
    #[arg(long, default_value_t = 300)]
    stocks: usize,
    /// Trading days of daily bars per stock.
    #[arg(long, default_value_t = 250)]
    days: usize,
    /// Quarterly reports per stock.
    #[arg(long, default_value_t = 8)]
    quarters: u32,
    /// Research sessions, with their node executions and LLM / API calls.
    #[arg(long, default_value_t = 12)]
    sessions: usize,
}

const SEED: u64 = 7;
/// The sample's first trading day.
const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2024, 1, 2).expect("a valid date");
/// When the sample's research sessions start, on the last trading day.
const SESSIONS_START: NaiveTime = NaiveTime::from_hms_opt(9, 30, 0).expect("a valid time");

/// The demo's LLM configuration: an alias that says what it is, so it can never be
/// mistaken for (or overwrite) a real one.
const DEMO_LLM_ALIAS: &str = "demo-deepseek-chat";

pub(crate) async fn run(target: &Target, args: &DemoArgs, json: bool) -> anyhow::Result<()> {
    let db = target.open().await?;
    // The demo must never change a row it did not create: it runs on an empty database
    // only, and there is no way round that.
    let holding = db.tables_with_rows().await?;
    anyhow::ensure!(
        holding.is_empty(),
        "the database already holds data ({} have rows), and the demo only runs where it can \
         change nothing but its own sample; use an empty database (--data-dir DIR for a new \
         embedded one, or DATABASE_URL)",
        holding.join(", ")
    );
    println!(
        "stockdb demo: {} stocks × {} trading days, {} quarterly reports each, {} research sessions",
        args.stocks, args.days, args.quarters, args.sessions
    );

    let stocks = sample::stocks(args.stocks, SEED);
    let days = sample::trading_days(FIRST_DAY, args.days.max(1));
    let last_day = days.last().copied().unwrap_or(FIRST_DAY);
    // Reports are out within 110 days of their period's end: the newest one the sample
    // holds is for the last quarter that ended that long before the last trading day.
    let last_quarter = sample::last_quarter_end(last_day - chrono::Duration::days(110));
    // A new private directory (mode 0700, a random name), removed when the demo ends: no
    // other account can plant or read anything in it.
    let dir = private_dir()?;
    // The market's structure shapes the bars (no bar on a halted day, prices and factors
    // stepped at each ex-date), and the limit-up pool and the tour read it too.
    let structure = sample::market_structure(&stocks, &days, SEED);
    let files = write_sample_csvs(
        dir.path(),
        &stocks,
        &days,
        &structure,
        args.quarters,
        last_quarter,
    )?;

    heading("importing Tushare-format CSV files (the same path as `stockdb import`)");
    for (kind, file) in files {
        println!(
            "stockdb import {} {}",
            tushare::ImportKind::from(kind).name(),
            file.display()
        );
        let summary = import(&db, &ImportArgs::new(kind, file)).await?;
        print_summary(&summary, false)?;
    }
    dir.close()
        .context("removing the demo's working directory")?;
    let boards = sample::concepts(&stocks, SEED);
    for (board, members) in &boards {
        db.concepts()
            .save_with_stocks(board, members.clone())
            .await?;
    }
    println!("{} concept boards saved", boards.len());
    heading("the day boards (AkShare's pools, dragon-tiger list, sector flows)");
    let bars = sample::apply_structure(sample::daily_bars(&stocks, &days, SEED), &structure);
    let boards = sample::boards(bars, &stocks, &structure, SEED);
    let dir = private_dir()?;
    super::demo_boards::load(&db, dir.path(), boards, &days).await?;
    let runs = super::demo_boards::record_runs(&db, &days).await?;
    println!("{runs} runs of the scheduler's jobs recorded");
    dir.close()
        .context("removing the demo's working directory")?;

    heading("recording research sessions, node executions and their LLM / API calls");
    let start = last_day.and_time(SESSIONS_START);
    let traces = sample::traces(&stocks, args.sessions, start, SEED);
    record_traces(&db, &traces).await?;
    let mut config = NewLlmConfig::new(
        DEMO_LLM_ALIAS,
        "deepseek",
        "openai",
        "deepseek-chat",
        ApiKey::new("sk-demo-0000"),
    );
    config.base_url = Some("https://api.deepseek.com/v1".into());
    config.tags = vec!["default".into()];
    db.llm_configs().upsert(config).await?;
    println!(
        "{} sessions, {} node executions, {} LLM calls, {} API calls, 1 LLM config",
        traces.len(),
        traces.iter().map(|t| t.nodes.len()).sum::<usize>(),
        traces.iter().map(|t| t.llm_calls.len()).sum::<usize>(),
        traces.iter().map(|t| t.api_calls.len()).sum::<usize>()
    );

    tour(&db, &stocks, &traces, json).await?;
    structure_tour(&db, &structure, &days, json).await?;
    super::demo_boards::tour(&db, &days, json).await?;
    println!("\nNext: `stockdb --help`, `stockdb import daily FILE.csv`, `stockdb db stop`.");
    Ok(())
}

/// The market-structure queries on the sample: the calendar, a halted stock's days, an ST
/// stock on the day its status was announced, the adjustment factors checked.
async fn structure_tour(
    db: &Stockdb,
    structure: &sample::MarketStructure,
    days: &[NaiveDate],
    json: bool,
) -> anyhow::Result<()> {
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return Ok(());
    };
    heading(&format!("stockdb calendar {last} --before 5"));
    structure::calendar(db, &CalendarArgs::new(last, 5), json).await?;
    if let Some(halt) = structure.suspensions.iter().find(|s| s.halts()) {
        let code = halt.third_code.to_string();
        heading(&format!("stockdb days {code} --from {first} --to {last}"));
        structure::days(db, &DaysArgs::new(&code, first, last), json).await?;
    }
    if let Some(st) = structure.names.iter().find(|n| n.change_reason.is_some()) {
        let day = st.ann_date.unwrap_or(st.start_date);
        let code = st.third_code.to_string();
        heading(&format!("stockdb status {code} {day}"));
        structure::status(db, &StatusArgs::new(&code, day), json).await?;
    }
    heading("stockdb check factors");
    structure::check(db, CheckCommand::factors(), json).await
}

/// A new directory of a random name, mode 0700 (tempfile's default follows the umask).
fn private_dir() -> anyhow::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt as _;
    tempfile::Builder::new()
        .prefix("stockdb-demo-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .context("creating the demo's working directory")
}

/// A new file `name` in `dir`, readable by its owner only: an existing one is an error,
/// so nothing found there is reused.
pub(crate) fn new_private_file(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, std::fs::File)> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    Ok((path, file))
}

/// Writes the sample as Tushare would export it; returns the files in import order.
fn write_sample_csvs(
    dir: &Path,
    stocks: &[StockInfo],
    days: &[NaiveDate],
    structure: &sample::MarketStructure,
    quarters: u32,
    last_quarter: NaiveDate,
) -> anyhow::Result<Vec<(Kind, PathBuf)>> {
    let create = |name: &str| -> anyhow::Result<(PathBuf, std::io::BufWriter<std::fs::File>)> {
        let (path, file) = new_private_file(dir, name)?;
        Ok((path, std::io::BufWriter::new(file)))
    };
    let (stock_file, out) = create("stock_basic.csv")?;
    tushare::write_stock_basic(out, stocks)?;
    let bars = || sample::apply_structure(sample::daily_bars(stocks, days, SEED), structure);
    let (daily_file, out) = create("daily.csv")?;
    tushare::write_daily(out, bars())?;
    let (finance_file, out) = create("fina_indicator.csv")?;
    let reports = sample::finance_reports(stocks, quarters, last_quarter, SEED);
    tushare::write_fina_indicator(out, &reports)?;
    let mut files = vec![
        (Kind::Stocks, stock_file),
        (Kind::Daily, daily_file),
        (Kind::Finance, finance_file),
    ];
    let limits: Vec<_> = sample::price_limits(bars(), stocks, structure).collect();
    for (kind, name, rows) in [
        (
            Kind::TradeCal,
            "trade_cal.csv",
            MarketRows::Calendar(structure.calendar.clone()),
        ),
        (
            Kind::Suspend,
            "suspend_d.csv",
            MarketRows::Suspensions(structure.suspensions.clone()),
        ),
        (Kind::StkLimit, "stk_limit.csv", MarketRows::Limits(limits)),
        (
            Kind::Namechange,
            "namechange.csv",
            MarketRows::Names(structure.names.clone()),
        ),
        (
            Kind::IndexWeight,
            "index_weight.csv",
            MarketRows::IndexWeights(structure.index_weights.clone()),
        ),
        (
            Kind::Dividend,
            "dividend.csv",
            MarketRows::Dividends(structure.dividends.clone()),
        ),
    ] {
        let (file, out) = create(name)?;
        tushare::write_market(out, &rows)?;
        files.push((kind, file));
    }
    Ok(files)
}

/// Saves each session running, its nodes and calls, then finishes it: as a workflow does.
async fn record_traces(db: &Stockdb, traces: &[SampleTrace]) -> anyhow::Result<()> {
    for trace in traces {
        let mut running = trace.session.clone();
        running.status = stockdb::coordinator::SessionStatus::Running;
        running.completed_at = None;
        running.duration_ms = None;
        db.sessions().save_session(&running).await?;
        for node in &trace.nodes {
            db.sessions().save_node_execution(node).await?;
        }
        for call in &trace.llm_calls {
            db.llm_calls().save(call).await?;
        }
        for call in &trace.api_calls {
            db.api_calls().save(call).await?;
        }
        let s = &trace.session;
        db.sessions()
            .update_session(s.id, s.status, s.completed_at, s.duration_ms)
            .await?;
    }
    Ok(())
}

async fn tour(
    db: &Stockdb,
    stocks: &[StockInfo],
    traces: &[SampleTrace],
    json: bool,
) -> anyhow::Result<()> {
    let Some(stock) = stocks.first() else {
        return Ok(());
    };
    let code = stock.third_code.to_string();
    heading(&format!("stockdb stock show {code}"));
    market::stock(db, StockCommand::Show { code: code.clone() }, json).await?;

    let latest = db
        .dailies()
        .get_latest_by_third_code(&stock.third_code)
        .await?;
    if let Some(latest) = latest {
        let from = latest.trade_date - chrono::Duration::days(6);
        heading(&format!(
            "stockdb daily {code} --from {from} --to {}",
            latest.trade_date
        ));
        let args = DailyArgs::new(&code, from, latest.trade_date);
        market::daily(db, &args, json).await?;
    }
    heading(&format!("stockdb finance {code} --recent 4"));
    market::finance(db, &FinanceArgs::new(&code, 4), json).await?;
    heading("stockdb sync status");
    super::sync::run(
        db,
        SyncCommand::Status {
            job: None,
            limit: 5,
        },
        json,
    )
    .await?;
    heading("stockdb sessions list --expert technical --limit 5");
    traces::sessions(
        db,
        SessionsCommand::List {
            symbol: None,
            expert: Some("technical".to_owned()),
            since: None,
            until: None,
            skip: 0,
            limit: 5,
        },
        json,
    )
    .await?;
    if let Some(trace) = traces.last() {
        heading(&format!("stockdb sessions show {}", trace.session.id));
        traces::show_session(db, trace.session.id, json).await?;
    }
    if let Some(first) = traces.first() {
        let since = first.session.created_at.date();
        heading(&format!("stockdb audit stats --since {since}"));
        let until = traces
            .last()
            .and_then(|t| t.session.completed_at)
            .map(|t| t + chrono::Duration::seconds(1));
        traces::audit(
            db,
            AuditCommand::Stats {
                since: Some(since.and_time(NaiveTime::MIN)),
                until,
                score: None,
            },
            json,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn sample_files_are_new_and_private() {
        let dir = private_dir().unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700, "the working directory is private");
        let stocks = sample::stocks(2, SEED);
        let days = sample::trading_days(FIRST_DAY, 2);
        let structure = sample::market_structure(&stocks, &days, SEED);
        let files =
            write_sample_csvs(dir.path(), &stocks, &days, &structure, 1, FIRST_DAY).unwrap();
        for (_, file) in &files {
            assert_eq!(mode(file), 0o600, "{}", file.display());
        }
        // A file (or a link) already at a name is never written to.
        let again = tempfile::tempdir().unwrap();
        let target = again.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        std::os::unix::fs::symlink(&target, again.path().join("daily.csv")).unwrap();
        let err =
            write_sample_csvs(again.path(), &stocks, &days, &structure, 1, FIRST_DAY).unwrap_err();
        assert!(format!("{err:#}").contains("daily.csv"), "{err:#}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }
}
