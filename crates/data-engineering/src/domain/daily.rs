//! Daily bars: `StockDaily`, the valuation view and the whole-market view.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_finite, check_len};

use super::{ThirdCode, check_date};

/// Calls `$callback!` with every value column of `stock_daily` (all `double precision`),
/// in schema order, each with its column comment: `name "comment", …`.
///
/// The one list the struct, the entity conversion, the bulk writer and the CSV importer
/// are generated from.
macro_rules! daily_values {
    ($callback:ident) => {
        $callback! {
        open "开盘价",
        high "最高价",
        low "最低价",
        close "收盘价",
        pre_close "昨收价",
        change "涨跌额",
        pct_chg "涨跌幅",
        vol "成交量",
        amount "成交额",
        adj_factor "复权因子",
        turnover_rate "换手率",
        turnover_rate_f "换手率(自由流通股)",
        volume_ratio "量比",
        pe "市盈率",
        pe_ttm "市盈率TTM",
        pb "市净率",
        ps "市销率",
        ps_ttm "市销率TTM",
        dv_ratio "股息率",
        dv_ttm "股息率TTM",
        total_share "总股本",
        float_share "流通股本",
        free_share "自由流通股本",
        total_mv "总市值",
        circ_mv "流通市值",        }
    };
}
pub(crate) use daily_values;

macro_rules! define_stock_daily {
    ($($field:ident $doc:literal),* $(,)?) => {
        /// One stock's bar for one trading day, as Tushare's `daily` and `daily_basic`
        /// name the fields. Key: `(third_code, trade_date)`. Every value may be missing.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct StockDaily {
            /// 第三方代码.
            pub third_code: ThirdCode,
            /// 交易日期.
            pub trade_date: NaiveDate,
            $(
                #[doc = $doc]
                #[serde(with = "shared_db::float_text", default)]
                pub $field: Option<f64>,
            )*
            /// 数据来源 (at most 20 characters).
            pub source: Option<String>,
        }

        impl StockDaily {
            /// Names of the value columns, in schema order.
            pub const VALUE_FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// A bar with no values.
            pub fn new(third_code: ThirdCode, trade_date: NaiveDate) -> Self {
                Self { third_code, trade_date, $($field: None,)* source: None }
            }

            /// The value column called `name`, or `None` if there is no such column.
            pub fn value(&self, name: &str) -> Option<Option<f64>> {
                match name {
                    $(stringify!($field) => Some(self.$field),)*
                    _ => None,
                }
            }

            /// Sets the value column called `name`; false if there is no such column.
            pub fn set_value(&mut self, name: &str, value: Option<f64>) -> bool {
                match name {
                    $(stringify!($field) => self.$field = value,)*
                    _ => return false,
                }
                true
            }

            /// Checks the date, that every value is finite and the source's length.
            pub fn validate(&self) -> Result<(), InvalidInput> {
                check_date("trade_date", self.trade_date)?;
                $(check_finite(stringify!($field), self.$field)?;)*
                check_len("source", self.source.as_deref(), 20)
            }
        }
    };
}
daily_values!(define_stock_daily);

/// The valuation fields of one day's bar (`get_valuation_dailies`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValuationDaily {
    /// 交易日期.
    pub trade_date: NaiveDate,
    /// 收盘价.
    #[serde(with = "shared_db::float_text", default)]
    pub close: Option<f64>,
    /// 市盈率.
    #[serde(with = "shared_db::float_text", default)]
    pub pe: Option<f64>,
    /// 市盈率TTM.
    #[serde(with = "shared_db::float_text", default)]
    pub pe_ttm: Option<f64>,
    /// 市净率.
    #[serde(with = "shared_db::float_text", default)]
    pub pb: Option<f64>,
    /// 市销率.
    #[serde(with = "shared_db::float_text", default)]
    pub ps: Option<f64>,
    /// 市销率TTM.
    #[serde(with = "shared_db::float_text", default)]
    pub ps_ttm: Option<f64>,
    /// 股息率.
    #[serde(with = "shared_db::float_text", default)]
    pub dv_ratio: Option<f64>,
    /// 股息率TTM.
    #[serde(with = "shared_db::float_text", default)]
    pub dv_ttm: Option<f64>,
    /// 总股本.
    #[serde(with = "shared_db::float_text", default)]
    pub total_share: Option<f64>,
    /// 流通股本.
    #[serde(with = "shared_db::float_text", default)]
    pub float_share: Option<f64>,
    /// 自由流通股本.
    #[serde(with = "shared_db::float_text", default)]
    pub free_share: Option<f64>,
    /// 总市值.
    #[serde(with = "shared_db::float_text", default)]
    pub total_mv: Option<f64>,
    /// 流通市值.
    #[serde(with = "shared_db::float_text", default)]
    pub circ_mv: Option<f64>,
}

impl From<&StockDaily> for ValuationDaily {
    fn from(d: &StockDaily) -> Self {
        Self {
            trade_date: d.trade_date,
            close: d.close,
            pe: d.pe,
            pe_ttm: d.pe_ttm,
            pb: d.pb,
            ps: d.ps,
            ps_ttm: d.ps_ttm,
            dv_ratio: d.dv_ratio,
            dv_ttm: d.dv_ttm,
            total_share: d.total_share,
            float_share: d.float_share,
            free_share: d.free_share,
            total_mv: d.total_mv,
            circ_mv: d.circ_mv,
        }
    }
}

/// One stock's bar on a market day, with the stock's name (`None` when the stock is not
/// in `stock_info`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketDaily {
    /// 股票名称, from `stock_info`.
    pub name: Option<String>,
    /// The bar.
    #[serde(flatten)]
    pub daily: StockDaily,
}

/// One stock's return over a window of its own trading days (days it has a bar) ending on
/// a day: a row of the cross-section a factor study reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReturn {
    /// The stock.
    pub third_code: ThirdCode,
    /// The day the window starts from: the stock's bar `window` bars before the end day.
    pub start_date: NaiveDate,
    /// `close × adj_factor` on the end day over the same on `start_date`, minus one: the
    /// return with splits and dividends taken out. `None` when a close or a factor of
    /// either bar is missing (or the start's adjusted close is zero).
    pub ret: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar() -> StockDaily {
        StockDaily::new(
            ThirdCode::parse("000001.SZ").unwrap(),
            NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        )
    }

    #[test]
    fn values_are_addressable_by_column_name() {
        let mut daily = bar();
        assert_eq!(StockDaily::VALUE_FIELDS.len(), 25);
        assert!(daily.set_value("pct_chg", Some(1.5)));
        assert_eq!(daily.pct_chg, Some(1.5));
        assert_eq!(daily.value("pct_chg"), Some(Some(1.5)));
        assert!(!daily.set_value("nope", Some(1.0)));
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut daily = bar();
        daily.close = Some(f64::NAN);
        assert_eq!(daily.validate().unwrap_err().field, "close");
        daily.close = Some(10.0);
        daily.trade_date = NaiveDate::from_ymd_opt(9999, 1, 1).unwrap();
        assert_eq!(daily.validate().unwrap_err().field, "trade_date");
    }
}
