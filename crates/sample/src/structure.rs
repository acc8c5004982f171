//! The market's structure around the sample's bars: the trading calendar of its days,
//! halts (whose days then have no bar), a few days a sync missed, ST episodes announced after they took effect,
//! monthly snapshots of an index whose members come and go, and dividends whose ex-dates
//! step the bars' adjustment factors as the exchange's reference price does.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate};
use data_engineering::{
    CalendarDay, DIV_PROC_IMPLEMENTED, Dividend, Exchange, IndexWeight, NameChange, NameFlags,
    PriceLimit, StockDaily, StockInfo, SuspendType, Suspension, ThirdCode,
};
use rand::Rng;

use crate::{Sampler, round};

/// The sample index (its code is the CSI 300's; its members are the sample's).
pub const SAMPLE_INDEX: &str = "000300.SH";

/// The structure of the sample's market.
#[derive(Debug, Clone, Default)]
pub struct MarketStructure {
    /// Every calendar day of SSE and SZSE from the first sample day to the last.
    pub calendar: Vec<CalendarDay>,
    /// Whole-day halts (an `S` and the `R` that ends it) and intraday halts.
    pub suspensions: Vec<Suspension>,
    /// Each stock's name from its listing, and ST episodes.
    pub names: Vec<NameChange>,
    /// Month-end snapshots of [`SAMPLE_INDEX`].
    pub index_weights: Vec<IndexWeight>,
    /// Dividend plans: proposed, then implemented with an ex-date among the sample days.
    pub dividends: Vec<Dividend>,
    /// Bars a sync missed: open days without a halt whose bar is not in the sample.
    pub missed: Vec<(ThirdCode, NaiveDate)>,
}

/// The structure of `stocks`' market over `days` (the sample's trading days, ascending).
pub fn market_structure(stocks: &[StockInfo], days: &[NaiveDate], seed: u64) -> MarketStructure {
    let mut s = Sampler::new(seed ^ 0x5743_5455);
    let mut out = MarketStructure {
        calendar: calendar(days),
        ..MarketStructure::default()
    };
    let Some(&first) = days.first() else {
        return out;
    };
    for (idx, stock) in stocks.iter().enumerate() {
        let code = stock.third_code.clone();
        let listed = stock.list_date.unwrap_or(first);
        out.names.push(NameChange {
            third_code: code.clone(),
            name: stock.name.clone(),
            start_date: listed,
            end_date: None,
            ann_date: Some(listed - Duration::days(3)),
            change_reason: None,
            source: Some("tushare".to_owned()),
        });
        if days.len() < 20 {
            continue;
        }
        let some_day = |s: &mut Sampler| s.rng.random_range(5..days.len() - 10);
        match idx % 25 {
            // A halt of 3 to 6 trading days: `S` on its first, `R` on the day it ends.
            3 | 15 => {
                let at = some_day(&mut s);
                let ends = at + s.rng.random_range(3..=6);
                let reason = s.pick(&["重大事项", "筹划重大资产重组", "异常波动核查"]);
                out.suspensions.push(suspension(
                    &code,
                    days[at],
                    SuspendType::Suspend,
                    None,
                    Some(reason),
                ));
                out.suspensions.push(suspension(
                    &code,
                    days[ends],
                    SuspendType::Resume,
                    None,
                    None,
                ));
            }
            7 => {
                let at = some_day(&mut s);
                out.suspensions.push(suspension(
                    &code,
                    days[at],
                    SuspendType::Suspend,
                    Some("09:30-10:30"),
                    Some("异常波动"),
                ));
            }
            // Special treatment from a trading day, announced two days after it took effect.
            // A day the sync missed: no bar, and no halt to say why.
            11 => {
                let at = some_day(&mut s);
                out.missed.push((code.clone(), days[at]));
            }
            5 | 17 => {
                let at = days[some_day(&mut s)];
                if let Some(previous) = out.names.last_mut() {
                    previous.end_date = Some(at - Duration::days(1));
                }
                out.names.push(NameChange {
                    third_code: code.clone(),
                    name: format!("ST{}", stock.name),
                    start_date: at,
                    end_date: None,
                    ann_date: Some(at + Duration::days(2)),
                    change_reason: Some("ST".to_owned()),
                    source: Some("tushare".to_owned()),
                });
            }
            _ => {}
        }
        if idx % 10 == 1 {
            out.dividends
                .extend(dividend(&mut s, &code, days, first.year() - 1));
        }
    }
    out.index_weights = index_snapshots(&mut s, stocks, days);
    out
}

