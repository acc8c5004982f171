//! What LLM calls cost: model prices with the time they took effect
//! (`llm_model_prices`), and costs computed in SQL with the price in force when each call
//! ran.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::{DatabaseBackend, FromQueryResult, Statement};
use serde::{Deserialize, Serialize};
use shared_db::{Db, InvalidInput, RepoError, check_finite, check_len, check_not_empty};
use uuid::Uuid;

use crate::domain::TimeWindow;

/// A model's price from `effective_from` on, per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// The vendor, as `llm_call_logs.vendor` spells it.
    pub vendor: String,
    /// The model's exact name, or a prefix ending in `*` (`deepseek-*`).
    pub model: String,
    /// When it took effect (UTC): calls from then on cost this, until a later price.
    pub effective_from: NaiveDateTime,
    /// Per million prompt tokens.
    pub input_per_million: f64,
    /// Per million completion tokens.
    pub output_per_million: f64,
    /// Per million cached prompt tokens. Stored for the record: calls do not record how
    /// many of their tokens were cached, so every prompt token costs `input_per_million`.
    pub cached_input_per_million: Option<f64>,
    /// ISO 4217 code (`CNY`, `USD`).
    pub currency: String,
}

impl ModelPrice {
    /// Checks names, amounts (finite, not negative) and the currency code.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("vendor", &self.vendor)?;
        check_len("vendor", Some(&self.vendor), 50)?;
        check_not_empty("model", &self.model)?;
        check_len("model", Some(&self.model), 100)?;
        let stem = self.model.strip_suffix('*').unwrap_or(&self.model);
        if stem.is_empty() || stem.contains('*') {
            return Err(InvalidInput::new(
                "model",
                &self.model,
                "an exact name, or a prefix followed by one `*` at the end",
            ));
        }
        for (field, value) in [
            ("input_per_million", Some(self.input_per_million)),
            ("output_per_million", Some(self.output_per_million)),
            ("cached_input_per_million", self.cached_input_per_million),
        ] {
            check_finite(field, value)?;
            if let Some(value) = value.filter(|v| *v < 0.0) {
                return Err(InvalidInput::new(field, value, "must not be negative"));
            }
        }
        if !(self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(InvalidInput::new(
                "currency",
                &self.currency,
                "an ISO 4217 code: three capital letters",
            ));
        }
        Ok(())
    }
}

/// Which calls a cost covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostScope {
    /// Calls created in the window.
    Window(TimeWindow),
    /// Calls of one research session.
    Session(Uuid),
}

/// How a cost is broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostBy {
    /// One row per `vendor/model_name`.
    Model,
    /// One row per `caller_agent` (a research session's nodes): `-` for calls without one.
    Agent,
    /// One row per UTC day (`YYYY-MM-DD`).
    Day,
    /// One row for all.
    Total,
}

/// The cost of one group in one currency. Calls no price covers form rows of their own,
/// with `currency` and `cost` `None`: unpriced is not free.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FromQueryResult)]
pub struct CostRow {
    /// The group (`vendor/model`, agent or day); `*` for [`CostBy::Total`].
    pub group: String,
    /// The currency, or `None` for unpriced calls.
    pub currency: Option<String>,
    /// Calls in this row.
    pub calls: i64,
    /// Their cost, or `None` for unpriced calls.
    pub cost: Option<f64>,
    /// Their prompt tokens.
    pub prompt_tokens: i64,
    /// Their completion tokens.
    pub completion_tokens: i64,
}

/// Model prices (`llm_model_prices`).
#[async_trait]
pub trait ModelPriceRepository: Send + Sync {
    /// Records a price from `price.effective_from` on. Prices are history: a price of the
    /// same vendor, model and time already stored is `Conflict` (record a later one).
    async fn set(&self, price: &ModelPrice) -> Result<(), RepoError>;

    /// Every price, of one vendor or of all, by vendor, model, then `effective_from`.
    async fn list(&self, vendor: Option<&str>) -> Result<Vec<ModelPrice>, RepoError>;

    /// What the LLM calls of `scope` cost, broken down `by`, ordered by group then
    /// currency (unpriced last). A call costs `prompt_tokens × input + completion_tokens ×
    /// output` per million, at the price in force when it was created: the most specific
    /// one (an exact model name over a prefix, a longer prefix over a shorter) of those
    /// of its vendor with `effective_from` at or before the call; among the prices of that
    /// model or prefix, the newest such. A call before any price of its model is unpriced.
    async fn costs(&self, scope: CostScope, by: CostBy) -> Result<Vec<CostRow>, RepoError>;
}

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

#[derive(FromQueryResult)]
struct PriceRow {
    vendor: String,
    model: String,
    effective_from: NaiveDateTime,
    input_per_million: f64,
    output_per_million: f64,
    cached_input_per_million: Option<f64>,
    currency: String,
}

/// The calls of a scope, each with the price in force when it ran. The prices that can
/// apply to the scope's models are cut into segments (from one `effective_from` to the
/// next, each with the most specific price in force), so a call is priced by a join on
/// its model and time, not by a lookup per call.
const PRICED: &str = "\
WITH calls AS (
    SELECT vendor, model_name, caller_agent, created_at,
           coalesce(prompt_tokens, 0)::numeric AS prompt_tokens,
           coalesce(completion_tokens, 0)::numeric AS completion_tokens
    FROM llm_call_logs WHERE {scope}),
