//! Encoding a chunk of rows for the wire: PostgreSQL's binary `COPY` format, or one typed
//! array per column for the `UNNEST` upsert. Both read the values through the table's
//! accessors, so they cannot disagree with the column list.

use std::borrow::Borrow;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use sqlx::Arguments as _;
use sqlx::postgres::PgArguments;

use super::table::{Accessor, BulkTable};
use crate::error::{InvalidInput, RepoError};

/// Days from 0001-01-01 (CE day 1) to 2000-01-01, PostgreSQL's date epoch.
const PG_EPOCH_CE_DAYS: i32 = 730_120;

/// PostgreSQL's timestamp epoch, 2000-01-01 00:00:00.
const PG_EPOCH: NaiveDateTime = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(day) => day.and_time(chrono::NaiveTime::MIN),
    None => panic!("2000-01-01 is a date"),
};

/// The version byte that starts a `jsonb` value in binary format.
const JSONB_VERSION: u8 = 1;

/// Header of a binary `COPY` stream: signature, flags, header extension length.
pub(crate) const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Trailer of a binary `COPY` stream: a field count of -1.
pub(crate) const COPY_TRAILER: &[u8] = &(-1i16).to_be_bytes();

/// The days since 2000-01-01 that PostgreSQL stores for `date`.
pub(crate) fn pg_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - PG_EPOCH_CE_DAYS
}

/// The microseconds since 2000-01-01 that PostgreSQL stores for `timestamp`, or `None`
/// beyond its range (a year past 294,276).
pub(crate) fn pg_micros(at: NaiveDateTime) -> Option<i64> {
    (at - PG_EPOCH).num_microseconds()
}

/// `rows` as binary `COPY` tuples, without the stream's header and trailer
/// ([`COPY_HEADER`], [`COPY_TRAILER`]), so that several chunks can make one stream.
///
/// Errors: `Invalid` for a text value longer than a `COPY` field can carry (2 GiB).
pub(crate) fn copy_rows<R, T: Borrow<R>>(
    table: &BulkTable<R>,
    rows: &[T],
) -> Result<Vec<u8>, RepoError> {
    let mut buf = Vec::with_capacity(rows.len() * table.columns.len() * 12);
    for row in rows {
        let row = row.borrow();
        buf.extend_from_slice(&table.field_count().to_be_bytes());
        for column in table.columns {
            match column.value {
                Accessor::Text(get) => match get(row) {
                    Some(text) => varlena(&mut buf, column.name, &[], text.as_bytes())?,
                    None => null(&mut buf),
                },
                Accessor::Json(get) => match get(row) {
                    Some(json) => {
                        let text = json.to_string();
                        varlena(&mut buf, column.name, &[JSONB_VERSION], text.as_bytes())?;
                    }
                    None => null(&mut buf),
                },
                Accessor::Timestamp(get) => match get(row) {
                    Some(at) => {
                        let micros = pg_micros(at).ok_or_else(|| {
                            InvalidInput::new(column.name, at, "beyond PostgreSQL's timestamps")
                        })?;
                        fixed(&mut buf, Some(micros.to_be_bytes()));
                    }
                    None => null(&mut buf),
                },
                Accessor::Date(get) => fixed(&mut buf, get(row).map(|d| pg_days(d).to_be_bytes())),
                Accessor::Float8(get) => fixed(&mut buf, get(row).map(f64::to_be_bytes)),
                Accessor::Int4(get) => fixed(&mut buf, get(row).map(i32::to_be_bytes)),
                Accessor::Bool(get) => fixed(&mut buf, get(row).map(|b| [u8::from(b)])),
            }
        }
    }
    Ok(buf)
}

/// Appends a variable-length field: `prefix` then `bytes`.
fn varlena(
    buf: &mut Vec<u8>,
    column: &'static str,
    prefix: &[u8],
    bytes: &[u8],
) -> Result<(), InvalidInput> {
    let len = i32::try_from(prefix.len() + bytes.len()).map_err(|_| {
        InvalidInput::new(
            column,
            format!("{} bytes", bytes.len()),
            "longer than a PostgreSQL field can hold",
        )
    })?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(prefix);
    buf.extend_from_slice(bytes);
    Ok(())
}

fn null(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(-1i32).to_be_bytes());
}

/// Appends a fixed-size field (`N` is at most 8, so its length always fits).
fn fixed<const N: usize>(buf: &mut Vec<u8>, bytes: Option<[u8; N]>) {
    match bytes {
        Some(bytes) => {
            buf.extend_from_slice(&(N as i32).to_be_bytes());
            buf.extend_from_slice(&bytes);
        }
        None => null(buf),
    }
}

/// `rows` as the `UNNEST` statement's parameters: one typed array per column, encoded
/// now, so the result owns its bytes and can be built on another thread while the
/// previous statement runs.
pub(crate) fn unnest_arguments<R, T: Borrow<R>>(
    table: &BulkTable<R>,
    rows: &[T],
) -> Result<PgArguments, RepoError> {
    let mut args = PgArguments::default();
    args.reserve(table.columns.len(), rows.len() * table.columns.len() * 16);
    for column in table.columns {
        let added = match column.value {
            Accessor::Text(get) => args.add(column_of(rows, get)),
            Accessor::Date(get) => args.add(column_of(rows, get)),
            Accessor::Float8(get) => args.add(column_of(rows, get)),
            Accessor::Int4(get) => args.add(column_of(rows, get)),
            Accessor::Bool(get) => args.add(column_of(rows, get)),
            Accessor::Timestamp(get) => args.add(column_of(rows, get)),
            Accessor::Json(get) => args.add(
                rows.iter()
                    .map(|row| get(row.borrow()).map(sqlx::types::Json))
                    .collect::<Vec<_>>(),
            ),
        };
        added.map_err(|source| RepoError::Internal {
            component: "bulk encoder",
            detail: format!("cannot encode column {}: {source}", column.name),
        })?;
    }
    Ok(args)
}

/// One column's values, read from every row.
fn column_of<'r, R: 'r, T: Borrow<R>, V>(rows: &'r [T], get: fn(&'r R) -> V) -> Vec<V> {
    rows.iter().map(|row| get(row.borrow())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::table::tests::{DEMO, Demo};

    #[test]
    fn copy_rows_are_in_binary_copy_format() {
        let mut payload = COPY_HEADER.to_vec();
        payload.extend(copy_rows(&DEMO, &[Demo("ab", 1.5)]).unwrap());
        payload.extend_from_slice(COPY_TRAILER);
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&3i16.to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(b"ab");
        expected.extend_from_slice(&8i32.to_be_bytes());
        expected.extend_from_slice(&1.5f64.to_be_bytes());
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        expected.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(payload, expected);
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let at = NaiveDate::from_ymd_opt(2000, 1, 2)
            .unwrap()
            .and_hms_micro_opt(0, 0, 1, 5)
            .unwrap();
        assert_eq!(pg_micros(at), Some(86_400_000_000 + 1_000_005));
        assert_eq!(pg_micros(PG_EPOCH), Some(0));
    }

    #[test]
    fn dates_count_days_from_2000() {
        let day = NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
        assert_eq!(pg_days(day), 1);
    }

    #[test]
    fn arrays_hold_one_parameter_per_column() {
        let args = unnest_arguments(&DEMO, &[Demo("a", 1.0), Demo("b", 2.0)]).unwrap();
        assert_eq!(args.len(), 3);
    }
}
