//! The day boards on PostgreSQL: each table described once for the shared engine
//! ([`DayRow`]), upserted on the earlier service's natural keys and stamped with the
//! handle's clock; [`PgDayBoardRepository`] reads and writes any of them.

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use sea_orm::QueryResult;
use serde_json::{Map, Value, json};
use shared_db::Accessor::{Date, Float8, Int4, Json, Text, Timestamp};
use shared_db::{
    BulkColumn, BulkTable, DayRow, DayTable, InvalidInput, Merge, RepoError, Stamped, UpsertReport,
    upsert_in,
};

use crate::domain::{
    BoardRows, BrokenBoardStock, DragonTigerEntry, LimitUpStock, PreviousLimitUpStock, Seat,
    SectorFlow, ThirdCode,
};
use crate::repository::DayBoardRepository;

/// Any day board on PostgreSQL (`R` says which).
#[derive(Debug, Clone)]
pub struct PgDayBoardRepository<R> {
    table: DayTable<R>,
}

impl<R: DayRow> PgDayBoardRepository<R> {
    /// The board of `R` on `db`.
    pub fn new(db: shared_db::Db) -> Self {
        Self {
            table: DayTable::new(db),
        }
    }
}

#[async_trait]
impl<R: DayRow> DayBoardRepository<R> for PgDayBoardRepository<R> {
    async fn save_all(&self, rows: Vec<R>) -> Result<UpsertReport, RepoError> {
        self.table.save_all(rows).await
    }

    async fn by_date(&self, day: NaiveDate) -> Result<Vec<R>, RepoError> {
        self.table.by_date(day).await
    }

    async fn latest_day(&self) -> Result<Option<NaiveDate>, RepoError> {
        self.table.latest_day().await
    }
}

/// `created_at`, written from the save's clock when a row is new.
macro_rules! created_at {
    () => {
        BulkColumn::created("created_at", Timestamp(|s| Some(s.at)))
    };
}

/// `updated_at`, written from the save's clock when a row is new or changed.
macro_rules! updated_at {
    () => {
        BulkColumn::touched("updated_at", Timestamp(|s| Some(s.at)))
    };
}

/// Implements [`DayRow`] for `$row` on `$table`, keyed by `$key`, in `$order`.
macro_rules! day_row {
    ($row:ty, $table:ident, $order:literal, $key:ty, |$r:ident| $key_expr:expr, $read:ident) => {
        impl DayRow for $row {
            type Key<'a> = $key;
            const TABLE: &'static BulkTable<Stamped<Self>> = &$table;
            const ORDER_BY: &'static str = $order;

            fn key<'a>(&'a self) -> $key {
                let $r = self;
                $key_expr
            }

            fn validate(&self) -> Result<(), InvalidInput> {
                <$row>::validate(self)
            }

            fn read(row: &QueryResult) -> Result<Self, RepoError> {
                $read(row)
            }
        }
    };
}

