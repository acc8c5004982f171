//! The Tushare CSV parser: the header, and one record into a row of its batch or into a
//! `LineError` naming its physical line. Pure: no database, no files.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;
use data_engineering::{BatchRows, StockDaily, StockFieldMut, StockFinance, StockInfo, ThirdCode};
use shared_db::InvalidInput;

use super::records::Record;
use crate::ImportKind;
use crate::kind::PRICE_COLUMNS;

/// The header line: where each known column is, and what is ignored.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    kind: ImportKind,
    /// Fields every data line must have.
    pub(crate) width: usize,
    index: HashMap<&'static str, usize>,
    /// Header columns the kind does not read, as written (lower-cased).
    pub(crate) ignored: Vec<String>,
    /// The day of a board file without dates (see `ImportOptions::trade_date`).
    pub(crate) trade_date: Option<NaiveDate>,
}

impl Columns {
    /// Maps `header` for a `kind` file. Names are trimmed, lower-cased and stripped of a
    /// UTF-8 byte order mark. Errors say what is wrong with the header.
    pub(crate) fn new(header: &Record, kind: ImportKind) -> Result<Self, String> {
        let known = kind.known_columns();
        let mut index = HashMap::new();
        let mut ignored = Vec::new();
        for (idx, raw) in header.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| format!("header column {} is not UTF-8", idx + 1))?
                .trim_start_matches('\u{feff}')
                .trim()
                .to_ascii_lowercase();
            match known.iter().find(|k| **k == name) {
                Some(k) => {
                    if index.insert(*k, idx).is_some() {
                        return Err(format!("column {name} appears twice"));
                    }
                }
                None => ignored.push(name),
            }
        }
        let missing: Vec<&str> = kind
            .required_columns()
            .iter()
            .copied()
            .filter(|c| !index.contains_key(c))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "missing required column(s) {} for a {kind:?} import",
                missing.join(", ")
            ));
        }
        Ok(Self {
            kind,
            width: header.len(),
            index,
            ignored,
            trade_date: None,
        })
    }

    /// An empty batch of this file's rows (see [`ImportKind::batch`]).
    pub(crate) fn batch(&self, capacity: usize) -> BatchRows {
        let with_prices = PRICE_COLUMNS.iter().all(|c| self.index.contains_key(c));
        self.kind.batch(capacity, with_prices)
    }
}

/// Why a line could not become a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Problem {
    /// The record is longer than an import holds in memory.
    TooLong {
        /// Its size in bytes.
        bytes: u64,
        /// The cap.
        max: usize,
    },
    /// The line has another number of fields than the header.
    FieldCount {
        /// The header's.
        expected: usize,
        /// The line's.
        found: usize,
    },
    /// A field's bytes are not UTF-8.
    NotUtf8 {
        /// 1-based field number.
        field: usize,
    },
    /// A value the row's rules refuse.
    Invalid(InvalidInput),
}

/// A line that could not become a row: its physical line number in the file (the header
/// is line 1; a quoted field spanning lines counts every line), the stock it named when
/// it named a valid one, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineError {
    pub(crate) line: u64,
    pub(crate) code: Option<ThirdCode>,
    pub(crate) problem: Problem,
}

impl LineError {
    /// The failure record's locator: the stock when the line named a valid one, else the
    /// line itself.
    pub(crate) fn locator(&self) -> String {
        match &self.code {
            Some(code) => code.to_string(),
            None => format!("line {}", self.line),
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.problem {
            Problem::TooLong { bytes, max } => {
                write!(f, "a record of {bytes} bytes, over the {max}-byte limit")
            }
            Problem::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            Problem::NotUtf8 { field } => write!(f, "field {field} is not UTF-8"),
            Problem::Invalid(err) => write!(f, "{err}"),
        }
    }
}

/// Pandas and Tushare spell a missing value in several ways.
fn is_missing(raw: &str) -> bool {
    matches!(
        raw,
        "" | "nan" | "NaN" | "NAN" | "None" | "null" | "NULL" | "\\N"
    )
}

/// One data line's fields, by column name.
pub(super) struct Line<'a> {
    columns: &'a Columns,
    fields: Vec<&'a str>,
}

