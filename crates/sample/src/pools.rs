//! The day boards of the sample's days, as AkShare would list them: the limit-up pool
//! (every bar that closed at its limit-up price, with its run of consecutive boards), the
//! broken-board pool (bars that reached it and fell back), yesterday's limit-ups today, the
//! dragon-tiger list (bars that moved 7 % or more, with seats) and industry fund flows.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use data_engineering::{
    BrokenBoardStock, DragonTigerEntry, LimitUpStock, PreviousLimitUpStock, Seat, SectorFlow,
    StockDaily, StockInfo,
};
use rand::Rng;

use crate::structure::MarketStructure;
use crate::{Sampler, price_limits, round};

/// Every board of every day of the sample.
#[derive(Debug, Clone, Default)]
pub struct SampleBoards {
    /// 涨停股池.
    pub limit_up: Vec<LimitUpStock>,
    /// 炸板股池.
    pub broken: Vec<BrokenBoardStock>,
    /// 昨日涨停股池, from the second day.
    pub previous: Vec<PreviousLimitUpStock>,
    /// 龙虎榜.
    pub dragon_tiger: Vec<DragonTigerEntry>,
    /// 行业资金流, one row per industry and day.
    pub sector_flows: Vec<SectorFlow>,
}

/// Seats a dragon-tiger listing names.
const SEATS: [&str; 6] = [
    "机构专用",
    "深股通专用",
    "沪股通专用",
    "华鑫证券上海分公司",
    "东方财富证券拉萨团结路第一营业部",
    "中信证券上海溧阳路营业部",
];

/// The boards of every day of `bars` (stock by stock, oldest first).
pub fn boards(
    bars: impl Iterator<Item = StockDaily>,
    stocks: &[StockInfo],
    structure: &MarketStructure,
    seed: u64,
) -> SampleBoards {
    let mut s = Sampler::new(seed ^ 0x5a54_504f);
    let info: HashMap<&str, &StockInfo> = stocks
        .iter()
        .map(|st| (st.third_code.as_str(), st))
        .collect();
    let bars: Vec<StockDaily> = bars.collect();
    let limits = price_limits(bars.clone().into_iter(), stocks, structure);
    let mut out = SampleBoards::default();
    // Per stock, the run of limit-up closes up to its last bar (0 when that one was not).
    let mut runs: HashMap<&str, i32> = HashMap::new();
    // Per industry and day: (sum of changes, count, signed turnover).
    let mut industries: BTreeMap<(NaiveDate, String), (f64, u32, f64)> = BTreeMap::new();
    for (bar, limit) in bars.iter().zip(limits) {
        let (Some(close), Some(high), Some(stock)) =
            (bar.close, bar.high, info.get(bar.third_code.as_str()))
        else {
            continue;
        };
        let code = bar.third_code.as_str();
        let pct_chg = bar.pct_chg.unwrap_or_default();
        // Tushare's thousand yuan to AkShare's yuan.
        let amount = round(bar.amount.unwrap_or_default() * 1_000.0, 0);
        let turnover_rate = bar.turnover_rate.unwrap_or_default();
        let industry = stock.industry.clone().unwrap_or_default();
        let yesterday = runs.get(code).copied().unwrap_or(0);
        if yesterday > 0 {
            out.previous.push(PreviousLimitUpStock {
                trade_date: bar.trade_date,
                third_code: bar.third_code.clone(),
                stock_name: stock.name.clone(),
                pct_chg,
                close,
                amount,
                turnover_rate,
                yesterday_consecutive_boards: yesterday,
                industry: industry.clone(),
            });
        }
        let minute = s.rng.random_range(0..150);
        let sealed_at = Some(format!(
            "{:02}{:02}00",
            9 + (30 + minute) / 60,
            (30 + minute) % 60
        ));
        // Sealed at the limit: a close above it (an ST stock the walk took past its 5 %)
        // is no limit-up.
        let sealed = (close - limit.up_limit).abs() < 0.005;
        runs.insert(code, if sealed { yesterday + 1 } else { 0 });
        if sealed {
            out.limit_up.push(LimitUpStock {
                trade_date: bar.trade_date,
                third_code: bar.third_code.clone(),
                stock_name: stock.name.clone(),
                pct_chg,
                close,
                amount,
                turnover_rate,
                consecutive_boards: yesterday + 1,
                first_limit_up_time: sealed_at,
                last_limit_up_time: Some("145700".to_owned()),
                industry: industry.clone(),
            });
        } else if high + 0.005 >= limit.up_limit {
            out.broken.push(BrokenBoardStock {
                trade_date: bar.trade_date,
                third_code: bar.third_code.clone(),
                stock_name: stock.name.clone(),
                pct_chg,
                close,
                amount,
                turnover_rate,
                open_count: s.rng.random_range(1..5),
                first_limit_up_time: sealed_at,
                last_open_time: None,
                industry: industry.clone(),
            });
        }
        if pct_chg.abs() >= 7.0 {
            out.dragon_tiger
                .push(listing(&mut s, bar, stock, close, pct_chg, amount));
        }
        let entry = industries
            .entry((bar.trade_date, industry))
            .or_insert((0.0, 0, 0.0));
        entry.0 += pct_chg;
        entry.1 += 1;
        entry.2 += amount * pct_chg / 100.0 * s.uniform(0.5, 1.5);
    }
    out.sector_flows = industries
        .into_iter()
        .filter(|((_, industry), _)| !industry.is_empty())
        .map(
            |((trade_date, sector_name), (sum, count, net))| SectorFlow {
                trade_date,
                sector_name,
                sector_type: "行业资金流".to_owned(),
                net_amount: round(net, 0),
                inflow_amount: 0.0,
                outflow_amount: 0.0,
                pct_chg: round(sum / f64::from(count), 2),
            },
        )
        .collect();
    out
}

/// A dragon-tiger listing of a bar that moved 7 % or more, with up to five seats a side.
fn listing(
    s: &mut Sampler,
    bar: &StockDaily,
    stock: &StockInfo,
    close: f64,
    pct_chg: f64,
    amount: f64,
) -> DragonTigerEntry {
    // The side the price moved toward holds more seats and bigger ones.
    let mut seats = |share: f64| -> Vec<Seat> {
        let count = if share >= 1.0 { 3..=5 } else { 1..=3 };
        (0..s.rng.random_range(count))
            .map(|_| Seat {
                seat_name: s.pick(&SEATS).to_owned(),
                amount: round(amount * share * s.uniform(0.01, 0.05), 0),
            })
            .collect()
    };
    let (buy_seats, sell_seats) = if pct_chg > 0.0 {
        (seats(1.0), seats(0.4))
    } else {
        (seats(0.4), seats(1.0))
    };
    let buy_amount: f64 = buy_seats.iter().map(|seat| seat.amount).sum();
    let sell_amount: f64 = sell_seats.iter().map(|seat| seat.amount).sum();
    let reason = if pct_chg > 0.0 {
        "日涨幅偏离值达到7%的前5只证券"
    } else {
        "日跌幅偏离值达到7%的前5只证券"
    };
    DragonTigerEntry {
        trade_date: bar.trade_date,
        third_code: bar.third_code.clone(),
        stock_name: stock.name.clone(),
        pct_chg,
        close,
        reason: reason.to_owned(),
        net_amount: buy_amount - sell_amount,
        buy_amount,
        sell_amount,
        buy_seats,
        sell_seats,
    }
}
