//! Research traces: sessions, their node executions and the calls they made.

use audit::{CallStatus, ExternalApiCallLog, LlmCallLog};
use chrono::{Duration, NaiveDateTime};
use coordinator::{NodeExecution, NodeStatus, ResearchSession, SessionStatus};
use data_engineering::StockInfo;
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use crate::{Sampler, round};

/// A research session with its node executions and the LLM and external API calls it
/// made, as a research workflow would record them.
#[derive(Debug, Clone)]
pub struct SampleTrace {
    /// The session, as it ended.
    pub session: ResearchSession,
    /// Its nodes, in the order they ran.
    pub nodes: Vec<NodeExecution>,
    /// The LLM calls of its nodes.
    pub llm_calls: Vec<LlmCallLog>,
    /// The data-API calls of its nodes.
    pub api_calls: Vec<ExternalApiCallLog>,
}

/// The workflow's nodes and the data service each calls (none for the last).
const NODES: &[(&str, &str)] = &[
    ("data_collection", "tushare"),
    ("fundamental_analysis", "tushare"),
    ("technical_analysis", "tushare"),
    ("news_sentiment", "bochai"),
    ("valuation", "tushare"),
    ("report_synthesis", ""),
];
const MODELS: &[(&str, &str)] = &[
    ("deepseek", "deepseek-chat"),
    ("deepseek", "deepseek-reasoner"),
    ("moonshot", "kimi-k2"),
];

impl Sampler {
    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }
}

/// `n` research traces on stocks of `stocks`, starting at `start` and spaced an hour
/// apart. Some nodes fail or are skipped, so session statuses vary.
pub fn traces(stocks: &[StockInfo], n: usize, start: NaiveDateTime, seed: u64) -> Vec<SampleTrace> {
    let mut s = Sampler::new(seed);
    let mut out = Vec::with_capacity(n);
    for hour in (0..).take(n) {
        let Some(stock) = stocks.get(s.rng.random_range(0..stocks.len().max(1))) else {
            break;
        };
        out.push(trace(&mut s, stock, start + Duration::hours(hour)));
    }
    out
}

/// One session on `stock`, created at `created`.
fn trace(s: &mut Sampler, stock: &StockInfo, created: NaiveDateTime) -> SampleTrace {
    let mut session = ResearchSession::start(stock.third_code.as_str(), created);
    session.id = s.uuid();
    session.selected_experts = Some(vec![
        "fundamental".into(),
        "technical".into(),
        "sentiment".into(),
    ]);
    session.options = Some(json!({"depth": 2, "language": "zh", "include_news": true}));
    session.trigger_source = Some(s.pick(&["api", "scheduler"]).to_owned());
    let mut trace = SampleTrace {
        session,
        nodes: Vec::new(),
        llm_calls: Vec::new(),
        api_calls: Vec::new(),
    };
    let mut at = created;
    let mut failed = 0;
    for &(node_type, service) in NODES {
        let status = if s.chance(0.08) {
            NodeStatus::Failed
        } else if s.chance(0.05) {
            NodeStatus::Skipped
        } else {
            NodeStatus::Success
        };
        let mut node = NodeExecution::new(trace.session.id, node_type, status, at);
        node.id = s.uuid();
        let mut took = Duration::zero();
        if status != NodeStatus::Skipped && !service.is_empty() {
            let call = api_call(s, &trace.session, service, status, at + took);
            took += Duration::milliseconds(i64::from(call.latency_ms));
            trace.api_calls.push(call);
        }
        if status != NodeStatus::Skipped {
            let call = llm_call(s, &trace.session, stock, node_type, status, at + took);
            took += Duration::milliseconds(i64::from(call.latency_ms));
            trace.llm_calls.push(call);
        }
        match status {
            NodeStatus::Success => {
                let signal = s.pick(&["buy", "hold", "sell"]);
                node.result_data =
                    Some(json!({"score": round(s.uniform(0.0, 100.0), 1), "signal": signal}));
                node.narrative_report = Some(format!("{}：{node_type} 结论已生成。", stock.name));
            }
            NodeStatus::Failed => {
                failed += 1;
                node.error_type = Some("RateLimitError".into());
                node.error_message = Some("429 Too Many Requests".into());
            }
            NodeStatus::Skipped => {}
        }
        node.completed_at = Some(at + took);
        node.duration_ms = i32::try_from(took.num_milliseconds()).ok();
        at += took + Duration::milliseconds(5);
        trace.nodes.push(node);
    }
    trace.session.status = match failed {
        0 => SessionStatus::Completed,
        n if n >= 3 => SessionStatus::Failed,
        _ => SessionStatus::Partial,
    };
    trace.session.completed_at = Some(at);
    trace.session.duration_ms = i32::try_from((at - created).num_milliseconds()).ok();
    trace
}

