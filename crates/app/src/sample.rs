//! Deterministic sample data in Tushare's shapes: a stock list, daily bars that follow a
//! random walk within the daily price limits, quarterly financial indicators.
//!
//! Used by `stockdb demo` and `cargo xtask bench`; the same seed gives the same data.

use chrono::{Datelike, Months, NaiveDate, Weekday};
use data_engineering::{StockDaily, StockFinance, StockInfo, ThirdCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SURNAMES: &[&str] = &[
    "平安", "华夏", "中信", "招商", "东方", "长江", "海通", "国泰", "万科", "格力", "美的", "五粮",
    "恒瑞", "宁德", "比亚", "隆基", "紫金", "中兴", "海康", "立讯", "京东", "阳光", "通威", "天齐",
    "北方",
];
const SUFFIXES: &[&str] = &[
    "银行", "科技", "电子", "医药", "能源", "股份", "控股", "实业", "材料", "智能", "新能", "电器",
];
const INDUSTRIES: &[&str] = &[
    "银行",
    "白酒",
    "半导体",
    "电气设备",
    "化学制药",
    "汽车整车",
    "房地产",
    "软件服务",
    "家用电器",
    "证券",
    "电力",
    "通信设备",
    "医疗器械",
    "煤炭开采",
    "食品",
];
const AREAS: &[&str] = &[
    "深圳", "上海", "北京", "浙江", "江苏", "广东", "山东", "四川", "福建", "湖北",
];

/// The boards stocks are spread over: first code, exchange suffix, exchange, market.
const BOARDS: &[(u32, &str, &str, &str)] = &[
    (1, "SZ", "SZSE", "主板"),
    (300_001, "SZ", "SZSE", "创业板"),
    (600_000, "SH", "SSE", "主板"),
    (688_001, "SH", "SSE", "科创板"),
];

/// A seeded random source with the few distributions the samples need.
#[derive(Debug)]
pub struct Sampler {
    rng: StdRng,
}

impl Sampler {
    /// A sampler whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        self.rng.random_range(low..high)
    }

    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        // Box-Muller; one of the pair is enough here.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random_range(0.0..1.0);
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        self.uniform(low.ln(), high.ln()).exp()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'A' + self.rng.random_range(0..26u8)))
            .collect()
    }
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

/// `n` stocks spread over the SZSE and SSE boards, with unique codes and symbols.
pub fn stocks(n: usize, seed: u64) -> Vec<StockInfo> {
    let mut s = Sampler::new(seed);
    (0..n)
        .filter_map(|idx| {
            let (base, suffix, exchange, market) = BOARDS[idx % BOARDS.len()];
            let number = base + u32::try_from(idx / BOARDS.len()).ok()?;
            let symbol = format!("{number:06}");
            // Six digits and an exchange suffix always parse.
            let code = ThirdCode::parse(&format!("{symbol}.{suffix}")).ok()?;
            let name = format!("{}{}", s.pick(SURNAMES), s.pick(SUFFIXES));
            let mut stock = StockInfo::new(code, &symbol, &name);
            stock.area = Some(s.pick(AREAS).to_owned());
            stock.industry = Some(s.pick(INDUSTRIES).to_owned());
            stock.market = Some(market.to_owned());
            let year = s.rng.random_range(1991..2023);
            stock.list_date = NaiveDate::from_ymd_opt(
                year,
                s.rng.random_range(1..=12),
                s.rng.random_range(1..=28),
            );
            stock.fullname = Some(format!("{name}股份有限公司"));
            stock.enname = Some(format!("{} Co., Ltd.", s.letters(6)));
            stock.cnspell = Some(s.letters(4));
            stock.exchange = Some(exchange.to_owned());
            stock.curr_type = Some("CNY".to_owned());
            stock.list_status = Some("L".to_owned());
            stock.is_hs = Some(s.pick(&["N", "H", "S"]).to_owned());
            stock.source = Some("tushare".to_owned());
            Some(stock)
        })
        .collect()
}

