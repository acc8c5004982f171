//! The Tushare files stockdb reads (and the three it writes), AkShare's day boards, and
//! their columns.

use data_engineering::{
    BatchRows, BoardRows, MarketRows, StockDaily, StockFinance, StockInfo, SyncJobType,
};
use serde::{Deserialize, Serialize};

/// Which Tushare file an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportKind {
    /// `stock_basic`: `ts_code`, `symbol`, `name` and the optional stock columns.
    Stocks,
    /// `daily` / `daily_basic` / `adj_factor`: `ts_code`, `trade_date` and any value columns.
    Daily,
    /// `fina_indicator`: `ts_code`, `ann_date`, `end_date` and any indicator columns.
    Finance,
    /// `trade_cal`: `exchange`, `cal_date`, `is_open` (1 or 0), optional `pretrade_date`.
    TradeCal,
    /// `suspend_d`: `ts_code`, `trade_date`, `suspend_type` (S or R), optional
    /// `suspend_timing` (empty: the whole day) and `suspend_reason`.
    Suspend,
    /// `stk_limit`: `ts_code`, `trade_date`, `up_limit`, `down_limit`, optional `pre_close`.
    StkLimit,
    /// `namechange`: `ts_code`, `name`, `start_date`, optional `end_date`, `ann_date`,
    /// `change_reason`.
    Namechange,
    /// `index_weight`: `index_code`, `con_code`, `trade_date`, optional `weight`.
    IndexWeight,
    /// `dividend`: `ts_code`, `end_date`, `ann_date`, `div_proc` and the optional amounts
    /// and dates ([`DIVIDEND_COLUMNS`]).
    Dividend,
    /// AkShare's `stock_zt_pool_em` (涨停股池) of one day (given apart: the frame has no
    /// date): 代码, 名称, 涨跌幅, 最新价, 成交额, 换手率, 连板数, optional 首次封板时间,
    /// 最后封板时间, 所属行业.
    ZtPool,
    /// AkShare's `stock_zt_pool_zbgc_em` (炸板股池) of one day: 代码, 名称, 涨跌幅, 最新价,
    /// 成交额, 换手率, optional 炸板次数, 首次封板时间, 所属行业.
    ZbgcPool,
    /// AkShare's `stock_zt_pool_previous_em` (昨日涨停股池) of one day: 代码, 名称, 涨跌幅,
    /// 最新价, 成交额, 换手率, 昨日连板数, optional 所属行业.
    PreviousPool,
    /// AkShare's `stock_lhb_detail_em` (龙虎榜详情): 代码, 名称, 上榜日, 收盘价, 涨跌幅,
    /// 龙虎榜净买额, 龙虎榜买入额, 龙虎榜卖出额, 上榜原因 (any number of days).
    Lhb,
    /// AkShare's `stock_sector_fund_flow_rank` (indicator 今日) of one day: 名称, 今日涨跌幅,
    /// 今日主力净流入-净额, optional `sector_type` (default 概念资金流, what the earlier
    /// service syncs).
    SectorFlow,
}

/// The optional columns of a `dividend` file, as Tushare names them.
pub const DIVIDEND_COLUMNS: [&str; 12] = [
    "stk_div",
    "stk_bo_rate",
    "stk_co_rate",
    "cash_div",
    "cash_div_tax",
    "record_date",
    "ex_date",
    "pay_date",
    "div_listdate",
    "imp_ann_date",
    "base_date",
    "base_share",
];