const LIMIT_UP_POOL: BulkTable<Stamped<LimitUpStock>> = BulkTable::new(
    "de_limit_up_pool",
    &[
        BulkColumn::key("trade_date", Date(|s| Some(s.row.trade_date))),
        BulkColumn::key("third_code", Text(|s| Some(s.row.third_code.as_str()))),
        BulkColumn::value("stock_name", Text(|s| Some(&s.row.stock_name))),
        BulkColumn::value("pct_chg", Float8(|s| Some(s.row.pct_chg))),
        BulkColumn::value("close", Float8(|s| Some(s.row.close))),
        BulkColumn::value("amount", Float8(|s| Some(s.row.amount))),
        BulkColumn::value("turnover_rate", Float8(|s| Some(s.row.turnover_rate))),
        BulkColumn::value(
            "consecutive_boards",
            Int4(|s| Some(s.row.consecutive_boards)),
        ),
        BulkColumn::value(
            "first_limit_up_time",
            Text(|s| s.row.first_limit_up_time.as_deref()),
        ),
        BulkColumn::value(
            "last_limit_up_time",
            Text(|s| s.row.last_limit_up_time.as_deref()),
        ),
        BulkColumn::value("industry", Text(|s| Some(&s.row.industry))),
        created_at!(),
        updated_at!(),
    ],
);
day_row!(
    LimitUpStock,
    LIMIT_UP_POOL,
    "consecutive_boards DESC, first_limit_up_time NULLS LAST, third_code",
    (NaiveDate, &'a str),
    |r| (r.trade_date, r.third_code.as_str()),
    read_limit_up
);

fn read_limit_up(row: &QueryResult) -> Result<LimitUpStock, RepoError> {
    Ok(LimitUpStock {
        trade_date: row.try_get_by_index(0)?,
        third_code: ThirdCode::from_stored(row.try_get_by_index(1)?),
        stock_name: row.try_get_by_index(2)?,
        pct_chg: row.try_get_by_index(3)?,
        close: row.try_get_by_index(4)?,
        amount: row.try_get_by_index(5)?,
        turnover_rate: row.try_get_by_index(6)?,
        consecutive_boards: row.try_get_by_index(7)?,
        first_limit_up_time: row.try_get_by_index(8)?,
        last_limit_up_time: row.try_get_by_index(9)?,
        industry: row.try_get_by_index(10)?,
    })
}

const BROKEN_BOARD_POOL: BulkTable<Stamped<BrokenBoardStock>> = BulkTable::new(
    "de_broken_board_pool",
    &[
        BulkColumn::key("trade_date", Date(|s| Some(s.row.trade_date))),
        BulkColumn::key("third_code", Text(|s| Some(s.row.third_code.as_str()))),
        BulkColumn::value("stock_name", Text(|s| Some(&s.row.stock_name))),
        BulkColumn::value("pct_chg", Float8(|s| Some(s.row.pct_chg))),
        BulkColumn::value("close", Float8(|s| Some(s.row.close))),
        BulkColumn::value("amount", Float8(|s| Some(s.row.amount))),
        BulkColumn::value("turnover_rate", Float8(|s| Some(s.row.turnover_rate))),
        BulkColumn::value("open_count", Int4(|s| Some(s.row.open_count))),
        BulkColumn::value(
            "first_limit_up_time",
            Text(|s| s.row.first_limit_up_time.as_deref()),
        ),
        BulkColumn::value("last_open_time", Text(|s| s.row.last_open_time.as_deref())),
        BulkColumn::value("industry", Text(|s| Some(&s.row.industry))),
        created_at!(),
        updated_at!(),
    ],
);
day_row!(
    BrokenBoardStock,
    BROKEN_BOARD_POOL,
    "open_count DESC, first_limit_up_time NULLS LAST, third_code",
    (NaiveDate, &'a str),
    |r| (r.trade_date, r.third_code.as_str()),
    read_broken_board
);

fn read_broken_board(row: &QueryResult) -> Result<BrokenBoardStock, RepoError> {
    Ok(BrokenBoardStock {
        trade_date: row.try_get_by_index(0)?,
        third_code: ThirdCode::from_stored(row.try_get_by_index(1)?),
        stock_name: row.try_get_by_index(2)?,
        pct_chg: row.try_get_by_index(3)?,
        close: row.try_get_by_index(4)?,
        amount: row.try_get_by_index(5)?,
        turnover_rate: row.try_get_by_index(6)?,
        open_count: row.try_get_by_index(7)?,
        first_limit_up_time: row.try_get_by_index(8)?,
        last_open_time: row.try_get_by_index(9)?,
        industry: row.try_get_by_index(10)?,
    })
}

const PREVIOUS_LIMIT_UP: BulkTable<Stamped<PreviousLimitUpStock>> = BulkTable::new(
    "de_previous_limit_up",
    &[
        BulkColumn::key("trade_date", Date(|s| Some(s.row.trade_date))),
        BulkColumn::key("third_code", Text(|s| Some(s.row.third_code.as_str()))),
        BulkColumn::value("stock_name", Text(|s| Some(&s.row.stock_name))),
        BulkColumn::value("pct_chg", Float8(|s| Some(s.row.pct_chg))),
        BulkColumn::value("close", Float8(|s| Some(s.row.close))),
        BulkColumn::value("amount", Float8(|s| Some(s.row.amount))),
        BulkColumn::value("turnover_rate", Float8(|s| Some(s.row.turnover_rate))),
        BulkColumn::value(
            "yesterday_consecutive_boards",
            Int4(|s| Some(s.row.yesterday_consecutive_boards)),
        ),
        BulkColumn::value("industry", Text(|s| Some(&s.row.industry))),
        created_at!(),
        updated_at!(),
    ],
);
day_row!(
    PreviousLimitUpStock,
    PREVIOUS_LIMIT_UP,
    "pct_chg DESC, third_code",
    (NaiveDate, &'a str),
    |r| (r.trade_date, r.third_code.as_str()),
    read_previous_limit_up
);

fn read_previous_limit_up(row: &QueryResult) -> Result<PreviousLimitUpStock, RepoError> {
    Ok(PreviousLimitUpStock {
        trade_date: row.try_get_by_index(0)?,
        third_code: ThirdCode::from_stored(row.try_get_by_index(1)?),
        stock_name: row.try_get_by_index(2)?,
        pct_chg: row.try_get_by_index(3)?,
        close: row.try_get_by_index(4)?,
        amount: row.try_get_by_index(5)?,
        turnover_rate: row.try_get_by_index(6)?,
        yesterday_consecutive_boards: row.try_get_by_index(7)?,
        industry: row.try_get_by_index(8)?,
    })
}

const DRAGON_TIGER: BulkTable<Stamped<DragonTigerEntry>> = BulkTable::new(
    "de_dragon_tiger",
    &[
        BulkColumn::key("trade_date", Date(|s| Some(s.row.trade_date))),
        BulkColumn::key("third_code", Text(|s| Some(s.row.third_code.as_str()))),
        BulkColumn::key("reason", Text(|s| Some(&s.row.reason))),
        BulkColumn::value("stock_name", Text(|s| Some(&s.row.stock_name))),
        BulkColumn::value("pct_chg", Float8(|s| Some(s.row.pct_chg))),
        BulkColumn::value("close", Float8(|s| Some(s.row.close))),
        BulkColumn::value("net_amount", Float8(|s| Some(s.row.net_amount))),
        BulkColumn::value("buy_amount", Float8(|s| Some(s.row.buy_amount))),
        BulkColumn::value("sell_amount", Float8(|s| Some(s.row.sell_amount))),
        BulkColumn::value(
            "buy_seats",
            Json(|s| Some(seats_json(&s.row.buy_seats, BUY_AMOUNT))),
        ),
        BulkColumn::value(
            "sell_seats",
            Json(|s| Some(seats_json(&s.row.sell_seats, SELL_AMOUNT))),
        ),
        created_at!(),
        updated_at!(),
    ],
);
day_row!(
    DragonTigerEntry,
    DRAGON_TIGER,
    "net_amount DESC, third_code, reason",
    (NaiveDate, &'a str, &'a str),
    |r| (r.trade_date, r.third_code.as_str(), r.reason.as_str()),
    read_dragon_tiger
);

/// The amount key of a buying seat in the service's JSON.
const BUY_AMOUNT: &str = "buy_amount";
/// The amount key of a selling seat.
const SELL_AMOUNT: &str = "sell_amount";

/// Seats as the earlier service stores them: `[{"seat_name": …, "<amount_key>": …}]`.
fn seats_json(seats: &[Seat], amount_key: &str) -> Value {
    Value::Array(
        seats
            .iter()
            .map(|seat| {
                let mut object = Map::new();
                object.insert("seat_name".to_owned(), json!(seat.seat_name));
                object.insert(amount_key.to_owned(), json!(seat.amount));
                Value::Object(object)
            })
            .collect(),
    )
}

/// Seats read back from their JSON; an element without a name or amount is an error
/// naming the column (a writer other than stockdb broke the shape).
fn seats_from(
    column: &'static str,
    json: &Value,
    amount_key: &str,
) -> Result<Vec<Seat>, RepoError> {
    let bad = |detail: String| RepoError::Internal {
        component: "de_dragon_tiger",
        detail: format!("{column}: {detail}"),
    };
    let Value::Array(items) = json else {
        return Err(bad(format!("not a JSON array: {json}")));
    };
    items
        .iter()
        .map(|item| {
            let name = item.get("seat_name").and_then(Value::as_str);
            let amount = item.get(amount_key).and_then(Value::as_f64);
            match (name, amount) {
                (Some(name), Some(amount)) => Ok(Seat {
                    seat_name: name.to_owned(),
                    amount,
                }),
                _ => Err(bad(format!(
                    "a seat without seat_name or {amount_key}: {item}"
                ))),
            }
        })
        .collect()
}

fn read_dragon_tiger(row: &QueryResult) -> Result<DragonTigerEntry, RepoError> {
    let buy: Value = row.try_get_by_index(9)?;
    let sell: Value = row.try_get_by_index(10)?;
    Ok(DragonTigerEntry {
        trade_date: row.try_get_by_index(0)?,
        third_code: ThirdCode::from_stored(row.try_get_by_index(1)?),
        reason: row.try_get_by_index(2)?,
        stock_name: row.try_get_by_index(3)?,
        pct_chg: row.try_get_by_index(4)?,
        close: row.try_get_by_index(5)?,
        net_amount: row.try_get_by_index(6)?,
        buy_amount: row.try_get_by_index(7)?,
        sell_amount: row.try_get_by_index(8)?,
        buy_seats: seats_from("buy_seats", &buy, BUY_AMOUNT)?,
        sell_seats: seats_from("sell_seats", &sell, SELL_AMOUNT)?,
    })
}

const SECTOR_CAPITAL_FLOW: BulkTable<Stamped<SectorFlow>> = BulkTable::new(
    "de_sector_capital_flow",
    &[
        BulkColumn::key("trade_date", Date(|s| Some(s.row.trade_date))),
        BulkColumn::key("sector_name", Text(|s| Some(&s.row.sector_name))),
        BulkColumn::key("sector_type", Text(|s| Some(&s.row.sector_type))),
        BulkColumn::value("net_amount", Float8(|s| Some(s.row.net_amount))),
        BulkColumn::value("inflow_amount", Float8(|s| Some(s.row.inflow_amount))),
        BulkColumn::value("outflow_amount", Float8(|s| Some(s.row.outflow_amount))),
        BulkColumn::value("pct_chg", Float8(|s| Some(s.row.pct_chg))),
        created_at!(),
        updated_at!(),
    ],
);
day_row!(
    SectorFlow,
    SECTOR_CAPITAL_FLOW,
    "sector_type, net_amount DESC, sector_name",
    (NaiveDate, &'a str, &'a str),
    |r| (r.trade_date, r.sector_name.as_str(), r.sector_type.as_str()),
    read_sector_flow
);

fn read_sector_flow(row: &QueryResult) -> Result<SectorFlow, RepoError> {
    Ok(SectorFlow {
        trade_date: row.try_get_by_index(0)?,
        sector_name: row.try_get_by_index(1)?,
        sector_type: row.try_get_by_index(2)?,
        net_amount: row.try_get_by_index(3)?,
        inflow_amount: row.try_get_by_index(4)?,
        outflow_amount: row.try_get_by_index(5)?,
        pct_chg: row.try_get_by_index(6)?,
    })
}

/// The boards as the bulk engine writes them inside an import's transaction.
pub(crate) async fn upsert_boards(
    txn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: BoardRows,
    at: NaiveDateTime,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    fn stamp<R>(rows: Vec<R>, at: NaiveDateTime) -> Vec<Stamped<R>> {
        rows.into_iter().map(|row| Stamped { row, at }).collect()
    }
    match rows {
        BoardRows::LimitUp(rows) => upsert_in(txn, stamp(rows, at), merge).await,
        BoardRows::BrokenBoard(rows) => upsert_in(txn, stamp(rows, at), merge).await,
        BoardRows::PreviousLimitUp(rows) => upsert_in(txn, stamp(rows, at), merge).await,
        BoardRows::DragonTiger(rows) => upsert_in(txn, stamp(rows, at), merge).await,
        BoardRows::SectorFlow(rows) => upsert_in(txn, stamp(rows, at), merge).await,
    }
}
