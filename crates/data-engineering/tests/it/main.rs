//! Repository tests of data-engineering against PostgreSQL: each test its own database.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod boards;
mod boards_service;
mod concepts;
mod cross_section;
mod daily;
mod daily_years;
mod finance;
mod stocks;
mod structure;
mod sync;

use chrono::NaiveDate;
use data_engineering::{StockDaily, StockFinance, StockInfo, ThirdCode};

pub(crate) fn code(text: &str) -> ThirdCode {
    ThirdCode::parse(text).unwrap()
}

pub(crate) fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

pub(crate) fn stock(third_code: &str, symbol: &str, name: &str) -> StockInfo {
    StockInfo::new(code(third_code), symbol, name)
}

pub(crate) fn bar(third_code: &str, day: &str, close: f64) -> StockDaily {
    let mut daily = StockDaily::new(code(third_code), date(day));
    daily.close = Some(close);
    daily.pe = Some(close * 2.0);
    daily.source = Some("tushare".into());
    daily
}

pub(crate) fn report(third_code: &str, ann: &str, end: &str, roe: f64) -> StockFinance {
    let mut report = StockFinance::new(code(third_code), date(ann), date(end));
    report.roe = Some(roe);
    report
}
