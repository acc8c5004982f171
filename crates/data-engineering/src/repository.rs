//! The repository traits: the contracts of market data and sync bookkeeping.
//!
//! Every method is one transaction: on error nothing of the call is written. Bad input is
//! `RepoError::Invalid` naming the field, the value and (for batches) the row.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use shared_db::{Page, RepoError, UpsertReport};
use uuid::Uuid;

mod structure;

pub use structure::{ConceptRepository, DayBoardRepository, MarketStructureRepository};

use crate::domain::{
    Adjust, CommittedBatch, MarketDaily, RunOutcome, Stock, StockDaily, StockFinance, StockInfo,
    SyncBatch, SyncFailureRecord, SyncJobType, SyncTask, TaskLease, ThirdCode, ValuationDaily,
    WindowReturn,
};

/// The stock list (`stock_info`).
#[async_trait]
pub trait StockRepository: Send + Sync {
    /// Upserts one stock on `third_code` and returns it as stored.
    ///
    /// An existing row keeps its `id`; every other column is overwritten, except that a
    /// `None` `last_finance_sync_date` never erases a recorded one. A `symbol` already
    /// used by another `third_code` is `RepoError::Conflict`.
    async fn save(&self, stock: StockInfo) -> Result<Stock, RepoError>;

    /// Upserts `stocks` on `third_code` in one transaction, as [`StockRepository::save`]
    /// does one. Duplicate codes in `stocks`: the last one wins.
    async fn save_all(&self, stocks: Vec<StockInfo>) -> Result<UpsertReport, RepoError>;

    /// The stock whose `symbol` is `symbol` (`000001`), if any.
    async fn get_by_symbol(&self, symbol: &str) -> Result<Option<Stock>, RepoError>;

    /// The stock `code`, if any.
    async fn get_by_third_code(&self, code: &ThirdCode) -> Result<Option<Stock>, RepoError>;

    /// The stocks among `codes` that exist, ordered by `third_code`; unknown codes are
    /// left out, duplicates collapse.
    async fn get_by_third_codes(&self, codes: &[ThirdCode]) -> Result<Vec<Stock>, RepoError>;

    /// One page of the stock list in `id` order (the order stocks were first saved), so a
    /// sync that walks the list by offset is not shifted by newly listed stocks.
    async fn get_all(&self, page: Page) -> Result<Vec<Stock>, RepoError>;

    /// The number of stocks.
    async fn count(&self) -> Result<u64, RepoError>;

    /// `third_code`s of the stocks that have no `stock_finance` row with
    /// `end_date = period_end` and whose `last_finance_sync_date` is `NULL` (never synced)
    /// or earlier than `threshold_date`, ordered by `third_code`, at most `limit`
    /// (1..=10,000; the earlier service used 200).
    async fn get_missing_finance_stocks(
        &self,
        period_end: NaiveDate,
        threshold_date: NaiveDate,
        limit: u64,
    ) -> Result<Vec<ThirdCode>, RepoError>;

    /// Sets `last_finance_sync_date = date` on the stocks `codes`; returns how many rows
    /// changed (unknown codes are skipped).
    async fn update_last_finance_sync_date(
        &self,
        codes: &[ThirdCode],
        date: NaiveDate,
    ) -> Result<u64, RepoError>;
}

/// Daily bars (`stock_daily`).
#[async_trait]
pub trait StockDailyRepository: Send + Sync {
    /// Upserts `dailies` keyed by `(third_code, trade_date)` in one transaction.
    ///
    /// Duplicate keys in `dailies`: the last one wins. An existing row is overwritten in
    /// every value column (rows that would not change are left alone and counted as
    /// `unchanged`). All or nothing: a bad row (named by its index) writes nothing.
    async fn save_all(&self, dailies: Vec<StockDaily>) -> Result<UpsertReport, RepoError>;

    /// Like [`StockDailyRepository::save_all`], but a `None` never erases a stored value:
    /// for sources that bring some columns of a bar at a time (Tushare `daily`, then
    /// `daily_basic`).
    async fn merge_all(&self, dailies: Vec<StockDaily>) -> Result<UpsertReport, RepoError>;

