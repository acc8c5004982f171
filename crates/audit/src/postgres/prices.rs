//! [`ModelPriceRepository`] on PostgreSQL: prices through their entity, costs by one
//! statement (`priced_costs.sql`) that prices every call at its own time.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Statement,
};
use shared_db::{Db, RepoError};

use crate::domain::{CostBy, CostRow, CostScope, ModelPrice};
use crate::entity::llm_model_prices as prices;
use crate::repository::ModelPriceRepository;

/// Model prices on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgModelPriceRepository {
    db: Db,
}

impl PgModelPriceRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The statement after the `calls` CTE: segments of prices, each call priced by a join.
const PRICED_COSTS: &str = include_str!("priced_costs.sql");

#[async_trait]
impl ModelPriceRepository for PgModelPriceRepository {
    async fn set(&self, price: &ModelPrice) -> Result<(), RepoError> {
        price.validate()?;
        let row = prices::ActiveModel {
            vendor: Set(price.vendor.clone()),
            model: Set(price.model.clone()),
            effective_from: Set(price.effective_from),
            input_per_million: Set(price.input_per_million),
            output_per_million: Set(price.output_per_million),
            cached_input_per_million: Set(price.cached_input_per_million),
            currency: Set(price.currency.clone()),
            // The identity and `created_at` are the database's.
            ..Default::default()
        };
        prices::Entity::insert(row)
            .exec_without_returning(self.db.conn())
            .await?;
        Ok(())
    }

    async fn list(&self, vendor: Option<&str>) -> Result<Vec<ModelPrice>, RepoError> {
        let mut query = prices::Entity::find();
        if let Some(vendor) = vendor {
            query = query.filter(prices::Column::Vendor.eq(vendor));
        }
        let rows = query
            .order_by_asc(prices::Column::Vendor)
            .order_by_asc(prices::Column::Model)
            .order_by_asc(prices::Column::EffectiveFrom)
            .all(self.db.conn())
            .await?;
        Ok(rows.into_iter().map(ModelPrice::from).collect())
    }

    async fn costs(&self, scope: CostScope, by: CostBy) -> Result<Vec<CostRow>, RepoError> {
        let (scope_sql, values): (&str, Vec<sea_orm::Value>) = match scope {
            CostScope::Window(window) => (
                "created_at >= $1 AND created_at < $2",
                vec![window.from.into(), window.to.into()],
            ),
            CostScope::Session(id) => ("session_id = $1", vec![id.into()]),
        };
        let group = match by {
            CostBy::Model => "vendor || '/' || model_name",
            CostBy::Agent => "coalesce(caller_agent, '-')",
            CostBy::Day => "to_char(created_at, 'YYYY-MM-DD')",
            CostBy::Total => "'*'",
        };
        let sql = format!(
            "WITH calls AS (\
                 SELECT vendor, model_name, created_at, {group} AS grp, \
                        coalesce(prompt_tokens, 0)::numeric AS prompt_tokens, \
                        coalesce(completion_tokens, 0)::numeric AS completion_tokens \
                 FROM llm_call_logs WHERE {scope_sql}), \n{PRICED_COSTS}"
        );
        let statement = &Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values);
        self.db
            .read(|conn| async move {
                Ok(CostRow::find_by_statement(statement.clone())
                    .all(&conn)
                    .await?)
            })
            .await
    }
}

impl From<prices::Model> for ModelPrice {
    fn from(m: prices::Model) -> Self {
        Self {
            vendor: m.vendor,
            model: m.model,
            effective_from: m.effective_from,
            input_per_million: m.input_per_million,
            output_per_million: m.output_per_million,
            cached_input_per_million: m.cached_input_per_million,
            currency: m.currency,
        }
    }
}
