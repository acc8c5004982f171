//! Parsers of command-line values: dates, times, job types, stock codes.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use stockdb::data_engineering::{SyncJobType, ThirdCode};

pub(crate) fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y%m%d"))
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD or YYYYMMDD)"))
}

pub(crate) fn parse_time(text: &str) -> Result<NaiveDateTime, String> {
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(time) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(time);
        }
    }
    parse_date(text)
        .map(|d| d.and_time(NaiveTime::MIN))
        .map_err(|_| format!("{text:?} is not a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], UTC)"))
}

pub(crate) fn parse_job(text: &str) -> Result<SyncJobType, String> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|err: shared_db::InvalidInput| err.to_string())
}

pub(crate) fn code(text: &str) -> anyhow::Result<ThirdCode> {
    Ok(ThirdCode::parse(&text.to_ascii_uppercase())?)
}
