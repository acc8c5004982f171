//! Lines of the market-structure files (`trade_cal`, `suspend_d`, `stk_limit`,
//! `namechange`, `index_weight`, `dividend`) into rows.

use data_engineering::{
    CalendarDay, Dividend, IndexWeight, MarketRows, NameChange, PriceLimit, Suspension, ThirdCode,
};
use shared_db::InvalidInput;

use super::parse::Line;

/// Why a line is refused: the stock it named when it named a valid one, and the problem.
type Refusal = (Option<ThirdCode>, InvalidInput);

/// The stock code in `column`.
fn code(line: &Line<'_>, column: &'static str) -> Result<ThirdCode, Refusal> {
    ThirdCode::parse(line.get(column).unwrap_or_default()).map_err(|err| {
        let err = InvalidInput::new(column, err.value, err.reason);
        (None, err)
    })
}

/// A required number.
fn required_number(line: &Line<'_>, column: &'static str) -> Result<f64, InvalidInput> {
    line.number(column)?
        .ok_or_else(|| InvalidInput::new(column, "", "must not be empty"))
}

/// `is_open` as Tushare writes it (`1`/`0`), or as `true`/`false`.
fn flag(line: &Line<'_>, column: &'static str) -> Result<bool, InvalidInput> {
    match line.get(column).unwrap_or_default() {
        "1" | "1.0" | "true" | "True" | "TRUE" => Ok(true),
        "0" | "0.0" | "false" | "False" | "FALSE" => Ok(false),
        raw => Err(InvalidInput::new(column, raw, "not 1 or 0")),
    }
}

