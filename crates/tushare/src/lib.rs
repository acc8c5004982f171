//! Tushare's CSV format, both ways: the files stockdb knows ([`ImportKind`]: `stock_basic`,
//! `daily` with `daily_basic` and `adj_factor` columns, `fina_indicator`, and the market's
//! structure: `trade_cal`, `suspend_d`, `stk_limit`, `namechange`, `index_weight`,
//! `dividend`), their columns, resumable imports of them into stockdb ([`import_csv`]) and
//! writers of the same files ([`write_stock_basic`], [`write_daily`],
//! [`write_fina_indicator`], [`write_market`]).
//!
//! A column is named as the domain field it fills (`StockInfo::OPTIONAL_FIELDS`,
//! `StockDaily::VALUE_FIELDS`, `StockFinance::INDICATORS`), so no column list is written
//! here a second time. The import reaches the database only through
//! `data_engineering::SyncRepository`.

mod import;
mod kind;
mod write;
mod write_akshare;

pub use import::{
    DEFAULT_MAX_RECORD_BYTES, DEFAULT_SECTOR_TYPE, ImportCheckpoint, ImportError, ImportOptions,
    ImportProgress, ImportSummary, MAX_BATCH_SIZE, MAX_RECORD_BYTES, NoProgress, UnfinishedImport,
    akshare_code, import_csv, stop_flag,
};
pub use kind::{DIVIDEND_COLUMNS, ImportKind, PRICE_COLUMNS};
pub use write::{
    write_daily, write_daily_columns, write_fina_indicator, write_market, write_stock_basic,
};
pub use write_akshare::write_board;
