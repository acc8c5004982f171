//! SeaORM entity for `stock_info` (schema v1).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_info")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// 第三方代码
    pub third_code: String,
    /// 股票代码
    pub symbol: String,
    /// 股票名称
    pub name: String,
    /// 所在地域
    pub area: Option<String>,
    /// 所属行业
    pub industry: Option<String>,
    /// 市场类型
    pub market: Option<String>,
    /// 上市日期
    pub list_date: Option<Date>,
    /// 股票全称
    pub fullname: Option<String>,
    /// 英文全称
    pub enname: Option<String>,
    /// 拼音缩写
    pub cnspell: Option<String>,
    /// 交易所代码
    pub exchange: Option<String>,
    /// 交易货币
    pub curr_type: Option<String>,
    /// 上市状态 L上市 D退市 P暂停上市
    pub list_status: Option<String>,
    /// 退市日期
    pub delist_date: Option<Date>,
    /// 是否沪深港通标的，N否 H沪股通 S深股通
    pub is_hs: Option<String>,
    /// 数据来源
    pub source: Option<String>,
    /// 上次财务数据同步时间
    pub last_finance_sync_date: Option<Date>,
}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::domain::Stock {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            info: crate::domain::StockInfo {
                third_code: crate::domain::ThirdCode::from_stored(m.third_code),
                symbol: m.symbol,
                name: m.name,
                area: m.area,
                industry: m.industry,
                market: m.market,
                list_date: m.list_date,
                fullname: m.fullname,
                enname: m.enname,
                cnspell: m.cnspell,
                exchange: m.exchange,
                curr_type: m.curr_type,
                list_status: m.list_status,
                delist_date: m.delist_date,
                is_hs: m.is_hs,
                source: m.source,
                last_finance_sync_date: m.last_finance_sync_date,
            },
        }
    }
}
