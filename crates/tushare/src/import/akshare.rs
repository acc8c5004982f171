//! Lines of AkShare's day boards, as its DataFrames export them (`df.to_csv(…)`: Chinese
//! column names, bare six-digit codes), into rows. The rules are the earlier service's:
//! codes get their exchange from their first digits, percentages and amounts are stored as
//! AkShare gives them, times stay `HHMMSS` text; unlike that service, a missing or
//! non-finite number refuses its line instead of being stored as 0 or NaN.

use data_engineering::{
    BoardRows, BrokenBoardStock, DragonTigerEntry, LimitUpStock, PreviousLimitUpStock, SectorFlow,
    ThirdCode,
};
use shared_db::InvalidInput;

use super::parse::Line;

/// Why a line is refused: the stock it named when it named a valid one, and the problem.
type Refusal = (Option<ThirdCode>, InvalidInput);

/// The sector type of a fund-flow file without a `sector_type` column: the ranking the
/// earlier service syncs.
pub const DEFAULT_SECTOR_TYPE: &str = "概念资金流";

/// An AkShare stock code (`600000`, or a code whose leading zeros a spreadsheet dropped,
/// or one already suffixed) as stockdb's: `6…` → `.SH`, `0…`/`3…` → `.SZ`, `4…`/`8…`/`92…`
/// → `.BJ`, as the earlier service converts them; anything else is refused.
pub fn akshare_code(raw: &str) -> Result<ThirdCode, InvalidInput> {
    let raw = raw.trim();
    if raw.contains('.') {
        return ThirdCode::parse(raw);
    }
    if raw.is_empty() || raw.len() > 6 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidInput::new(
            "代码",
            raw,
            "not a stock code of 1 to 6 digits",
        ));
    }
    let code = format!("{raw:0>6}");
    let exchange = match code.as_bytes() {
        [b'6', ..] => "SH",
        [b'0' | b'3', ..] => "SZ",
        [b'4' | b'8', ..] | [b'9', b'2', ..] => "BJ",
        _ => {
            return Err(InvalidInput::new(
                "代码",
                raw,
                "not on a market stockdb knows (6: SH; 0, 3: SZ; 4, 8, 92: BJ)",
            ));
        }
    };
    ThirdCode::parse(&format!("{code}.{exchange}"))
}

/// A time as AkShare writes it (`092500`), with the leading zero a spreadsheet may have
/// dropped put back (`92500`).
fn time(line: &Line<'_>, column: &'static str) -> Option<String> {
    line.text(column).map(|raw| {
        if raw.len() < 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
            format!("{raw:0>6}")
        } else {
            raw
        }
    })
}

/// A required number.
fn number(line: &Line<'_>, column: &'static str) -> Result<f64, InvalidInput> {
    line.number(column)?
        .ok_or_else(|| InvalidInput::new(column, "", "must not be empty"))
}

/// A whole number (pandas may write `2.0`), `default` when the column is absent or empty.
fn count(line: &Line<'_>, column: &'static str, default: Option<i32>) -> Result<i32, InvalidInput> {
    match (line.number(column)?, default) {
        (Some(value), _) if value.fract() == 0.0 && value.abs() <= f64::from(i32::MAX) => {
            // Whole and in range: the cast is exact.
            Ok(value as i32)
        }
        (Some(value), _) => Err(InvalidInput::new(column, value, "not a whole number")),
        (None, Some(default)) => Ok(default),
        (None, None) => Err(InvalidInput::new(column, "", "must not be empty")),
    }
}

/// The name column, required.
fn name(line: &Line<'_>) -> String {
    line.text("名称").unwrap_or_default()
}

