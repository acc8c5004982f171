//! The limit-up pool (`de_limit_up_pool`): the stocks that closed at their limit-up price
//! on a day, as AkShare's `stock_zt_pool_em` lists them and the earlier service stores them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_finite, check_len, check_not_empty};

use super::{ThirdCode, check_date};

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
        check_date("trade_date", self.trade_date)?;
        check_not_empty("stock_name", &self.stock_name)?;
        check_len("stock_name", Some(&self.stock_name), 100)?;
        for (field, value) in [
            ("pct_chg", self.pct_chg),
            ("close", self.close),
            ("amount", self.amount),
            ("turnover_rate", self.turnover_rate),
        ] {
            check_finite(field, Some(value))?;
        }
        if self.consecutive_boards < 1 {
            return Err(InvalidInput::new(
                "consecutive_boards",
                self.consecutive_boards,
                "must be at least 1 (a first board)",
            ));
        }
        check_len(
            "first_limit_up_time",
            self.first_limit_up_time.as_deref(),
            20,
        )?;
        check_len("last_limit_up_time", self.last_limit_up_time.as_deref(), 20)?;
        check_len("industry", Some(&self.industry), 100)
    }
}
