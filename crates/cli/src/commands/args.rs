//! Parsers of command-line values: dates, times, horizons in days, job types, stock codes.

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

/// The longest horizon a day count may give: a hundred years. Longer ones are surely a
/// typo, and would overflow the calendar.
pub(crate) const MAX_DAYS: u32 = 36_500;

/// A horizon such as `90d` (days; a bare number is days too), at most [`MAX_DAYS`].
pub(crate) fn parse_days(text: &str) -> Result<u32, String> {
    let trimmed = text.trim();
    let digits = trimmed.strip_suffix('d').unwrap_or(trimmed);
    match digits.parse::<u32>() {
        Ok(days) if days <= MAX_DAYS => Ok(days),
        Ok(_) => Err(format!("{text:?} is more than {MAX_DAYS} days (100 years)")),
        Err(_) => Err(format!("{text:?} is not a number of days such as 90d")),
    }
}

pub(crate) fn parse_job(text: &str) -> Result<SyncJobType, String> {
    text.to_ascii_uppercase()
        .parse()
        .map_err(|err: shared_db::InvalidInput| err.to_string())
}

pub(crate) fn code(text: &str) -> anyhow::Result<ThirdCode> {
    Ok(ThirdCode::parse(&text.to_ascii_uppercase())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizons_are_days_and_bounded() {
        assert_eq!(parse_days("90d"), Ok(90));
        assert_eq!(parse_days(" 30 "), Ok(30));
        assert_eq!(parse_days("36500d"), Ok(MAX_DAYS));
        for bad in ["3m", "", "d", "-1d", "99999999d", "4294967296"] {
            assert!(parse_days(bad).is_err(), "{bad:?} accepted");
        }
    }
}
