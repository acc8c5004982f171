//! The rows of the two tables and the limit types.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_finite, check_len, check_not_empty};

shared_db::string_enum! {
    /// Which limit a stock reached, by its board (the earlier service's `LimitType`).
    pub enum LimitType, field "limit_type" {
        /// Shanghai and Shenzhen main boards: 10 %.
        MainBoard = "MAIN_BOARD",
        /// ChiNext (创业板, `3…`): 20 %.
        Gem = "GEM",
        /// STAR market (科创板, `68…`): 20 %.
        Star = "STAR",
        /// Beijing Stock Exchange (`4…`, `8…`, `92…`): 30 %.
        Bse = "BSE",
        /// A special-treatment stock (name with `ST`): 5 %.
        St = "ST",
    }
}

/// A concept board as a limit-up stock's JSON lists it: `{"code": …, "name": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConceptRef {
    /// The board's code (e.g. `BK0493`).
    pub code: String,
    /// Its name.
    pub name: String,
}

/// How one concept board did on one day. Key: `(trade_date, concept_code)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConceptHeat {
    /// The day.
    pub trade_date: NaiveDate,
    /// The board's code (1 to 50 characters).
    pub concept_code: String,
    /// Its name (1 to 100 characters).
    pub concept_name: String,
    /// Equal-weighted mean change of its members with a bar (%).
    pub avg_pct_chg: f64,
    /// Members with a bar that day (the service counts these, not all members).
    pub stock_count: i32,
    /// Members that rose.
    pub up_count: i32,
    /// Members that fell.
    pub down_count: i32,
    /// Members at their limit-up ([`LimitType`] thresholds).
    pub limit_up_count: i32,
    /// Their turnover summed (the bars' unit: Tushare's thousand yuan).
    pub total_amount: f64,
}

impl ConceptHeat {
    /// Checks lengths, finite numbers and counts that add up.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("concept_code", &self.concept_code)?;
        check_len("concept_code", Some(&self.concept_code), 50)?;
        check_not_empty("concept_name", &self.concept_name)?;
        check_len("concept_name", Some(&self.concept_name), 100)?;
        check_finite("avg_pct_chg", Some(self.avg_pct_chg))?;
        check_finite("total_amount", Some(self.total_amount))?;
        for (field, count) in [
            ("stock_count", self.stock_count),
            ("up_count", self.up_count),
            ("down_count", self.down_count),
            ("limit_up_count", self.limit_up_count),
        ] {
            if count < 0 || count > self.stock_count {
                return Err(InvalidInput::new(
                    field,
                    count,
                    format!("must be between 0 and stock_count ({})", self.stock_count),
                ));
            }
        }
        if self.up_count + self.down_count > self.stock_count {
            return Err(InvalidInput::new(
                "down_count",
                self.down_count,
                "risers and fallers exceed stock_count",
            ));
        }
        Ok(())
    }
}

/// A stock at its limit-up on a day, with its boards. Key: `(trade_date, third_code)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitUpEntry {
    /// The day.
    pub trade_date: NaiveDate,
    /// The stock (as stockdb spells codes, `600000.SH`; 1 to 20 characters).
    pub third_code: String,
    /// Its name (1 to 100 characters).
    pub stock_name: String,
    /// Change (%).
    pub pct_chg: f64,
    /// Close.
    pub close: f64,
    /// Turnover (the bars' unit).
    pub amount: f64,
    /// The boards it belongs to, stored as `[{"code", "name"}]`.
    pub concepts: Vec<ConceptRef>,
    /// Its limit.
    pub limit_type: LimitType,
}

impl LimitUpEntry {
    /// Checks lengths and finite numbers.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("third_code", &self.third_code)?;
        check_len("third_code", Some(&self.third_code), 20)?;
        check_not_empty("stock_name", &self.stock_name)?;
        check_len("stock_name", Some(&self.stock_name), 100)?;
        for (field, value) in [
            ("pct_chg", self.pct_chg),
            ("close", self.close),
            ("amount", self.amount),
        ] {
            check_finite(field, Some(value))?;
        }
        for concept in &self.concepts {
            check_not_empty("concepts", &concept.code)?;
        }
        Ok(())
    }
}