/// `n` weekdays from `start` on (holidays are not modelled).
pub fn trading_days(start: NaiveDate, n: usize) -> Vec<NaiveDate> {
    start
        .iter_days()
        .filter(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        .take(n)
        .collect()
}

/// The per-stock constants a bar series is drawn around.
struct Profile {
    price: f64,
    limit: f64,
    total_share: f64,
    float_share: f64,
    free_share: f64,
    adj_factor: f64,
    eps: f64,
    bps: f64,
    revenue: f64,
    dividend: Option<f64>,
}

fn profile(s: &mut Sampler, stock: &StockInfo) -> Profile {
    let limit = if matches!(stock.market.as_deref(), Some("创业板" | "科创板")) {
        0.20
    } else {
        0.10
    };
    let total_share = round(s.log_uniform(8_000.0, 2_000_000.0), 2);
    let float_share = round(total_share * s.uniform(0.55, 1.0), 2);
    Profile {
        price: s.log_uniform(3.0, 180.0),
        limit,
        total_share,
        float_share,
        free_share: round(float_share * s.uniform(0.45, 0.9), 2),
        adj_factor: round(s.uniform(1.0, 8.0), 3),
        eps: s.normal(0.8, 1.0),
        bps: s.uniform(1.5, 25.0),
        revenue: s.log_uniform(5e4, 5e7),
        dividend: s.chance(0.7).then(|| s.uniform(0.2, 4.5)),
    }
}

/// Daily bars of every stock on every day, stock by stock, as a lazy iterator.
pub fn daily_bars<'a>(
    stocks: &'a [StockInfo],
    days: &'a [NaiveDate],
    seed: u64,
) -> impl Iterator<Item = StockDaily> + 'a {
    let mut s = Sampler::new(seed);
    stocks.iter().flat_map(move |stock| {
        let p = profile(&mut s, stock);
        let mut bars = Vec::with_capacity(days.len());
        let mut pre_close = round(p.price, 2);
        for day in days {
            let limit_up = round(pre_close * (1.0 + p.limit), 2);
            let limit_down = round(pre_close * (1.0 - p.limit), 2);
            let close =
                round(pre_close * (1.0 + s.normal(0.0003, 0.022)), 2).clamp(limit_down, limit_up);
            let open =
                round(pre_close * (1.0 + s.normal(0.0, 0.008)), 2).clamp(limit_down, limit_up);
            let high = round(open.max(close) * (1.0 + s.normal(0.0, 0.006).abs()), 2).min(limit_up);
            let low =
                round(open.min(close) * (1.0 - s.normal(0.0, 0.006).abs()), 2).max(limit_down);
            let turnover = s.log_uniform(0.2, 8.0);
            let vol = round(p.float_share * 10_000.0 * turnover / 100.0 / 100.0, 2);
            let mut bar = StockDaily::new(stock.third_code.clone(), *day);
            bar.open = Some(open);
            bar.high = Some(high);
            bar.low = Some(low);
            bar.close = Some(close);
            bar.pre_close = Some(pre_close);
            bar.change = Some(round(close - pre_close, 2));
            bar.pct_chg = Some(round((close - pre_close) / pre_close * 100.0, 4));
            bar.vol = Some(vol);
            bar.amount = Some(round(vol * 100.0 * (open + close) / 2.0 / 1_000.0, 3));
            bar.adj_factor = Some(p.adj_factor);
            bar.turnover_rate = Some(round(turnover, 4));
            bar.turnover_rate_f = Some(round(turnover * p.float_share / p.free_share, 4));
            bar.volume_ratio = Some(round(s.log_uniform(0.4, 3.0), 2));
            bar.pe = (p.eps > 0.0).then(|| round(close / p.eps, 4));
            bar.pe_ttm = (p.eps > 0.0).then(|| round(close / (p.eps * 1.05), 4));
            bar.pb = Some(round(close / p.bps, 4));
            let total_mv = close * p.total_share;
            bar.ps = Some(round(total_mv / p.revenue, 4));
            bar.ps_ttm = Some(round(total_mv / (p.revenue * 1.04), 4));
            bar.dv_ratio = p.dividend.map(|d| round(d, 4));
            bar.dv_ttm = p.dividend.map(|d| round(d * 1.02, 4));
            bar.total_share = Some(p.total_share);
            bar.float_share = Some(p.float_share);
            bar.free_share = Some(p.free_share);
            bar.total_mv = Some(round(total_mv, 4));
            bar.circ_mv = Some(round(close * p.float_share, 4));
            bar.source = Some("tushare".to_owned());
            bars.push(bar);
            pre_close = close;
        }
        bars
    })
}

