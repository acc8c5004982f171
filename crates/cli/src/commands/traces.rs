//! Research traces and audit: `stockdb sessions list|show`, `stockdb audit stats` (and
//! `audit calls`, in `calls`).

use anyhow::Context as _;
use chrono::NaiveDateTime;
use clap::Subcommand;
use serde_json::json;
use shared_db::Page;
use stockdb::audit::{CostBy, CostRow, CostScope, TimeWindow};
use stockdb::coordinator::SessionFilter;
use stockdb::{SessionTrace, Stockdb};
use uuid::Uuid;

use super::args::parse_time;
use super::output::{self, count, duration_ms, num, opt, print_json, print_table, table};

#[derive(Debug, Subcommand)]
pub(crate) enum SessionsCommand {
    /// Research sessions, newest first.
    List {
        /// Only sessions on this symbol.
        #[arg(long)]
        symbol: Option<String>,
        /// Only sessions in which this expert took part (e.g. `technical`).
        #[arg(long)]
        expert: Option<String>,
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
    /// Score a session, one of its nodes (--node) or LLM calls (--call): a number
    /// (--value) or a category (--category), from a human (default), a model or a rule.
    Score(super::scores::ScoreArgs),
    /// The scores of a session, its nodes and calls, oldest first.
    Scores {
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
        /// Also summarise the scores of this name given in the window, per agent.
        #[arg(long)]
        score: Option<String>,
    },
    /// LLM and external-API calls, newest first: by time, status, model or service, and
    /// session; paged.
    Calls(super::calls::CallsArgs),
}

pub(crate) async fn sessions(
    db: &Stockdb,
    command: SessionsCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        SessionsCommand::List {
            symbol,
            expert,
            since,
            until,
            skip,
            limit,
        } => {
            let filter = SessionFilter {
                symbol: symbol.map(|s| s.to_ascii_uppercase()),
                created_after: since,
                created_before: until,
                first_runs_only: false,
                expert,
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
                "retry of",
            ]);
            for s in &sessions {
                t.add_row(vec![
                    s.id.to_string(),
                    s.symbol.clone(),
                    s.status.to_string(),
                    s.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    duration_ms(s.duration_ms),
                    opt(s.trigger_source.as_ref()),
                    s.parent_session_id
                        .map_or_else(|| "-".to_owned(), |p| format!("{p} (#{})", s.retry_count)),
                ]);
            }
            print_table(t);
        }
        SessionsCommand::Show { id } => show_session(db, id, json).await?,
        SessionsCommand::Score(args) => super::scores::add(db, args, json).await?,
        SessionsCommand::Scores { id } => super::scores::list(db, id, json).await?,
    }
    Ok(())
}

/// A readable trace of session `id`.
pub(crate) async fn show_session(db: &Stockdb, id: Uuid, json: bool) -> anyhow::Result<()> {
    let trace = db
        .session_trace(id)
        .await?
        .with_context(|| format!("no research session {id}"))?;
    if json {
        return print_json(&trace);
    }
    let SessionTrace {
        session,
        calls_dropped_before,
        nodes,
        llm_calls,
        api_calls,
        retries,
        cost,
    } = trace;
    println!(
        "session {}  {}  {}  created {} UTC  took {}  experts {}",
        session.id,
        output::clean(&session.symbol),
        session.status,
        session.created_at.format("%Y-%m-%d %H:%M:%S"),
        duration_ms(session.duration_ms),
        output::clean(
            &session
                .selected_experts
                .as_deref()
                .map_or_else(|| "-".to_owned(), |e| e.join(", "))
        )
    );
    if let Some(parent) = session.parent_session_id {
        println!("retry #{} of session {parent}", session.retry_count);
    }
    for retry in &retries {
        println!(
            "retried as {} (#{}, {})",
            retry.id, retry.retry_count, retry.status
        );
    }
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
    // Calls dropped by retention leave the session without them: say so, not just nothing.
    if let Some(horizon) = calls_dropped_before {
        println!(
            "note: audit history before {} UTC was dropped by retention; this session's calls \
             from before then are gone (their cost is kept in the daily rollup)",
            horizon.format("%Y-%m-%d %H:%M")
        );
    }
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
    print_costs("LLM cost of the session, by agent (node)", &cost.by_agent);
    print_costs("LLM cost of the session", &cost.total);
    Ok(())
}