    /// Bars of `code` with `start <= trade_date <= end`, oldest first. `start > end` is
    /// `Invalid`.
    async fn get_by_third_code_and_date_range(
        &self,
        code: &ThirdCode,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<StockDaily>, RepoError>;

    /// The newest bar of `code`, or `None` if it has none.
    async fn get_latest_by_third_code(
        &self,
        code: &ThirdCode,
    ) -> Result<Option<StockDaily>, RepoError>;

    /// The newest `trade_date` in the table, or `None` when it is empty.
    async fn get_latest_trade_date(&self) -> Result<Option<NaiveDate>, RepoError>;

    /// The valuation fields of `code` with `start <= trade_date <= end`, oldest first.
    async fn get_valuation_dailies(
        &self,
        code: &ThirdCode,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<ValuationDaily>, RepoError>;

    /// The whole market on `date`: every bar of that day with its stock's name (`None`
    /// for a code missing from `stock_info`), ordered by `third_code`.
    async fn get_all_by_trade_date(&self, date: NaiveDate) -> Result<Vec<MarketDaily>, RepoError>;

    /// The cross-section of `window`-bar returns ending on `date`: for every stock with a
    /// bar on `date` and at least `window` bars before it, its return from its bar
    /// `window` bars earlier (see [`WindowReturn`]), ordered by `third_code`. Counting the
    /// stock's own bars skips its suspensions, as a factor study does.
    ///
    /// Errors: `window` outside `1..=MAX_TRADING_DAYS` is `Invalid`.
    async fn get_window_returns(
        &self,
        date: NaiveDate,
        window: u32,
    ) -> Result<Vec<WindowReturn>, RepoError>;

    /// Bars of `code` with `start <= trade_date <= end`, oldest first, with the prices of
    /// [`ADJUSTED_COLUMNS`](crate::ADJUSTED_COLUMNS) adjusted for splits and dividends as
    /// `adjust` says (see [`Adjust`]); every other column, `adj_factor` included, as stored.
    ///
    /// A bar without `adj_factor` takes the stock's last factor before it (in the range or
    /// before it): Tushare leaves the factor out on days it did not change. The forward
    /// anchor factor is the last one stored on or before the anchor day, so bars written
    /// after that day never change the result.
    ///
    /// Errors: `start > end` is `Invalid`; a bar with no factor on or before its day, or
    /// (forward) no factor on or before the anchor, is `NotFound` (entity `adj_factor`,
    /// naming the stock and the day): such prices cannot be adjusted, and a guess would
    /// put a false jump into the series.
    async fn get_adjusted(
        &self,
        code: &ThirdCode,
        start: NaiveDate,
        end: NaiveDate,
        adjust: Adjust,
    ) -> Result<Vec<StockDaily>, RepoError>;
}

/// Financial indicators (`stock_finance`).
#[async_trait]
pub trait StockFinanceRepository: Send + Sync {
    /// Upserts `reports` keyed by `(third_code, ann_date, end_date)` in one transaction,
    /// with the same rules as [`StockDailyRepository::save_all`].
    async fn save_all(&self, reports: Vec<StockFinance>) -> Result<UpsertReport, RepoError>;

    /// Like [`StockFinanceRepository::save_all`], but a `None` never erases a stored value.
    async fn merge_all(&self, reports: Vec<StockFinance>) -> Result<UpsertReport, RepoError>;

    /// The `limit` (1..=10,000) most recent reports of `code`, newest `end_date` first
    /// (then newest `ann_date`).
    async fn get_by_third_code_recent(
        &self,
        code: &ThirdCode,
        limit: u64,
    ) -> Result<Vec<StockFinance>, RepoError>;

    /// What was known of `code` on `as_of` (point in time, no look-ahead): for each report
    /// period, the version announced last on or before `as_of`; periods first announced
    /// later, and restatements announced later, are left out. Newest period first, at most
    /// `periods` (1..=10,000).
    ///
    /// `ann_date` is part of the key, so every stored version has one: a report without an
    /// announcement date is never stored (the import rejects its line), so it can never
    /// leak into a point-in-time read. Two versions of a period announced the same day
    /// cannot both exist (the key); versions announced on different days are ordered by
    /// that day.
    async fn get_as_of(
        &self,
        code: &ThirdCode,
        as_of: NaiveDate,
        periods: u64,
    ) -> Result<Vec<StockFinance>, RepoError>;

    /// The whole market as known on `as_of`, for screening: for each stock with a report
    /// announced on or before `as_of`, its newest period known then, in that period's last
    /// version announced on or before `as_of` (as [`StockFinanceRepository::get_as_of`]
    /// with one period). One row per stock, by `third_code`.
    async fn get_market_as_of(&self, as_of: NaiveDate) -> Result<Vec<StockFinance>, RepoError>;

    /// [`StockFinanceRepository::get_market_as_of`] for the members of `index` on `as_of`
    /// as known then (its latest snapshot on or before `as_of`, see
    /// [`MarketStructureRepository::universe_as_of`]): a stock that left the index later is
    /// in, one that joined later is not. Members without a report known then are left out.
    async fn get_universe_as_of(
        &self,
        index: &ThirdCode,
        as_of: NaiveDate,
    ) -> Result<Vec<StockFinance>, RepoError>;
}

/// Sync tasks and failure records (`sync_tasks`, `sync_failure_records`).
#[async_trait]
pub trait SyncRepository: Send + Sync {
    /// Stores a new task. An existing id is `Conflict`.
    async fn create(&self, task: &SyncTask) -> Result<(), RepoError>;

    /// Writes `task` over the stored one.
    ///
    /// The stored status must be allowed to move to `task.status` (see
    /// `SyncTaskStatus::allowed_previous`): a task another worker completed meanwhile is
    /// `StateConflict`, an unknown id `NotFound`. Sets `updated_at` to now. Not fenced:
    /// runs that hold a lease write through `commit_batch` and `release` instead.
    async fn update(&self, task: &SyncTask) -> Result<SyncTask, RepoError>;

    /// The task `id`, if any.
    async fn get_by_id(&self, id: Uuid) -> Result<Option<SyncTask>, RepoError>;

    /// The task of `job_type` started most recently (`started_at` descending; never
    /// started tasks last, newest update first), if any.
    async fn get_latest_by_job_type(
        &self,
        job_type: SyncJobType,
    ) -> Result<Option<SyncTask>, RepoError>;

    /// The most recently updated task of `job_type` that is not `COMPLETED` and whose
    /// `config` holds every key and value of `config` (JSON containment), if any: how a
    /// run finds the unfinished task of the same work (an import of the same file, say)
    /// without listing the table.
    async fn get_latest_unfinished(
        &self,
        job_type: SyncJobType,
        config: &serde_json::Value,
    ) -> Result<Option<SyncTask>, RepoError>;

    /// Of `tasks`, the ids of those whose run is gone: `RUNNING`, of a leased job type
    /// ([`SyncJobType::is_leased`]), and no live session holds the run's lease (its
    /// process died or lost its connection). `take` (an import's `--resume`) continues such
    /// a task from its offset. One query however many tasks.
    async fn abandoned(&self, tasks: &[SyncTask]) -> Result<HashSet<Uuid>, RepoError>;

    /// The `limit` most recently updated tasks, of one job type or of all.
    async fn list_tasks(
        &self,
        job_type: Option<SyncJobType>,
        limit: u64,
    ) -> Result<Vec<SyncTask>, RepoError>;

    /// Atomically takes the oldest resumable (`PENDING` or `PAUSED`) task of `job_type`,
    /// marks it `RUNNING` and returns the run's lease; concurrent callers never get the
    /// same task. `None` when there is none.
    async fn claim_next(
        &self,
        job_type: SyncJobType,
        now: NaiveDateTime,
    ) -> Result<Option<TaskLease>, RepoError>;

    /// Stores `task` (a new task) and takes it for a run at once, as
    /// [`SyncRepository::take`] does. With a `scope` (a name such as the file an import
    /// reads), the lease also holds that scope: while it lives, every `start` or `take` of
    /// the same scope is `Busy`, so two runs of the same work never overlap. `Conflict`
    /// for an existing id; nothing is stored when the scope is held.
    async fn start(
        &self,
        task: &SyncTask,
        scope: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<TaskLease, RepoError>;

    /// Takes the task `id` for a new run and returns its lease: from `PENDING`, `PAUSED`
    /// or `FAILED`, or from `RUNNING` when no live run holds it (its process crashed, or
    /// lost its connection). The task becomes `RUNNING` with a new fencing token; its
    /// offset, counters and first `started_at` are kept, so work continues where it
    /// stopped, and a run that still believes it holds the task is refused from its next
    /// write on. `scope` as for [`SyncRepository::start`].
    ///
    /// `Busy` while another live run holds the task (or the scope); `StateConflict` for a
    /// `COMPLETED` task; `NotFound` for an unknown id. Only for tasks whose every run takes
    /// a lease: a `RUNNING` task that some other worker runs without one would be taken
    /// from it.
    async fn take(
        &self,
        id: Uuid,
        scope: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<TaskLease, RepoError>;

    /// Commits one batch of the run holding `lease`, atomically: merges the batch's rows
    /// (a `None` never erases a stored value), stores its failure records, advances the
    /// task's offset by `items` and its `total_processed` by the rows received, and merges
    /// its checkpoint into the task's `config`. A crash at any point leaves either the
    /// whole batch or none of it, so a resumed task neither loses nor repeats anything.
    /// Rows of [`BatchRows::DailyUpdates`](crate::BatchRows::DailyUpdates) whose bar is not
    /// stored are deferred: recorded as retryable failures (of the task's job type), not
    /// written.
    ///
    /// `Superseded` when another run has taken the task over since, `StateConflict` when
    /// the task is no longer `RUNNING` (someone paused or finished it), `Invalid` for a
    /// bad row or failure record (named by its index) or counts past the `integer` range:
    /// in every case nothing of the batch is written.
    async fn commit_batch(
        &self,
        lease: &TaskLease,
        batch: SyncBatch,
    ) -> Result<CommittedBatch, RepoError>;

    /// Ends the run holding `lease`: the task becomes `COMPLETED`, `PAUSED` or `FAILED`
    /// (`completed_at` set for the first and last) and its lease token is removed. Fenced
    /// like [`SyncRepository::commit_batch`]: `Superseded` or `StateConflict` when the run
    /// no longer holds the task, and nothing changes.
    async fn release(
        &self,
        lease: TaskLease,
        outcome: RunOutcome,
        now: NaiveDateTime,
    ) -> Result<SyncTask, RepoError>;

    /// Stores a new failure record. An existing id is `Conflict`.
    async fn create_failure(&self, failure: &SyncFailureRecord) -> Result<(), RepoError>;

    /// Stores many new failure records in one transaction.
    async fn create_failures(&self, failures: &[SyncFailureRecord]) -> Result<(), RepoError>;

    /// Writes `failure` over the stored one; `NotFound` for an unknown id.
    async fn update_failure(&self, failure: &SyncFailureRecord) -> Result<(), RepoError>;

    /// Unresolved failures of `job_type` that may still be retried
    /// (`resolved_at IS NULL AND retry_count < max_retries`), least recently attempted
    /// first.
    async fn get_unresolved_failures(
        &self,
        job_type: SyncJobType,
    ) -> Result<Vec<SyncFailureRecord>, RepoError>;

    /// Failures of one job type or of all, newest attempt first, at most `limit`;
    /// resolved ones only when `include_resolved`.
    async fn list_failures(
        &self,
        job_type: Option<SyncJobType>,
        include_resolved: bool,
        limit: u64,
    ) -> Result<Vec<SyncFailureRecord>, RepoError>;

    /// Marks the failure `id` resolved now and returns it. Resolving twice keeps the
    /// first time; `NotFound` for an unknown id.
    async fn resolve_failure(&self, id: Uuid) -> Result<SyncFailureRecord, RepoError>;
}
