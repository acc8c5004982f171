//! The market-structure tables as the bulk engine writes them: one [`BulkTable`] per
//! table, and [`upsert_market`], which sends a [`MarketRows`] batch to its table.

use chrono::NaiveDate;
use shared_db::Accessor::{Bool, Date, Float8, Text};
use shared_db::{
    BulkColumn, BulkRow, BulkTable, InvalidInput, Merge, RepoError, UpsertReport, upsert_in,
};

use crate::domain::{
    CalendarDay, Dividend, IndexWeight, MarketRows, NameChange, PriceLimit, Suspension,
};

/// Implements [`BulkRow`] for `$row` on `$table`, keyed by `$key`.
macro_rules! bulk_row {
    ($row:ty, $table:ident, $key:ty, |$r:ident| $key_expr:expr) => {
        impl BulkRow for $row {
            type Key<'a> = $key;
            const TABLE: &'static BulkTable<Self> = &$table;

            fn key<'a>(&'a self) -> $key {
                let $r = self;
                $key_expr
            }

            fn validate(&self) -> Result<(), InvalidInput> {
                <$row>::validate(self)
            }
        }
    };
}

const TRADE_CALENDAR: BulkTable<CalendarDay> = BulkTable::new(
    "trade_calendar",
    &[
        BulkColumn::key("exchange", Text(|c| Some(c.exchange.as_str()))),
        BulkColumn::key("cal_date", Date(|c| Some(c.cal_date))),
        BulkColumn::value("is_open", Bool(|c| Some(c.is_open))),
        BulkColumn::value("pretrade_date", Date(|c| c.pretrade_date)),
        BulkColumn::value("source", Text(|c| c.source.as_deref())),
    ],
);
bulk_row!(CalendarDay, TRADE_CALENDAR, (&'a str, NaiveDate), |c| (
    c.exchange.as_str(),
    c.cal_date
));

const STOCK_SUSPENSIONS: BulkTable<Suspension> = BulkTable::new(
    "stock_suspensions",
    &[
        BulkColumn::key("third_code", Text(|s| Some(s.third_code.as_str()))),
        BulkColumn::key("trade_date", Date(|s| Some(s.trade_date))),
        BulkColumn::key("suspend_type", Text(|s| Some(s.suspend_type.as_str()))),
        BulkColumn::value("suspend_timing", Text(|s| s.suspend_timing.as_deref())),
        BulkColumn::value("reason", Text(|s| s.reason.as_deref())),
        BulkColumn::value("source", Text(|s| s.source.as_deref())),
    ],
);
bulk_row!(
    Suspension,
    STOCK_SUSPENSIONS,
    (&'a str, NaiveDate, &'a str),
    |s| (s.third_code.as_str(), s.trade_date, s.suspend_type.as_str())
);

const STOCK_LIMITS: BulkTable<PriceLimit> = BulkTable::new(
    "stock_limits",
    &[
        BulkColumn::key("third_code", Text(|l| Some(l.third_code.as_str()))),
        BulkColumn::key("trade_date", Date(|l| Some(l.trade_date))),
        BulkColumn::value("pre_close", Float8(|l| l.pre_close)),
        BulkColumn::value("up_limit", Float8(|l| Some(l.up_limit))),
        BulkColumn::value("down_limit", Float8(|l| Some(l.down_limit))),
        BulkColumn::value("source", Text(|l| l.source.as_deref())),
    ],
);
bulk_row!(PriceLimit, STOCK_LIMITS, (&'a str, NaiveDate), |l| (
    l.third_code.as_str(),
    l.trade_date
));

