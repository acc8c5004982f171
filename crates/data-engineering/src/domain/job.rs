//! The kinds of sync job: the earlier service's, and stockdb's imports.

shared_db::string_enum! {
    /// The kind of a sync job, stored as its upper-case name.
    ///
    /// The first four are the earlier service's; its sync engine takes tasks of those types
    /// as its own. stockdb's CSV imports have types of their own (`IMPORT_…`), which that
    /// engine never loads (it reads tasks by its own types and ids only).
    pub enum SyncJobType, field "job_type" {
        /// Full history of daily bars.
        DailyHistory = "DAILY_HISTORY",
        /// Full history of financial indicators.
        FinanceHistory = "FINANCE_HISTORY",
        /// New daily bars since the last sync.
        DailyIncremental = "DAILY_INCREMENTAL",
        /// New financial reports since the last sync.
        FinanceIncremental = "FINANCE_INCREMENTAL",
        /// Market data fetched through AKShare.
        AkshareMarketData = "AKSHARE_MARKET_DATA",
        /// The stock list. Written by stockdb's imports before they had types of their
        /// own; still read, no longer written.
        StockList = "STOCK_LIST",
        /// A CSV import of Tushare's `stock_basic` (`stockdb import stocks`).
        ImportStockList = "IMPORT_STOCK_LIST",
        /// A CSV import of daily bars (`stockdb import daily`).
        ImportDaily = "IMPORT_DAILY",
        /// A CSV import of financial indicators (`stockdb import finance`).
        ImportFinance = "IMPORT_FINANCE",
        /// A CSV import of Tushare's `trade_cal` (`stockdb import trade-cal`).
        ImportTradeCal = "IMPORT_TRADE_CAL",
        /// A CSV import of Tushare's `suspend_d` (`stockdb import suspend`).
        ImportSuspend = "IMPORT_SUSPEND",
        /// A CSV import of Tushare's `stk_limit` (`stockdb import stk-limit`).
        ImportStkLimit = "IMPORT_STK_LIMIT",
        /// A CSV import of Tushare's `namechange` (`stockdb import namechange`).
        ImportNamechange = "IMPORT_NAMECHANGE",
        /// A CSV import of Tushare's `index_weight` (`stockdb import index-weight`).
        ImportIndexWeight = "IMPORT_INDEX_WEIGHT",
        /// A CSV import of Tushare's `dividend` (`stockdb import dividend`).
        ImportDividend = "IMPORT_DIVIDEND",
        /// A CSV of AkShare's `stock_zt_pool_em` (`stockdb import zt-pool`).
        ImportZtPool = "IMPORT_ZT_POOL",
        /// A CSV of AkShare's `stock_zt_pool_zbgc_em` (`stockdb import zbgc-pool`).
        ImportZbgcPool = "IMPORT_ZBGC_POOL",
        /// A CSV of AkShare's `stock_zt_pool_previous_em` (`stockdb import previous-pool`).
        ImportPreviousPool = "IMPORT_PREVIOUS_POOL",
        /// A CSV of AkShare's `stock_lhb_detail_em` (`stockdb import lhb`).
        ImportLhb = "IMPORT_LHB",
        /// A CSV of AkShare's `stock_sector_fund_flow_rank` (`stockdb import sector-flow`).
        ImportSectorFlow = "IMPORT_SECTOR_FLOW",
    }
}

impl SyncJobType {
    /// Whether every run of a task of this type holds a lease (`SyncRepository::take`):
    /// stockdb's imports. The earlier service's sync engine runs its own types without
    /// one, so a `RUNNING` task of those says nothing about whether its run lives.
    pub fn is_leased(self) -> bool {
        !matches!(
            self,
            Self::DailyHistory
                | Self::FinanceHistory
                | Self::DailyIncremental
                | Self::FinanceIncremental
                | Self::AkshareMarketData
                | Self::StockList
        )
    }
}