models AS (SELECT DISTINCT vendor, model_name FROM calls),
candidates AS (
    SELECT m.vendor, m.model_name, p.effective_from, p.input_per_million,
           p.output_per_million, p.currency, p.model = m.model_name AS exact,
           length(p.model) AS specificity
    FROM models m JOIN llm_model_prices p ON p.vendor = m.vendor
     AND (p.model = m.model_name
          OR (right(p.model, 1) = '*' AND starts_with(m.model_name, left(p.model, -1))))),
starts AS (SELECT DISTINCT vendor, model_name, effective_from FROM candidates),
segments AS (
    SELECT s.vendor, s.model_name, s.effective_from AS valid_from,
           lead(s.effective_from) OVER (PARTITION BY s.vendor, s.model_name
                                        ORDER BY s.effective_from) AS valid_to,
           best.input_per_million, best.output_per_million, best.currency
    FROM starts s CROSS JOIN LATERAL (
        SELECT c.input_per_million, c.output_per_million, c.currency FROM candidates c
        WHERE c.vendor = s.vendor AND c.model_name = s.model_name
          AND c.effective_from <= s.effective_from
        ORDER BY c.exact DESC, c.specificity DESC, c.effective_from DESC LIMIT 1) best),
priced AS (
    SELECT calls.*, seg.currency,
           (calls.prompt_tokens * seg.input_per_million
            + calls.completion_tokens * seg.output_per_million) / 1000000 AS cost
    FROM calls LEFT JOIN segments seg
      ON seg.vendor = calls.vendor AND seg.model_name = calls.model_name
     AND calls.created_at >= seg.valid_from
     AND (seg.valid_to IS NULL OR calls.created_at < seg.valid_to))
SELECT {group} AS \"group\", currency, count(*) AS calls, sum(cost)::float8 AS cost,
       sum(prompt_tokens)::bigint AS prompt_tokens,
       sum(completion_tokens)::bigint AS completion_tokens
FROM priced GROUP BY 1, currency ORDER BY 1, currency NULLS LAST";

#[async_trait]
impl ModelPriceRepository for PgModelPriceRepository {
    async fn set(&self, price: &ModelPrice) -> Result<(), RepoError> {
        price.validate()?;
        sea_orm::ConnectionTrait::execute_raw(
            self.db.conn(),
            Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "INSERT INTO llm_model_prices (vendor, model, effective_from, input_per_million, \
                     output_per_million, cached_input_per_million, currency) \
                 VALUES ($1, $2, $3, $4::float8::numeric, $5::float8::numeric, \
                     $6::float8::numeric, $7)",
                [
                    price.vendor.clone().into(),
                    price.model.clone().into(),
                    price.effective_from.into(),
                    price.input_per_million.into(),
                    price.output_per_million.into(),
                    price.cached_input_per_million.into(),
                    price.currency.clone().into(),
                ],
            ),
        )
        .await?;
        Ok(())
    }

    async fn list(&self, vendor: Option<&str>) -> Result<Vec<ModelPrice>, RepoError> {
        let rows = PriceRow::find_by_statement(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT vendor, model, effective_from, input_per_million::float8 AS input_per_million, \
                    output_per_million::float8 AS output_per_million, \
                    cached_input_per_million::float8 AS cached_input_per_million, currency \
             FROM llm_model_prices WHERE $1::varchar IS NULL OR vendor = $1 \
             ORDER BY vendor, model, effective_from",
            [vendor.map(str::to_owned).into()],
        ))
        .all(self.db.conn())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ModelPrice {
                vendor: r.vendor,
                model: r.model,
                effective_from: r.effective_from,
                input_per_million: r.input_per_million,
                output_per_million: r.output_per_million,
                cached_input_per_million: r.cached_input_per_million,
                currency: r.currency,
            })
            .collect())
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
        let sql = PRICED
            .replace("{scope}", scope_sql)
            .replace("{group}", group);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn price(model: &str, currency: &str, input: f64) -> ModelPrice {
        ModelPrice {
            vendor: "deepseek".into(),
            model: model.into(),
            effective_from: NaiveDateTime::default(),
            input_per_million: input,
            output_per_million: 8.0,
            cached_input_per_million: None,
            currency: currency.into(),
        }
    }

    #[test]
    fn prices_are_checked_field_by_field() {
        assert!(price("deepseek-chat", "CNY", 2.0).validate().is_ok());
        assert!(price("deepseek-*", "CNY", 2.0).validate().is_ok());
        for (bad, field) in [
            (price("*", "CNY", 2.0), "model"),
            (price("deep*seek", "CNY", 2.0), "model"),
            (price("deepseek-chat", "cny", 2.0), "currency"),
            (price("deepseek-chat", "CNY", -1.0), "input_per_million"),
            (price("deepseek-chat", "CNY", f64::NAN), "input_per_million"),
        ] {
            assert_eq!(bad.validate().unwrap_err().field, field);
        }
    }
}
