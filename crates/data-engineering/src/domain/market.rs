//! The market's structure, as Tushare's endpoints give it: the trading calendar
//! (`trade_cal`), suspensions (`suspend_d`), daily price limits (`stk_limit`), name history
//! (`namechange`), index constituents (`index_weight`) and dividends (`dividend`). One
//! row type per table, each with its rules, and [`MarketRows`], a batch of one of them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_finite, check_len, check_not_empty};

use super::{ThirdCode, check_date, check_opt_date};

/// The longest `source` the tables hold.
const SOURCE_MAX: usize = 20;

shared_db::string_enum! {
    /// A stock exchange with a trading calendar of its own.
    pub enum Exchange, field "exchange" {
        /// Shanghai (`.SH` codes).
        Sse = "SSE",
        /// Shenzhen (`.SZ` codes).
        Szse = "SZSE",
        /// Beijing (`.BJ` codes).
        Bse = "BSE",
    }
}

impl Exchange {
    /// The exchange a stock trades on, from its code's suffix (`.SH`, `.SZ`, `.BJ`), or
    /// `None` for a code with another suffix.
    pub fn of(code: &ThirdCode) -> Option<Self> {
        let (_, suffix) = code.as_str().rsplit_once('.')?;
        match suffix.to_ascii_uppercase().as_str() {
            "SH" => Some(Self::Sse),
            "SZ" => Some(Self::Szse),
            "BJ" => Some(Self::Bse),
            _ => None,
        }
    }
}

/// One calendar day of one exchange (`trade_calendar`). Key: `(exchange, cal_date)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarDay {
    /// 交易所.
    pub exchange: Exchange,
    /// 日历日期.
    pub cal_date: NaiveDate,
    /// 是否交易.
    pub is_open: bool,
    /// 上一个交易日, as the file gives it (readers compute their own from the open days).
    pub pretrade_date: Option<NaiveDate>,
    /// 数据来源.
    pub source: Option<String>,
}

shared_db::string_enum! {
    /// A suspension record's kind (`suspend_d.suspend_type`).
    pub enum SuspendType, field "suspend_type" {
        /// The stock is suspended that day (`S`).
        Suspend = "S",
        /// The stock resumes trading that day (`R`).
        Resume = "R",
    }
}

/// A suspension or resumption of one stock on one day (`stock_suspensions`). Key:
/// `(third_code, trade_date, suspend_type)`.
///
/// A whole-day `S` (no `suspend_timing`) halts the stock from that day until the next `R`
/// (or the next day without a whole-day `S`, when the file lists every suspended day: both
/// shapes read the same); an `S` with a timing is an intraday halt: the stock trades that
/// day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspension {
    /// 第三方代码.
    pub third_code: ThirdCode,
    /// 停复牌日期.
    pub trade_date: NaiveDate,
    /// S停牌 R复牌.
    pub suspend_type: SuspendType,
    /// 日内停牌时间段 (`None`: the whole day). At most 50 characters.
    pub suspend_timing: Option<String>,
    /// 停牌原因. At most 200 characters.
    pub reason: Option<String>,
    /// 数据来源.
    pub source: Option<String>,
}

impl Suspension {
    /// True for a whole-day suspension: one that halts the stock.
    pub fn halts(&self) -> bool {
        self.suspend_type == SuspendType::Suspend && self.suspend_timing.is_none()
    }
}

/// One stock's limit-up and limit-down prices on one day (`stock_limits`). Key:
/// `(third_code, trade_date)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceLimit {
    /// 第三方代码.
    pub third_code: ThirdCode,
    /// 交易日期.
    pub trade_date: NaiveDate,
    /// 昨收价.
    pub pre_close: Option<f64>,
    /// 涨停价.
    pub up_limit: f64,
    /// 跌停价 (0 ≤ down ≤ up).
    pub down_limit: f64,
    /// 数据来源.
    pub source: Option<String>,
}

/// One name a stock carried from `start_date` (`stock_names`). Key:
/// `(third_code, start_date, name)`.
///
/// A name is known from its announcement (`ann_date`; its start when there is none): read
/// as of a day, the name in force is the one with the latest start on or before that day
/// among those announced by then. `end_date` is filled in when the next name comes, so a
/// reader as of a day never uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameChange {
    /// 第三方代码.
    pub third_code: ThirdCode,
    /// 证券名称 (1 to 100 characters).
    pub name: String,
    /// 开始日期.
    pub start_date: NaiveDate,
    /// 结束日期.
    pub end_date: Option<NaiveDate>,
    /// 公告日期.
    pub ann_date: Option<NaiveDate>,
    /// 变更原因. At most 100 characters.
    pub change_reason: Option<String>,
    /// 数据来源.
    pub source: Option<String>,
}

/// What a name says about a stock's status: special treatment (`ST`, `*ST`, `SST`, `S*ST`)
/// and delisting (`退市…`, `…退`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NameFlags {
    /// Under special treatment (any `ST`).
    pub st: bool,
    /// Under delisting risk warning (`*ST`).
    pub star_st: bool,
    /// In its delisting period.
    pub delisting: bool,
}