/// Amount-valued indicators (yuan); the rest are per-share values, ratios or days.
const AMOUNTS: &[&str] = &[
    "extra_item",
    "profit_dedt",
    "op_income",
    "valuechange_income",
    "interst_income",
    "daa",
    "ebit",
    "ebitda",
    "fcff",
    "fcfe",
    "current_exint",
    "noncurrent_exint",
    "interestdebt",
    "netdebt",
    "tangible_asset",
    "working_capital",
    "networking_capital",
    "invest_capital",
    "retained_earnings",
];

fn indicator(s: &mut Sampler, name: &str) -> Option<f64> {
    if s.chance(0.04) {
        return None;
    }
    let value = if AMOUNTS.contains(&name) {
        round(
            s.log_uniform(1e6, 5e10) * if s.chance(0.1) { -1.0 } else { 1.0 },
            2,
        )
    } else if name.ends_with("_days") {
        round(s.uniform(5.0, 400.0), 4)
    } else if name.contains("turn") {
        round(s.log_uniform(0.1, 30.0), 4)
    } else if name.ends_with("_ratio") || name.contains("_to_eqt") {
        round(s.log_uniform(0.3, 4.0), 4)
    } else if name == "bps" || name == "retainedps" || name.ends_with("rese_ps") {
        round(s.log_uniform(0.5, 30.0), 4)
    } else if name.ends_with("eps") || name.ends_with("_ps") || name.ends_with("ps") {
        round(s.normal(0.8, 1.2), 4)
    } else if name.contains("margin")
        || name.contains("_to_assets")
        || name.contains("_of_")
        || name.contains("_to_")
    {
        // Shares of a whole, in percent.
        round(s.uniform(2.0, 80.0), 4)
    } else {
        // Returns and growth-like percentages.
        round(s.normal(8.0, 9.0), 4)
    };
    Some(value)
}

/// `quarters` quarterly reports per stock, the newest for the quarter containing
/// `last_period_end`, each announced 20 to 110 days after its period ended.
pub fn finance_reports(
    stocks: &[StockInfo],
    quarters: u32,
    last_period_end: NaiveDate,
    seed: u64,
) -> Vec<StockFinance> {
    let mut s = Sampler::new(seed);
    let mut out = Vec::with_capacity(stocks.len() * quarters as usize);
    for stock in stocks {
        for quarter in 0..quarters {
            let end = quarter_end(last_period_end, quarter);
            let ann = end + chrono::Duration::days(s.rng.random_range(20..=110));
            let mut report = StockFinance::new(stock.third_code.clone(), ann, end);
            for name in StockFinance::INDICATORS {
                report.set_indicator(name, indicator(&mut s, name));
            }
            report.source = Some("tushare".to_owned());
            out.push(report);
        }
    }
    out
}

/// The latest quarter end on or before `date`.
pub fn last_quarter_end(date: NaiveDate) -> NaiveDate {
    let end = quarter_end(date, 0);
    if end == date {
        end
    } else {
        quarter_end(date, 1)
    }
}