/// Builds the row of `line` and pushes it onto `rows` (whose variant says the board).
pub(super) fn push_board(rows: &mut BoardRows, line: &Line<'_>) -> Result<(), Refusal> {
    if let BoardRows::SectorFlow(rows) = rows {
        return push_sector_flow(rows, line).map_err(|err| (None, err));
    }
    let code = akshare_code(line.get("代码").unwrap_or_default()).map_err(|err| (None, err))?;
    let with = |err| (Some(code.clone()), err);
    match rows {
        BoardRows::LimitUp(rows) => {
            let row = LimitUpStock {
                trade_date: given_day(line).map_err(with)?,
                third_code: code.clone(),
                stock_name: name(line),
                pct_chg: number(line, "涨跌幅").map_err(with)?,
                close: number(line, "最新价").map_err(with)?,
                amount: number(line, "成交额").map_err(with)?,
                turnover_rate: number(line, "换手率").map_err(with)?,
                consecutive_boards: count(line, "连板数", None).map_err(with)?,
                first_limit_up_time: time(line, "首次封板时间"),
                last_limit_up_time: time(line, "最后封板时间"),
                industry: line.text("所属行业").unwrap_or_default(),
            };
            row.validate().map_err(with)?;
            rows.push(row);
        }
        BoardRows::BrokenBoard(rows) => {
            let row = BrokenBoardStock {
                trade_date: given_day(line).map_err(with)?,
                third_code: code.clone(),
                stock_name: name(line),
                pct_chg: number(line, "涨跌幅").map_err(with)?,
                close: number(line, "最新价").map_err(with)?,
                amount: number(line, "成交额").map_err(with)?,
                turnover_rate: number(line, "换手率").map_err(with)?,
                open_count: count(line, "炸板次数", Some(0)).map_err(with)?,
                first_limit_up_time: time(line, "首次封板时间"),
                last_open_time: None,
                industry: line.text("所属行业").unwrap_or_default(),
            };
            row.validate().map_err(with)?;
            rows.push(row);
        }
        BoardRows::PreviousLimitUp(rows) => {
            let row = PreviousLimitUpStock {
                trade_date: given_day(line).map_err(with)?,
                third_code: code.clone(),
                stock_name: name(line),
                pct_chg: number(line, "涨跌幅").map_err(with)?,
                close: number(line, "最新价").map_err(with)?,
                amount: number(line, "成交额").map_err(with)?,
                turnover_rate: number(line, "换手率").map_err(with)?,
                yesterday_consecutive_boards: count(line, "昨日连板数", None).map_err(with)?,
                industry: line.text("所属行业").unwrap_or_default(),
            };
            row.validate().map_err(with)?;
            rows.push(row);
        }
        BoardRows::DragonTiger(rows) => {
            let row = DragonTigerEntry {
                trade_date: line.required_date("上榜日").map_err(with)?,
                third_code: code.clone(),
                stock_name: name(line),
                pct_chg: number(line, "涨跌幅").map_err(with)?,
                close: number(line, "收盘价").map_err(with)?,
                reason: line.text("上榜原因").unwrap_or_default(),
                net_amount: number(line, "龙虎榜净买额").map_err(with)?,
                buy_amount: number(line, "龙虎榜买入额").map_err(with)?,
                sell_amount: number(line, "龙虎榜卖出额").map_err(with)?,
                // `stock_lhb_detail_em` has no seats (they come one stock at a time).
                buy_seats: Vec::new(),
                sell_seats: Vec::new(),
            };
            row.validate().map_err(with)?;
            rows.push(row);
        }
        BoardRows::SectorFlow(_) => {}
    }
    Ok(())
}

fn push_sector_flow(rows: &mut Vec<SectorFlow>, line: &Line<'_>) -> Result<(), InvalidInput> {
    let row = SectorFlow {
        trade_date: given_day(line)?,
        sector_name: name(line),
        sector_type: line
            .text("sector_type")
            .unwrap_or_else(|| DEFAULT_SECTOR_TYPE.to_owned()),
        net_amount: number(line, "今日主力净流入-净额")?,
        // The ranking has no gross flows; the earlier service stores 0 for both.
        inflow_amount: 0.0,
        outflow_amount: 0.0,
        pct_chg: number(line, "今日涨跌幅")?,
    };
    row.validate()?;
    rows.push(row);
    Ok(())
}