impl NameFlags {
    /// The flags of `name`.
    pub fn of(name: &str) -> Self {
        let name = name.trim();
        Self {
            st: name.to_ascii_uppercase().contains("ST"),
            star_st: name.to_ascii_uppercase().contains("*ST"),
            delisting: name.starts_with("退市") || name.ends_with('退'),
        }
    }
}

/// One constituent of an index in one snapshot (`index_weights`). Key:
/// `(index_code, trade_date, con_code)`.
///
/// A snapshot lists every member on its date: a stock is a member from the first snapshot
/// that lists it until the first later snapshot that does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexWeight {
    /// 指数代码 (`000300.SH`).
    pub index_code: ThirdCode,
    /// 快照日期.
    pub trade_date: NaiveDate,
    /// 成分股代码.
    pub con_code: ThirdCode,
    /// 权重 (%), not negative.
    pub weight: Option<f64>,
    /// 数据来源.
    pub source: Option<String>,
}

/// One stage of one dividend plan (`stock_dividends`). Key:
/// `(third_code, end_date, ann_date, div_proc)`: a plan is announced, approved and
/// implemented, one row each. Amounts are per share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dividend {
    /// 第三方代码.
    pub third_code: ThirdCode,
    /// 分红年度.
    pub end_date: NaiveDate,
    /// 预案公告日.
    pub ann_date: NaiveDate,
    /// 实施进度 (预案, 股东大会通过, 实施 …), 1 to 20 characters.
    pub div_proc: String,
    /// 每股送转 (bonus + transfer shares per share).
    pub stk_div: Option<f64>,
    /// 每股送股比例.
    pub stk_bo_rate: Option<f64>,
    /// 每股转增比例.
    pub stk_co_rate: Option<f64>,
    /// 每股分红 (after tax).
    pub cash_div: Option<f64>,
    /// 每股分红 (before tax): what the exchange takes off the reference price.
    pub cash_div_tax: Option<f64>,
    /// 股权登记日.
    pub record_date: Option<NaiveDate>,
    /// 除权除息日.
    pub ex_date: Option<NaiveDate>,
    /// 派息日.
    pub pay_date: Option<NaiveDate>,
    /// 红股上市日.
    pub div_listdate: Option<NaiveDate>,
    /// 实施公告日.
    pub imp_ann_date: Option<NaiveDate>,
    /// 基准日.
    pub base_date: Option<NaiveDate>,
    /// 基准股本 (万股).
    pub base_share: Option<f64>,
    /// 数据来源.
    pub source: Option<String>,
}

/// The implementation stage of a dividend plan: the one whose ex-date moves prices.
pub const DIV_PROC_IMPLEMENTED: &str = "实施";

impl Dividend {
    /// A plan stage with no amounts or dates beyond its key.
    pub fn new(
        third_code: ThirdCode,
        end_date: NaiveDate,
        ann_date: NaiveDate,
        div_proc: impl Into<String>,
    ) -> Self {
        Self {
            third_code,
            end_date,
            ann_date,
            div_proc: div_proc.into(),
            stk_div: None,
            stk_bo_rate: None,
            stk_co_rate: None,
            cash_div: None,
            cash_div_tax: None,
            record_date: None,
            ex_date: None,
            pay_date: None,
            div_listdate: None,
            imp_ann_date: None,
            base_date: None,
            base_share: None,
            source: None,
        }
    }

    /// True for the implemented stage, whose ex-date moves prices.
    pub fn is_implemented(&self) -> bool {
        self.div_proc == DIV_PROC_IMPLEMENTED
    }

    /// Checks dates, lengths and that every amount is finite and not negative.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_date("end_date", self.end_date)?;
        check_date("ann_date", self.ann_date)?;
        check_not_empty("div_proc", &self.div_proc)?;
        check_len("div_proc", Some(&self.div_proc), 20)?;
        for (field, value) in [
            ("stk_div", self.stk_div),
            ("stk_bo_rate", self.stk_bo_rate),
            ("stk_co_rate", self.stk_co_rate),
            ("cash_div", self.cash_div),
            ("cash_div_tax", self.cash_div_tax),
            ("base_share", self.base_share),
        ] {
            check_not_negative_f64(field, value)?;
        }
        for (field, value) in [
            ("record_date", self.record_date),
            ("ex_date", self.ex_date),
            ("pay_date", self.pay_date),
            ("div_listdate", self.div_listdate),
            ("imp_ann_date", self.imp_ann_date),
            ("base_date", self.base_date),
        ] {
            check_opt_date(field, value)?;
        }
        check_source(self.source.as_deref())
    }
}

fn check_source(source: Option<&str>) -> Result<(), InvalidInput> {
    check_len("source", source, SOURCE_MAX)
}