const STOCK_NAMES: BulkTable<NameChange> = BulkTable::new(
    "stock_names",
    &[
        BulkColumn::key("third_code", Text(|n| Some(n.third_code.as_str()))),
        BulkColumn::key("start_date", Date(|n| Some(n.start_date))),
        BulkColumn::key("name", Text(|n| Some(&n.name))),
        BulkColumn::value("end_date", Date(|n| n.end_date)),
        BulkColumn::value("ann_date", Date(|n| n.ann_date)),
        BulkColumn::value("change_reason", Text(|n| n.change_reason.as_deref())),
        BulkColumn::value("source", Text(|n| n.source.as_deref())),
    ],
);
bulk_row!(
    NameChange,
    STOCK_NAMES,
    (&'a str, NaiveDate, &'a str),
    |n| (n.third_code.as_str(), n.start_date, n.name.as_str())
);

const INDEX_WEIGHTS: BulkTable<IndexWeight> = BulkTable::new(
    "index_weights",
    &[
        BulkColumn::key("index_code", Text(|w| Some(w.index_code.as_str()))),
        BulkColumn::key("trade_date", Date(|w| Some(w.trade_date))),
        BulkColumn::key("con_code", Text(|w| Some(w.con_code.as_str()))),
        BulkColumn::value("weight", Float8(|w| w.weight)),
        BulkColumn::value("source", Text(|w| w.source.as_deref())),
    ],
);
bulk_row!(
    IndexWeight,
    INDEX_WEIGHTS,
    (&'a str, NaiveDate, &'a str),
    |w| (w.index_code.as_str(), w.trade_date, w.con_code.as_str())
);

const STOCK_DIVIDENDS: BulkTable<Dividend> = BulkTable::new(
    "stock_dividends",
    &[
        BulkColumn::key("third_code", Text(|d| Some(d.third_code.as_str()))),
        BulkColumn::key("end_date", Date(|d| Some(d.end_date))),
        BulkColumn::key("ann_date", Date(|d| Some(d.ann_date))),
        BulkColumn::key("div_proc", Text(|d| Some(&d.div_proc))),
        BulkColumn::value("stk_div", Float8(|d| d.stk_div)),
        BulkColumn::value("stk_bo_rate", Float8(|d| d.stk_bo_rate)),
        BulkColumn::value("stk_co_rate", Float8(|d| d.stk_co_rate)),
        BulkColumn::value("cash_div", Float8(|d| d.cash_div)),
        BulkColumn::value("cash_div_tax", Float8(|d| d.cash_div_tax)),
        BulkColumn::value("record_date", Date(|d| d.record_date)),
        BulkColumn::value("ex_date", Date(|d| d.ex_date)),
        BulkColumn::value("pay_date", Date(|d| d.pay_date)),
        BulkColumn::value("div_listdate", Date(|d| d.div_listdate)),
        BulkColumn::value("imp_ann_date", Date(|d| d.imp_ann_date)),
        BulkColumn::value("base_date", Date(|d| d.base_date)),
        BulkColumn::value("base_share", Float8(|d| d.base_share)),
        BulkColumn::value("source", Text(|d| d.source.as_deref())),
    ],
);
bulk_row!(
    Dividend,
    STOCK_DIVIDENDS,
    (&'a str, NaiveDate, NaiveDate, &'a str),
    |d| (
        d.third_code.as_str(),
        d.end_date,
        d.ann_date,
        d.div_proc.as_str()
    )
);

/// Upserts `rows` into their table inside `txn` (see [`upsert_in`]).
pub(crate) async fn upsert_market(
    txn: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: MarketRows,
    merge: Merge,
) -> Result<UpsertReport, RepoError> {
    match rows {
        MarketRows::Calendar(rows) => upsert_in(txn, rows, merge).await,
        MarketRows::Suspensions(rows) => upsert_in(txn, rows, merge).await,
        MarketRows::Limits(rows) => upsert_in(txn, rows, merge).await,
        MarketRows::Names(rows) => upsert_in(txn, rows, merge).await,
        MarketRows::IndexWeights(rows) => upsert_in(txn, rows, merge).await,
        MarketRows::Dividends(rows) => upsert_in(txn, rows, merge).await,
    }
}