/// A data-API call of a node; a failed node's call fails half the time.
fn api_call(
    s: &mut Sampler,
    session: &ResearchSession,
    service: &str,
    status: NodeStatus,
    at: NaiveDateTime,
) -> ExternalApiCallLog {
    let ok = status == NodeStatus::Success || s.chance(0.5);
    let operation = if service == "bochai" {
        "web-search"
    } else {
        "daily"
    };
    let mut call = ExternalApiCallLog::new(service, operation, at);
    call.id = s.uuid();
    call.session_id = Some(session.id);
    // The token is redacted before it is stored.
    call.request_params =
        Some(json!({"ts_code": session.symbol, "token": "demo-token-0000", "limit": 250}));
    call.response_data = Some(r#"{"items": "…"}"#.to_owned());
    call.status_code = Some(if ok { 200 } else { 502 });
    call.latency_ms = s.log_uniform(40.0, 900.0) as i32;
    if !ok {
        call.status = CallStatus::Failed;
        call.error_message = Some("upstream gateway error".to_owned());
    }
    call
}

/// The LLM call of a node; it fails when the node does.
fn llm_call(
    s: &mut Sampler,
    session: &ResearchSession,
    stock: &StockInfo,
    node_type: &str,
    status: NodeStatus,
    at: NaiveDateTime,
) -> LlmCallLog {
    let (vendor, model) = MODELS[s.rng.random_range(0..MODELS.len())];
    let ok = status == NodeStatus::Success;
    let prompt_text = format!("请分析 {} 的{node_type}。", stock.name);
    let mut call = LlmCallLog::new("coordinator", vendor, model, prompt_text, at);
    call.id = s.uuid();
    call.session_id = Some(session.id);
    call.caller_agent = Some(format!("{node_type}_agent"));
    call.system_message = Some("你是一名严谨的 A 股研究员。".into());
    call.latency_ms = s.log_uniform(800.0, 20_000.0) as i32;
    let prompt = s.rng.random_range(400..4_000);
    let completion = if ok {
        s.rng.random_range(150..1_500)
    } else {
        0
    };
    call.prompt_tokens = Some(prompt);
    call.completion_tokens = Some(completion);
    call.total_tokens = Some(prompt + completion);
    // The breakdown vendors report, derived from the counts (no extra draw, so the rest
    // of the sample stays as it was): DeepSeek serves the shared system prompt and stock
    // context from its cache, its reasoner thinks for about half of what it writes.
    if vendor == "deepseek" {
        call.cached_prompt_tokens = Some(prompt / 3);
        call.reasoning_tokens = Some(if model.contains("reasoner") {
            completion / 2
        } else {
            0
        });
        call.config_alias = Some(format!("demo-{model}"));
    }
    call.temperature = 0.3;
    if ok {
        call.completion_text = Some(format!("{} 的{node_type}结论：……", stock.name));
    } else {
        call.status = CallStatus::Failed;
        call.error_message = Some("RateLimitError: 429 Too Many Requests".to_owned());
    }
    call
}
