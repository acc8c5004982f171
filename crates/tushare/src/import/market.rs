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
