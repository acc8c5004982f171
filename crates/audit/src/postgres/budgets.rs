//! [`BudgetRepository`] on PostgreSQL: budgets in `llm_budgets`, spend read as costs are
//! (the days the rollup covers from it, the rest from the rows, in one snapshot), for the
//! calls of one configuration or model only.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use shared_db::{Db, RepoError};

use super::rollup::{self, CALL_COLUMNS, PRICED_CALLS, WindowSplit};
use crate::domain::{Budget, BudgetPeriod, BudgetScope, BudgetSpend, TimeWindow};
use crate::repository::BudgetRepository;

/// Budgets on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgBudgetRepository {
    db: Db,
}

impl PgBudgetRepository {
    /// A repository on `db` (whose clock says which period is current).
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The budgets, all or those covering `config` or `model`.
    async fn budgets(
        &self,
        covering: Option<(&str, Option<&str>)>,
    ) -> Result<Vec<Budget>, RepoError> {
        let (condition, values): (&str, Vec<sea_orm::Value>) = match covering {
            None => ("true", Vec::new()),
            Some((config, model)) => (
                "(scope = 'config' AND target = $1) OR (scope = 'model' AND target = $2)",
                vec![config.into(), model.unwrap_or("").into()],
            ),
        };
        let rows = self
            .db
            .conn()
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT scope, target, period, amount::float8, currency FROM llm_budgets \
                     WHERE {condition} ORDER BY scope, target, period, currency"
                ),
                values,
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Budget {
                    scope: row.try_get_by_index::<String>(0)?.parse()?,
                    target: row.try_get_by_index(1)?,
                    period: row.try_get_by_index::<String>(2)?.parse()?,
                    amount: row.try_get_by_index(3)?,
                    currency: row.try_get_by_index(4)?,
                })
            })
            .collect()
    }

    /// What each of `budgets` has spent in its current period.
    async fn with_spend(&self, budgets: Vec<Budget>) -> Result<Vec<BudgetSpend>, RepoError> {
        let now = self.db.now();
        let mut spends = Vec::with_capacity(budgets.len());
        for budget in budgets {
            let start = budget.period.start(now);
            let window = TimeWindow::new(start, now + chrono::Duration::microseconds(1))?;
            let spent = spent(&self.db, &budget, window).await?;
            spends.push(BudgetSpend::new(budget, start, spent));
        }
        Ok(spends)
    }
}

/// What the calls `budget` covers cost within `window`, in its currency.
async fn spent(db: &Db, budget: &Budget, window: TimeWindow) -> Result<f64, RepoError> {
    let filter = match budget.scope {
        BudgetScope::Config => "config_alias = $2",
        BudgetScope::Model => "vendor || '/' || model_name = $2",
    };
    let values: Vec<sea_orm::Value> =
        vec![budget.currency.clone().into(), budget.target.clone().into()];
    db.read_snapshot(|db| {
        let values = values.clone();
        async move {
            let conn = db.conn();
            conn.execute_unprepared(rollup::NO_JIT).await?;
            let split = WindowSplit::of(conn, rollup::LLM, window).await?;
            let sql = format!(
                "WITH calls AS (\
                     SELECT {CALL_COLUMNS} FROM {} WHERE {filter}), \
                 {PRICED_CALLS} \
                 SELECT (coalesce((SELECT sum(cost) FROM priced WHERE currency = $1), 0) \
                       + coalesce((SELECT sum(cost) FROM llm_call_daily \
                                   WHERE day = ANY({}) AND currency = $1 AND {filter}), 0))::float8",
                split.rows_from(rollup::LLM),
                split.days_array(),
            );
            let row = conn
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    sql,
                    values,
                ))
                .await?;
            Ok(match row {
                Some(row) => row.try_get_by_index::<f64>(0)?,
                None => 0.0,
            })
        }
    })
    .await
}

#[async_trait]
impl BudgetRepository for PgBudgetRepository {
    async fn set(&self, budget: &Budget) -> Result<(), RepoError> {
        budget.validate()?;
        self.db
            .conn()
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "INSERT INTO llm_budgets (scope, target, period, amount, currency) \
                 VALUES ($1, $2, $3, $4::numeric, $5) \
                 ON CONFLICT (scope, target, period, currency) DO UPDATE \
                 SET amount = EXCLUDED.amount, updated_at = now() AT TIME ZONE 'utc'",
                [
                    budget.scope.as_str().into(),
                    budget.target.clone().into(),
                    budget.period.as_str().into(),
                    budget.amount.into(),
                    budget.currency.clone().into(),
                ],
            ))
            .await?;
        Ok(())
    }

    async fn remove(
        &self,
        scope: BudgetScope,
        target: &str,
        period: BudgetPeriod,
        currency: &str,
    ) -> Result<bool, RepoError> {
        let done = self
            .db
            .conn()
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "DELETE FROM llm_budgets \
                 WHERE scope = $1 AND target = $2 AND period = $3 AND currency = $4",
                [
                    scope.as_str().into(),
                    target.into(),
                    period.as_str().into(),
                    currency.into(),
                ],
            ))
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn spend(&self) -> Result<Vec<BudgetSpend>, RepoError> {
        let budgets = self.budgets(None).await?;
        self.with_spend(budgets).await
    }

    async fn spend_for(
        &self,
        config_alias: &str,
        model: Option<&str>,
    ) -> Result<Vec<BudgetSpend>, RepoError> {
        let budgets = self.budgets(Some((config_alias, model))).await?;
        self.with_spend(budgets).await
    }
}
