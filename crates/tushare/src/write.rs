//! Files as Tushare exports them: `stock_basic`, `daily` (with the `daily_basic` and
//! `adj_factor` columns) and `fina_indicator`, with a header line, dates as `YYYYMMDD` and
//! empty cells for missing values. [`crate::import_csv`] reads them back.

use std::io::Write;

use chrono::NaiveDate;
use data_engineering::{MarketRows, StockDaily, StockField, StockFinance, StockInfo};

use crate::ImportKind;

fn ymd(date: Option<NaiveDate>) -> String {
    date.map(|d| d.format("%Y%m%d").to_string())
        .unwrap_or_default()
}

fn float(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The optional `stock_basic` column `column` of `stock`, as Tushare writes it.
fn stock_basic_cell(stock: &StockInfo, column: &str) -> String {
    match stock.field(column) {
        Some(StockField::Text(value)) => value.unwrap_or_default().to_owned(),
        Some(StockField::Date(value)) => ymd(value),
        None => String::new(),
    }
}

/// Writes `stocks` as a `stock_basic` file: `ts_code`, `symbol`, `name` and every column of
/// [`StockInfo::OPTIONAL_FIELDS`].
pub fn write_stock_basic(out: impl Write, stocks: &[StockInfo]) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = ImportKind::Stocks.required_columns().to_vec();
    header.extend(StockInfo::OPTIONAL_FIELDS);
    w.write_record(&header)?;
    for stock in stocks {
        let mut record = vec![
            stock.third_code.to_string(),
            stock.symbol.clone(),
            stock.name.clone(),
        ];
        record.extend(
            StockInfo::OPTIONAL_FIELDS
                .iter()
                .map(|column| stock_basic_cell(stock, column)),
        );
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes `bars` as a `daily` file with every value column; returns the data lines
/// written.
pub fn write_daily(
    out: impl Write,
    bars: impl IntoIterator<Item = StockDaily>,
) -> csv::Result<u64> {
    write_daily_columns(out, bars, StockDaily::VALUE_FIELDS)
}

/// Writes `bars` as a file of `ts_code`, `trade_date` and the value `columns` (names of
/// [`StockDaily::VALUE_FIELDS`]; an unknown name gives empty cells), as one Tushare
/// endpoint (`daily`, `daily_basic`, `adj_factor`) sends part of a bar; returns the data
/// lines written.
pub fn write_daily_columns(
    out: impl Write,
    bars: impl IntoIterator<Item = StockDaily>,
    columns: &[&str],
) -> csv::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = ImportKind::Daily.required_columns().to_vec();
    header.extend(columns);
    w.write_record(&header)?;
    let mut lines = 0;
    for bar in bars {
        let mut record = vec![bar.third_code.to_string(), ymd(Some(bar.trade_date))];
        record.extend(
            columns
                .iter()
                .map(|field| float(bar.value(field).flatten())),
        );
        w.write_record(&record)?;
        lines += 1;
    }
    w.flush()?;
    Ok(lines)
}

/// Writes `reports` as a `fina_indicator` file with every indicator column.
pub fn write_fina_indicator(out: impl Write, reports: &[StockFinance]) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = ImportKind::Finance.required_columns().to_vec();
    header.extend(StockFinance::INDICATORS);
    w.write_record(&header)?;
    for report in reports {
        let mut record = vec![
            report.third_code.to_string(),
            ymd(Some(report.ann_date)),
            ymd(Some(report.end_date)),
        ];
        record.extend(
            StockFinance::INDICATORS
                .iter()
                .map(|field| float(report.indicator(field).flatten())),
        );
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

/// The kind of file `rows` are written as.
fn market_kind(rows: &MarketRows) -> ImportKind {
    match rows {
        MarketRows::Calendar(_) => ImportKind::TradeCal,
        MarketRows::Suspensions(_) => ImportKind::Suspend,
        MarketRows::Limits(_) => ImportKind::StkLimit,
        MarketRows::Names(_) => ImportKind::Namechange,
        MarketRows::IndexWeights(_) => ImportKind::IndexWeight,
        MarketRows::Dividends(_) => ImportKind::Dividend,
    }
}

/// Each row of `rows` as the cells of its kind's columns (`known_columns` without
/// `source`, in that order).
fn market_records(rows: &MarketRows) -> Vec<Vec<String>> {
    let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
    match rows {
        MarketRows::Calendar(rows) => rows
            .iter()
            .map(|d| {
                let open = if d.is_open { "1" } else { "0" };
                vec![
                    d.exchange.to_string(),
                    ymd(Some(d.cal_date)),
                    open.to_owned(),
                    ymd(d.pretrade_date),
                ]
            })
            .collect(),
        MarketRows::Suspensions(rows) => rows
            .iter()
            .map(|r| {
                vec![
                    r.third_code.to_string(),
                    ymd(Some(r.trade_date)),
                    r.suspend_type.to_string(),
                    text(r.suspend_timing.as_deref()),
                    text(r.reason.as_deref()),
                ]
            })
            .collect(),
        MarketRows::Limits(rows) => rows
            .iter()
            .map(|l| {
                vec![
                    l.third_code.to_string(),
                    ymd(Some(l.trade_date)),
                    float(Some(l.up_limit)),
                    float(Some(l.down_limit)),
                    float(l.pre_close),
                ]
            })
            .collect(),
        MarketRows::Names(rows) => rows
            .iter()
            .map(|n| {
                vec![
                    n.third_code.to_string(),
                    n.name.clone(),
                    ymd(Some(n.start_date)),
                    ymd(n.end_date),
                    ymd(n.ann_date),
                    text(n.change_reason.as_deref()),
                ]
            })
            .collect(),
        MarketRows::IndexWeights(rows) => rows
            .iter()
            .map(|w| {
                vec![
                    w.index_code.to_string(),
                    w.con_code.to_string(),
                    ymd(Some(w.trade_date)),
                    float(w.weight),
                ]
            })
            .collect(),
        MarketRows::Dividends(rows) => rows
            .iter()
            .map(|d| {
                vec![
                    d.third_code.to_string(),
                    ymd(Some(d.end_date)),
                    ymd(Some(d.ann_date)),
                    d.div_proc.clone(),
                    float(d.stk_div),
                    float(d.stk_bo_rate),
                    float(d.stk_co_rate),
                    float(d.cash_div),
                    float(d.cash_div_tax),
                    ymd(d.record_date),
                    ymd(d.ex_date),
                    ymd(d.pay_date),
                    ymd(d.div_listdate),
                    ymd(d.imp_ann_date),
                    ymd(d.base_date),
                    float(d.base_share),
                ]
            })
            .collect(),
    }
}

/// Writes `rows` as the Tushare file of their table (`trade_cal`, `suspend_d`,
/// `stk_limit`, `namechange`, `index_weight` or `dividend`) with every column the import
/// reads; returns the data lines written.
pub fn write_market(out: impl Write, rows: &MarketRows) -> csv::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    let mut header = market_kind(rows).known_columns();
    header.retain(|c| *c != "source");
    w.write_record(&header)?;
    let mut lines = 0;
    for record in market_records(rows) {
        w.write_record(&record)?;
        lines += 1;
    }
    w.flush()?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stock_basic_column_has_a_cell() {
        let mut stock = StockInfo::new(
            data_engineering::ThirdCode::parse("600519.SH").unwrap(),
            "600519",
            "贵州茅台",
        );
        for column in StockInfo::OPTIONAL_FIELDS {
            match stock.field_mut(column).unwrap() {
                data_engineering::StockFieldMut::Text(value) => *value = Some("x".to_owned()),
                data_engineering::StockFieldMut::Date(value) => {
                    *value = chrono::NaiveDate::from_ymd_opt(2001, 8, 27);
                }
            }
        }
        for column in StockInfo::OPTIONAL_FIELDS {
            assert!(
                !stock_basic_cell(&stock, column).is_empty(),
                "{column} is written"
            );
        }
    }

    #[test]
    fn files_start_with_tushare_headers() {
        let mut out = Vec::new();
        let code = |c: &str| data_engineering::ThirdCode::parse(c).unwrap();
        let stocks = [
            StockInfo::new(code("600519.SH"), "600519", "贵州茅台"),
            StockInfo::new(code("000001.SZ"), "000001", "平安银行"),
        ];
        write_stock_basic(&mut out, &stocks).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("ts_code,symbol,name,area,industry,"));
        assert_eq!(text.lines().count(), 3);
    }
}