/// The end of the quarter `back` quarters before the one containing `date`.
fn quarter_end(date: NaiveDate, back: u32) -> NaiveDate {
    let month = (date.month() - 1) / 3 * 3 + 3;
    let first_of_next = NaiveDate::from_ymd_opt(date.year(), month, 1)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .unwrap_or(date);
    let first_of_next = first_of_next
        .checked_sub_months(Months::new(3 * back))
        .unwrap_or(first_of_next);
    first_of_next.pred_opt().unwrap_or(first_of_next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_deterministic_and_valid() {
        let stocks_a = stocks(40, 7);
        assert_eq!(stocks_a, stocks(40, 7));
        let mut symbols: Vec<&str> = stocks_a.iter().map(|s| s.symbol.as_str()).collect();
        symbols.sort_unstable();
        symbols.dedup();
        assert_eq!(symbols.len(), 40, "unique symbols");
        for stock in &stocks_a {
            stock.validate().unwrap();
        }
        let days = trading_days(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), 30);
        let bars: Vec<StockDaily> = daily_bars(&stocks_a, &days, 7).collect();
        assert_eq!(bars.len(), 40 * 30);
        for bar in &bars {
            bar.validate().unwrap();
            let (low, high, close) = (bar.low.unwrap(), bar.high.unwrap(), bar.close.unwrap());
            assert!(low <= close && close <= high, "{bar:?}");
        }
        let reports = finance_reports(
            &stocks_a,
            8,
            NaiveDate::from_ymd_opt(2024, 9, 30).unwrap(),
            7,
        );
        assert_eq!(reports.len(), 40 * 8);
        for report in &reports {
            report.validate().unwrap();
        }
    }

    #[test]
    fn quarter_ends() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(quarter_end(d("2024-09-30"), 0), d("2024-09-30"));
        assert_eq!(quarter_end(d("2024-08-15"), 0), d("2024-09-30"));
        assert_eq!(quarter_end(d("2024-09-30"), 1), d("2024-06-30"));
        assert_eq!(quarter_end(d("2024-09-30"), 3), d("2023-12-31"));
        assert_eq!(last_quarter_end(d("2024-09-30")), d("2024-09-30"));
        assert_eq!(last_quarter_end(d("2024-12-16")), d("2024-09-30"));
    }
}

/// A research session with its node executions and the LLM and external API calls it
/// made, as a research workflow would record them.
#[derive(Debug, Clone)]
pub struct SampleTrace {
    /// The session.
    pub session: coordinator::ResearchSession,
    /// Its nodes, in the order they ran.
    pub nodes: Vec<coordinator::NodeExecution>,
    /// The LLM calls of its nodes.
    pub llm_calls: Vec<audit::LlmCallLog>,
    /// The data-API calls of its nodes.
    pub api_calls: Vec<audit::ExternalApiCallLog>,
}

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

