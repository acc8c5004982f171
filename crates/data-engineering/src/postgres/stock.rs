//! `PgStockRepository`: the stock list on PostgreSQL.

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};
use shared_db::Accessor::{Date, Text};
use shared_db::{
    BulkColumn, BulkRow, BulkTable, Db, InvalidInput, Page, RepoError, UpsertReport, upsert,
};

use super::checked_limit;
use crate::domain::{Stock, StockInfo, ThirdCode};
use crate::entity::stock_info::{Column, Entity};
use crate::repository::StockRepository;

/// The stock list on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStockRepository {
    db: Db,
}

impl PgStockRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// `stock_info` as the bulk engine writes it: one entry per column, with its accessor.
const STOCK_INFO: BulkTable<StockInfo> = BulkTable::new(
    "stock_info",
    &[
        BulkColumn::key("third_code", Text(|s| Some(s.third_code.as_str()))),
        BulkColumn::value("symbol", Text(|s| Some(&s.symbol))),
        BulkColumn::value("name", Text(|s| Some(&s.name))),
        BulkColumn::value("area", Text(|s| s.area.as_deref())),
        BulkColumn::value("industry", Text(|s| s.industry.as_deref())),
        BulkColumn::value("market", Text(|s| s.market.as_deref())),
        BulkColumn::value("list_date", Date(|s| s.list_date)),
        BulkColumn::value("fullname", Text(|s| s.fullname.as_deref())),
        BulkColumn::value("enname", Text(|s| s.enname.as_deref())),
        BulkColumn::value("cnspell", Text(|s| s.cnspell.as_deref())),
        BulkColumn::value("exchange", Text(|s| s.exchange.as_deref())),
        BulkColumn::value("curr_type", Text(|s| s.curr_type.as_deref())),
        BulkColumn::value("list_status", Text(|s| s.list_status.as_deref())),
        BulkColumn::value("delist_date", Date(|s| s.delist_date)),
        BulkColumn::value("is_hs", Text(|s| s.is_hs.as_deref())),
        BulkColumn::value("source", Text(|s| s.source.as_deref())),
        BulkColumn::keep_if_null("last_finance_sync_date", Date(|s| s.last_finance_sync_date)),
    ],
);

impl BulkRow for StockInfo {
    type Key<'a> = &'a str;
    const TABLE: &'static BulkTable<Self> = &STOCK_INFO;

    fn key(&self) -> &str {
        self.third_code.as_str()
    }

    fn validate(&self) -> Result<(), InvalidInput> {
        StockInfo::validate(self)
    }
}

#[async_trait]
impl StockRepository for PgStockRepository {
    async fn save(&self, stock: StockInfo) -> Result<Stock, RepoError> {
        let code = stock.third_code.clone();
        upsert(&self.db, vec![stock]).await?;
        // Read back on the primary: a replica may not have the row yet.
        Entity::find()
            .filter(Column::ThirdCode.eq(code.as_str()))
            .one(self.db.conn())
            .await?
            .map(Stock::from)
            .ok_or_else(|| RepoError::NotFound {
                entity: "stock",
                key: code.to_string(),
            })
    }

    async fn save_all(&self, stocks: Vec<StockInfo>) -> Result<UpsertReport, RepoError> {
        upsert(&self.db, stocks).await
    }

    async fn get_by_symbol(&self, symbol: &str) -> Result<Option<Stock>, RepoError> {
        let row = self
            .db
            .read(|conn| async move {
                Ok(Entity::find()
                    .filter(Column::Symbol.eq(symbol))
                    .one(&conn)
                    .await?)
            })
            .await?;
        Ok(row.map(Stock::from))
    }

    async fn get_by_third_code(&self, code: &ThirdCode) -> Result<Option<Stock>, RepoError> {
        let row = self
            .db
            .read(|conn| async move {
                Ok(Entity::find()
                    .filter(Column::ThirdCode.eq(code.as_str()))
                    .one(&conn)
                    .await?)
            })
            .await?;
        Ok(row.map(Stock::from))
    }

    async fn get_by_third_codes(&self, codes: &[ThirdCode]) -> Result<Vec<Stock>, RepoError> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .read(|conn| async move {
                Ok(Entity::find()
                    .filter(Column::ThirdCode.is_in(codes.iter().map(ThirdCode::as_str)))
                    .order_by_asc(Column::ThirdCode)
                    .all(&conn)
                    .await?)
            })
            .await?;
        Ok(rows.into_iter().map(Stock::from).collect())
    }

    async fn get_all(&self, page: Page) -> Result<Vec<Stock>, RepoError> {
        let rows = self
            .db
            .read(|conn| async move {
                Ok(Entity::find()
                    .order_by_asc(Column::Id)
                    .offset(page.skip())
                    .limit(page.limit())
                    .all(&conn)
                    .await?)
            })
            .await?;
        Ok(rows.into_iter().map(Stock::from).collect())
    }

    async fn count(&self) -> Result<u64, RepoError> {
        self.db
            .read(|conn| async move { Ok(Entity::find().count(&conn).await?) })
            .await
    }

    async fn get_missing_finance_stocks(
        &self,
        period_end: NaiveDate,
        threshold_date: NaiveDate,
        limit: u64,
    ) -> Result<Vec<ThirdCode>, RepoError> {
        let limit = checked_limit(limit)?;
        // Citus plans no correlated subquery beside a reference table: there, the codes
        // reported for the period are read first (an intermediate result), then excluded.
        let reported = if self.db.is_citus().await? {
            "s.third_code NOT IN (SELECT third_code FROM stock_finance WHERE end_date = $1)"
        } else {
            "NOT EXISTS (SELECT 1 FROM stock_finance f \
                         WHERE f.third_code = s.third_code AND f.end_date = $1)"
        };
        let rows = self
            .db
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT s.third_code FROM stock_info s WHERE {reported} \
                     AND (s.last_finance_sync_date IS NULL OR s.last_finance_sync_date < $2) \
                     ORDER BY s.third_code LIMIT $3"
                ),
                [
                    period_end.into(),
                    threshold_date.into(),
                    (limit as i64).into(),
                ],
            ))
            .await?;
        rows.iter()
            .map(|row| Ok(ThirdCode::from_stored(row.try_get("", "third_code")?)))
            .collect()
    }

    async fn update_last_finance_sync_date(
        &self,
        codes: &[ThirdCode],
        date: NaiveDate,
    ) -> Result<u64, RepoError> {
        if codes.is_empty() {
            return Ok(0);
        }
        crate::domain::check_date("date", date)?;
        let result = Entity::update_many()
            .col_expr(Column::LastFinanceSyncDate, Expr::value(date))
            .filter(Column::ThirdCode.is_in(codes.iter().map(ThirdCode::as_str)))
            .exec(self.db.conn())
            .await?;
        Ok(result.rows_affected)
    }
}
