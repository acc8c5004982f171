//! `COPY … FROM STDIN` payloads (text and binary) for the baseline.

use chrono::NaiveDate;
use data_engineering::{StockDaily, StockFinance};

/// PostgreSQL's date epoch.
const PG_EPOCH: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");

/// One field of a row, in table order.
pub(crate) enum Field<'a> {
    Text(Option<&'a str>),
    Date(NaiveDate),
    Float(Option<f64>),
}

pub(crate) fn daily_fields(row: &StockDaily) -> Vec<Field<'_>> {
    let mut fields = vec![
        Field::Text(Some(row.third_code.as_str())),
        Field::Date(row.trade_date),
    ];
    fields.extend(
        StockDaily::VALUE_FIELDS
            .iter()
            .map(|name| Field::Float(row.value(name).flatten())),
    );
    fields.push(Field::Text(row.source.as_deref()));
    fields
}

pub(crate) fn finance_fields(row: &StockFinance) -> Vec<Field<'_>> {
    let mut fields = vec![
        Field::Text(Some(row.third_code.as_str())),
        Field::Date(row.ann_date),
        Field::Date(row.end_date),
    ];
    fields.extend(
        StockFinance::INDICATORS
            .iter()
            .map(|name| Field::Float(row.indicator(name).flatten())),
    );
    fields.push(Field::Text(row.source.as_deref()));
    fields
}

/// The text-format payload (tab-separated, `\N` for NULL).
pub(crate) fn text_payload<'a, R: 'a>(
    rows: &'a [R],
    fields: impl Fn(&'a R) -> Vec<Field<'a>>,
) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(rows.len() * 256);
    for row in rows {
        for (idx, field) in fields(row).into_iter().enumerate() {
            if idx > 0 {
                out.push(b'\t');
            }
            let _ = match field {
                Field::Text(Some(text)) => out.write_all(text.as_bytes()),
                Field::Date(date) => write!(out, "{date}"),
                Field::Float(Some(value)) => write!(out, "{value}"),
                Field::Text(None) | Field::Float(None) => out.write_all(b"\\N"),
            };
        }
        out.push(b'\n');
    }
    out
}

/// The binary-format payload.
pub(crate) fn binary_payload<'a, R: 'a>(
    rows: &'a [R],
    fields: impl Fn(&'a R) -> Vec<Field<'a>>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * 300);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for row in rows {
        let fields = fields(row);
        out.extend_from_slice(&(fields.len() as i16).to_be_bytes());
        for field in fields {
            match field {
                Field::Text(Some(text)) => {
                    out.extend_from_slice(&(text.len() as i32).to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
                Field::Date(date) => {
                    out.extend_from_slice(&4i32.to_be_bytes());
                    out.extend_from_slice(&((date - PG_EPOCH).num_days() as i32).to_be_bytes());
                }
                Field::Float(Some(value)) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&value.to_be_bytes());
                }
                Field::Text(None) | Field::Float(None) => {
                    out.extend_from_slice(&(-1i32).to_be_bytes())
                }
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// Streams `payload` into `COPY {table} FROM STDIN {options}` on one connection.
pub(crate) async fn copy_in(
    pool: &sqlx::PgPool,
    table: &str,
    options: &str,
    payload: &[u8],
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} FROM STDIN {options}"))
        .await?;
    for chunk in payload.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    copy.finish().await?;
    Ok(())
}