/// Builds the row of `line` and pushes it onto `rows` (whose variant says the table).
pub(super) fn push_market(
    rows: &mut MarketRows,
    line: &Line<'_>,
    default_source: &str,
) -> Result<(), Refusal> {
    let source = line.source(default_source);
    match rows {
        MarketRows::Calendar(rows) => {
            let exchange = line.get("exchange").unwrap_or_default();
            let day = CalendarDay {
                exchange: exchange.parse().map_err(|err| (None, err))?,
                cal_date: line.required_date("cal_date").map_err(|err| (None, err))?,
                is_open: flag(line, "is_open").map_err(|err| (None, err))?,
                pretrade_date: line.date("pretrade_date").map_err(|err| (None, err))?,
                source,
            };
            day.validate().map_err(|err| (None, err))?;
            rows.push(day);
        }
        MarketRows::IndexWeights(rows) => {
            let index_code = code(line, "index_code")?;
            let con_code = code(line, "con_code")?;
            let with = |err| (Some(con_code.clone()), err);
            let weight = IndexWeight {
                trade_date: line.required_date("trade_date").map_err(with)?,
                weight: line.number("weight").map_err(with)?,
                index_code,
                con_code: con_code.clone(),
                source,
            };
            weight.validate().map_err(with)?;
            rows.push(weight);
        }
        MarketRows::Suspensions(rows) => {
            let third_code = code(line, "ts_code")?;
            let with = |err| (Some(third_code.clone()), err);
            let kind = line.get("suspend_type").unwrap_or_default();
            let suspension = Suspension {
                trade_date: line.required_date("trade_date").map_err(with)?,
                suspend_type: kind.parse().map_err(with)?,
                suspend_timing: line.text("suspend_timing"),
                reason: line.text("suspend_reason"),
                third_code: third_code.clone(),
                source,
            };
            suspension.validate().map_err(with)?;
            rows.push(suspension);
        }
        MarketRows::Limits(rows) => {
            let third_code = code(line, "ts_code")?;
            let with = |err| (Some(third_code.clone()), err);
            let limit = PriceLimit {
                trade_date: line.required_date("trade_date").map_err(with)?,
                pre_close: line.number("pre_close").map_err(with)?,
                up_limit: required_number(line, "up_limit").map_err(with)?,
                down_limit: required_number(line, "down_limit").map_err(with)?,
                third_code: third_code.clone(),
                source,
            };
            limit.validate().map_err(with)?;
            rows.push(limit);
        }
        MarketRows::Names(rows) => {
            let third_code = code(line, "ts_code")?;
            let with = |err| (Some(third_code.clone()), err);
            let name = NameChange {
                name: line.text("name").unwrap_or_default(),
                start_date: line.required_date("start_date").map_err(with)?,
                end_date: line.date("end_date").map_err(with)?,
                ann_date: line.date("ann_date").map_err(with)?,
                change_reason: line.text("change_reason"),
                third_code: third_code.clone(),
                source,
            };
            name.validate().map_err(with)?;
            rows.push(name);
        }
        MarketRows::Dividends(rows) => {
            let third_code = code(line, "ts_code")?;
            let with = |err| (Some(third_code.clone()), err);
            let mut dividend = Dividend::new(
                third_code.clone(),
                line.required_date("end_date").map_err(with)?,
                line.required_date("ann_date").map_err(with)?,
                line.text("div_proc").unwrap_or_default(),
            );
            let number = |column| line.number(column).map_err(with);
            let date = |column| line.date(column).map_err(with);
            dividend.stk_div = number("stk_div")?;
            dividend.stk_bo_rate = number("stk_bo_rate")?;
            dividend.stk_co_rate = number("stk_co_rate")?;
            dividend.cash_div = number("cash_div")?;
            dividend.cash_div_tax = number("cash_div_tax")?;
            dividend.record_date = date("record_date")?;
            dividend.ex_date = date("ex_date")?;
            dividend.pay_date = date("pay_date")?;
            dividend.div_listdate = date("div_listdate")?;
            dividend.imp_ann_date = date("imp_ann_date")?;
            dividend.base_date = date("base_date")?;
            dividend.base_share = number("base_share")?;
            dividend.source = source;
            dividend.validate().map_err(with)?;
            rows.push(dividend);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use data_engineering::{BatchRows, Exchange, SuspendType};
    use proptest::prelude::*;

    use super::*;
    use crate::ImportKind;
    use crate::import::parse::parse_file;

    /// Parses a whole file as `kind`: its rows, and each refused line's message.
    fn parse(kind: ImportKind, text: &[u8]) -> (MarketRows, Vec<String>) {
        let (rows, errors) = parse_file(kind, text);
        match rows {
            BatchRows::Market(rows) => (rows, errors),
            other => panic!("not market rows: {other:?}"),
        }
    }

    fn round_trip(rows: &MarketRows, kind: ImportKind) -> MarketRows {
        let mut out = Vec::new();
        crate::write_market(&mut out, rows).unwrap();
        let (parsed, errors) = parse(kind, &out);
        assert!(errors.is_empty(), "{errors:?}");
        parsed
    }

    fn day() -> impl Strategy<Value = NaiveDate> {
        (0i64..90_000)
            .prop_map(|n| NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Duration::days(n))
    }

    fn code() -> impl Strategy<Value = ThirdCode> {
        ("[0-9]{6}", prop::sample::select(vec!["SH", "SZ", "BJ"]))
            .prop_map(|(digits, suffix)| ThirdCode::parse(&format!("{digits}.{suffix}")).unwrap())
    }

    /// Text a file may hold in a field: any printable characters, commas and quotes too.
    fn text(max: usize) -> impl Strategy<Value = Option<String>> {
        let pattern = format!("[^\\x00-\\x1f\\x7f]{{1,{max}}}");
        proptest::option::of(
            proptest::string::string_regex(&pattern)
                .unwrap()
                .prop_filter(
                    "not a spelling of a missing value, no surrounding space",
                    |t| {
                        t.trim() == t
                            && !["nan", "NaN", "NAN", "None", "null", "NULL", "\\N"]
                                .contains(&t.as_str())
                    },
                ),
        )
    }

    fn price() -> impl Strategy<Value = f64> {
        (0u32..10_000_000).prop_map(|cents| f64::from(cents) / 100.0)
    }

    proptest! {
        #[test]
        fn generated_market_rows_survive_their_file(
            limits in prop::collection::vec((code(), day(), price(), price(), proptest::option::of(price())), 1..20),
            names in prop::collection::vec((code(), text(100), day(), proptest::option::of(day()), text(100)), 1..20),
            halts in prop::collection::vec((code(), day(), any::<bool>(), text(50), text(200)), 1..20),
            open in prop::collection::vec((day(), any::<bool>(), proptest::option::of(day())), 1..20),
        ) {
            let limits = MarketRows::Limits(limits.into_iter().map(|(third_code, trade_date, a, b, pre_close)| PriceLimit {
                third_code, trade_date, pre_close, up_limit: a.max(b), down_limit: a.min(b), source: Some("tushare".into()),
            }).collect());
            prop_assert_eq!(round_trip(&limits, ImportKind::StkLimit), limits);
            let names = MarketRows::Names(names.into_iter().filter_map(|(third_code, name, start_date, ann_date, change_reason)| Some(NameChange {
                third_code, name: name?, start_date, end_date: None, ann_date, change_reason, source: Some("tushare".into()),
            })).collect());
            prop_assert_eq!(round_trip(&names, ImportKind::Namechange), names);
            let halts = MarketRows::Suspensions(halts.into_iter().map(|(third_code, trade_date, resume, suspend_timing, reason)| Suspension {
                third_code, trade_date, suspend_timing, reason, source: Some("tushare".into()),
                suspend_type: if resume { SuspendType::Resume } else { SuspendType::Suspend },
            }).collect());
            prop_assert_eq!(round_trip(&halts, ImportKind::Suspend), halts);
            let calendar = MarketRows::Calendar(open.into_iter().map(|(cal_date, is_open, pretrade_date)| CalendarDay {
                exchange: Exchange::Bse, cal_date, is_open, pretrade_date, source: Some("tushare".into()),
            }).collect());
            prop_assert_eq!(round_trip(&calendar, ImportKind::TradeCal), calendar);
        }
    }

    #[test]
    fn every_dividend_and_weight_column_round_trips() {
        let mut d = Dividend::new(
            ThirdCode::parse("600000.SH").unwrap(),
            NaiveDate::from_ymd_opt(2023, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(2024, 4, 20).unwrap(),
            "实施",
        );
        let day = |n| NaiveDate::from_ymd_opt(2024, 6, n);
        (d.stk_div, d.stk_bo_rate, d.stk_co_rate) = (Some(0.5), Some(0.2), Some(0.3));
        (d.cash_div, d.cash_div_tax, d.base_share) = (Some(0.45), Some(0.5), Some(2935.2));
        (d.record_date, d.ex_date, d.pay_date) = (day(20), day(21), day(22));
        (d.div_listdate, d.imp_ann_date, d.base_date) = (day(24), day(14), day(1));
        d.source = Some("tushare".into());
        let rows = MarketRows::Dividends(vec![d]);
        assert_eq!(round_trip(&rows, ImportKind::Dividend), rows);
        let weights = MarketRows::IndexWeights(vec![IndexWeight {
            index_code: ThirdCode::parse("000300.SH").unwrap(),
            trade_date: day(28).unwrap(),
            con_code: ThirdCode::parse("600519.SH").unwrap(),
            weight: Some(5.9123),
            source: Some("tushare".into()),
        }]);
        assert_eq!(round_trip(&weights, ImportKind::IndexWeight), weights);
    }
}
