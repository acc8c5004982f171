//! Daily bars and quarterly financial indicators.

use chrono::{Datelike, Months, NaiveDate};
use data_engineering::{StockDaily, StockFinance, StockInfo};
use rand::Rng;

use crate::{Sampler, round};

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

/// The chance a stock seals its limit-up on a day (about 1 % of the market does).
const LIMIT_UP_CHANCE: f64 = 0.008;
/// The chance a stock sealed yesterday seals again.
const RUN_CHANCE: f64 = 0.3;
/// The chance a stock reaches its limit-up and does not close there.
const BROKEN_CHANCE: f64 = 0.004;

/// A uniform draw in [0, 1) of `code`'s news on `day`: a hash (SplitMix64), independent
/// of the walk's generator.
fn news_draw(seed: u64, code: &str, day: NaiveDate) -> f64 {
    let mut x =
        seed ^ u64::from(day.num_days_from_ce().unsigned_abs()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for byte in code.bytes() {
        x = (x ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
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
        let mut sealed = false;
        for day in days {
            let limit_up = round(pre_close * (1.0 + p.limit), 2);
            let limit_down = round(pre_close * (1.0 - p.limit), 2);
            let mut close =
                round(pre_close * (1.0 + s.normal(0.0003, 0.022)), 2).clamp(limit_down, limit_up);
            let open =
                round(pre_close * (1.0 + s.normal(0.0, 0.008)), 2).clamp(limit_down, limit_up);
            let mut high =
                round(open.max(close) * (1.0 + s.normal(0.0, 0.006).abs()), 2).min(limit_up);
            // News days, drawn apart from the walk (so the walk's draws stay as they were):
            // a stock seals its limit-up (and, sealed yesterday, often again), or reaches
            // it and falls back.
            let news = news_draw(seed, stock.third_code.as_str(), *day);
            if news < LIMIT_UP_CHANCE || (sealed && news < RUN_CHANCE) {
                (close, high) = (limit_up, limit_up);
            } else if news < LIMIT_UP_CHANCE + BROKEN_CHANCE {
                high = limit_up;
                close = close.max(round(pre_close * (1.0 + p.limit * 0.5), 2));
            }
            sealed = close >= limit_up;
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
    use crate::{stocks, trading_days};

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
