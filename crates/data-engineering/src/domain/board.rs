//! The day boards the earlier service fills from AkShare and stockdb shares with it: the
//! limit-up pool (`de_limit_up_pool`, `stock_zt_pool_em`), the broken-board pool
//! (`de_broken_board_pool`, `stock_zt_pool_zbgc_em`), yesterday's limit-ups today
//! (`de_previous_limit_up`, `stock_zt_pool_previous_em`), the dragon-tiger list
//! (`de_dragon_tiger`, `stock_lhb_detail_em`) and sector fund flows
//! (`de_sector_capital_flow`, `stock_sector_fund_flow_rank`). Values are stored as AkShare
//! gives them: percentages as percent (10.02 is 10.02 %), amounts in yuan, times as
//! `HHMMSS` text.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_finite, check_len, check_not_empty};

use super::{ThirdCode, check_date};

/// Checks what every stock row of a board has: the day, a name of 1 to 100 characters,
/// finite numbers, an industry of at most 100 characters and times of at most 20.
fn check_stock_row(
    trade_date: NaiveDate,
    stock_name: &str,
    numbers: &[(&'static str, f64)],
    industry: &str,
    times: &[(&'static str, Option<&str>)],
) -> Result<(), InvalidInput> {
    check_date("trade_date", trade_date)?;
    check_not_empty("stock_name", stock_name)?;
    check_len("stock_name", Some(stock_name), 100)?;
    for (field, value) in numbers {
        check_finite(field, Some(*value))?;
    }
    for (field, time) in times {
        check_len(field, *time, 20)?;
    }
    check_len("industry", Some(industry), 100)
}

/// Refuses a count below `min`.
fn check_at_least(field: &'static str, value: i32, min: i32) -> Result<(), InvalidInput> {
    if value < min {
        return Err(InvalidInput::new(
            field,
            value,
            format!("must be at least {min}"),
        ));
    }
    Ok(())
}

/// One stock of one day's limit-up pool. Key: `(trade_date, third_code)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitUpStock {
    /// 交易日期.
    pub trade_date: NaiveDate,
    /// 股票代码.
    pub third_code: ThirdCode,
    /// 股票名称 (1 to 100 characters).
    pub stock_name: String,
    /// 涨跌幅 (%).
    pub pct_chg: f64,
    /// 最新价.
    pub close: f64,
    /// 成交额.
    pub amount: f64,
    /// 换手率 (%).
    pub turnover_rate: f64,
    /// 连板数: 1 for a first board.
    pub consecutive_boards: i32,
    /// 首次封板时间, as AkShare gives it (`092500`).
    pub first_limit_up_time: Option<String>,
    /// 最后封板时间.
    pub last_limit_up_time: Option<String>,
    /// 所属行业 (at most 100 characters; may be empty, as AkShare leaves it).
    pub industry: String,
}

impl LimitUpStock {
    /// Checks the date, lengths, finite numbers and at least one board.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_stock_row(
            self.trade_date,
            &self.stock_name,
            &[
                ("pct_chg", self.pct_chg),
                ("close", self.close),
                ("amount", self.amount),
                ("turnover_rate", self.turnover_rate),
            ],
            &self.industry,
            &[
                ("first_limit_up_time", self.first_limit_up_time.as_deref()),
                ("last_limit_up_time", self.last_limit_up_time.as_deref()),
            ],
        )?;
        check_at_least("consecutive_boards", self.consecutive_boards, 1)
    }
}

/// One stock of one day's broken-board pool (炸板池): it reached its limit-up price and
/// did not close there. Key: `(trade_date, third_code)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokenBoardStock {
    /// 交易日期.
    pub trade_date: NaiveDate,
    /// 股票代码.
    pub third_code: ThirdCode,
    /// 股票名称 (1 to 100 characters).
    pub stock_name: String,
    /// 涨跌幅 (%).
    pub pct_chg: f64,
    /// 最新价.
    pub close: f64,
    /// 成交额 (yuan).
    pub amount: f64,
    /// 换手率 (%).
    pub turnover_rate: f64,
    /// How often the seal broke (AkShare's 炸板次数; the earlier service looks for a
    /// 开板次数 column AkShare does not have and always stores 0).
    pub open_count: i32,
    /// 首次封板时间 (`HHMMSS`).
    pub first_limit_up_time: Option<String>,
    /// 最后开板时间 (AkShare gives none; kept for the service's column).
    pub last_open_time: Option<String>,
    /// 所属行业 (at most 100 characters).
    pub industry: String,
}

impl BrokenBoardStock {
    /// Checks the date, lengths, finite numbers and a count of at least 0.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_stock_row(
            self.trade_date,
            &self.stock_name,
            &[
                ("pct_chg", self.pct_chg),
                ("close", self.close),
                ("amount", self.amount),
                ("turnover_rate", self.turnover_rate),
            ],
            &self.industry,
            &[
                ("first_limit_up_time", self.first_limit_up_time.as_deref()),
                ("last_open_time", self.last_open_time.as_deref()),
            ],
        )?;
        check_at_least("open_count", self.open_count, 0)
    }
}

/// How one of yesterday's limit-up stocks does today (昨日涨停今日表现). Key:
/// `(trade_date, third_code)`, `trade_date` being today.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousLimitUpStock {
    /// The day observed (today).
    pub trade_date: NaiveDate,
    /// 股票代码.
    pub third_code: ThirdCode,
    /// 股票名称 (1 to 100 characters).
    pub stock_name: String,
    /// Today's 涨跌幅 (%).
    pub pct_chg: f64,
    /// 最新价.
    pub close: f64,
    /// 成交额 (yuan).
    pub amount: f64,
    /// 换手率 (%).
    pub turnover_rate: f64,
    /// 昨日连板数: yesterday's run of boards, 1 for a first board.
    pub yesterday_consecutive_boards: i32,
    /// 所属行业 (at most 100 characters).
    pub industry: String,
}

