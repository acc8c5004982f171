//! AkShare's day boards as `df.to_csv(index=False)` writes them: its column names, in its
//! order (with its `序号`), bare six-digit codes, `HHMMSS` times, dates as `YYYY-MM-DD`.
//! [`crate::import_csv`] reads them back.

use std::io::Write;

use data_engineering::{BoardRows, ThirdCode};

/// A code as AkShare gives it: the digits without the exchange.
fn bare(code: &ThirdCode) -> String {
    code.as_str()
        .split_once('.')
        .map_or(code.as_str(), |(digits, _)| digits)
        .to_owned()
}

fn float(value: f64) -> String {
    value.to_string()
}

/// The header of a `rows` file.
fn header(rows: &BoardRows) -> Vec<&'static str> {
    match rows {
        BoardRows::LimitUp(_) => vec![
            "序号",
            "代码",
            "名称",
            "涨跌幅",
            "最新价",
            "成交额",
            "换手率",
            "首次封板时间",
            "最后封板时间",
            "连板数",
            "所属行业",
        ],
        BoardRows::BrokenBoard(_) => vec![
            "序号",
            "代码",
            "名称",
            "涨跌幅",
            "最新价",
            "成交额",
            "换手率",
            "首次封板时间",
            "炸板次数",
            "所属行业",
        ],
        BoardRows::PreviousLimitUp(_) => vec![
            "序号",
            "代码",
            "名称",
            "涨跌幅",
            "最新价",
            "成交额",
            "换手率",
            "昨日连板数",
            "所属行业",
        ],
        BoardRows::DragonTiger(_) => vec![
            "序号",
            "代码",
            "名称",
            "上榜日",
            "收盘价",
            "涨跌幅",
            "龙虎榜净买额",
            "龙虎榜买入额",
            "龙虎榜卖出额",
            "上榜原因",
        ],
        BoardRows::SectorFlow(_) => {
            vec![
                "序号",
                "名称",
                "今日涨跌幅",
                "今日主力净流入-净额",
                "sector_type",
            ]
        }
    }
}

/// The data lines of `rows`.
fn records(rows: &BoardRows) -> Vec<Vec<String>> {
    let numbered = |i: usize, mut cells: Vec<String>| {
        cells.insert(0, (i + 1).to_string());
        cells
    };
    match rows {
        BoardRows::LimitUp(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                numbered(
                    i,
                    vec![
                        bare(&r.third_code),
                        r.stock_name.clone(),
                        float(r.pct_chg),
                        float(r.close),
                        float(r.amount),
                        float(r.turnover_rate),
                        r.first_limit_up_time.clone().unwrap_or_default(),
                        r.last_limit_up_time.clone().unwrap_or_default(),
                        r.consecutive_boards.to_string(),
                        r.industry.clone(),
                    ],
                )
            })
            .collect(),
        BoardRows::BrokenBoard(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                numbered(
                    i,
                    vec![
                        bare(&r.third_code),
                        r.stock_name.clone(),
                        float(r.pct_chg),
                        float(r.close),
                        float(r.amount),
                        float(r.turnover_rate),
                        r.first_limit_up_time.clone().unwrap_or_default(),
                        r.open_count.to_string(),
                        r.industry.clone(),
                    ],
                )
            })
            .collect(),
        BoardRows::PreviousLimitUp(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                numbered(
                    i,
                    vec![
                        bare(&r.third_code),
                        r.stock_name.clone(),
                        float(r.pct_chg),
                        float(r.close),
                        float(r.amount),
                        float(r.turnover_rate),
                        r.yesterday_consecutive_boards.to_string(),
                        r.industry.clone(),
                    ],
                )
            })
            .collect(),
        BoardRows::DragonTiger(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                numbered(
                    i,
                    vec![
                        bare(&r.third_code),
                        r.stock_name.clone(),
                        r.trade_date.to_string(),
                        float(r.close),
                        float(r.pct_chg),
                        float(r.net_amount),
                        float(r.buy_amount),
                        float(r.sell_amount),
                        r.reason.clone(),
                    ],
                )
            })
            .collect(),
        BoardRows::SectorFlow(rows) => rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                numbered(
                    i,
                    vec![
                        r.sector_name.clone(),
                        float(r.pct_chg),
                        float(r.net_amount),
                        r.sector_type.clone(),
                    ],
                )
            })
            .collect(),
    }
}

/// Writes `rows` as AkShare's frame of their board exports them; returns the data lines
/// written. The pools and sector flows carry no date (give it to the import); a sector
/// flow's `sector_type` is written as a column (AkShare's frame has none: the default
/// reads as [`crate::DEFAULT_SECTOR_TYPE`]). Seats are not written (`stock_lhb_detail_em` has
/// none).
pub fn write_board(out: impl Write, rows: &BoardRows) -> csv::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(header(rows))?;
    let mut lines = 0;
    for record in records(rows) {
        w.write_record(&record)?;
        lines += 1;
    }
    w.flush()?;
    Ok(lines)
}
