//! The persistence layer of the stock research assistant, as services link it:
//! [`Stockdb`] connects once and hands out every repository as a trait object, and
//! composes what spans contexts — a session's whole trace ([`Stockdb::session_trace`]),
//! writes of several repositories in one transaction ([`Stockdb::unit_of_work`]), the
//! audit logs' retention with what it takes from kept sessions ([`Stockdb::retention`]),
//! and [`Stockdb::health`].
//!
//! Re-exports the context crates so that a service needs only this one dependency. It
//! holds nothing of the command line (that is the `stockdb-cli` crate), so linking it
//! compiles the persistence layer and no more.

pub use {
    audit, coordinator, data_engineering, llm_platform, market_insight, scheduler, shared_db,
};

mod health;
mod insight;
mod retention;
mod trace;
mod unit_of_work;

pub use health::{Health, PoolHealth, SchemaHealth, ServerHealth};
pub use insight::InsightCounts;
pub use migration::{Distribution, DistributionStep, Placement};
pub use retention::Retention;
pub use trace::{SessionCost, SessionTrace};
pub use unit_of_work::UnitOfWork;

use std::sync::Arc;

use audit::{
    BudgetRepository, BudgetSpend, BudgetState, ExternalApiCallLogRepository, LlmCallLogRepository,
    ModelPriceRepository, PgBudgetRepository, PgExternalApiCallLogRepository,
    PgLlmCallLogRepository, PgModelPriceRepository, PromptStorage,
};
use coordinator::{
    PgResearchSessionRepository, PgScoreRepository, ResearchSessionRepository, ScoreRepository,
};
use data_engineering::{
    BrokenBoardStock, ConceptRepository, DayBoardRepository, DragonTigerEntry, LimitUpStock,
    MarketStructureRepository, PgConceptRepository, PgDayBoardRepository,
    PgMarketStructureRepository, PgStockDailyRepository, PgStockFinanceRepository,
    PgStockRepository, PgSyncRepository, PreviousLimitUpStock, SectorFlow, StockDailyRepository,
    StockFinanceRepository, StockRepository, SyncRepository,
};
use llm_platform::{
    LlmConfigRepository, PgLlmConfigRepository, PgWebSearchCacheRepository, SecretCipher,
    WebSearchCacheRepository,
};
use market_insight::{MarketInsightRepository, PgMarketInsightRepository};
use scheduler::{PgSchedulerRepository, SchedulerRepository};
pub use shared_db::{Db, DbConfig, ReplicaProblem, ReplicaStatus, RepoError};

/// Every repository of stockdb on one connection pool.
///
/// Cheap to clone; each accessor hands out the repository as a trait object, so services
/// depend on the contract and tests of services can substitute fakes.
#[derive(Clone)]
pub struct Stockdb {
    db: Db,
    stocks: Arc<PgStockRepository>,
    dailies: Arc<PgStockDailyRepository>,
    finance: Arc<PgStockFinanceRepository>,
    market: Arc<PgMarketStructureRepository>,
    concepts: Arc<PgConceptRepository>,
    limit_up: Arc<PgDayBoardRepository<LimitUpStock>>,
    broken_boards: Arc<PgDayBoardRepository<BrokenBoardStock>>,
    previous_limit_up: Arc<PgDayBoardRepository<PreviousLimitUpStock>>,
    dragon_tiger: Arc<PgDayBoardRepository<DragonTigerEntry>>,
    sector_flows: Arc<PgDayBoardRepository<SectorFlow>>,
    insight: Arc<PgMarketInsightRepository>,
    sync: Arc<PgSyncRepository>,
    llm_configs: Arc<PgLlmConfigRepository>,
    sessions: Arc<PgResearchSessionRepository>,
    llm_calls: Arc<PgLlmCallLogRepository>,
    prices: Arc<PgModelPriceRepository>,
    api_calls: Arc<PgExternalApiCallLogRepository>,
    budgets: Arc<PgBudgetRepository>,
    scores: Arc<PgScoreRepository>,
    scheduler: Arc<PgSchedulerRepository>,
    search_cache: Arc<PgWebSearchCacheRepository>,
    prompts: PromptStorage,
}

/// Whether a call on an LLM configuration may still spend: [`Stockdb::may_spend`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpendCheck {
    /// `false` when a budget covering the configuration or its model is exceeded.
    pub allowed: bool,
    /// Those budgets with their spend, most spent share first.
    pub budgets: Vec<BudgetSpend>,
}