fn check_not_negative_f64(field: &'static str, value: Option<f64>) -> Result<(), InvalidInput> {
    check_finite(field, value)?;
    match value {
        Some(v) if v < 0.0 => Err(InvalidInput::new(field, v, "must not be negative")),
        _ => Ok(()),
    }
}

impl CalendarDay {
    /// Checks dates and lengths.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_date("cal_date", self.cal_date)?;
        check_opt_date("pretrade_date", self.pretrade_date)?;
        check_source(self.source.as_deref())
    }
}

impl Suspension {
    /// Checks dates and lengths.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_date("trade_date", self.trade_date)?;
        check_len("suspend_timing", self.suspend_timing.as_deref(), 50)?;
        check_len("reason", self.reason.as_deref(), 200)?;
        check_source(self.source.as_deref())
    }
}

impl PriceLimit {
    /// Checks the date and that `0 ≤ down_limit ≤ up_limit`, all finite.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_date("trade_date", self.trade_date)?;
        check_not_negative_f64("pre_close", self.pre_close)?;
        check_not_negative_f64("up_limit", Some(self.up_limit))?;
        check_not_negative_f64("down_limit", Some(self.down_limit))?;
        if self.down_limit > self.up_limit {
            return Err(InvalidInput::new(
                "down_limit",
                self.down_limit,
                format!("above up_limit {}", self.up_limit),
            ));
        }
        check_source(self.source.as_deref())
    }
}

impl NameChange {
    /// The first day a reader as of that day knows this name applies: the later of its
    /// start and its announcement.
    pub fn known_from(&self) -> NaiveDate {
        self.ann_date
            .map_or(self.start_date, |ann| ann.max(self.start_date))
    }

    /// Checks the name, dates (`end_date` not before `start_date`) and lengths.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("name", &self.name)?;
        check_len("name", Some(&self.name), 100)?;
        check_date("start_date", self.start_date)?;
        check_opt_date("end_date", self.end_date)?;
        check_opt_date("ann_date", self.ann_date)?;
        if let Some(end) = self.end_date.filter(|end| *end < self.start_date) {
            return Err(InvalidInput::new(
                "end_date",
                end,
                format!("before start_date {}", self.start_date),
            ));
        }
        check_len("change_reason", self.change_reason.as_deref(), 100)?;
        check_source(self.source.as_deref())
    }
}

impl IndexWeight {
    /// Checks the date and that the weight is finite and not negative.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_date("trade_date", self.trade_date)?;
        check_not_negative_f64("weight", self.weight)?;
        check_source(self.source.as_deref())
    }
}

/// A batch of rows of one market-structure table.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketRows {
    /// `trade_calendar`.
    Calendar(Vec<CalendarDay>),
    /// `stock_suspensions`.
    Suspensions(Vec<Suspension>),
    /// `stock_limits`.
    Limits(Vec<PriceLimit>),
    /// `stock_names`.
    Names(Vec<NameChange>),
    /// `index_weights`.
    IndexWeights(Vec<IndexWeight>),
    /// `stock_dividends`.
    Dividends(Vec<Dividend>),
}

impl MarketRows {
    /// How many rows.
    pub fn len(&self) -> usize {
        match self {
            Self::Calendar(rows) => rows.len(),
            Self::Suspensions(rows) => rows.len(),
            Self::Limits(rows) => rows.len(),
            Self::Names(rows) => rows.len(),
            Self::IndexWeights(rows) => rows.len(),
            Self::Dividends(rows) => rows.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tell_special_treatment_and_delisting() {
        let flags = |name| NameFlags::of(name);
        assert_eq!(flags("平安银行"), NameFlags::default());
        assert!(flags("ST康美").st && !flags("ST康美").star_st);
        assert!(flags("*ST康美").st && flags("*ST康美").star_st);
        assert!(flags("S*ST前锋").star_st);
        assert!(flags("退市康得").delisting && flags("康得退").delisting);
    }

    #[test]
    fn a_name_is_known_from_the_later_of_its_start_and_announcement() {
        let day = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        let mut name = NameChange {
            third_code: ThirdCode::parse("600518.SH").unwrap(),
            name: "ST康美".into(),
            start_date: day("2019-05-22"),
            end_date: None,
            ann_date: Some(day("2019-05-24")),
            change_reason: Some("ST".into()),
            source: None,
        };
        assert_eq!(name.known_from(), day("2019-05-24"));
        name.ann_date = Some(day("2019-05-20"));
        assert_eq!(name.known_from(), day("2019-05-22"));
        name.ann_date = None;
        assert_eq!(name.known_from(), day("2019-05-22"));
    }

    #[test]
    fn exchanges_follow_code_suffixes() {
        let code = |c| ThirdCode::parse(c).unwrap();
        assert_eq!(Exchange::of(&code("600000.SH")), Some(Exchange::Sse));
        assert_eq!(Exchange::of(&code("000001.SZ")), Some(Exchange::Szse));
        assert_eq!(Exchange::of(&code("830799.BJ")), Some(Exchange::Bse));
        assert_eq!(Exchange::of(&code("AAPL")), None);
    }
}