impl Line<'_> {
    /// The day the import was given for a board file without dates.
    pub(super) fn trade_date(&self) -> Option<NaiveDate> {
        self.columns.trade_date
    }

    pub(super) fn get(&self, column: &'static str) -> Option<&str> {
        let idx = *self.columns.index.get(column)?;
        self.fields.get(idx).map(|field| field.trim())
    }

    pub(super) fn text(&self, column: &'static str) -> Option<String> {
        self.get(column)
            .filter(|v| !is_missing(v))
            .map(str::to_owned)
    }

    pub(super) fn number(&self, column: &'static str) -> Result<Option<f64>, InvalidInput> {
        match self.get(column) {
            None => Ok(None),
            Some(raw) if is_missing(raw) => Ok(None),
            Some(raw) => {
                let value: f64 = raw
                    .parse()
                    .map_err(|_| InvalidInput::new(column, raw, "not a number"))?;
                if value.is_finite() {
                    Ok(Some(value))
                } else {
                    Err(InvalidInput::new(column, raw, "not a finite number"))
                }
            }
        }
    }

    pub(super) fn date(&self, column: &'static str) -> Result<Option<NaiveDate>, InvalidInput> {
        match self.get(column) {
            None => Ok(None),
            Some(raw) if is_missing(raw) => Ok(None),
            Some(raw) => NaiveDate::parse_from_str(raw, "%Y%m%d")
                .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
                .map(Some)
                .map_err(|_| InvalidInput::new(column, raw, "not a date (YYYYMMDD or YYYY-MM-DD)")),
        }
    }

    pub(super) fn required_date(&self, column: &'static str) -> Result<NaiveDate, InvalidInput> {
        self.date(column)?
            .ok_or_else(|| InvalidInput::new(column, "", "must not be empty"))
    }

    pub(super) fn source(&self, default: &str) -> Option<String> {
        self.text("source").or_else(|| Some(default.to_owned()))
    }
}

/// Parses `record`, a data line, into a row pushed onto `rows` (whose variant says the
/// kind), or says why it cannot.
pub(crate) fn parse_record(
    record: &Record,
    columns: &Columns,
    rows: &mut BatchRows,
    max_record: usize,
    default_source: &str,
) -> Result<(), LineError> {
    let fail = |code: Option<&ThirdCode>, problem| LineError {
        line: record.line,
        code: code.cloned(),
        problem,
    };
    if let Some(bytes) = record.too_long {
        return Err(fail(
            None,
            Problem::TooLong {
                bytes,
                max: max_record,
            },
        ));
    }
    if record.len() != columns.width {
        return Err(fail(
            None,
            Problem::FieldCount {
                expected: columns.width,
                found: record.len(),
            },
        ));
    }
    let mut fields = Vec::with_capacity(record.len());
    for (idx, raw) in record.iter().enumerate() {
        let text = std::str::from_utf8(raw)
            .map_err(|_| fail(None, Problem::NotUtf8 { field: idx + 1 }))?;
        fields.push(text);
    }
    let line_fields = Line { columns, fields };
    if let BatchRows::Market(market) = rows {
        return super::market::push_market(market, &line_fields, default_source)
            .map_err(|(code, err)| fail(code.as_ref(), Problem::Invalid(err)));
    }
    if let BatchRows::Boards(boards) = rows {
        return super::akshare::push_board(boards, &line_fields)
            .map_err(|(code, err)| fail(code.as_ref(), Problem::Invalid(err)));
    }
    let code = ThirdCode::parse(line_fields.get("ts_code").unwrap_or_default())
        .map_err(|err| fail(None, Problem::Invalid(err)))?;
    push_row(rows, &line_fields, &code, default_source, record.line)
        .map_err(|err| fail(Some(&code), Problem::Invalid(err)))
}

/// The daily row of `line` for stock `code`.
fn daily_row(
    line: &Line<'_>,
    code: &ThirdCode,
    default_source: &str,
) -> Result<StockDaily, InvalidInput> {
    let mut daily = StockDaily::new(code.clone(), line.required_date("trade_date")?);
    for field in StockDaily::VALUE_FIELDS {
        daily.set_value(field, line.number(field)?);
    }
    daily.source = line.source(default_source);
    daily.validate()?;
    Ok(daily)
}

/// Builds the row of `line` for stock `code` and pushes it onto `rows`.
fn push_row(
    rows: &mut BatchRows,
    line: &Line<'_>,
    code: &ThirdCode,
    default_source: &str,
    line_no: u64,
) -> Result<(), InvalidInput> {
    match rows {
        BatchRows::Stocks { rows, lines } => {
            let mut stock = StockInfo::new(
                code.clone(),
                line.text("symbol").unwrap_or_default(),
                line.text("name").unwrap_or_default(),
            );
            for name in StockInfo::OPTIONAL_FIELDS {
                match stock.field_mut(name) {
                    Some(StockFieldMut::Text(value)) => *value = line.text(name),
                    Some(StockFieldMut::Date(value)) => *value = line.date(name)?,
                    None => {}
                }
            }
            stock.source = line.source(default_source);
            stock.validate()?;
            rows.push(stock);
            lines.push(line_no);
        }
        BatchRows::Dailies(rows) => rows.push(daily_row(line, code, default_source)?),
        BatchRows::DailyUpdates { rows, lines } => {
            rows.push(daily_row(line, code, default_source)?);
            lines.push(line_no);
        }
        // Parsed by `push_market` and `push_board` before a stock code is required.
        BatchRows::Market(_) | BatchRows::Boards(_) => {}
        BatchRows::Finance(rows) => {
            let mut report = StockFinance::new(
                code.clone(),
                line.required_date("ann_date")?,
                line.required_date("end_date")?,
            );
            for field in StockFinance::INDICATORS {
                report.set_indicator(field, line.number(field)?);
            }
            report.source = line.source(default_source);
            report.validate()?;
            rows.push(report);
        }
    }
    Ok(())
}

