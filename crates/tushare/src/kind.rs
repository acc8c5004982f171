//! The three Tushare files stockdb reads and writes, and their columns.

use data_engineering::{BatchRows, StockDaily, StockFinance, StockInfo, SyncJobType};
use serde::{Deserialize, Serialize};

/// Which Tushare file an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    /// `stock_basic`: `ts_code`, `symbol`, `name` and the optional stock columns.
    Stocks,
    /// `daily` / `daily_basic` / `adj_factor`: `ts_code`, `trade_date` and any value columns.
    Daily,
    /// `fina_indicator`: `ts_code`, `ann_date`, `end_date` and any indicator columns.
    Finance,
}

impl ImportKind {
    /// Columns a file of this kind must have.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            Self::Stocks => &["ts_code", "symbol", "name"],
            Self::Daily => &["ts_code", "trade_date"],
            Self::Finance => &["ts_code", "ann_date", "end_date"],
        }
    }

    /// Every column this kind reads (others are reported and ignored).
    pub fn known_columns(self) -> Vec<&'static str> {
        let mut known = self.required_columns().to_vec();
        match self {
            Self::Stocks => known.extend(StockInfo::OPTIONAL_FIELDS),
            Self::Daily => known.extend(StockDaily::VALUE_FIELDS),
            Self::Finance => known.extend(StockFinance::INDICATORS),
        }
        known.push("source");
        known
    }

    /// An empty batch of this kind's rows; `with_prices` says whether a daily file has
    /// [`PRICE_COLUMNS`]: one without only completes bars already stored.
    pub(crate) fn batch(self, capacity: usize, with_prices: bool) -> BatchRows {
        match self {
            Self::Stocks => BatchRows::Stocks {
                rows: Vec::with_capacity(capacity),
                lines: Vec::with_capacity(capacity),
            },
            Self::Daily if with_prices => BatchRows::Dailies(Vec::with_capacity(capacity)),
            Self::Daily => BatchRows::DailyUpdates {
                rows: Vec::with_capacity(capacity),
                lines: Vec::with_capacity(capacity),
            },
            Self::Finance => BatchRows::Finance(Vec::with_capacity(capacity)),
        }
    }
}

/// The columns that make a daily file a file of price bars (Tushare's `daily`): one
/// without all four (`daily_basic`, `adj_factor`) makes no bar, it completes stored ones.
pub const PRICE_COLUMNS: [&str; 4] = ["open", "high", "low", "close"];

impl ImportKind {
    /// The kind as `stockdb import` names it: `stocks`, `daily` or `finance`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stocks => "stocks",
            Self::Daily => "daily",
            Self::Finance => "finance",
        }
    }

    /// The sync job an import of this kind records: a type of stockdb's own, so that the
    /// earlier service's sync engine, run on the same database, never takes an import for
    /// one of its syncs.
    pub fn job_type(self) -> SyncJobType {
        match self {
            Self::Stocks => SyncJobType::ImportStockList,
            Self::Daily => SyncJobType::ImportDaily,
            Self::Finance => SyncJobType::ImportFinance,
        }
    }
}
