//! The stock list: `ThirdCode`, `StockInfo` and a stored `Stock`.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_len, check_not_empty};

use super::check_opt_date;

/// A stock code in Tushare form (`000001.SZ`, `600000.SH`): 1 to 20 characters of
/// `A-Z a-z 0-9 . _ -`. Built only by [`ThirdCode::parse`], which validates once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ThirdCode(String);

impl ThirdCode {
    /// Longest code the schema stores.
    pub const MAX_LEN: usize = 20;

    /// Validates `code`. Errors name the field `third_code` and the value.
    pub fn parse(code: &str) -> Result<Self, InvalidInput> {
        if code.is_empty() {
            return Err(InvalidInput::new("third_code", code, "must not be empty"));
        }
        if code.chars().count() > Self::MAX_LEN {
            return Err(InvalidInput::new(
                "third_code",
                code,
                format!("longer than {} characters", Self::MAX_LEN),
            ));
        }
        if let Some(bad) = code
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(InvalidInput::new(
                "third_code",
                code,
                format!("contains {bad:?}; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed"),
            ));
        }
        Ok(Self(code.to_owned()))
    }

    /// A code read back from the database: stored values are taken as they are.
    pub(crate) fn from_stored(code: String) -> Self {
        Self(code)
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ThirdCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ThirdCode {
    type Err = InvalidInput;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::parse(code)
    }
}

impl TryFrom<String> for ThirdCode {
    type Error = InvalidInput;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Self::parse(&code)
    }
}

impl From<ThirdCode> for String {
    fn from(code: ThirdCode) -> Self {
        code.0
    }
}

impl AsRef<str> for ThirdCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// One listed security, as Tushare's `stock_basic` describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockInfo {
    /// 第三方代码 (`000001.SZ`); the upsert key.
    pub third_code: ThirdCode,
    /// 股票代码 (`000001`); unique, at most 10 characters.
    pub symbol: String,
    /// 股票名称; at most 100 characters.
    pub name: String,
    /// 所在地域.
    pub area: Option<String>,
    /// 所属行业.
    pub industry: Option<String>,
    /// 市场类型 (主板, 创业板 …).
    pub market: Option<String>,
    /// 上市日期.
    pub list_date: Option<NaiveDate>,
    /// 股票全称.
    pub fullname: Option<String>,
    /// 英文全称.
    pub enname: Option<String>,
    /// 拼音缩写.
    pub cnspell: Option<String>,
    /// 交易所代码 (SSE, SZSE, BSE).
    pub exchange: Option<String>,
    /// 交易货币.
    pub curr_type: Option<String>,
    /// 上市状态: L 上市, D 退市, P 暂停上市.
    pub list_status: Option<String>,
    /// 退市日期.
    pub delist_date: Option<NaiveDate>,
    /// 是否沪深港通标的: N 否, H 沪股通, S 深股通.
    pub is_hs: Option<String>,
    /// 数据来源.
    pub source: Option<String>,
    /// 上次财务数据同步时间. A save never erases a recorded date with `None`.
    pub last_finance_sync_date: Option<NaiveDate>,
}

/// An optional field of [`StockInfo`], read by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockField<'a> {
    /// A text field.
    Text(Option<&'a str>),
    /// A date field.
    Date(Option<NaiveDate>),
}

/// An optional field of [`StockInfo`], to set by name.
#[derive(Debug, PartialEq, Eq)]
pub enum StockFieldMut<'a> {
    /// A text field.
    Text(&'a mut Option<String>),
    /// A date field.
    Date(&'a mut Option<NaiveDate>),
}

/// Lists the optional fields once: their names in order and the accessors by name.
macro_rules! optional_fields {
    ($($field:ident: $kind:ident),* $(,)?) => {
        impl StockInfo {
            /// The optional fields the stock list stores besides `third_code`, `symbol`
            /// and `name`, in the order of Tushare's `stock_basic` (whose columns are
            /// named as the fields are).
            pub const OPTIONAL_FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The optional field called `name`, or `None` if there is no such field.
            pub fn field(&self, name: &str) -> Option<StockField<'_>> {
                match name {
                    $(stringify!($field) => Some(optional_fields!(@get self.$field, $kind)),)*
                    _ => None,
                }
            }

            /// The optional field called `name` to set, or `None` if there is no such
            /// field.
            pub fn field_mut(&mut self, name: &str) -> Option<StockFieldMut<'_>> {
                match name {
                    $(stringify!($field) => Some(StockFieldMut::$kind(&mut self.$field)),)*
                    _ => None,
                }
            }
        }
    };
    (@get $value:expr, Text) => { StockField::Text($value.as_deref()) };
    (@get $value:expr, Date) => { StockField::Date($value) };
}

optional_fields!(
    area: Text,
    industry: Text,
    fullname: Text,
    enname: Text,
    cnspell: Text,
    market: Text,
    exchange: Text,
    curr_type: Text,
    list_status: Text,
    list_date: Date,
    delist_date: Date,
    is_hs: Text,
);