/// Parses `text` (a whole file) as `kind`: the rows, and each bad line's message.
#[cfg(test)]
pub(crate) fn parse_file(kind: ImportKind, text: &[u8]) -> (BatchRows, Vec<String>) {
    parse_file_of_day(kind, text, None)
}

/// [`parse_file`] for a board file given its day.
#[cfg(test)]
pub(crate) fn parse_file_of_day(
    kind: ImportKind,
    text: &[u8],
    day: Option<NaiveDate>,
) -> (BatchRows, Vec<String>) {
    let mut reader = super::records::RecordReader::new(text, 0, 1, blake3::Hasher::new(), 1 << 20);
    let mut record = Record::default();
    assert!(reader.read(&mut record).unwrap());
    let mut columns = Columns::new(&record, kind).unwrap();
    columns.trade_date = day;
    let mut rows = columns.batch(8);
    let mut errors = Vec::new();
    while reader.read(&mut record).unwrap() {
        if let Err(err) = parse_record(&record, &columns, &mut rows, 1 << 20, "tushare") {
            errors.push(err.to_string());
        }
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::parse_file as parse;

    fn header(text: &str, kind: ImportKind) -> Result<Columns, String> {
        Columns::new(&Record::of(&text.split(',').collect::<Vec<_>>()), kind)
    }

    #[test]
    fn headers_are_matched_by_name_in_any_case_and_order() {
        let columns = header(
            "\u{feff}TRADE_DATE, ts_code ,close,extra",
            ImportKind::Daily,
        )
        .unwrap();
        assert_eq!(columns.width, 4);
        assert_eq!(columns.ignored, ["extra"]);
        let err = header("ts_code,close", ImportKind::Daily).unwrap_err();
        assert!(err.contains("trade_date"), "{err}");
        let err = header("ts_code,trade_date,close,Close", ImportKind::Daily).unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn missing_values_and_both_date_forms_parse() {
        let (rows, errors) = parse(
            ImportKind::Daily,
            b"ts_code,trade_date,open,high,low,close,vol,source\n\
              000001.SZ,20240102,nan,11,10,10.5,None,\n\
              000001.SZ,2024-01-03,,,,NULL,\\N,wind\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let BatchRows::Dailies(bars) = rows else {
            panic!("daily rows expected")
        };
        assert_eq!(bars.len(), 2);
        assert_eq!(
            (bars[0].open, bars[0].close, bars[0].vol),
            (None, Some(10.5), None)
        );
        assert_eq!(bars[0].source.as_deref(), Some("tushare"));
        assert_eq!(bars[1].trade_date.to_string(), "2024-01-03");
        assert_eq!(bars[1].source.as_deref(), Some("wind"));
    }

    #[test]
    fn bad_lines_name_their_physical_line_and_the_field() {
        let (rows, errors) = parse(
            ImportKind::Daily,
            b"ts_code,trade_date,close\n\
              000001.SZ,20240102,1\n\
              000001.SZ,20240230,1\n\
              \"000002\n.SZ\",20240102,1\n\
              000001.SZ,20240104,abc\n\
              000001.SZ,20240105\n\
              000001.SZ,20240106,\xff\n",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            errors,
            [
                r#"line 3: invalid trade_date "20240230": not a date (YYYYMMDD or YYYY-MM-DD)"#,
                "line 4: invalid third_code \"000002\\n.SZ\": contains '\\n'; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed",
                // The quoted newline above makes this line 6, not the fifth record's 5.
                r#"line 6: invalid close "abc": not a number"#,
                "line 7: expected 3 fields, found 2",
                "line 8: field 3 is not UTF-8",
            ]
        );
    }

    #[test]
    fn the_locator_is_the_stock_or_else_the_line() {
        let code = ThirdCode::parse("000001.SZ").unwrap();
        let mut err = LineError {
            line: 12,
            code: Some(code),
            problem: Problem::NotUtf8 { field: 1 },
        };
        assert_eq!(err.locator(), "000001.SZ");
        err.code = None;
        assert_eq!(err.locator(), "line 12");
    }

    #[test]
    fn stock_lines_fill_every_tushare_column() {
        let (rows, errors) = parse(
            ImportKind::Stocks,
            "ts_code,symbol,name,area,industry,fullname,enname,cnspell,market,exchange,curr_type,list_status,list_date,delist_date,is_hs\n\
             600519.SH,600519,贵州茅台,贵州,白酒,贵州茅台酒股份有限公司,Kweichow Moutai,GZMT,主板,SSE,CNY,L,20010827,,H\n"
                .as_bytes(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let BatchRows::Stocks { rows: stocks, .. } = rows else {
            panic!("stock rows expected")
        };
        let s = &stocks[0];
        assert_eq!(
            (
                s.area.as_deref(),
                s.industry.as_deref(),
                s.cnspell.as_deref()
            ),
            (Some("贵州"), Some("白酒"), Some("GZMT"))
        );
        assert_eq!(
            s.list_date.map(|d| d.to_string()).as_deref(),
            Some("2001-08-27")
        );
        assert_eq!((s.delist_date, s.is_hs.as_deref()), (None, Some("H")));
    }
}
