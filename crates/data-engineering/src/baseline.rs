//! The naive write path the benchmark compares the bulk engine against: SeaORM
//! `insert_many` with `ON CONFLICT DO UPDATE` in fixed-size batches, in one transaction,
//! as the earlier Python service wrote. Compiled only with the `bench` feature; nothing
//! else uses it.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{EntityTrait, Iterable};
use shared_db::{Db, RepoError};

use crate::domain::{StockDaily, StockFinance, daily_values, finance_indicators};
use crate::entity::{stock_daily, stock_finance};

/// PostgreSQL's limit on bind parameters in one statement.
pub const MAX_BIND_PARAMETERS: usize = 65_535;

/// The most rows of `columns` columns one multi-`VALUES` statement can carry.
pub const fn max_rows_per_statement(columns: usize) -> usize {
    MAX_BIND_PARAMETERS / columns
}

macro_rules! daily_active {
    ($($field:ident $doc:literal),* $(,)?) => {
        fn daily_active(d: &StockDaily) -> stock_daily::ActiveModel {
            stock_daily::ActiveModel {
                third_code: Set(d.third_code.as_str().to_owned()),
                trade_date: Set(d.trade_date),
                $($field: Set(d.$field),)*
                source: Set(d.source.clone()),
            }
        }
    };
}
daily_values!(daily_active);

macro_rules! finance_active {
    ($($field:ident $doc:literal),* $(,)?) => {
        fn finance_active(f: &StockFinance) -> stock_finance::ActiveModel {
            stock_finance::ActiveModel {
                third_code: Set(f.third_code.as_str().to_owned()),
                ann_date: Set(f.ann_date),
                end_date: Set(f.end_date),
                $($field: Set(f.$field),)*
                source: Set(f.source.clone()),
            }
        }
    };
}
finance_indicators!(finance_active);

/// Writes `rows` with `insert_many … ON CONFLICT (third_code, trade_date) DO UPDATE`,
/// `batch_rows` rows per statement, in one transaction.
pub async fn insert_many_dailies(
    db: &Db,
    rows: &[StockDaily],
    batch_rows: usize,
) -> Result<(), RepoError> {
    let on_conflict = OnConflict::columns([
        stock_daily::Column::ThirdCode,
        stock_daily::Column::TradeDate,
    ])
    .update_columns(stock_daily::Column::iter().filter(|c| {
        !matches!(
            c,
            stock_daily::Column::ThirdCode | stock_daily::Column::TradeDate
        )
    }))
    .to_owned();
    db.transaction(async |txn| {
        for chunk in rows.chunks(batch_rows.max(1)) {
            stock_daily::Entity::insert_many(chunk.iter().map(daily_active))
                .on_conflict(on_conflict.clone())
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    })
    .await
}

/// Writes `rows` with `insert_many … ON CONFLICT (third_code, ann_date, end_date) DO
/// UPDATE`, `batch_rows` rows per statement, in one transaction.
pub async fn insert_many_finance(
    db: &Db,
    rows: &[StockFinance],
    batch_rows: usize,
) -> Result<(), RepoError> {
    let key = [
        stock_finance::Column::ThirdCode,
        stock_finance::Column::AnnDate,
        stock_finance::Column::EndDate,
    ];
    let on_conflict = OnConflict::columns(key)
        .update_columns(stock_finance::Column::iter().filter(|c| {
            !matches!(
                c,
                stock_finance::Column::ThirdCode
                    | stock_finance::Column::AnnDate
                    | stock_finance::Column::EndDate
            )
        }))
        .to_owned();
    db.transaction(async |txn| {
        for chunk in rows.chunks(batch_rows.max(1)) {
            stock_finance::Entity::insert_many(chunk.iter().map(finance_active))
                .on_conflict(on_conflict.clone())
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    })
    .await
}

/// Columns of `stock_daily` and of `stock_finance`.
pub fn column_counts() -> (usize, usize) {
    (
        stock_daily::Column::iter().count(),
        stock_finance::Column::iter().count(),
    )
}

/// The statements of the reads the history benchmark floors with bare SQL: the same text,
/// so that a floor is what the repository sends, without its decoding.
pub mod reads {
    use chrono::NaiveDate;

    use crate::postgres::daily;

    /// One stock's newest bar (`$1` the stock), tried since `$2` first.
    pub fn latest() -> &'static str {
        &daily::LATEST
    }

    /// The lower bound the repository tries first for a walk back from `day`.
    pub fn recent(day: NaiveDate) -> NaiveDate {
        daily::recent(day)
    }

    /// Every stock's return over its last `$2` bars ending on `$1`, tried since `$3`.
    pub fn window_returns() -> &'static str {
        daily::WINDOW_RETURNS
    }

    /// One stock's bars in `$2..=$3`, with the factors of anchor `$4` and before `$2`
    /// (tried since `$5` and `$6`).
    pub fn adjusted() -> &'static str {
        &daily::ADJUSTED
    }
}