/// `n` research traces on stocks of `stocks`, starting at `start` and spaced an hour
/// apart. Some nodes fail or are skipped, so session statuses vary.
pub fn traces(
    stocks: &[StockInfo],
    n: usize,
    start: chrono::NaiveDateTime,
    seed: u64,
) -> Vec<SampleTrace> {
    use audit::{CallStatus, ExternalApiCallLog, LlmCallLog};
    use coordinator::{NodeExecution, NodeStatus, ResearchSession, SessionStatus};
    use serde_json::json;

    let mut s = Sampler::new(seed);
    let id = |s: &mut Sampler| uuid::Builder::from_random_bytes(s.rng.random()).into_uuid();
    (0..n)
        .filter_map(|idx| {
            let stock = stocks.get(s.rng.random_range(0..stocks.len().max(1)))?;
            let created = start + chrono::Duration::hours(i64::try_from(idx).ok()?);
            let mut session = ResearchSession::start(stock.third_code.as_str(), created);
            session.id = id(&mut s);
            session.selected_experts = Some(vec!["fundamental".into(), "technical".into(), "sentiment".into()]);
            session.options = Some(json!({"depth": 2, "language": "zh", "include_news": true}));
            session.trigger_source = Some(s.pick(&["api", "scheduler"]).to_owned());
            let mut at = created;
            let mut trace = SampleTrace {
                session,
                nodes: Vec::new(),
                llm_calls: Vec::new(),
                api_calls: Vec::new(),
            };
            let mut failed = 0;
            for (node_type, service) in NODES {
                let status = if s.chance(0.08) {
                    NodeStatus::Failed
                } else if s.chance(0.05) {
                    NodeStatus::Skipped
                } else {
                    NodeStatus::Success
                };
                let mut node = NodeExecution::new(trace.session.id, *node_type, status, at);
                node.id = id(&mut s);
                let mut took = 0i64;
                if status != NodeStatus::Skipped && !service.is_empty() {
                    let latency = s.log_uniform(40.0, 900.0) as i32;
                    let ok = status == NodeStatus::Success || s.chance(0.5);
                    trace.api_calls.push(ExternalApiCallLog {
                        id: id(&mut s),
                        session_id: Some(trace.session.id),
                        service_name: (*service).to_owned(),
                        operation: if *service == "bochai" { "web-search".into() } else { "daily".into() },
                        // The token is redacted before it is stored.
                        request_params: Some(json!({"ts_code": trace.session.symbol, "token": "demo-token-0000", "limit": 250})),
                        response_data: Some(r#"{"items": "…"}"#.to_owned()),
                        status_code: Some(if ok { 200 } else { 502 }),
                        latency_ms: latency,
                        status: if ok { CallStatus::Success } else { CallStatus::Failed },
                        error_message: (!ok).then(|| "upstream gateway error".to_owned()),
                        created_at: at + chrono::Duration::milliseconds(took),
                    });
                    took += i64::from(latency);
                }
                if status != NodeStatus::Skipped {
                    let (vendor, model) = MODELS[s.rng.random_range(0..MODELS.len())];
                    let latency = s.log_uniform(800.0, 20_000.0) as i32;
                    let ok = status == NodeStatus::Success;
                    let prompt = s.rng.random_range(400..4_000);
                    let completion = if ok { s.rng.random_range(150..1_500) } else { 0 };
                    trace.llm_calls.push(LlmCallLog {
                        id: id(&mut s),
                        session_id: Some(trace.session.id),
                        caller_module: "coordinator".into(),
                        caller_agent: Some(format!("{node_type}_agent")),
                        model_name: model.into(),
                        vendor: vendor.into(),
                        prompt_text: format!("请分析 {} 的{}。", stock.name, node_type),
                        system_message: Some("你是一名严谨的 A 股研究员。".into()),
                        completion_text: ok.then(|| format!("{} 的{}结论：……", stock.name, node_type)),
                        prompt_tokens: Some(prompt),
                        completion_tokens: Some(completion),
                        total_tokens: Some(prompt + completion),
                        temperature: 0.3,
                        latency_ms: latency,
                        status: if ok { CallStatus::Success } else { CallStatus::Failed },
                        error_message: (!ok).then(|| "RateLimitError: 429 Too Many Requests".to_owned()),
                        created_at: at + chrono::Duration::milliseconds(took),
                    });
                    took += i64::from(latency);
                }
                match status {
                    NodeStatus::Success => {
                        node.result_data = Some(json!({"score": round(s.uniform(0.0, 100.0), 1), "signal": s.pick(&["buy", "hold", "sell"])}));
                        node.narrative_report = Some(format!("{}：{} 结论已生成。", stock.name, node_type));
                    }
                    NodeStatus::Failed => {
                        failed += 1;
                        node.error_type = Some("RateLimitError".into());
                        node.error_message = Some("429 Too Many Requests".into());
                    }
                    NodeStatus::Skipped => {}
                }
                node.completed_at = Some(at + chrono::Duration::milliseconds(took));
                node.duration_ms = i32::try_from(took).ok();
                at += chrono::Duration::milliseconds(took + 5);
                trace.nodes.push(node);
            }
            trace.session.status = match failed {
                0 => SessionStatus::Completed,
                n if n >= 3 => SessionStatus::Failed,
                _ => SessionStatus::Partial,
            };
            trace.session.completed_at = Some(at);
            trace.session.duration_ms = i32::try_from((at - created).num_milliseconds()).ok();
            Some(trace)
        })
        .collect()
}
