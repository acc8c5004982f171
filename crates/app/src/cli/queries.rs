//! The query commands: stocks, bars, finance, sync, sessions, audit.

use anyhow::Context as _;
use app::Stockdb;
use app::audit::TimeWindow;
use app::coordinator::SessionFilter;
use app::data_engineering::{SyncJobType, ThirdCode};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use clap::{Args, Subcommand};
use serde_json::json;
use shared_db::Page;
use uuid::Uuid;

use super::output::{self, count, duration_ms, num, opt, print_json, print_table, table};

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

#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// Recent sync tasks with their progress.
    Status {
        /// Only this job type (DAILY_HISTORY, FINANCE_HISTORY, STOCK_LIST …).
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
}

#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCommand {
    /// Research sessions, newest first.
    List {
        /// Only sessions on this symbol.
        #[arg(long)]
        symbol: Option<String>,
        /// Only sessions created on or after this day or time (UTC).
        #[arg(long, value_parser = parse_time)]
        since: Option<NaiveDateTime>,
        /// Only sessions created on or before this time (UTC).
        #[arg(long, value_parser = parse_time)]
        until: Option<NaiveDateTime>,
        /// Sessions to skip.
        #[arg(long, default_value_t = 0)]
        skip: u64,
        /// Sessions to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// One session's trace: its nodes in order, and the LLM and API calls it made.
    Show {
        /// The session id.
        id: Uuid,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Calls, errors, tokens and latency percentiles per model and per service.
    Stats {
        /// Start of the window (UTC day or time, inclusive); default 7 days ago.
        #[arg(long, value_parser = parse_time)]
        since: Option<NaiveDateTime>,
        /// End of the window (exclusive); default now.
        #[arg(long, value_parser = parse_time)]
        until: Option<NaiveDateTime>,
    },
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD or YYYYMMDD)"))
}

fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(time);
        }
    }
    parse_date(text)
        .map(|d| d.and_time(NaiveTime::MIN))
        .map_err(|_| format!("{text:?} is not a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], UTC)"))
}

fn parse_job(text: &str) -> Result<SyncJobType, String> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|err: shared_db::InvalidInput| err.to_string())
}

