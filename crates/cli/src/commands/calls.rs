//! `stockdb audit calls`: LLM and external-API calls, newest first, filtered and paged.

use chrono::NaiveDateTime;
use clap::Args;
use serde_json::json;
use shared_db::Page;
use stockdb::Stockdb;
use stockdb::audit::{ApiCallFilter, CallStatus, LlmCallFilter};
use uuid::Uuid;

use super::args::parse_time;
use super::output::{clean, opt, print_json, print_table, table};

/// `stockdb audit calls --since DAY [--status failed] [--model M] [--service S] …`.
#[derive(Debug, Args)]
pub(crate) struct CallsArgs {
    /// Calls created at or after this day or time (UTC); default 24 hours ago.
    #[arg(long, value_parser = parse_time)]
    since: Option<NaiveDateTime>,
    /// Calls created before this time (UTC).
    #[arg(long, value_parser = parse_time)]
    until: Option<NaiveDateTime>,
    /// `success` or `failed`.
    #[arg(long, value_parser = parse_status)]
    status: Option<CallStatus>,
    /// LLM calls to this model only (no external-API calls).
    #[arg(long)]
    model: Option<String>,
    /// LLM calls to this vendor only (no external-API calls).
    #[arg(long)]
    vendor: Option<String>,
    /// External-API calls to this service only (no LLM calls).
    #[arg(long, conflicts_with_all = ["model", "vendor"])]
    service: Option<String>,
    /// Calls of this research session.
    #[arg(long)]
    session: Option<Uuid>,
    /// Calls to skip, newest first.
    #[arg(long, default_value_t = 0)]
    skip: u64,
    /// Calls to show of each kind (1..=10,000).
    #[arg(long, default_value_t = 50)]
    limit: u64,
}

fn parse_status(text: &str) -> Result<CallStatus, String> {
    text.parse()
        .map_err(|err: shared_db::InvalidInput| err.to_string())
}

pub(crate) async fn run(db: &Stockdb, args: &CallsArgs, json: bool) -> anyhow::Result<()> {
    let since = args
        .since
        .unwrap_or_else(|| shared_db::utc_now() - chrono::Duration::days(1));
    let page = Page::new(args.skip, args.limit)?;
    let llm = if args.service.is_none() {
        let filter = LlmCallFilter {
            since: Some(since),
            until: args.until,
            status: args.status,
            vendor: args.vendor.clone(),
            model: args.model.clone(),
            session_id: args.session,
        };
        db.llm_calls().list(&filter, page).await?
    } else {
        Vec::new()
    };
    let api = if args.model.is_none() && args.vendor.is_none() {
        let filter = ApiCallFilter {
            since: Some(since),
            until: args.until,
            status: args.status,
            service: args.service.clone(),
            session_id: args.session,
        };
        db.api_calls().list(&filter, page).await?
    } else {
        Vec::new()
    };
    if json {
        return print_json(&json!({"since": since, "llm": llm, "external_api": api}));
    }
    println!("calls since {since} (UTC), newest first");
    let mut t = table(&[
        "LLM call",
        "time (UTC)",
        "status",
        "model",
        "agent",
        "latency ms",
        "tokens",
        "session",
        "error",
    ]);
    for c in &llm {
        t.add_row(vec![
            c.id.to_string(),
            c.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            c.status.to_string(),
            format!("{}/{}", clean(&c.vendor), clean(&c.model_name)),
            c.caller_agent
                .as_deref()
                .map_or_else(|| "-".to_owned(), |a| clean(a).into_owned()),
            c.latency_ms.to_string(),
            opt(c.total_tokens),
            opt(c.session_id),
            first_line(c.error_message.as_deref()),
        ]);
    }
    print_table(t);
    let mut t = table(&[
        "API call",
        "time (UTC)",
        "status",
        "service",
        "operation",
        "latency ms",
        "HTTP",
        "session",
        "error",
    ]);
    for c in &api {
        t.add_row(vec![
            c.id.to_string(),
            c.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            c.status.to_string(),
            clean(&c.service_name).into_owned(),
            clean(&c.operation).into_owned(),
            c.latency_ms.to_string(),
            opt(c.status_code),
            opt(c.session_id),
            first_line(c.error_message.as_deref()),
        ]);
    }
    print_table(t);
    println!(
        "{} LLM call(s), {} API call(s) (page of {}; --skip for more, --json for every field)",
        llm.len(),
        api.len(),
        args.limit
    );
    Ok(())
}

/// An error's first line, at most 80 characters: a table cell, not the whole message.
fn first_line(text: Option<&str>) -> String {
    let Some(text) = text else {
        return "-".to_owned();
    };
    let line = text.lines().next().unwrap_or_default();
    let short: String = line.chars().take(80).collect();
    clean(&short).into_owned()
}
