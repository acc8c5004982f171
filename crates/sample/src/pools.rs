//! The limit-up pool of the sample's days: every bar that closed at its limit-up price,
//! with its run of consecutive boards, as AkShare's `stock_zt_pool_em` would list it.

use std::collections::HashMap;

use data_engineering::{LimitUpStock, StockDaily, StockInfo};
use rand::Rng;

use crate::structure::MarketStructure;
use crate::{Sampler, price_limits, round};

/// The pool of every day of `bars` (stock by stock, oldest first).
pub fn limit_up_pool(
    bars: impl Iterator<Item = StockDaily>,
    stocks: &[StockInfo],
    structure: &MarketStructure,
    seed: u64,
) -> Vec<LimitUpStock> {
    let mut s = Sampler::new(seed ^ 0x5a54_504f);
    let info: HashMap<&str, &StockInfo> = stocks
        .iter()
        .map(|st| (st.third_code.as_str(), st))
        .collect();
    let bars: Vec<StockDaily> = bars.collect();
    let limits = price_limits(bars.clone().into_iter(), stocks, structure);
    // Per stock, the run of limit-up closes up to its last bar (0 when that one was not).
    let mut runs: HashMap<String, i32> = HashMap::new();
    let mut out = Vec::new();
    for (bar, limit) in bars.iter().zip(limits) {
        let (Some(close), Some(stock)) = (bar.close, info.get(bar.third_code.as_str())) else {
            continue;
        };
        let run = runs.entry(bar.third_code.as_str().to_owned()).or_insert(0);
        // Sealed at the limit: a close above it (an ST stock the walk took past its 5 %)
        // is no limit-up.
        if (close - limit.up_limit).abs() >= 0.005 {
            *run = 0;
            continue;
        }
        *run += 1;
        let run = *run;
        let minute = s.rng.random_range(0..150);
        out.push(LimitUpStock {
            trade_date: bar.trade_date,
            third_code: bar.third_code.clone(),
            stock_name: stock.name.clone(),
            pct_chg: bar.pct_chg.unwrap_or_default(),
            close,
            amount: round(bar.amount.unwrap_or_default() * 1_000.0, 0),
            turnover_rate: bar.turnover_rate.unwrap_or_default(),
            consecutive_boards: run,
            first_limit_up_time: Some(format!(
                "{:02}{:02}00",
                9 + (30 + minute) / 60,
                (30 + minute) % 60
            )),
            last_limit_up_time: Some("145700".to_owned()),
            industry: stock.industry.clone().unwrap_or_default(),
        });
    }
    out
}
