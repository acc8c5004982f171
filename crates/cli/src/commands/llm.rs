//! `stockdb llm …`: LLM configurations from the command line. A key is read from stdin
//! or from an environment variable, never from an argument (`ps` shows arguments to
//! every local account), and is never printed: listings show `***`.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::Context as _;
use chrono::NaiveDateTime;
use clap::{Args, Subcommand};
use serde_json::json;
use stockdb::Stockdb;
use stockdb::audit::ModelPrice;
use stockdb::llm_platform::{ApiKey, KeyOrigin, LlmConfig, NewLlmConfig, SecretCipher};

use super::args::parse_time;
use super::output::{clean, opt, print_json, print_table, table};

#[derive(Debug, Subcommand)]
pub(crate) enum LlmCommand {
    /// Every configuration, by priority then alias; keys shown as `***` (or why one
    /// cannot be read).
    List,
    /// Create or replace the configuration ALIAS. The key comes from stdin
    /// (`--key-stdin`; typed without echo on a terminal) or from an environment variable
    /// (`--key-env VAR`), never from an argument.
    Set(SetArgs),
    /// Let services use ALIAS.
    Activate {
        /// The configuration.
        alias: String,
    },
    /// Stop services from using ALIAS (it stays stored).
    Deactivate {
        /// The configuration.
        alias: String,
    },
    /// Delete ALIAS. Asks first: type the alias on a terminal, or pass --yes.
    Delete {
        /// The configuration.
        alias: String,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Encrypt, with STOCKDB_SECRET_KEY, every key stored in plaintext (the earlier
    /// service's rows), in the first scheme or with a previous key. A plaintext or
    /// first-scheme key is bound to its row's endpoint from then on: those rows are
    /// listed, and it asks first (type `bind` on a terminal, or pass --yes). Afterwards
    /// the database refuses first-scheme values. Safe to run again.
    Reencrypt {
        /// Bind without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Print a new random key for STOCKDB_SECRET_KEY (32 bytes, base64), which encrypts
    /// LLM API keys at rest. Keep it as you keep a password: keys encrypted with it cannot
    /// be read without it. Connects to nothing.
    Keygen,
    /// Model prices, which `audit stats` and `sessions show` cost calls with.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Spending budgets per configuration or model, per day or month.
    Budget {
        #[command(subcommand)]
        command: super::budget::BudgetCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PricesCommand {
    /// Every price, by vendor, model and the time it took effect.
    List {
        /// One vendor's only.
        #[arg(long)]
        vendor: Option<String>,
    },
    /// Record a price from --from on (default now). Calls before it keep the price they
    /// ran at: a price is never changed, a later one is added.
    Set {
        /// The vendor, as the calls record it (`deepseek`).
        vendor: String,
        /// The model's exact name, or a prefix ending in `*` (`deepseek-*`).
        model: String,
        /// Price per million prompt tokens.
        #[arg(long)]
        input: f64,
        /// Price per million completion tokens.
        #[arg(long)]
        output: f64,
        /// Price per million cached prompt tokens (calls' `cached_prompt_tokens`);
        /// default: the input price.
        #[arg(long)]
        cached_input: Option<f64>,
        /// Price per million reasoning tokens (calls' `reasoning_tokens`), where the
        /// vendor bills them apart; default: the output price.
        #[arg(long)]
        reasoning_output: Option<f64>,
        /// ISO 4217 currency code.
        #[arg(long)]
        currency: String,
        /// When it takes effect (UTC day or time); default now.
        #[arg(long, value_parser = parse_time)]
        from: Option<NaiveDateTime>,
    },
}

/// `stockdb llm set ALIAS …`.
#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// Unique name services ask for.
    alias: String,
    /// The vendor (`deepseek`, `openai` …).
    #[arg(long)]
    vendor: String,
    /// The client protocol (`openai`, `anthropic`, `ollama` …).
    #[arg(long, default_value = "openai")]
    provider_type: String,
    /// The model's name at the vendor.
    #[arg(long)]
    model: String,
    /// Endpoint (http:// or https://); the vendor's default when absent.
    #[arg(long)]
    base_url: Option<String>,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// Lower is tried first (the earlier service's router sorts by it: never left empty).
    #[arg(long, default_value_t = NewLlmConfig::DEFAULT_PRIORITY)]
    priority: i32,
    /// A label (repeat for more).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Store it inactive.
    #[arg(long)]
    inactive: bool,
    /// Read the key from stdin (one line).
    #[arg(long, conflicts_with = "key_env")]
    key_stdin: bool,
    /// Read the key from this environment variable.
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
}

impl SetArgs {
    fn key(&self) -> anyhow::Result<ApiKey> {
        let key = match (&self.key_env, self.key_stdin) {
            (Some(var), _) if !is_variable_name(var) => anyhow::bail!(
                "--key-env takes the name of an environment variable (letters, digits and _); \
                 what was given is not one, and is not shown: it may be the key itself"
            ),
            (Some(var), _) => std::env::var(var)
                .with_context(|| format!("the key's environment variable {var} is not set"))?,
            (None, true) if std::io::stdin().is_terminal() => {
                rpassword::prompt_password(format!("API key for {}: ", clean(&self.alias)))
                    .context("reading the key from the terminal")?
            }
            (None, true) => {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the key from stdin")?;
                line
            }
            (None, false) => anyhow::bail!(
                "give the key with --key-stdin or --key-env VAR (never as an argument: every \
                 local account can read a process's arguments)"
            ),
        };
        Ok(ApiKey::new(key.trim_end_matches(['\r', '\n'])))
    }
}

/// True for a plausible environment variable name (`DEEPSEEK_API_KEY`): a key pasted in
/// its place is none (it has `-`, or is long), and must not be echoed.
fn is_variable_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !stockdb::llm_platform::looks_like_key(name)
        && !stockdb::shared_db::redact_text(name).contains(stockdb::shared_db::REDACTED)
}

/// `stockdb llm keygen`: a fresh `STOCKDB_SECRET_KEY`.
pub(crate) fn keygen(json: bool) -> anyhow::Result<()> {
    let key = SecretCipher::generate_key();
    if json {
        return print_json(&json!({ "STOCKDB_SECRET_KEY": key }));
    }
    println!("{key}");
    Ok(())
}

pub(crate) async fn run(db: &Stockdb, command: LlmCommand, json: bool) -> anyhow::Result<()> {
    let repo = db.llm_configs();
    match command {
        LlmCommand::List => {
            let configs = repo.list().await?;
            if json {
                return print_json(&configs);
            }
            print_configs(&configs);
            super::budget::print_spend(&db.budgets().spend().await?);
        }
        LlmCommand::Set(args) => {
            let mut config = NewLlmConfig::new(
                &args.alias,
                &args.vendor,
                &args.provider_type,
                &args.model,
                args.key()?,
            );
            config.base_url = args.base_url.clone();
            config.description = args.description.clone();
            config.priority = args.priority;
            config.tags = args.tags.clone();
            config.is_active = !args.inactive;
            let saved = repo.upsert(config).await?;
            report(json, &saved, "saved")?;
        }
        LlmCommand::Activate { alias } => {
            report(json, &repo.set_active(&alias, true).await?, "activated")?
        }
        LlmCommand::Deactivate { alias } => {
            report(json, &repo.set_active(&alias, false).await?, "deactivated")?;
        }
        LlmCommand::Delete { alias, yes } => {
            confirm_delete(&alias, yes)?;
            let deleted = repo.delete(&alias).await?;
            if !deleted {
                anyhow::bail!("no llm config {}", clean(&alias));
            }
            if json {
                return print_json(&json!({"deleted": alias}));
            }
            println!("deleted llm config {}", clean(&alias));
        }
        LlmCommand::Keygen => keygen(json)?,
        LlmCommand::Prices { command } => prices(db, command, json).await?,
        LlmCommand::Budget { command } => super::budget::run(db, command, json).await?,
        LlmCommand::Reencrypt { yes } => {
            let plan = repo.reencrypt_plan().await?;
            let binding: Vec<_> = plan.binding_newly().collect();
            if !binding.is_empty() {
                // The operator sees every endpoint a key is about to be bound to: a writer
                // of rows may have pointed one at their own host.
                let mut t = table(&["alias", "vendor", "provider", "base url", "stored"]);
                for upgrade in &binding {
                    t.add_row(vec![
                        clean(&upgrade.alias).into_owned(),
                        clean(&upgrade.vendor).into_owned(),
                        clean(&upgrade.provider_type).into_owned(),
                        upgrade
                            .base_url
                            .as_deref()
                            .map(shown_url)
                            .unwrap_or_else(|| "- (the vendor's default)".to_owned()),
                        match upgrade.origin {
                            KeyOrigin::Plaintext => "plaintext",
                            _ => "enc:v1",
                        }
                        .to_owned(),
                    ]);
                }
                if !json {
                    println!(
                        "{} key(s) will be bound to these endpoints, and sent only there from \
                         now on:",
                        binding.len()
                    );
                    print_table(t);
                }
                super::output::confirm(
                    "bind these keys to these endpoints",
                    "`bind`",
                    "bind",
                    yes,
                )?;
            }
            let report = repo.reencrypt(&plan).await?;
            if json {
                return print_json(&report);
            }
            println!(
                "re-encrypted {} key(s); {} already were: every key is now encrypted with the \
                 current key and scheme",
                report.reencrypted, report.already_current
            );
            if report.first_scheme_refused {
                println!("first-scheme (enc:v1) values are refused from now on");
            } else {
                println!(
                    "warning: refusing first-scheme (enc:v1) values could not be recorded: run \
                     this again as the owner of llm_configs"
                );
            }
        }
    }
    Ok(())
}

async fn prices(db: &Stockdb, command: PricesCommand, json: bool) -> anyhow::Result<()> {
    let repo = db.prices();
    match command {
        PricesCommand::List { vendor } => {
            let prices = repo.list(vendor.as_deref()).await?;
            if json {
                return print_json(&prices);
            }
            let mut t = table(&[
                "vendor",
                "model",
                "from (UTC)",
                "input /M",
                "output /M",
                "cached /M",
                "reasoning /M",
                "currency",
            ]);
            for p in &prices {
                t.add_row(vec![
                    clean(&p.vendor).into_owned(),
                    clean(&p.model).into_owned(),
                    p.effective_from.format("%Y-%m-%d %H:%M:%S").to_string(),
                    p.input_per_million.to_string(),
                    p.output_per_million.to_string(),
                    opt(p.cached_input_per_million),
                    opt(p.reasoning_output_per_million),
                    p.currency.clone(),
                ]);
            }
            print_table(t);
            println!("{} price(s)", prices.len());
        }
        PricesCommand::Set {
            vendor,
            model,
            input,
            output,
            cached_input,
            reasoning_output,
            currency,
            from,
        } => {
            let price = ModelPrice {
                vendor,
                model,
                effective_from: from.unwrap_or_else(shared_db::utc_now),
                input_per_million: input,
                output_per_million: output,
                cached_input_per_million: cached_input,
                reasoning_output_per_million: reasoning_output,
                currency,
            };
            repo.set(&price).await?;
            if json {
                return print_json(&price);
            }
            println!(
                "{}/{}: {} {} per million input tokens, {} output, from {} (UTC)",
                clean(&price.vendor),
                clean(&price.model),
                price.input_per_million,
                price.currency,
                price.output_per_million,
                price.effective_from
            );
        }
    }
    Ok(())
}

fn report(json: bool, config: &LlmConfig, what: &str) -> anyhow::Result<()> {
    if json {
        return print_json(config);
    }
    println!(
        "{what} llm config {} ({} {}), {}",
        clean(&config.alias),
        clean(&config.vendor),
        clean(&config.model_name),
        if config.is_active {
            "active"
        } else {
            "inactive"
        }
    );
    Ok(())
}

fn print_configs(configs: &[LlmConfig]) {
    let mut t = table(&[
        "alias", "vendor", "provider", "model", "base url", "priority", "active", "key",
    ]);
    for c in configs {
        t.add_row(vec![
            clean(&c.alias).into_owned(),
            clean(&c.vendor).into_owned(),
            clean(&c.provider_type).into_owned(),
            clean(&c.model_name).into_owned(),
            c.base_url
                .as_deref()
                .map(shown_url)
                .unwrap_or_else(|| "-".to_owned()),
            opt(c.priority),
            if c.is_active { "yes" } else { "no" }.to_owned(),
            match &c.api_key {
                Ok(_) => "***".to_owned(),
                Err(err) => format!("unreadable: {}", clean(&err.to_string())),
            },
        ]);
    }
    print_table(t);
    println!("{} llm config(s)", configs.len());
}

/// `url` without what may be a credential: its password and its query string.
fn shown_url(url: &str) -> String {
    clean(&stockdb::llm_platform::shown_url(url)).into_owned()
}

/// Goes on when `yes`, or when the operator types the alias on a terminal.
fn confirm_delete(alias: &str, yes: bool) -> anyhow::Result<()> {
    super::output::confirm(
        &format!("delete llm config {}", clean(alias)),
        "its alias",
        alias,
        yes,
    )
}