impl ImportKind {
    /// Columns a file of this kind must have.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            Self::Stocks => &["ts_code", "symbol", "name"],
            Self::Daily => &["ts_code", "trade_date"],
            Self::Finance => &["ts_code", "ann_date", "end_date"],
            Self::TradeCal => &["exchange", "cal_date", "is_open"],
            Self::Suspend => &["ts_code", "trade_date", "suspend_type"],
            Self::StkLimit => &["ts_code", "trade_date", "up_limit", "down_limit"],
            Self::Namechange => &["ts_code", "name", "start_date"],
            Self::IndexWeight => &["index_code", "con_code", "trade_date"],
            Self::Dividend => &["ts_code", "end_date", "ann_date", "div_proc"],
            Self::ZtPool => &[
                "代码",
                "名称",
                "涨跌幅",
                "最新价",
                "成交额",
                "换手率",
                "连板数",
            ],
            Self::ZbgcPool => &["代码", "名称", "涨跌幅", "最新价", "成交额", "换手率"],
            Self::PreviousPool => &[
                "代码",
                "名称",
                "涨跌幅",
                "最新价",
                "成交额",
                "换手率",
                "昨日连板数",
            ],
            Self::Lhb => &[
                "代码",
                "名称",
                "上榜日",
                "收盘价",
                "涨跌幅",
                "龙虎榜净买额",
                "龙虎榜买入额",
                "龙虎榜卖出额",
                "上榜原因",
            ],
            Self::SectorFlow => &["名称", "今日涨跌幅", "今日主力净流入-净额"],
        }
    }

    /// True for the AkShare boards whose frames have no date column: their import is
    /// given the day (`ImportOptions::trade_date`).
    pub fn needs_trade_date(self) -> bool {
        matches!(
            self,
            Self::ZtPool | Self::ZbgcPool | Self::PreviousPool | Self::SectorFlow
        )
    }

    /// Every column this kind reads (others are reported and ignored).
    pub fn known_columns(self) -> Vec<&'static str> {
        let mut known = self.required_columns().to_vec();
        match self {
            Self::Stocks => known.extend(StockInfo::OPTIONAL_FIELDS),
            Self::Daily => known.extend(StockDaily::VALUE_FIELDS),
            Self::Finance => known.extend(StockFinance::INDICATORS),
            Self::TradeCal => known.push("pretrade_date"),
            Self::Suspend => known.extend(["suspend_timing", "suspend_reason"]),
            Self::StkLimit => known.push("pre_close"),
            Self::Namechange => known.extend(["end_date", "ann_date", "change_reason"]),
            Self::IndexWeight => known.push("weight"),
            Self::Dividend => known.extend(DIVIDEND_COLUMNS),
            Self::ZtPool => known.extend(["首次封板时间", "最后封板时间", "所属行业"]),
            Self::ZbgcPool => known.extend(["炸板次数", "首次封板时间", "所属行业"]),
            Self::PreviousPool => known.push("所属行业"),
            Self::Lhb => {}
            Self::SectorFlow => known.push("sector_type"),
        }
        // The boards' tables have no `source`.
        if !self.is_board() {
            known.push("source");
        }
        known
    }

    /// True for AkShare's day boards.
    pub fn is_board(self) -> bool {
        matches!(
            self,
            Self::ZtPool | Self::ZbgcPool | Self::PreviousPool | Self::Lhb | Self::SectorFlow
        )
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
            Self::TradeCal => BatchRows::Market(MarketRows::Calendar(Vec::with_capacity(capacity))),
            Self::Suspend => {
                BatchRows::Market(MarketRows::Suspensions(Vec::with_capacity(capacity)))
            }
            Self::StkLimit => BatchRows::Market(MarketRows::Limits(Vec::with_capacity(capacity))),
            Self::Namechange => BatchRows::Market(MarketRows::Names(Vec::with_capacity(capacity))),
            Self::IndexWeight => {
                BatchRows::Market(MarketRows::IndexWeights(Vec::with_capacity(capacity)))
            }
            Self::Dividend => {
                BatchRows::Market(MarketRows::Dividends(Vec::with_capacity(capacity)))
            }
            Self::ZtPool => BatchRows::Boards(BoardRows::LimitUp(Vec::with_capacity(capacity))),
            Self::ZbgcPool => {
                BatchRows::Boards(BoardRows::BrokenBoard(Vec::with_capacity(capacity)))
            }
            Self::PreviousPool => {
                BatchRows::Boards(BoardRows::PreviousLimitUp(Vec::with_capacity(capacity)))
            }
            Self::Lhb => BatchRows::Boards(BoardRows::DragonTiger(Vec::with_capacity(capacity))),
            Self::SectorFlow => {
                BatchRows::Boards(BoardRows::SectorFlow(Vec::with_capacity(capacity)))
            }
        }
    }
}

/// The columns that make a daily file a file of price bars (Tushare's `daily`): one
/// without all four (`daily_basic`, `adj_factor`) makes no bar, it completes stored ones.
pub const PRICE_COLUMNS: [&str; 4] = ["open", "high", "low", "close"];

impl ImportKind {
    /// Every kind, in the order `stockdb import` lists them.
    pub const ALL: [Self; 14] = [
        Self::Stocks,
        Self::Daily,
        Self::Finance,
        Self::TradeCal,
        Self::Suspend,
        Self::StkLimit,
        Self::Namechange,
        Self::IndexWeight,
        Self::Dividend,
        Self::ZtPool,
        Self::ZbgcPool,
        Self::PreviousPool,
        Self::Lhb,
        Self::SectorFlow,
    ];

    /// The kind as `stockdb import` names it: `stocks`, `daily`, `finance`, `trade-cal`,
    /// `suspend`, `stk-limit`, `namechange`, `index-weight` or `dividend`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stocks => "stocks",
            Self::Daily => "daily",
            Self::Finance => "finance",
            Self::TradeCal => "trade-cal",
            Self::Suspend => "suspend",
            Self::StkLimit => "stk-limit",
            Self::Namechange => "namechange",
            Self::IndexWeight => "index-weight",
            Self::Dividend => "dividend",
            Self::ZtPool => "zt-pool",
            Self::ZbgcPool => "zbgc-pool",
            Self::PreviousPool => "previous-pool",
            Self::Lhb => "lhb",
            Self::SectorFlow => "sector-flow",
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
            Self::TradeCal => SyncJobType::ImportTradeCal,
            Self::Suspend => SyncJobType::ImportSuspend,
            Self::StkLimit => SyncJobType::ImportStkLimit,
            Self::Namechange => SyncJobType::ImportNamechange,
            Self::IndexWeight => SyncJobType::ImportIndexWeight,
            Self::Dividend => SyncJobType::ImportDividend,
            Self::ZtPool => SyncJobType::ImportZtPool,
            Self::ZbgcPool => SyncJobType::ImportZbgcPool,
            Self::PreviousPool => SyncJobType::ImportPreviousPool,
            Self::Lhb => SyncJobType::ImportLhb,
            Self::SectorFlow => SyncJobType::ImportSectorFlow,
        }
    }
}
