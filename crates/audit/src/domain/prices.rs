//! Model prices from the time they took effect, and what the LLM calls cost at them.

use chrono::NaiveDateTime;
use sea_orm::FromQueryResult;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_currency, check_finite, check_len, check_not_empty};
use uuid::Uuid;

use super::TimeWindow;

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
    /// Per million cached prompt tokens (a call's `cached_prompt_tokens`); `None`: cached
    /// tokens cost `input_per_million`.
    pub cached_input_per_million: Option<f64>,
    /// Per million reasoning tokens (a call's `reasoning_tokens`), for vendors that bill
    /// them apart from other output; `None`: they cost `output_per_million`.
    #[serde(default)]
    pub reasoning_output_per_million: Option<f64>,
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
            (
                "reasoning_output_per_million",
                self.reasoning_output_per_million,
            ),
        ] {
            check_finite(field, value)?;
            if let Some(value) = value.filter(|v| *v < 0.0) {
                return Err(InvalidInput::new(field, value, "must not be negative"));
            }
        }
        check_currency("currency", &self.currency)
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
    /// One row per LLM configuration alias that served the calls: `-` for calls without one
    /// (the earlier service's).
    Config,
    /// One row for all.
    Total,
}

/// The cost of one group in one currency. Calls no price covers form rows of their own,
/// with `currency` and `cost` `None`: unpriced is not free. Days rolled up count from the
/// rollup (see [`crate::RollupReport`]), the others from the rows: a window of whole days
/// costs the same before and after retention drops its rows.
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
    /// Of their prompt tokens, those served from a cache.
    #[serde(default)]
    pub cached_prompt_tokens: i64,
    /// Their completion tokens.
    pub completion_tokens: i64,
    /// Of their completion tokens, those spent reasoning.
    #[serde(default)]
    pub reasoning_tokens: i64,
    /// Their calls that recorded neither cached nor reasoning tokens, charged as every
    /// prompt token input and every completion token output: a cost that may be too high
    /// where the vendor cached part of the prompt.
    #[serde(default)]
    pub calls_without_breakdown: i64,
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
            reasoning_output_per_million: None,
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
