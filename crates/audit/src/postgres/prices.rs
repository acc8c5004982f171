//! [`ModelPriceRepository`] on PostgreSQL: prices through their entity, costs by one
//! statement (`priced_costs.sql`) that prices every call at its own time.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, Statement,
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

use super::rollup::{self, CALL_COLUMNS, PRICED_CALLS, WindowSplit};

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
            // Schema version 10's column, named only when given (see `set_given`).
            reasoning_output_per_million: super::logs::set_given(
                price.reasoning_output_per_million,
            ),
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
        // A session's rollup has its days only: other breakdowns of days whose rows are
        // gone are one group.
        let session_group = match by {
            CostBy::Day => "to_char(day, 'YYYY-MM-DD')",
            CostBy::Total => "'*'",
            CostBy::Model | CostBy::Agent | CostBy::Config => "'(past retention)'",
        };
        // The same on the rows and on a rollup, but for the day: a rollup row has one.
        let group = match by {
            CostBy::Model => "vendor || '/' || model_name",
            CostBy::Agent => "coalesce(nullif(caller_agent, ''), '-')",
            CostBy::Config => "coalesce(nullif(config_alias, ''), '-')",
            CostBy::Day => "to_char(day, 'YYYY-MM-DD')",
            CostBy::Total => "'*'",
        };
        let rows_group = match by {
            CostBy::Day => "to_char(created_at, 'YYYY-MM-DD')",
            _ => group,
        };
        self.db
            .read_snapshot(|db| async move {
                let conn = db.conn();
                conn.execute_unprepared(rollup::NO_JIT).await?;
                let (rows, rolled) = match scope {
                    CostScope::Window(window) => {
                        let split = WindowSplit::of(conn, rollup::LLM, window).await?;
                        (
                            format!(
                                "SELECT {CALL_COLUMNS}, {rows_group} AS grp FROM {}",
                                split.rows_from(rollup::LLM)
                            ),
                            format!(
                                "SELECT *, {group} AS grp FROM llm_call_daily WHERE day = ANY({})",
                                split.days_array()
                            ),
                        )
                    }
                    // A session's calls are read from the rows while they are stored,
                    // every breakdown at hand; `llm_session_daily` (totals per day and
                    // currency) counts the days whose rows retention dropped.
                    CostScope::Session(id) => (
                        format!(
                            "SELECT {CALL_COLUMNS}, {rows_group} AS grp FROM llm_call_logs \
                             WHERE session_id = '{id}'"
                        ),
                        format!(
                            "SELECT *, {session_group} AS grp FROM llm_session_daily s \
                             WHERE session_id = '{id}' AND EXISTS (\
                                 SELECT 1 FROM audit_rollup_days r \
                                 WHERE r.log = 'llm_call_logs' AND r.day = s.day) \
                             AND NOT EXISTS (\
                                 SELECT 1 FROM llm_call_logs l WHERE l.session_id = s.session_id \
                                 AND l.created_at >= s.day AND l.created_at < s.day + 1)"
                        ),
                    ),
                };
                let sql = format!(
                    "WITH calls AS ({rows}), {PRICED_CALLS}, rolled AS ({rolled}), \
                     together AS (\
                         SELECT grp, currency, count(*) AS calls, sum(cost) AS cost, \
                                sum(prompt_tokens) AS prompt_tokens, \
                                sum(cached_prompt_tokens) AS cached_prompt_tokens, \
                                sum(completion_tokens) AS completion_tokens, \
                                sum(reasoning_tokens) AS reasoning_tokens, \
                                count(*) FILTER (WHERE no_breakdown) AS calls_without_breakdown \
                         FROM priced GROUP BY grp, currency \
                         UNION ALL \
                         SELECT grp, nullif(currency, ''), sum(calls), sum(cost), \
                                sum(prompt_tokens), sum(cached_prompt_tokens), \
                                sum(completion_tokens), sum(reasoning_tokens), \
                                sum(calls_without_breakdown) \
                         FROM rolled GROUP BY grp, currency) \
                     SELECT grp AS \"group\", currency, sum(calls)::bigint AS calls, \
                            sum(cost)::float8 AS cost, \
                            coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens, \
                            coalesce(sum(cached_prompt_tokens), 0)::bigint AS cached_prompt_tokens, \
                            coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens, \
                            coalesce(sum(reasoning_tokens), 0)::bigint AS reasoning_tokens, \
                            sum(calls_without_breakdown)::bigint AS calls_without_breakdown \
                     FROM together GROUP BY grp, currency ORDER BY grp, currency NULLS LAST"
                );
                let statement = Statement::from_string(DatabaseBackend::Postgres, sql);
                Ok(CostRow::find_by_statement(statement).all(conn).await?)
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
            reasoning_output_per_million: m.reasoning_output_per_million,
            currency: m.currency,
        }
    }
}
