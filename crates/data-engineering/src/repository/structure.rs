//! The market structure's contracts: calendar, suspensions, limits, names, index weights,
//! dividends, concepts and the day boards.

use async_trait::async_trait;
use chrono::NaiveDate;
use shared_db::{RepoError, UpsertReport};

use crate::domain::{
    Adjust, ClassifiedDay, Concept, ConceptStock, ConceptSummary, Dividend, Exchange, FactorCheck,
    MarketRows, Membership, NameChange, StockDaily, StockDayStatus, SyncGap, ThirdCode, Universe,
};

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