fn calendar(days: &[NaiveDate]) -> Vec<CalendarDay> {
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for exchange in [Exchange::Sse, Exchange::Szse] {
        let mut previous = None;
        for day in first.iter_days().take_while(|d| *d <= last) {
            let is_open = days.binary_search(&day).is_ok();
            out.push(CalendarDay {
                exchange,
                cal_date: day,
                is_open,
                pretrade_date: previous,
                source: Some("tushare".to_owned()),
            });
            if is_open {
                previous = Some(day);
            }
        }
    }
    out
}

fn suspension(
    code: &ThirdCode,
    day: NaiveDate,
    kind: SuspendType,
    timing: Option<&str>,
    reason: Option<&str>,
) -> Suspension {
    Suspension {
        third_code: code.clone(),
        trade_date: day,
        suspend_type: kind,
        suspend_timing: timing.map(str::to_owned),
        reason: reason.map(str::to_owned),
        source: Some("tushare".to_owned()),
    }
}

/// A plan for `year`'s results: proposed, then implemented with an ex-date in `days`.
fn dividend(s: &mut Sampler, code: &ThirdCode, days: &[NaiveDate], year: i32) -> Vec<Dividend> {
    let end = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(days[0]);
    let ex_at = s.rng.random_range(10..days.len() - 5);
    let ann = days[ex_at] - Duration::days(s.rng.random_range(40..80));
    let mut plan = Dividend::new(code.clone(), end, ann, "预案");
    let cash = round(s.uniform(0.05, 1.2), 3);
    let bonus = if s.chance(0.4) {
        round(s.uniform(0.1, 0.3), 1)
    } else {
        0.0
    };
    let transfer = if s.chance(0.4) {
        round(s.uniform(0.2, 0.5), 1)
    } else {
        0.0
    };
    plan.cash_div_tax = Some(cash);
    plan.cash_div = Some(round(cash * 0.9, 4));
    plan.stk_bo_rate = Some(bonus);
    plan.stk_co_rate = Some(transfer);
    plan.stk_div = Some(round(bonus + transfer, 4));
    plan.base_date = Some(end);
    plan.source = Some("tushare".to_owned());
    let mut done = plan.clone();
    done.div_proc = DIV_PROC_IMPLEMENTED.to_owned();
    done.record_date = Some(days[ex_at - 1]);
    done.ex_date = Some(days[ex_at]);
    done.pay_date = Some(days[ex_at]);
    done.div_listdate = (bonus + transfer > 0.0).then(|| days[ex_at + 1]);
    done.imp_ann_date = Some(days[ex_at - 5]);
    vec![plan, done]
}

/// Month-end snapshots of [`SAMPLE_INDEX`]: up to 60 stocks, a few out each month.
fn index_snapshots(s: &mut Sampler, stocks: &[StockInfo], days: &[NaiveDate]) -> Vec<IndexWeight> {
    let Ok(index) = ThirdCode::parse(SAMPLE_INDEX) else {
        return Vec::new();
    };
    let month_ends = days
        .windows(2)
        .filter(|pair| pair[0].month() != pair[1].month())
        .map(|pair| pair[0]);
    let pool = &stocks[..stocks.len().min(60)];
    let mut out = Vec::new();
    for (month, day) in month_ends.enumerate() {
        let members: Vec<&StockInfo> = pool
            .iter()
            .enumerate()
            .filter(|(idx, _)| (idx + month) % 12 != 0)
            .map(|(_, stock)| stock)
            .collect();
        let raw: Vec<f64> = members.iter().map(|_| s.log_uniform(0.2, 5.0)).collect();
        let total: f64 = raw.iter().sum();
        for (stock, weight) in members.iter().zip(raw) {
            out.push(IndexWeight {
                index_code: index.clone(),
                trade_date: day,
                con_code: stock.third_code.clone(),
                weight: Some(round(weight / total * 100.0, 4)),
                source: Some("tushare".to_owned()),
            });
        }
    }
    out
}

