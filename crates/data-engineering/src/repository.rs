//! The repository traits: the contracts of market data and sync bookkeeping.
//!
//! Every method is one transaction: on error nothing of the call is written. Bad input is
//! `RepoError::Invalid` naming the field, the value and (for batches) the row.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use shared_db::{Page, RepoError, UpsertReport};
use uuid::Uuid;

use crate::domain::{
    Adjust, ClassifiedDay, CommittedBatch, Concept, ConceptStock, ConceptSummary, Dividend,
    Exchange, FactorCheck, MarketDaily, MarketRows, Membership, NameChange, RunOutcome, Stock,
    StockDaily, StockDayStatus, StockFinance, StockInfo, SyncBatch, SyncFailureRecord, SyncGap,
    SyncJobType, SyncTask, TaskLease, ThirdCode, Universe, ValuationDaily,
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

/// The market's structure (`trade_calendar`, `stock_suspensions`, `stock_limits`,
/// `stock_names`, `index_weights`, `stock_dividends`) and the point-in-time reads over it.
///
/// Every read as of a day uses only what was known that day: a name from its announcement,
/// an index's members from its latest snapshot by then.
#[async_trait]
pub trait MarketStructureRepository: Send + Sync {
    /// Upserts `rows` into their table in one transaction, with the bulk engine's rules
    /// (all rows validated first, the last row of a key wins, every column overwritten).
    async fn save(&self, rows: MarketRows) -> Result<UpsertReport, RepoError>;

    /// The open days of `exchange` in `start..=end`, oldest first.
    async fn trading_days(
        &self,
        exchange: Exchange,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<NaiveDate>, RepoError>;

    /// The last open day of `exchange` before `day` (not `day` itself), if the calendar
    /// holds one.
    async fn previous_trading_day(
        &self,
        exchange: Exchange,
        day: NaiveDate,
    ) -> Result<Option<NaiveDate>, RepoError>;

    /// The first open day of `exchange` after `day` (not `day` itself), if the calendar
    /// holds one.
    async fn next_trading_day(
        &self,
        exchange: Exchange,
        day: NaiveDate,
    ) -> Result<Option<NaiveDate>, RepoError>;

    /// The `count` (1..=100,000) open days of `exchange` before `day` (not `day` itself),
    /// oldest first; fewer when the calendar starts later.
    async fn trading_days_before(
        &self,
        exchange: Exchange,
        day: NaiveDate,
        count: u32,
    ) -> Result<Vec<NaiveDate>, RepoError>;

    /// Every open day of `code`'s exchange in `start..=end`, oldest first, classified:
    /// traded (a bar is stored), halted (no bar, a suspension covers it), not listed
    /// (before `list_date` or from `delist_date` on) or not synced (none of these). A code
    /// without an exchange suffix is `Invalid`.
    async fn classify_days(
        &self,
        code: &ThirdCode,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<ClassifiedDay>, RepoError>;

    /// For every listed stock of the stock list, its open days in `start..=end` with no
    /// bar and no halt: what a sync still has to fetch. Stocks without such days are left
    /// out; by `third_code`.
    async fn sync_gaps(&self, start: NaiveDate, end: NaiveDate) -> Result<Vec<SyncGap>, RepoError>;

    /// `code` on `day` as known that day: exchange open, listed, halted, limit prices, the
    /// name in force among those announced by then.
    async fn status_on(
        &self,
        code: &ThirdCode,
        day: NaiveDate,
    ) -> Result<StockDayStatus, RepoError>;

    /// Every name `code` carried, oldest start first.
    async fn names(&self, code: &ThirdCode) -> Result<Vec<NameChange>, RepoError>;

    /// The members of `index` on `day` as known then: its latest snapshot on or before
    /// `day`; a stock that left later is in, one that joined later is not. By code.
    async fn universe_as_of(
        &self,
        index: &ThirdCode,
        day: NaiveDate,
    ) -> Result<Universe, RepoError>;

    /// The membership stretches of `index` derived from its snapshots, by member then
    /// start.
    async fn memberships(&self, index: &ThirdCode) -> Result<Vec<Membership>, RepoError>;

    /// Every stored stage of `code`'s dividend plans, oldest announcement first, a plan's
    /// stages in their order (预案, 股东大会通过, 实施, then any other).
    async fn dividends(&self, code: &ThirdCode) -> Result<Vec<Dividend>, RepoError>;

    /// For each implemented dividend with an ex-date in `start..=end` (of `code`, or of
    /// every stock), the adjustment-factor step the event implies beside the stored one
    /// (see [`FactorCheck`]); plans sharing an ex-date are added up. By stock, then
    /// ex-date.
    async fn check_factors(
        &self,
        code: Option<&ThirdCode>,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<FactorCheck>, RepoError>;

    /// `code`'s bars in `start..=end` adjusted as [`StockDailyRepository::get_adjusted`]
    /// does, with factors derived from the dividends instead of the stored `adj_factor`:
    /// 1 before the first implemented ex-date, times each ex-date's step (see
    /// [`FactorCheck`]) from that day on; a forward anchor's factor uses only ex-dates on
    /// or before it. Each bar's `adj_factor` is returned as derived. For a stock whose
    /// stored factors are missing or wrong (`check_factors`).
    async fn get_adjusted_by_dividends(
        &self,
        code: &ThirdCode,
        start: NaiveDate,
        end: NaiveDate,
        adjust: Adjust,
    ) -> Result<Vec<StockDaily>, RepoError>;
}

/// Concept boards and their stocks (`concept`, `concept_stock`), shared with the earlier
/// service.
#[async_trait]
pub trait ConceptRepository: Send + Sync {
    /// Saves `board` by its code (name and description replaced) and makes `stocks` its
    /// stocks, all in one transaction, as the earlier service's sync does: stocks no longer
    /// listed leave the board; a stock listed twice counts once (the last wins). Boards not
    /// saved again are kept. Stamped with the handle's clock.
    async fn save_with_stocks(
        &self,
        board: &Concept,
        stocks: Vec<ConceptStock>,
    ) -> Result<(), RepoError>;

    /// Every board with its stock count, by code.
    async fn concepts(&self) -> Result<Vec<ConceptSummary>, RepoError>;

    /// The board `code` and its stocks (by code), if stored.
    async fn concept(&self, code: &str) -> Result<Option<(Concept, Vec<ConceptStock>)>, RepoError>;

    /// The boards `stock` is in, by code.
    async fn concepts_of(&self, stock: &ThirdCode) -> Result<Vec<Concept>, RepoError>;
}

/// A day board shared with the earlier service: the limit-up, broken-board and
/// previous-limit-up pools, the dragon-tiger list and sector fund flows (`R` says which;
/// `PgDayBoardRepository<R>` implements it).
#[async_trait]
pub trait DayBoardRepository<R>: Send + Sync {
    /// Upserts `rows` on the board's natural key (the earlier service's unique
    /// constraint) in one transaction, as its sync does: a row that left a day's board on
    /// a re-sync stays, the last duplicate of a key wins, a row equal to the stored one is
    /// not rewritten; new and changed rows are stamped with the handle's clock. Errors:
    /// `Invalid` naming the row, field and value; nothing is written.
    async fn save_all(&self, rows: Vec<R>) -> Result<UpsertReport, RepoError>;

    /// The board of `day`, in the board's order: the limit-up pool by consecutive boards
    /// (most first) then the earliest seal; the broken-board pool by breaks (most first);
    /// yesterday's limit-ups by today's change (best first); the dragon-tiger list by net
    /// buying (most first); sector flows by type, then net inflow (most first).
    async fn by_date(&self, day: NaiveDate) -> Result<Vec<R>, RepoError>;

    /// The newest day with rows on the board, if any.
    async fn latest_day(&self) -> Result<Option<NaiveDate>, RepoError>;
}
