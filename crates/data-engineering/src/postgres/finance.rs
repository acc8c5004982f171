//! `PgStockFinanceRepository`: financial indicators on PostgreSQL.

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
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
        Ok(Entity::find()
            .filter(Column::ThirdCode.eq(code.as_str()))
            .order_by_desc(Column::EndDate)
            .order_by_desc(Column::AnnDate)
            .limit(limit)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(StockFinance::from)
            .collect())
    }
}
