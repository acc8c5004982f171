//! Market data and sync bookkeeping: the stock list (`stock_info`), daily bars
//! (`stock_daily`), financial indicators (`stock_finance`), the market's structure (trading
//! calendar, suspensions, price limits, name history, index membership, dividends: see
//! [`MarketStructureRepository`]), resumable sync jobs (`sync_tasks`) and per-stock
//! failures with bounded retries (`sync_failure_records`).
//!
//! Services hold the repository traits (`Arc<dyn StockDailyRepository>` …) and the
//! `Pg*Repository` types implement them on a [`shared_db::Db`]. Every `save_all` goes
//! through the bulk upsert engine of `shared-db`.

/// The JSON key of `sync_tasks.config` that holds a run's lease token, as a literal so that
/// the SQL which fences writes with it is built from this one spelling (`concat!`).
macro_rules! lease_key {
    () => {
        "lease"
    };
}

#[cfg(feature = "bench")]
pub mod baseline;
mod domain;
mod entity;
pub(crate) mod postgres;
mod repository;

pub use domain::{
    ADJUSTED_COLUMNS, Adjust, BatchRows, BoardRows, BrokenBoardStock, CLOSED_AFTER_DAYS,
    CLOSED_FILLFACTOR, CalendarDay, ClassifiedDay, CommittedBatch, Concept, ConceptStock,
    ConceptSummary, DIV_PROC_IMPLEMENTED, DayClass, Dividend, DragonTigerEntry, Exchange,
    FactorCheck, IndexWeight, LimitUpStock, MarketDaily, MarketRows, Membership, NameChange,
    NameFlags, OPEN_FILLFACTOR, PreviousLimitUpStock, PriceLimit, RunOutcome, Seat, SectorFlow,
    Stock, StockDaily, StockDayStatus, StockField, StockFieldMut, StockFinance, StockInfo,
    SuspendType, Suspension, SyncBatch, SyncFailureRecord, SyncGap, SyncJobType, SyncTask,
    SyncTaskStatus, TaskLease, ThirdCode, TransitionError, Universe, ValuationDaily, WindowReturn,
    YearMaintenance, YearPartition, fillfactor_of, is_closed,
};
pub use postgres::{
    MAX_TRADING_DAYS, PgConceptRepository, PgDailyPartitions, PgDayBoardRepository,
    PgMarketStructureRepository, PgStockDailyRepository, PgStockFinanceRepository,
    PgStockRepository, PgSyncRepository,
};
pub use repository::{
    ConceptRepository, DayBoardRepository, MarketStructureRepository, StockDailyRepository,
    StockFinanceRepository, StockRepository, SyncRepository,
};
pub use shared_db::UpsertReport;