impl std::fmt::Debug for Stockdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stockdb")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Stockdb {
    /// The tables stockdb manages that hold data, each owned by one context: what
    /// [`Stockdb::tables_with_rows`] looks at. The scheduler's tables are not among them:
    /// version 12 seeds the earlier service's default jobs, which are no one's data.
    pub const TABLES: [&'static str; 32] = [
        "stock_info",
        "stock_daily",
        "stock_finance",
        "trade_calendar",
        "stock_suspensions",
        "stock_limits",
        "stock_names",
        "index_weights",
        "stock_dividends",
        "concept",
        "concept_stock",
        "de_limit_up_pool",
        "de_broken_board_pool",
        "de_previous_limit_up",
        "de_dragon_tiger",
        "de_sector_capital_flow",
        "mi_concept_heat",
        "mi_limit_up_stock",
        "sync_tasks",
        "sync_failure_records",
        "llm_configs",
        "research_sessions",
        "node_executions",
        "llm_call_logs",
        "external_api_call_logs",
        "llm_model_prices",
        "llm_budgets",
        "llm_call_daily",
        "llm_session_daily",
        "external_api_call_daily",
        "audit_rollup_days",
        "scores",
    ];

    /// Connects with `DbConfig::from_env()` (`DATABASE_URL` …) and encrypts LLM API keys
    /// with `STOCKDB_SECRET_KEY` when it is set.
    pub async fn from_env() -> Result<Self, RepoError> {
        let config = DbConfig::from_env()?;
        let cipher = SecretCipher::from_env()?;
        Ok(Self::from_db(Db::connect(&config).await?, cipher))
    }

    /// Connects with `config`; LLM API keys are encrypted with `cipher` when given.
    pub async fn connect(
        config: &DbConfig,
        cipher: Option<SecretCipher>,
    ) -> Result<Self, RepoError> {
        Ok(Self::from_db(Db::connect(config).await?, cipher))
    }

    /// Wires every repository onto an existing pool.
    pub fn from_db(db: Db, cipher: Option<SecretCipher>) -> Self {
        Self {
            stocks: Arc::new(PgStockRepository::new(db.clone())),
            dailies: Arc::new(PgStockDailyRepository::new(db.clone())),
            finance: Arc::new(PgStockFinanceRepository::new(db.clone())),
            market: Arc::new(PgMarketStructureRepository::new(db.clone())),
            concepts: Arc::new(PgConceptRepository::new(db.clone())),
            limit_up: Arc::new(PgDayBoardRepository::new(db.clone())),
            broken_boards: Arc::new(PgDayBoardRepository::new(db.clone())),
            previous_limit_up: Arc::new(PgDayBoardRepository::new(db.clone())),
            dragon_tiger: Arc::new(PgDayBoardRepository::new(db.clone())),
            sector_flows: Arc::new(PgDayBoardRepository::new(db.clone())),
            insight: Arc::new(PgMarketInsightRepository::new(db.clone())),
            sync: Arc::new(PgSyncRepository::new(db.clone())),
            llm_configs: Arc::new(PgLlmConfigRepository::new(db.clone(), cipher)),
            sessions: Arc::new(PgResearchSessionRepository::new(db.clone())),
            llm_calls: Arc::new(PgLlmCallLogRepository::new(db.clone())),
            prices: Arc::new(PgModelPriceRepository::new(db.clone())),
            api_calls: Arc::new(PgExternalApiCallLogRepository::new(db.clone())),
            budgets: Arc::new(PgBudgetRepository::new(db.clone())),
            scores: Arc::new(PgScoreRepository::new(db.clone())),
            scheduler: Arc::new(PgSchedulerRepository::new(db.clone())),
            search_cache: Arc::new(PgWebSearchCacheRepository::new(db.clone())),
            prompts: PromptStorage::default(),
            db,
        }
    }

    /// The same repositories, storing LLM calls' prompts, system messages and
    /// completions as `prompts` says (default: secrets masked before storing; `Verbatim`
    /// for deployments that must keep them as sent). The unit of work follows it.
    #[must_use]
    pub fn with_prompt_storage(&self, prompts: PromptStorage) -> Self {
        Self {
            llm_calls: Arc::new(
                PgLlmCallLogRepository::new(self.db.clone()).with_prompt_storage(prompts),
            ),
            prompts,
            ..self.clone()
        }
    }

    /// The pool.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The same repositories with every read on the primary, for a caller that must read
    /// what it has just written (a replica may not have replayed it yet). Shares the
    /// pools; cheap. Without replicas it is the same as `self`.
    ///
    /// With replicas (`DbConfig::replica_urls`), these reads of a plain [`Stockdb`] go to
    /// a replica within `replica_max_lag` when one is usable: stocks, daily bars and
    /// financial reports (every read), research sessions (get, list, retries, node
    /// executions), the audit logs (by session, `list`, `stats`) and costs. Everything
    /// else — writes, sync tasks and their leases, LLM configurations, model prices — is
    /// always on the primary.
    #[must_use]
    pub fn primary(&self) -> Self {
        Self {
            // These read the primary anyway, and hold the cipher.
            sync: self.sync.clone(),
            llm_configs: self.llm_configs.clone(),
            ..Self::from_db(self.db.primary(), None)
        }
        .with_prompt_storage(self.prompts)
    }

    /// The same repositories with `clock` as their "now" (see `Db::with_clock`): for tests
    /// and rehearsals that live through months in seconds.
    #[must_use]
    pub fn with_clock(&self, clock: Arc<dyn shared_db::Clock>) -> Self {
        Self {
            llm_configs: self.llm_configs.clone(),
            ..Self::from_db(self.db.with_clock(clock), None)
        }
        .with_prompt_storage(self.prompts)
    }

    /// What the replica watchers last saw, one entry per configured replica.
    pub fn replicas(&self) -> Vec<ReplicaStatus> {
        self.db.replica_statuses()
    }

    /// Whether the database is reachable and at the schema this build expects (matching
    /// its golden print), and how busy the pool is. Reads only; never fails: what fails is
    /// in the report. A service can serve it as its readiness check.
    pub async fn health(&self) -> Health {
        Health::of(&self.db).await
    }

    /// The tables stockdb manages that hold at least one row, in [`Stockdb::TABLES`]
    /// order: empty for a database with no data of stockdb's (what `stockdb demo`
    /// requires before it writes).
    pub async fn tables_with_rows(&self) -> Result<Vec<&'static str>, RepoError> {
        self.db.tables_with_rows(&Self::TABLES).await
    }

    /// The stock list (`stock_info`).
    pub fn stocks(&self) -> Arc<dyn StockRepository> {
        self.stocks.clone()
    }

    /// Daily bars (`stock_daily`).
    pub fn dailies(&self) -> Arc<dyn StockDailyRepository> {
        self.dailies.clone()
    }

    /// Financial indicators (`stock_finance`).
    pub fn finance(&self) -> Arc<dyn StockFinanceRepository> {
        self.finance.clone()
    }

    /// The market's structure: trading calendar, suspensions, price limits, name history,
    /// index membership and dividends, with their point-in-time reads.
    pub fn market(&self) -> Arc<dyn MarketStructureRepository> {
        self.market.clone()
    }

    /// Concept boards and their stocks (`concept`, `concept_stock`), shared with the
    /// earlier service.
    pub fn concepts(&self) -> Arc<dyn ConceptRepository> {
        self.concepts.clone()
    }

    /// The daily limit-up pool (`de_limit_up_pool`), shared with the earlier service.
    pub fn limit_up(&self) -> Arc<dyn DayBoardRepository<LimitUpStock>> {
        self.limit_up.clone()
    }

    /// The daily broken-board pool (`de_broken_board_pool`), shared with the earlier
    /// service.
    pub fn broken_boards(&self) -> Arc<dyn DayBoardRepository<BrokenBoardStock>> {
        self.broken_boards.clone()
    }

    /// How yesterday's limit-up stocks do today (`de_previous_limit_up`), shared with the
    /// earlier service.
    pub fn previous_limit_up(&self) -> Arc<dyn DayBoardRepository<PreviousLimitUpStock>> {
        self.previous_limit_up.clone()
    }

    /// The dragon-tiger list (`de_dragon_tiger`), shared with the earlier service.
    pub fn dragon_tiger(&self) -> Arc<dyn DayBoardRepository<DragonTigerEntry>> {
        self.dragon_tiger.clone()
    }

    /// Sector fund flows (`de_sector_capital_flow`), shared with the earlier service.
    pub fn sector_flows(&self) -> Arc<dyn DayBoardRepository<SectorFlow>> {
        self.sector_flows.clone()
    }

    /// On a Citus coordinator: its workers and where the distribution plan puts each
    /// table (`stock_daily`, `stock_finance` by `third_code`, co-located; `stock_info` a
    /// reference table), with what is done. Errors on a server without Citus.
    pub async fn distribution(&self) -> Result<Distribution, RepoError> {
        migration::distribution(self.db.primary().pool()).await
    }

    /// Carries out what [`Stockdb::distribution`] says is pending, online (rows copied
    /// while writes go on), one table at a time; idempotent. Errors on a server without
    /// Citus or a coordinator without workers, naming what is missing.
    pub async fn distribute(&self) -> Result<Distribution, RepoError> {
        migration::distribute(self.db.primary().pool()).await
    }

    /// Concept heat and the day's limit-up stocks with their boards (`mi_concept_heat`,
    /// `mi_limit_up_stock`), shared with the earlier service's daily report; see
    /// [`Stockdb::compute_insight`].
    pub fn insight(&self) -> Arc<dyn MarketInsightRepository> {
        self.insight.clone()
    }

    /// Sync tasks and failures (`sync_tasks`, `sync_failure_records`).
    pub fn sync(&self) -> Arc<dyn SyncRepository> {
        self.sync.clone()
    }

    /// LLM configurations (`llm_configs`).
    pub fn llm_configs(&self) -> Arc<dyn LlmConfigRepository> {
        self.llm_configs.clone()
    }

    /// Research sessions and node executions.
    pub fn sessions(&self) -> Arc<dyn ResearchSessionRepository> {
        self.sessions.clone()
    }

    /// The audit log of LLM calls.
    pub fn llm_calls(&self) -> Arc<dyn LlmCallLogRepository> {
        self.llm_calls.clone()
    }

    /// Model prices and what LLM calls cost (`llm_model_prices`).
    pub fn prices(&self) -> Arc<dyn ModelPriceRepository> {
        self.prices.clone()
    }

    /// The audit log of external API calls.
    pub fn api_calls(&self) -> Arc<dyn ExternalApiCallLogRepository> {
        self.api_calls.clone()
    }

    /// The scheduler's job configurations and runs (`scheduler_job_config`,
    /// `scheduler_execution_log`), shared with the earlier service's scheduler.
    pub fn scheduler(&self) -> Arc<dyn SchedulerRepository> {
        self.scheduler.clone()
    }

    /// The web-search cache (`web_search_cache`), keyed and timed as the earlier service
    /// does, so either side hits what the other cached.
    pub fn search_cache(&self) -> Arc<dyn WebSearchCacheRepository> {
        self.search_cache.clone()
    }

    /// Scores and feedback on research sessions, nodes and LLM calls (`scores`).
    pub fn scores(&self) -> Arc<dyn ScoreRepository> {
        self.scores.clone()
    }

    /// Spending budgets per LLM configuration or model, per day or month, and the spend
    /// against them (`llm_budgets`).
    pub fn budgets(&self) -> Arc<dyn BudgetRepository> {
        self.budgets.clone()
    }

    /// May a call on LLM configuration `alias` still spend? Asks the budgets of the
    /// configuration and of its model (`vendor/model_name`), each against its current
    /// period's spend: not allowed when one is exceeded. Unknown alias: `NotFound`. Cost:
    /// one lookup of the configuration and, per budget, one statement that reads the
    /// rollup and the calls of the days not rolled up yet (today's, once maintenance has
    /// run) of that configuration or model only.
    pub async fn may_spend(&self, alias: &str) -> Result<SpendCheck, RepoError> {
        let config =
            self.llm_configs
                .get_by_alias(alias)
                .await?
                .ok_or_else(|| RepoError::NotFound {
                    entity: "llm config",
                    key: alias.to_owned(),
                })?;
        let model = format!("{}/{}", config.vendor, config.model_name);
        let mut budgets = self.budgets.spend_for(alias, Some(&model)).await?;
        budgets.sort_by(|a, b| b.share.total_cmp(&a.share));
        Ok(SpendCheck {
            allowed: budgets.iter().all(|b| b.state != BudgetState::Exceeded),
            budgets,
        })
    }

    /// `stock_daily`'s yearly partitions: where they stand and their maintenance (on the
    /// primary).
    pub fn daily_partitions(&self) -> data_engineering::PgDailyPartitions {
        data_engineering::PgDailyPartitions::new(self.db.clone())
    }

    /// The monthly partitions of both audit logs and their retention (on the primary).
    pub fn retention(&self) -> Retention {
        Retention::new(&self.db)
    }

    /// The trace of research session `id` — the session, its nodes, LLM and API calls,
    /// retries and cost — or `None` when there is no such session.
    ///
    /// Read as one snapshot (a read-only `REPEATABLE READ` transaction) on one server: a
    /// replica within the lag bound when one is usable, else the primary. A call saved
    /// while it reads is in every part of the trace or in none, and no part comes from a
    /// replica further behind than another.
    pub async fn session_trace(&self, id: uuid::Uuid) -> Result<Option<SessionTrace>, RepoError> {
        self.db.read_snapshot(|db| trace::read(db, id)).await
    }

    /// A unit of work: the research-trace repositories bound to one new transaction on
    /// the primary, committed or rolled back together (see [`UnitOfWork`]).
    pub async fn unit_of_work(&self) -> Result<UnitOfWork, RepoError> {
        UnitOfWork::begin(&self.db, self.prompts).await
    }
}

/// The README's Rust examples, compiled as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