/// The day the import was given (checked present before the file is opened).
fn given_day(line: &Line<'_>) -> Result<chrono::NaiveDate, InvalidInput> {
    line.trade_date()
        .ok_or_else(|| InvalidInput::new("trade_date", "", "the import was given no day"))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use data_engineering::{BatchRows, Seat};
    use proptest::prelude::*;

    use super::*;
    use crate::ImportKind;
    use crate::import::parse::parse_file_of_day;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, 3).unwrap()
    }

    /// `rows` written as AkShare's file of `kind` and read back.
    fn round_trip(rows: &BoardRows, kind: ImportKind) -> (BoardRows, Vec<String>) {
        let mut out = Vec::new();
        crate::write_board(&mut out, rows).unwrap();
        let given = kind.needs_trade_date().then(day);
        match parse_file_of_day(kind, &out, given) {
            (BatchRows::Boards(rows), errors) => (rows, errors),
            (other, _) => panic!("not board rows: {other:?}"),
        }
    }

    #[test]
    fn codes_get_their_exchange_from_their_first_digits() {
        let code = |raw| akshare_code(raw).map(|c| c.to_string());
        assert_eq!(code("600000").unwrap(), "600000.SH");
        assert_eq!(code("688981").unwrap(), "688981.SH");
        assert_eq!(code("000001").unwrap(), "000001.SZ");
        assert_eq!(code("1").unwrap(), "000001.SZ");
        assert_eq!(code("300750").unwrap(), "300750.SZ");
        assert_eq!(code("830799").unwrap(), "830799.BJ");
        assert_eq!(code("430047").unwrap(), "430047.BJ");
        assert_eq!(code("920002").unwrap(), "920002.BJ");
        assert_eq!(code("600000.SH").unwrap(), "600000.SH");
        for bad in ["900901", "200002", "", "60000A", "6000001"] {
            let err = akshare_code(bad).unwrap_err();
            assert_eq!(err.field, "代码", "{bad}");
        }
    }

    #[test]
    fn bad_lines_name_their_field() {
        let text = "代码,名称,涨跌幅,最新价,成交额,换手率,连板数,首次封板时间\n\
                    600000,浦发银行,10.0,8.8,1e8,1.2,1,92500\n\
                    900901,B股,10.0,1,1,1,1,\n\
                    000001,平安银行,,11,1,1,1,\n\
                    000002,万科A,10.0,11,1,1,1.5,\n\
                    000003,,10.0,11,1,1,1,\n\
                    000004,国华网安,10.0,11,1,1,0,\n";
        let (rows, errors) =
            match parse_file_of_day(ImportKind::ZtPool, text.as_bytes(), Some(day())) {
                (BatchRows::Boards(rows), errors) => (rows, errors),
                (other, _) => panic!("{other:?}"),
            };
        let BoardRows::LimitUp(rows) = rows else {
            panic!("{rows:?}")
        };
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].first_limit_up_time.as_deref(),
            Some("092500"),
            "a dropped zero put back"
        );
        assert_eq!(rows[0].trade_date, day(), "the day given");
        let expected = [
            ("line 3", "代码"),
            ("line 4", "涨跌幅"),
            ("line 5", "连板数"),
            ("line 6", "stock_name"),
            ("line 7", "consecutive_boards"),
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, (line, field)) in errors.iter().zip(expected) {
            assert!(error.starts_with(line) && error.contains(field), "{error}");
        }
    }

    fn code() -> impl Strategy<Value = ThirdCode> {
        (
            prop::sample::select(vec!["60", "68", "00", "30", "43", "83", "92"]),
            "[0-9]{4}",
        )
            .prop_map(|(head, tail)| akshare_code(&format!("{head}{tail}")).unwrap())
    }

    /// Printable text with commas and quotes, not a spelling of a missing value.
    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[^\\x00-\\x1f\\x7f]{{1,{max}}}"))
            .unwrap()
            .prop_filter("a value, no surrounding space", |t| {
                t.trim() == t
                    && !["nan", "NaN", "NAN", "None", "null", "NULL", "\\N"].contains(&t.as_str())
            })
    }

    fn amount() -> impl Strategy<Value = f64> {
        (-1_000_000_000i64..1_000_000_000).prop_map(|n| n as f64 / 100.0)
    }

    fn time() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(
            (9u32..15, 0u32..60, 0u32..60).prop_map(|(h, m, s)| format!("{h:02}{m:02}{s:02}")),
        )
    }

    proptest! {
        #[test]
        fn generated_boards_survive_akshares_files(
            stocks in prop::collection::vec((code(), text(100), amount(), amount(), 1i32..20, time(), text(100)), 1..15),
            sectors in prop::collection::vec((text(100), text(50), amount(), amount()), 1..15),
        ) {
            let pool = BoardRows::LimitUp(stocks.iter().map(|(c, n, a, b, boards, t, ind)| data_engineering::LimitUpStock {
                trade_date: day(), third_code: c.clone(), stock_name: n.clone(), pct_chg: *a, close: *b,
                amount: *b * 100.0, turnover_rate: *a, consecutive_boards: *boards,
                first_limit_up_time: t.clone(), last_limit_up_time: t.clone(), industry: ind.clone(),
            }).collect());
            let (read, errors) = round_trip(&pool, ImportKind::ZtPool);
            prop_assert!(errors.is_empty(), "{:?}", errors);
            prop_assert_eq!(read, pool);
            let broken = BoardRows::BrokenBoard(stocks.iter().map(|(c, n, a, b, boards, t, ind)| data_engineering::BrokenBoardStock {
                trade_date: day(), third_code: c.clone(), stock_name: n.clone(), pct_chg: *a, close: *b,
                amount: *a, turnover_rate: *b, open_count: *boards - 1, first_limit_up_time: t.clone(),
                last_open_time: None, industry: ind.clone(),
            }).collect());
            let (read, errors) = round_trip(&broken, ImportKind::ZbgcPool);
            prop_assert!(errors.is_empty(), "{:?}", errors);
            prop_assert_eq!(read, broken);
            let previous = BoardRows::PreviousLimitUp(stocks.iter().map(|(c, n, a, b, boards, _, ind)| data_engineering::PreviousLimitUpStock {
                trade_date: day(), third_code: c.clone(), stock_name: n.clone(), pct_chg: *a, close: *b,
                amount: *a, turnover_rate: *b, yesterday_consecutive_boards: *boards, industry: ind.clone(),
            }).collect());
            let (read, errors) = round_trip(&previous, ImportKind::PreviousPool);
            prop_assert!(errors.is_empty(), "{:?}", errors);
            prop_assert_eq!(read, previous);
            let listed = BoardRows::DragonTiger(stocks.iter().map(|(c, n, a, b, _, _, reason)| data_engineering::DragonTigerEntry {
                trade_date: day() + chrono::Duration::days(i64::from(*a > 0.0)), third_code: c.clone(),
                stock_name: n.clone(), pct_chg: *a, close: *b, reason: reason.clone(), net_amount: *a - *b,
                buy_amount: *a, sell_amount: *b, buy_seats: Vec::<Seat>::new(), sell_seats: Vec::new(),
            }).collect());
            let (read, errors) = round_trip(&listed, ImportKind::Lhb);
            prop_assert!(errors.is_empty(), "{:?}", errors);
            prop_assert_eq!(read, listed);
            let flows = BoardRows::SectorFlow(sectors.iter().map(|(name, kind, net, pct)| data_engineering::SectorFlow {
                trade_date: day(), sector_name: name.clone(), sector_type: kind.clone(), net_amount: *net,
                inflow_amount: 0.0, outflow_amount: 0.0, pct_chg: *pct,
            }).collect());
            let (read, errors) = round_trip(&flows, ImportKind::SectorFlow);
            prop_assert!(errors.is_empty(), "{:?}", errors);
            prop_assert_eq!(read, flows);
        }
    }
}