impl PreviousLimitUpStock {
    /// Checks the date, lengths, finite numbers and at least one board yesterday.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_stock_row(
            self.trade_date,
            &self.stock_name,
            &[
                ("pct_chg", self.pct_chg),
                ("close", self.close),
                ("amount", self.amount),
                ("turnover_rate", self.turnover_rate),
            ],
            &self.industry,
            &[],
        )?;
        check_at_least(
            "yesterday_consecutive_boards",
            self.yesterday_consecutive_boards,
            1,
        )
    }
}

/// A seat (营业部) on the dragon-tiger list and what it bought or sold (yuan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seat {
    /// 席位名称, e.g. 机构专用.
    pub seat_name: String,
    /// 金额 (yuan).
    pub amount: f64,
}

/// One entry of a day's dragon-tiger list (龙虎榜): a stock listed for one reason. Key:
/// `(trade_date, third_code, reason)`; a stock listed for two reasons is two entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DragonTigerEntry {
    /// 交易日期.
    pub trade_date: NaiveDate,
    /// 股票代码.
    pub third_code: ThirdCode,
    /// 股票名称 (1 to 100 characters).
    pub stock_name: String,
    /// 涨跌幅 (%).
    pub pct_chg: f64,
    /// 收盘价.
    pub close: f64,
    /// 上榜原因 (1 to 200 characters).
    pub reason: String,
    /// 龙虎榜净买额 (yuan).
    pub net_amount: f64,
    /// 龙虎榜买入额 (yuan).
    pub buy_amount: f64,
    /// 龙虎榜卖出额 (yuan).
    pub sell_amount: f64,
    /// The buying seats (stored as `[{"seat_name", "buy_amount"}]`, as the service does).
    pub buy_seats: Vec<Seat>,
    /// The selling seats (stored as `[{"seat_name", "sell_amount"}]`).
    pub sell_seats: Vec<Seat>,
}

impl DragonTigerEntry {
    /// Checks the date, lengths, finite amounts and seats.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_stock_row(
            self.trade_date,
            &self.stock_name,
            &[
                ("pct_chg", self.pct_chg),
                ("close", self.close),
                ("net_amount", self.net_amount),
                ("buy_amount", self.buy_amount),
                ("sell_amount", self.sell_amount),
            ],
            "",
            &[],
        )?;
        check_not_empty("reason", &self.reason)?;
        check_len("reason", Some(&self.reason), 200)?;
        for (field, seats) in [
            ("buy_seats", &self.buy_seats),
            ("sell_seats", &self.sell_seats),
        ] {
            for seat in seats {
                check_not_empty(field, &seat.seat_name)?;
                check_finite(field, Some(seat.amount))?;
            }
        }
        Ok(())
    }
}

/// A sector's fund flow on a day (板块资金流向). Key: `(trade_date, sector_name,
/// sector_type)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectorFlow {
    /// 交易日期.
    pub trade_date: NaiveDate,
    /// 名称 (1 to 100 characters).
    pub sector_name: String,
    /// The ranking it comes from (1 to 50 characters): 行业资金流, 概念资金流 or 地域资金流.
    pub sector_type: String,
    /// 主力净流入-净额 (yuan, negative for an outflow).
    pub net_amount: f64,
    /// 流入额 (AkShare gives none; the service stores 0).
    pub inflow_amount: f64,
    /// 流出额 (likewise).
    pub outflow_amount: f64,
    /// 涨跌幅 (%).
    pub pct_chg: f64,
}

impl SectorFlow {
    /// Checks the date, lengths and finite numbers.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_date("trade_date", self.trade_date)?;
        check_not_empty("sector_name", &self.sector_name)?;
        check_len("sector_name", Some(&self.sector_name), 100)?;
        check_not_empty("sector_type", &self.sector_type)?;
        check_len("sector_type", Some(&self.sector_type), 50)?;
        for (field, value) in [
            ("net_amount", self.net_amount),
            ("inflow_amount", self.inflow_amount),
            ("outflow_amount", self.outflow_amount),
            ("pct_chg", self.pct_chg),
        ] {
            check_finite(field, Some(value))?;
        }
        Ok(())
    }
}

/// A batch of rows of one day board, as an import commits it.
#[derive(Debug, Clone, PartialEq)]
pub enum BoardRows {
    /// `de_limit_up_pool`.
    LimitUp(Vec<LimitUpStock>),
    /// `de_broken_board_pool`.
    BrokenBoard(Vec<BrokenBoardStock>),
    /// `de_previous_limit_up`.
    PreviousLimitUp(Vec<PreviousLimitUpStock>),
    /// `de_dragon_tiger`.
    DragonTiger(Vec<DragonTigerEntry>),
    /// `de_sector_capital_flow`.
    SectorFlow(Vec<SectorFlow>),
}

impl BoardRows {
    /// How many rows.
    pub fn len(&self) -> usize {
        match self {
            Self::LimitUp(rows) => rows.len(),
            Self::BrokenBoard(rows) => rows.len(),
            Self::PreviousLimitUp(rows) => rows.len(),
            Self::DragonTiger(rows) => rows.len(),
            Self::SectorFlow(rows) => rows.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