/// `bars` (stock by stock, oldest first) as the structure makes them: no bar on a halted
/// day, and from each ex-date on, prices divided and the adjustment factor multiplied by
/// the step `P (1 + shares) / (P − cash)` for the previous close `P`.
pub fn apply_structure<'a>(
    bars: impl Iterator<Item = StockDaily> + 'a,
    structure: &'a MarketStructure,
) -> impl Iterator<Item = StockDaily> + 'a {
    let mut halts: HashMap<&str, Vec<(NaiveDate, NaiveDate)>> = HashMap::new();
    for pair in structure.suspensions.windows(2) {
        if pair[0].halts() && pair[1].suspend_type == SuspendType::Resume {
            halts
                .entry(pair[0].third_code.as_str())
                .or_default()
                .push((pair[0].trade_date, pair[1].trade_date));
        }
    }
    let events: HashMap<&str, (NaiveDate, f64, f64)> = structure
        .dividends
        .iter()
        .filter_map(|d| {
            let ex = d.ex_date.filter(|_| d.is_implemented())?;
            Some((
                d.third_code.as_str(),
                (ex, d.cash_div_tax.unwrap_or(0.0), d.stk_div.unwrap_or(0.0)),
            ))
        })
        .collect();
    // Per stock: the last close before its ex-date, and the step once it is known.
    let mut last_close: Option<(ThirdCode, f64)> = None;
    let mut step: Option<(ThirdCode, f64)> = None;
    bars.filter_map(move |mut bar| {
        let code = bar.third_code.as_str();
        let halted = halts.get(code).is_some_and(|spans| {
            spans
                .iter()
                .any(|(from, to)| (*from..*to).contains(&bar.trade_date))
        });
        let missed = structure
            .missed
            .iter()
            .any(|(c, day)| c == &bar.third_code && *day == bar.trade_date);
        if halted || missed {
            return None;
        }
        if let Some(&(ex, cash, shares)) = events.get(code) {
            if bar.trade_date < ex {
                last_close = bar.close.map(|close| (bar.third_code.clone(), close));
            } else {
                let known = step
                    .as_ref()
                    .filter(|(c, _)| c == &bar.third_code)
                    .map(|(_, k)| *k);
                let k = match known {
                    Some(k) => k,
                    None => {
                        let p = last_close
                            .as_ref()
                            .filter(|(c, _)| c == &bar.third_code)
                            .map_or(0.0, |(_, p)| *p);
                        let k = if p > cash {
                            p * (1.0 + shares) / (p - cash)
                        } else {
                            1.0
                        };
                        step = Some((bar.third_code.clone(), k));
                        k
                    }
                };
                for price in [
                    &mut bar.open,
                    &mut bar.high,
                    &mut bar.low,
                    &mut bar.close,
                    &mut bar.pre_close,
                ] {
                    *price = price.map(|p| round(p / k, 2));
                }
                bar.change = bar.close.zip(bar.pre_close).map(|(c, p)| round(c - p, 2));
                bar.adj_factor = bar.adj_factor.map(|f| round(f * k, 6));
            }
        }
        Some(bar)
    })
}

/// The limit prices of each bar's day: ±20 % on the growth boards, ±5 % while the name
/// in force is ST, ±10 % otherwise, from the bar's previous close.
pub fn price_limits<'a>(
    bars: impl Iterator<Item = StockDaily> + 'a,
    stocks: &'a [StockInfo],
    structure: &'a MarketStructure,
) -> impl Iterator<Item = PriceLimit> + 'a {
    let growth: HashMap<&str, bool> = stocks
        .iter()
        .map(|s| {
            (
                s.third_code.as_str(),
                matches!(s.market.as_deref(), Some("创业板" | "科创板")),
            )
        })
        .collect();
    let st_from: HashMap<&str, NaiveDate> = structure
        .names
        .iter()
        .filter(|n| NameFlags::of(&n.name).st)
        .map(|n| (n.third_code.as_str(), n.start_date))
        .collect();
    bars.filter_map(move |bar| {
        let pre_close = bar.pre_close?;
        let code = bar.third_code.as_str();
        let pct = if growth.get(code).copied().unwrap_or(false) {
            0.20
        } else if st_from
            .get(code)
            .is_some_and(|from| bar.trade_date >= *from)
        {
            0.05
        } else {
            0.10
        };
        Some(PriceLimit {
            up_limit: round(pre_close * (1.0 + pct), 2),
            down_limit: round(pre_close * (1.0 - pct), 2),
            pre_close: Some(pre_close),
            trade_date: bar.trade_date,
            third_code: bar.third_code,
            source: Some("tushare".to_owned()),
        })
    })
}
