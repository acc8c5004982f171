//! SeaORM entity for `stock_daily` (schema v1).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_daily")]
pub struct Model {
    /// 第三方代码
    #[sea_orm(primary_key, auto_increment = false)]
    pub third_code: String,
    /// 交易日期
    #[sea_orm(primary_key, auto_increment = false)]
    pub trade_date: Date,
    /// 开盘价
    pub open: Option<f64>,
    /// 最高价
    pub high: Option<f64>,
    /// 最低价
    pub low: Option<f64>,
    /// 收盘价
    pub close: Option<f64>,
    /// 昨收价
    pub pre_close: Option<f64>,
    /// 涨跌额
    pub change: Option<f64>,
    /// 涨跌幅
    pub pct_chg: Option<f64>,
    /// 成交量
    pub vol: Option<f64>,
    /// 成交额
    pub amount: Option<f64>,
    /// 复权因子
    pub adj_factor: Option<f64>,
    /// 换手率
    pub turnover_rate: Option<f64>,
    /// 换手率(自由流通股)
    pub turnover_rate_f: Option<f64>,
    /// 量比
    pub volume_ratio: Option<f64>,
    /// 市盈率
    pub pe: Option<f64>,
    /// 市盈率TTM
    pub pe_ttm: Option<f64>,
    /// 市净率
    pub pb: Option<f64>,
    /// 市销率
    pub ps: Option<f64>,
    /// 市销率TTM
    pub ps_ttm: Option<f64>,
    /// 股息率
    pub dv_ratio: Option<f64>,
    /// 股息率TTM
    pub dv_ttm: Option<f64>,
    /// 总股本
    pub total_share: Option<f64>,
    /// 流通股本
    pub float_share: Option<f64>,
    /// 自由流通股本
    pub free_share: Option<f64>,
    /// 总市值
    pub total_mv: Option<f64>,
    /// 流通市值
    pub circ_mv: Option<f64>,
    /// 数据来源
    pub source: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}

macro_rules! daily_from_model {
    ($($field:ident $doc:literal),* $(,)?) => {
        impl From<Model> for crate::domain::StockDaily {
            fn from(m: Model) -> Self {
                Self {
                    third_code: crate::domain::ThirdCode::from_stored(m.third_code),
                    trade_date: m.trade_date,
                    $($field: m.$field,)*
                    source: m.source,
                }
            }
        }
    };
}
crate::domain::daily_values!(daily_from_model);

macro_rules! daily_by_position {
    ($($field:ident $doc:literal),* $(,)?) => {
        /// The domain's columns of `stock_daily`, in the order [`decode`] reads them.
        pub(crate) const COLUMNS: [&str; 3 + [$(stringify!($field)),*].len()] =
            ["third_code", "trade_date", $(stringify!($field),)* "source"];

        /// The bar in the columns of `row` from position `at` on, in [`COLUMNS`] order.
        /// By position, not by name: a name lookup per column per row was most of the
        /// difference between a range read and its bare SQL (`cargo xtask bench`, history).
        pub(crate) fn decode(
            row: &sea_orm::QueryResult,
            at: usize,
        ) -> Result<crate::domain::StockDaily, DbErr> {
            let mut position = at..;
            let mut next = || position.next().unwrap_or(usize::MAX);
            let mut daily = crate::domain::StockDaily::new(
                crate::domain::ThirdCode::from_stored(row.try_get_by_index(next())?),
                row.try_get_by_index(next())?,
            );
            $(daily.$field = row.try_get_by_index(next())?;)*
            daily.source = row.try_get_by_index(next())?;
            Ok(daily)
        }
    };
}
crate::domain::daily_values!(daily_by_position);

/// [`COLUMNS`] as a select list, each qualified by `alias` (`d.open`) when there is one.
pub(crate) fn select_list(alias: Option<&str>) -> String {
    COLUMNS
        .iter()
        .map(|column| match alias {
            Some(alias) => format!("{alias}.{column}"),
            None => (*column).to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
