//! `stockdb llm budget set|list|remove`: spending budgets per LLM configuration or model,
//! per day or month, and what each has spent in its current period.

use clap::{Args, Subcommand};
use serde_json::json;
use stockdb::Stockdb;
use stockdb::audit::{Budget, BudgetPeriod, BudgetScope, BudgetSpend, BudgetState};

use super::output::{self, clean, print_json, print_table, table};

#[derive(Debug, Subcommand)]
pub(crate) enum BudgetCommand {
    /// Set a budget: at most --amount of --currency per day or month (UTC) on the calls of
    /// one configuration (--config ALIAS) or model (--model VENDOR/MODEL). Setting it again
    /// replaces the amount. `llm list`, `audit stats` and `db health` show the spend
    /// against it; `db health` warns from 80 % on.
    Set {
        #[command(flatten)]
        target: Target,
        /// The most that may be spent per period.
        #[arg(long)]
        amount: f64,
    },
    /// Every budget with what its current period has spent.
    List,
    /// Remove a budget.
    Remove {
        #[command(flatten)]
        target: Target,
    },
}

/// Which budget: its configuration or model, period and currency.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The calls one configuration served (its alias).
    #[arg(long, conflicts_with = "model", required_unless_present = "model")]
    config: Option<String>,
    /// The calls of one model, as `vendor/model_name`.
    #[arg(long)]
    model: Option<String>,
    /// `day` or `month`.
    #[arg(long, value_parser = |s: &str| s.parse::<BudgetPeriod>())]
    per: BudgetPeriod,
    /// ISO 4217 currency code: calls priced in another currency do not count.
    #[arg(long)]
    currency: String,
}

impl Target {
    fn scope_and_target(&self) -> (BudgetScope, String) {
        match (&self.config, &self.model) {
            (Some(alias), _) => (BudgetScope::Config, alias.clone()),
            (None, model) => (BudgetScope::Model, model.clone().unwrap_or_default()),
        }
    }
}

pub(crate) async fn run(db: &Stockdb, command: BudgetCommand, json: bool) -> anyhow::Result<()> {
    let budgets = db.budgets();
    match command {
        BudgetCommand::Set { target, amount } => {
            let (scope, name) = target.scope_and_target();
            let budget = Budget {
                scope,
                target: name,
                period: target.per,
                amount,
                currency: target.currency,
            };
            budgets.set(&budget).await?;
            if json {
                return print_json(&budget);
            }
            println!(
                "budget: at most {} {} per {} on {} {}",
                budget.amount,
                budget.currency,
                budget.period,
                budget.scope,
                clean(&budget.target)
            );
        }
        BudgetCommand::List => {
            let spend = budgets.spend().await?;
            if json {
                return print_json(&spend);
            }
            print_spend(&spend);
        }
        BudgetCommand::Remove { target } => {
            let (scope, name) = target.scope_and_target();
            if !budgets
                .remove(scope, &name, target.per, &target.currency)
                .await?
            {
                anyhow::bail!(
                    "no {} budget of {} {} in {}",
                    target.per,
                    scope,
                    clean(&name),
                    clean(&target.currency)
                );
            }
            if json {
                return print_json(&json!({"removed": {"scope": scope, "target": name}}));
            }
            println!(
                "removed the {} budget of {scope} {}",
                target.per,
                clean(&name)
            );
        }
    }
    Ok(())
}

/// Budgets and their spend as a table (nothing when there are none).
pub(crate) fn print_spend(spend: &[BudgetSpend]) {
    if spend.is_empty() {
        return;
    }
    output::heading("LLM budgets, spend in the current period");
    let mut t = table(&[
        "scope", "target", "per", "since", "spent", "budget", "currency", "used", "state",
    ]);
    for s in spend {
        let b = &s.budget;
        t.add_row(vec![
            b.scope.to_string(),
            clean(&b.target).into_owned(),
            b.period.to_string(),
            s.period_start.format("%Y-%m-%d").to_string(),
            format!("{:.4}", s.spent),
            format!("{:.2}", b.amount),
            b.currency.clone(),
            format!("{:.0}%", s.share * 100.0),
            match s.state {
                BudgetState::Within => "within",
                BudgetState::Near => "NEAR",
                BudgetState::Exceeded => "EXCEEDED",
            }
            .to_owned(),
        ]);
    }
    print_table(t);
}
