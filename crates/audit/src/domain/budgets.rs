//! Spending budgets per LLM configuration or model, per day or month, and the spend
//! against each.

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_currency, check_finite, check_len, check_not_empty};

shared_db::string_enum! {
    /// The calls a budget covers, stored as `config` / `model`.
    pub enum BudgetScope, field "scope" {
        /// The calls one LLM configuration served (by its alias).
        Config = "config",
        /// The calls of one model (`vendor/model_name`).
        Model = "model",
    }
}

shared_db::string_enum! {
    /// How long a budget's period runs, stored as `day` / `month`; periods are UTC
    /// calendar days and months.
    pub enum BudgetPeriod, field "period" {
        /// From midnight UTC.
        Day = "day",
        /// From the first of the month, midnight UTC.
        Month = "month",
    }
}

impl BudgetPeriod {
    /// The start of the period that holds `now`.
    pub fn start(self, now: NaiveDateTime) -> NaiveDateTime {
        let day = now.date();
        let first = match self {
            Self::Day => day,
            Self::Month => NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day),
        };
        first.and_time(chrono::NaiveTime::MIN)
    }
}

/// Spend at or above this share of a budget is `Near`.
pub const NEAR_SHARE: f64 = 0.8;

/// A budget: at most `amount` of `currency` per `period` on the calls of `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Which calls it covers.
    pub scope: BudgetScope,
    /// The configuration alias, or `vendor/model_name`.
    pub target: String,
    /// Its period.
    pub period: BudgetPeriod,
    /// The most that may be spent in one period.
    pub amount: f64,
    /// ISO 4217 code; calls priced in another currency do not count against it.
    pub currency: String,
}

impl Budget {
    /// Checks the target (not empty, at most 151 characters; a model as `vendor/model`),
    /// the amount (finite, more than 0) and the currency code.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("target", &self.target)?;
        check_len("target", Some(&self.target), 151)?;
        if self.scope == BudgetScope::Model
            && !self
                .target
                .split_once('/')
                .is_some_and(|(vendor, model)| !vendor.is_empty() && !model.is_empty())
        {
            return Err(InvalidInput::new(
                "target",
                &self.target,
                "a model as vendor/model_name",
            ));
        }
        check_finite("amount", Some(self.amount))?;
        if self.amount <= 0.0 {
            return Err(InvalidInput::new(
                "amount",
                self.amount,
                "must be more than 0",
            ));
        }
        check_currency("currency", &self.currency)
    }
}

/// Where spend stands against a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    /// Below [`NEAR_SHARE`] of it.
    Within,
    /// At or above [`NEAR_SHARE`], below all of it.
    Near,
    /// All of it spent, or more.
    Exceeded,
}

/// A budget and what its current period has spent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetSpend {
    /// The budget.
    pub budget: Budget,
    /// When its current period started (UTC).
    pub period_start: NaiveDateTime,
    /// What the calls it covers cost since then, in its currency.
    pub spent: f64,
    /// `spent / amount`.
    pub share: f64,
    /// Where that stands.
    pub state: BudgetState,
}

impl BudgetSpend {
    /// `budget` having spent `spent` since `period_start`.
    pub fn new(budget: Budget, period_start: NaiveDateTime, spent: f64) -> Self {
        let share = spent / budget.amount;
        let state = if share >= 1.0 {
            BudgetState::Exceeded
        } else if share >= NEAR_SHARE {
            BudgetState::Near
        } else {
            BudgetState::Within
        };
        Self {
            budget,
            period_start,
            spent,
            share,
            state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(scope: BudgetScope, target: &str, amount: f64) -> Budget {
        Budget {
            scope,
            target: target.into(),
            period: BudgetPeriod::Month,
            amount,
            currency: "CNY".into(),
        }
    }

    #[test]
    fn budgets_are_checked_field_by_field() {
        assert!(
            budget(BudgetScope::Config, "research", 100.0)
                .validate()
                .is_ok()
        );
        assert!(
            budget(BudgetScope::Model, "deepseek/deepseek-chat", 1.0)
                .validate()
                .is_ok()
        );
        for (bad, field) in [
            (budget(BudgetScope::Model, "deepseek-chat", 1.0), "target"),
            (budget(BudgetScope::Config, "", 1.0), "target"),
            (budget(BudgetScope::Config, "research", 0.0), "amount"),
            (
                budget(BudgetScope::Config, "research", f64::INFINITY),
                "amount",
            ),
        ] {
            assert_eq!(bad.validate().unwrap_err().field, field);
        }
    }

    #[test]
    fn periods_start_at_utc_midnight_and_the_first_of_the_month() {
        let now: NaiveDateTime = "2026-12-06T13:25:00".parse().unwrap();
        assert_eq!(
            BudgetPeriod::Day.start(now).to_string(),
            "2026-12-06 00:00:00"
        );
        assert_eq!(
            BudgetPeriod::Month.start(now).to_string(),
            "2026-12-01 00:00:00"
        );
        let b = budget(BudgetScope::Config, "research", 10.0);
        assert_eq!(
            BudgetSpend::new(b.clone(), now, 7.9).state,
            BudgetState::Within
        );
        assert_eq!(
            BudgetSpend::new(b.clone(), now, 8.0).state,
            BudgetState::Near
        );
        assert_eq!(BudgetSpend::new(b, now, 10.0).state, BudgetState::Exceeded);
    }
}
