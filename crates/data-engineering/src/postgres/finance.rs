//! `PgStockFinanceRepository`: financial indicators on PostgreSQL.

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::{
    ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use shared_db::Accessor::{Date, Float8, Text};
use shared_db::{
    BulkColumn, BulkRow, BulkTable, Db, InvalidInput, Merge, RepoError, UpsertReport, upsert,
    upsert_with,
};

use super::checked_limit;
use crate::domain::{StockFinance, ThirdCode, finance_indicators};
use crate::entity::stock_finance::{Column, Entity};
use crate::repository::StockFinanceRepository;

/// Financial indicators on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStockFinanceRepository {
    db: Db,
}

impl PgStockFinanceRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

macro_rules! finance_bulk_row {
    ($($field:ident $doc:literal),* $(,)?) => {
        /// `stock_finance` as the bulk engine writes it: one entry per column, with its
        /// accessor; the indicator columns come from `finance_indicators!`.
        const STOCK_FINANCE: BulkTable<StockFinance> = BulkTable::new(
            "stock_finance",
            &[
                BulkColumn::key("third_code", Text(|f| Some(f.third_code.as_str()))),
                BulkColumn::key("ann_date", Date(|f| Some(f.ann_date))),
                BulkColumn::key("end_date", Date(|f| Some(f.end_date))),
                $(BulkColumn::value(stringify!($field), Float8(|f| f.$field)),)*
                BulkColumn::value("source", Text(|f| f.source.as_deref())),
            ],
        );

        impl BulkRow for StockFinance {
            type Key<'a> = (&'a str, NaiveDate, NaiveDate);
            const TABLE: &'static BulkTable<Self> = &STOCK_FINANCE;

            fn key(&self) -> (&str, NaiveDate, NaiveDate) {
                (self.third_code.as_str(), self.ann_date, self.end_date)
            }

            fn validate(&self) -> Result<(), InvalidInput> {
                StockFinance::validate(self)
            }
        }
    };
}
finance_indicators!(finance_bulk_row);

#[async_trait]
impl StockFinanceRepository for PgStockFinanceRepository {
    async fn save_all(&self, reports: Vec<StockFinance>) -> Result<UpsertReport, RepoError> {
        upsert(&self.db, reports).await
    }

    async fn merge_all(&self, reports: Vec<StockFinance>) -> Result<UpsertReport, RepoError> {
        upsert_with(&self.db, reports, Merge::KeepStored).await
    }

    async fn get_by_third_code_recent(
        &self,
        code: &ThirdCode,
        limit: u64,
    ) -> Result<Vec<StockFinance>, RepoError> {
        let limit = checked_limit(limit)?;
        let rows = self
            .db
            .read(|conn| async move {
                Ok(Entity::find()
                    .filter(Column::ThirdCode.eq(code.as_str()))
                    .order_by_desc(Column::EndDate)
                    .order_by_desc(Column::AnnDate)
                    .limit(limit)
                    .all(&conn)
                    .await?)
            })
            .await?;
        Ok(rows.into_iter().map(StockFinance::from).collect())
    }

    async fn get_as_of(
        &self,
        code: &ThirdCode,
        as_of: NaiveDate,
        periods: u64,
    ) -> Result<Vec<StockFinance>, RepoError> {
        let periods = checked_limit(periods)?;
        self.find(
            "SELECT DISTINCT ON (end_date) * FROM stock_finance \
             WHERE third_code = $1 AND ann_date <= $2 \
             ORDER BY end_date DESC, ann_date DESC LIMIT $3",
            vec![code.as_str().into(), as_of.into(), periods.into()],
        )
        .await
    }

    async fn get_market_as_of(&self, as_of: NaiveDate) -> Result<Vec<StockFinance>, RepoError> {
        let sql = if self.db.is_citus().await? {
            MARKET_AS_OF_CITUS
        } else {
            MARKET_AS_OF
        };
        self.find(sql, vec![as_of.into()]).await
    }

    async fn get_universe_as_of(
        &self,
        index: &ThirdCode,
        as_of: NaiveDate,
    ) -> Result<Vec<StockFinance>, RepoError> {
        let sql = if self.db.is_citus().await? {
            UNIVERSE_AS_OF_CITUS
        } else {
            UNIVERSE_AS_OF
        };
        self.find(sql, vec![as_of.into(), index.as_str().into()])
            .await
    }
}

/// A loose index scan over the codes (one index probe per stock, not a scan of every
/// version), then each stock's newest version known on `$1` from the index on
/// (third_code, end_date, ann_date).
const MARKET_AS_OF: &str = "WITH RECURSIVE codes (code) AS ( \
         SELECT min(third_code) FROM stock_finance \
         UNION ALL \
         SELECT (SELECT min(third_code) FROM stock_finance WHERE third_code > code) \
         FROM codes WHERE code IS NOT NULL) \
     SELECT f.* FROM codes CROSS JOIN LATERAL ( \
         SELECT * FROM stock_finance \
         WHERE third_code = codes.code AND ann_date <= $1 \
         ORDER BY end_date DESC, ann_date DESC LIMIT 1) f \
     ORDER BY f.third_code";

/// [`MARKET_AS_OF`] on Citus, which plans no recursive query over a distributed table:
/// `DISTINCT ON` the distribution column runs on every shard at once.
const MARKET_AS_OF_CITUS: &str = "SELECT DISTINCT ON (third_code) * FROM stock_finance \
     WHERE ann_date <= $1 ORDER BY third_code, end_date DESC, ann_date DESC";

/// One probe per member of the snapshot in force on `$1` of index `$2`, as
/// [`MARKET_AS_OF`] per stock.
const UNIVERSE_AS_OF: &str = "SELECT f.* FROM index_weights w CROSS JOIN LATERAL ( \
         SELECT * FROM stock_finance \
         WHERE third_code = w.con_code AND ann_date <= $1 \
         ORDER BY end_date DESC, ann_date DESC LIMIT 1) f \
     WHERE w.index_code = $2 AND w.trade_date = ( \
         SELECT max(trade_date) FROM index_weights WHERE index_code = $2 AND trade_date <= $1) \
     ORDER BY f.third_code";

/// [`UNIVERSE_AS_OF`] on Citus, which plans no lateral `LIMIT` over the coordinator's
/// rows: the members are read first (on the coordinator), then pushed to the shards.
const UNIVERSE_AS_OF_CITUS: &str = "SELECT DISTINCT ON (f.third_code) f.* FROM stock_finance f \
     WHERE f.ann_date <= $1 AND f.third_code IN ( \
         SELECT w.con_code FROM index_weights w \
         WHERE w.index_code = $2 AND w.trade_date = ( \
             SELECT max(trade_date) FROM index_weights \
             WHERE index_code = $2 AND trade_date <= $1)) \
     ORDER BY f.third_code, f.end_date DESC, f.ann_date DESC";

impl PgStockFinanceRepository {
    async fn find(
        &self,
        sql: &'static str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Vec<StockFinance>, RepoError> {
        let statement = Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values);
        let statement = &statement;
        let rows = self
            .db
            .read(|conn| async move {
                Ok(Entity::find()
                    .from_raw_sql(statement.clone())
                    .all(&conn)
                    .await?)
            })
            .await?;
        Ok(rows.into_iter().map(StockFinance::from).collect())
    }
}