fn code(text: &str) -> anyhow::Result<ThirdCode> {
    Ok(ThirdCode::parse(&text.to_ascii_uppercase())?)
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

pub(crate) async fn sync(db: &Stockdb, command: SyncCommand, json: bool) -> anyhow::Result<()> {
    match command {
        SyncCommand::Status { job, limit } => {
            let tasks = db.sync().list_tasks(job, limit).await?;
            if json {
                return print_json(&tasks);
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
            for task in &tasks {
                let file = task
                    .config
                    .as_ref()
                    .and_then(|c| c.get("file"))
                    .and_then(|f| f.as_str())
                    .and_then(|f| f.rsplit('/').next())
                    .unwrap_or("-");
                t.add_row(vec![
                    task.id.to_string()[..8].to_owned(),
                    task.job_type.to_string(),
                    task.status.to_string(),
                    count(task.current_offset),
                    count(task.total_processed),
                    opt(task.started_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
                    opt(task.updated_at.map(|t| t.format("%Y-%m-%d %H:%M:%S"))),
                    file.to_owned(),
                ]);
            }
            print_table(t);
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
    }
    Ok(())
}

pub(crate) async fn sessions(
    db: &Stockdb,
    command: SessionsCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        SessionsCommand::List {
            symbol,
            since,
            until,
            skip,
            limit,
        } => {
            let filter = SessionFilter {
                symbol: symbol.map(|s| s.to_ascii_uppercase()),
                created_after: since,
                created_before: until,
            };
            let sessions = db
                .sessions()
                .list_sessions(&filter, Page::new(skip, limit)?)
                .await?;
            if json {
                return print_json(&sessions);
            }
            let mut t = table(&[
                "session",
                "symbol",
                "status",
                "created (UTC)",
                "duration",
                "trigger",
            ]);
            for s in &sessions {
                t.add_row(vec![
                    s.id.to_string(),
                    s.symbol.clone(),
                    s.status.to_string(),
                    s.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    duration_ms(s.duration_ms),
                    opt(s.trigger_source.as_ref()),
                ]);
            }
            print_table(t);
        }
        SessionsCommand::Show { id } => show_session(db, id, json).await?,
    }
    Ok(())
}

/// A readable trace of session `id`.
pub(crate) async fn show_session(db: &Stockdb, id: Uuid, json: bool) -> anyhow::Result<()> {
    let session = db
        .sessions()
        .get_session_by_id(id)
        .await?
        .with_context(|| format!("no research session {id}"))?;
    let nodes = db.sessions().get_node_executions_by_session(id).await?;
    let llm_calls = db.llm_calls().get_by_session_id(id).await?;
    let api_calls = db.api_calls().get_by_session_id(id).await?;
    if json {
        return print_json(
            &json!({"session": session, "nodes": nodes, "llm_calls": llm_calls, "api_calls": api_calls}),
        );
    }
    println!(
        "session {}  {}  {}  created {} UTC  took {}  experts {}",
        session.id,
        session.symbol,
        session.status,
        session.created_at.format("%Y-%m-%d %H:%M:%S"),
        duration_ms(session.duration_ms),
        session
            .selected_experts
            .as_deref()
            .map_or_else(|| "-".to_owned(), |e| e.join(", "))
    );
    let mut t = table(&["#", "node", "status", "started (UTC)", "duration", "error"]);
    for (idx, node) in nodes.iter().enumerate() {
        t.add_row(vec![
            (idx + 1).to_string(),
            node.node_type.clone(),
            node.status.to_string(),
            node.started_at.format("%H:%M:%S%.3f").to_string(),
            duration_ms(node.duration_ms),
            match (&node.error_type, &node.error_message) {
                (Some(kind), Some(message)) => format!("{kind}: {message}"),
                (kind, message) => opt(kind.as_ref().or(message.as_ref())),
            },
        ]);
    }
    print_table(t);
    println!("LLM calls");
    let mut t = table(&["at (UTC)", "agent", "model", "latency", "tokens", "status"]);
    for call in &llm_calls {
        t.add_row(vec![
            call.created_at.format("%H:%M:%S%.3f").to_string(),
            opt(call.caller_agent.as_ref()),
            format!("{}/{}", call.vendor, call.model_name),
            duration_ms(Some(call.latency_ms)),
            opt(call.total_tokens),
            call.status.to_string(),
        ]);
    }
    print_table(t);
    println!("External API calls");
    let mut t = table(&[
        "at (UTC)",
        "service",
        "operation",
        "HTTP",
        "latency",
        "status",
    ]);
    for call in &api_calls {
        t.add_row(vec![
            call.created_at.format("%H:%M:%S%.3f").to_string(),
            call.service_name.clone(),
            call.operation.clone(),
            opt(call.status_code),
            duration_ms(Some(call.latency_ms)),
            call.status.to_string(),
        ]);
    }
    print_table(t);
    Ok(())
}

pub(crate) async fn audit(db: &Stockdb, command: AuditCommand, json: bool) -> anyhow::Result<()> {
    let AuditCommand::Stats { since, until } = command;
    let until = until.unwrap_or_else(|| shared_db::utc_now() + chrono::Duration::seconds(1));
    let since = since.unwrap_or(until - chrono::Duration::days(7));
    let window = TimeWindow::new(since, until)?;
    let llm = db.llm_calls().stats(window).await?;
    let api = db.api_calls().stats(window).await?;
    if json {
        return print_json(&json!({"from": since, "to": until, "llm": llm, "external_api": api}));
    }
    println!("window: {since} .. {until} (UTC)");
    for (title, rows, tokens) in [
        ("LLM calls by model", &llm, true),
        ("External API calls by service", &api, false),
    ] {
        output::heading(title);
        let mut headers = vec!["group", "calls", "errors", "error rate"];
        if tokens {
            headers.extend(["prompt tok", "completion tok", "total tok"]);
        }
        headers.extend(["p50 ms", "p95 ms", "p99 ms"]);
        let mut t = table(&headers);
        for s in rows.iter() {
            let mut row = vec![
                s.group.clone(),
                count(s.calls),
                count(s.errors),
                format!("{:.1}%", s.error_rate * 100.0),
            ];
            if tokens {
                row.extend([
                    count(s.prompt_tokens),
                    count(s.completion_tokens),
                    count(s.total_tokens),
                ]);
            }
            row.extend([
                num(Some(s.latency_p50_ms), 0),
                num(Some(s.latency_p95_ms), 0),
                num(Some(s.latency_p99_ms), 0),
            ]);
            t.add_row(row);
        }
        print_table(t);
    }
    Ok(())
}