pub(crate) async fn audit(db: &Stockdb, command: AuditCommand, json: bool) -> anyhow::Result<()> {
    let (since, until, score) = match command {
        AuditCommand::Stats {
            since,
            until,
            score,
        } => (since, until, score),
        AuditCommand::Calls(args) => return super::calls::run(db, &args, json).await,
    };
    let until = until.unwrap_or_else(|| shared_db::utc_now() + chrono::Duration::seconds(1));
    let since = since.unwrap_or(until - chrono::Duration::days(7));
    let window = TimeWindow::new(since, until)?;
    let llm = db.llm_calls().stats(window).await?;
    let api = db.api_calls().stats(window).await?;
    let scope = CostScope::Window(window);
    let cost_by_model = db.prices().costs(scope, CostBy::Model).await?;
    let cost_by_day = db.prices().costs(scope, CostBy::Day).await?;
    let cost_by_config = db.prices().costs(scope, CostBy::Config).await?;
    let cost_total = db.prices().costs(scope, CostBy::Total).await?;
    let budgets = db.budgets().spend().await?;
    let scores = match &score {
        Some(name) => Some(super::scores::summary(db, since, until, name).await?),
        None => None,
    };
    if json {
        return print_json(&json!({
            "from": since, "to": until, "llm": llm, "external_api": api,
            "cost": {"by_model": cost_by_model, "by_day": cost_by_day,
                     "by_config": cost_by_config, "total": cost_total},
            "budgets": budgets, "scores": scores,
        }));
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
                num(s.latency_p50_ms, 0),
                num(s.latency_p95_ms, 0),
                num(s.latency_p99_ms, 0),
            ]);
            t.add_row(row);
        }
        print_table(t);
        for s in rows.iter().filter(|s| s.latency_sampled < s.calls) {
            println!(
                "{}: percentiles of {} of {} calls; the others are past retention, counted \
                 from the daily rollup (mean latency of all: {:.0} ms)",
                output::clean(&s.group),
                count(s.latency_sampled),
                count(s.calls),
                s.latency_mean_ms
            );
        }
    }
    print_costs("LLM cost by model", &cost_by_model);
    print_costs("LLM cost by day (UTC)", &cost_by_day);
    print_costs(
        "LLM cost by configuration (llm_configs alias)",
        &cost_by_config,
    );
    print_costs("LLM cost in total", &cost_total);
    super::budget::print_spend(&budgets);
    if let Some(scores) = &scores {
        super::scores::print_summary(scores);
    }
    Ok(())
}

/// Cost rows as a table: unpriced calls on rows of their own, never as zero; calls that
/// recorded no token breakdown counted below it, since their cost may be too high.
pub(crate) fn print_costs(title: &str, rows: &[CostRow]) {
    output::heading(title);
    let mut t = table(&[
        "group",
        "calls",
        "prompt tok",
        "cached tok",
        "completion tok",
        "reasoning tok",
        "cost",
        "currency",
    ]);
    for r in rows {
        t.add_row(vec![
            output::clean(&r.group).into_owned(),
            count(r.calls),
            count(r.prompt_tokens),
            count(r.cached_prompt_tokens),
            count(r.completion_tokens),
            count(r.reasoning_tokens),
            r.cost
                .map_or_else(|| "unpriced".to_owned(), |c| format!("{c:.4}")),
            r.currency.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    print_table(t);
    let unbroken: i64 = rows.iter().map(|r| r.calls_without_breakdown).sum();
    if unbroken > 0 {
        println!(
            "{} call(s) recorded no cached or reasoning tokens: every prompt token is charged \
             as input and every completion token as output",
            count(unbroken)
        );
    }
}