impl StockInfo {
    /// A stock with its required fields and nothing else.
    pub fn new(third_code: ThirdCode, symbol: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            third_code,
            symbol: symbol.into(),
            name: name.into(),
            area: None,
            industry: None,
            market: None,
            list_date: None,
            fullname: None,
            enname: None,
            cnspell: None,
            exchange: None,
            curr_type: None,
            list_status: None,
            delist_date: None,
            is_hs: None,
            source: None,
            last_finance_sync_date: None,
        }
    }

    /// Checks lengths and dates against the schema.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("symbol", &self.symbol)?;
        check_not_empty("name", &self.name)?;
        check_len("symbol", Some(&self.symbol), 10)?;
        check_len("name", Some(&self.name), 100)?;
        for (field, value, max) in [
            ("area", &self.area, 50),
            ("industry", &self.industry, 50),
            ("market", &self.market, 20),
            ("fullname", &self.fullname, 200),
            ("enname", &self.enname, 200),
            ("cnspell", &self.cnspell, 50),
            ("exchange", &self.exchange, 20),
            ("curr_type", &self.curr_type, 20),
            ("list_status", &self.list_status, 10),
            ("is_hs", &self.is_hs, 10),
            ("source", &self.source, 20),
        ] {
            check_len(field, value.as_deref(), max)?;
        }
        for (field, allowed) in Self::CODED_FIELDS {
            if let Some(value) = self.coded(field).filter(|v| !allowed.contains(v)) {
                return Err(InvalidInput::new(
                    field,
                    value,
                    format!("must be one of {}", allowed.join(", ")),
                ));
            }
        }
        check_opt_date("list_date", self.list_date)?;
        check_opt_date("delist_date", self.delist_date)?;
        check_opt_date("last_finance_sync_date", self.last_finance_sync_date)
    }

    /// The fields holding a code from a list the schema's comments document, with the
    /// list. The earlier service reads them as enums and fails its whole page of stocks on
    /// any other value, so no other value is stored.
    pub const CODED_FIELDS: [(&'static str, &'static [&'static str]); 2] = [
        ("list_status", &["L", "D", "P"]),
        ("is_hs", &["N", "H", "S"]),
    ];

    fn coded(&self, field: &str) -> Option<&str> {
        match self.field(field) {
            Some(StockField::Text(value)) => value,
            _ => None,
        }
    }
}

/// A stored stock: its database id (assigned on first save, never changed) and its info.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    /// `stock_info.id`.
    pub id: i32,
    /// Everything else.
    #[serde(flatten)]
    pub info: StockInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coded_fields_take_only_their_codes() {
        let code = ThirdCode::parse("600519.SH").unwrap();
        let mut stock = StockInfo::new(code, "600519", "贵州茅台");
        stock.list_status = Some("L".into());
        stock.market = Some("主板".into());
        assert!(stock.validate().is_ok());
        stock.list_status = Some("G".into());
        let err = stock.validate().unwrap_err();
        assert_eq!((err.field, err.value.as_str()), ("list_status", "G"));
        assert!(err.reason.contains("L, D, P"), "{err}");
        stock.list_status = None;
        stock.is_hs = Some("X".into());
        assert_eq!(stock.validate().unwrap_err().field, "is_hs");
    }

    #[test]
    fn optional_fields_are_reachable_by_name() {
        let code = ThirdCode::parse("600519.SH").unwrap();
        let mut stock = StockInfo::new(code, "600519", "贵州茅台");
        assert_eq!(StockInfo::OPTIONAL_FIELDS.len(), 12);
        let day = NaiveDate::from_ymd_opt(2001, 8, 27).unwrap();
        for name in StockInfo::OPTIONAL_FIELDS {
            match stock.field_mut(name).unwrap() {
                StockFieldMut::Text(value) => *value = Some(format!("{name}!")),
                StockFieldMut::Date(value) => *value = Some(day),
            }
        }
        assert_eq!(stock.area.as_deref(), Some("area!"));
        assert_eq!(stock.is_hs.as_deref(), Some("is_hs!"));
        assert_eq!(stock.field("list_date"), Some(StockField::Date(Some(day))));
        assert_eq!(
            stock.field("cnspell"),
            Some(StockField::Text(Some("cnspell!")))
        );
        assert_eq!(stock.field("name"), None);
        assert!(stock.field_mut("third_code").is_none());
    }

    #[test]
    fn third_code_accepts_tushare_codes() {
        for code in ["000001.SZ", "600000.SH", "430047.BJ", "00700.HK"] {
            assert_eq!(ThirdCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn third_code_rejects_bad_input_naming_the_value() {
        for code in [
            "",
            "000001.SZ.TOO-LONG-CODE",
            "0001 .SZ",
            "x'; DROP TABLE stock_info;--",
            "代码",
        ] {
            let err = ThirdCode::parse(code).unwrap_err();
            assert_eq!(err.field, "third_code");
        }
        let err = ThirdCode::parse("000001.SZXXXXXXXXXXXXX").unwrap_err();
        assert!(err.to_string().contains("000001.SZXXXXXXXXXXXXX"), "{err}");
    }

    #[test]
    fn stock_info_validation_names_the_field() {
        let mut stock =
            StockInfo::new(ThirdCode::parse("000001.SZ").unwrap(), "000001", "平安银行");
        assert!(stock.validate().is_ok());
        stock.symbol = "00000100000100".into();
        assert_eq!(stock.validate().unwrap_err().field, "symbol");
        stock.symbol = "000001".into();
        stock.name = " ".into();
        assert_eq!(stock.validate().unwrap_err().field, "name");
    }
}
