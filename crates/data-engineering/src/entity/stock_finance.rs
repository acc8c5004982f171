//! SeaORM entity for `stock_finance` (schema v1).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_finance")]
pub struct Model {
    /// 第三方代码
    #[sea_orm(primary_key, auto_increment = false)]
    pub third_code: String,
    /// 公告日期
    #[sea_orm(primary_key, auto_increment = false)]
    pub ann_date: Date,
    /// 报告期
    #[sea_orm(primary_key, auto_increment = false)]
    pub end_date: Date,
    /// 基本每股收益
    pub eps: Option<f64>,
    /// 稀释每股收益
    pub dt_eps: Option<f64>,
    /// 每股营业总收入
    pub total_revenue_ps: Option<f64>,
    /// 每股营业收入
    pub revenue_ps: Option<f64>,
    /// 每股资本公积
    pub capital_rese_ps: Option<f64>,
    /// 每股盈余公积
    pub surplus_rese_ps: Option<f64>,
    /// 每股未分配利润
    pub undist_profit_ps: Option<f64>,
    /// 非经常性损益
    pub extra_item: Option<f64>,
    /// 扣除非经常性损益后的净利润
    pub profit_dedt: Option<f64>,
    /// 毛利率
    pub gross_margin: Option<f64>,
    /// 流动比率
    pub current_ratio: Option<f64>,
    /// 速动比率
    pub quick_ratio: Option<f64>,
    /// 保守速动比率
    pub cash_ratio: Option<f64>,
    /// 存货周转率
    pub inv_turn: Option<f64>,
    /// 应收账款周转率
    pub ar_turn: Option<f64>,
    /// 流动资产周转率
    pub ca_turn: Option<f64>,
    /// 固定资产周转率
    pub fa_turn: Option<f64>,
    /// 总资产周转率
    pub assets_turn: Option<f64>,
    /// 存货周转天数
    pub invturn_days: Option<f64>,
    /// 应收账款周转天数
    pub arturn_days: Option<f64>,
    /// 经营活动净收益
    pub op_income: Option<f64>,
    /// 价值变动净收益
    pub valuechange_income: Option<f64>,
    /// 利息费用
    pub interst_income: Option<f64>,
    /// 折旧与摊销
    pub daa: Option<f64>,
    /// 息税前利润
    pub ebit: Option<f64>,
    /// 息税折旧摊销前利润
    pub ebitda: Option<f64>,
    /// 企业自由现金流量
    pub fcff: Option<f64>,
    /// 股权自由现金流量
    pub fcfe: Option<f64>,
    /// 无息流动负债
    pub current_exint: Option<f64>,
    /// 无息非流动负债
    pub noncurrent_exint: Option<f64>,
    /// 带息债务
    pub interestdebt: Option<f64>,
    /// 净债务
    pub netdebt: Option<f64>,
    /// 有形资产
    pub tangible_asset: Option<f64>,
    /// 营运资金
    pub working_capital: Option<f64>,
    /// 营运流动资本
    pub networking_capital: Option<f64>,
    /// 全部投入资本
    pub invest_capital: Option<f64>,
    /// 留存收益
    pub retained_earnings: Option<f64>,
    /// 期末摊薄每股收益
    pub diluted2_eps: Option<f64>,
    /// 每股净资产
    pub bps: Option<f64>,
    /// 每股经营活动产生的现金流量净额
    pub ocfps: Option<f64>,
    /// 每股留存收益
    pub retainedps: Option<f64>,
    /// 每股现金流量净额
    pub cfps: Option<f64>,
    /// 每股息税前利润
    pub ebit_ps: Option<f64>,
    /// 每股企业自由现金流量
    pub fcff_ps: Option<f64>,
    /// 每股股权自由现金流量
    pub fcfe_ps: Option<f64>,
    /// 销售净利率
    pub netprofit_margin: Option<f64>,
    /// 销售毛利率
    pub grossprofit_margin: Option<f64>,
    /// 销售成本率
    pub cogs_of_sales: Option<f64>,
    /// 销售期间费用率
    pub expense_of_sales: Option<f64>,
    /// 净利润/营业总收入
    pub profit_to_gr: Option<f64>,
    /// 销售费用/营业总收入
    pub saleexp_to_gr: Option<f64>,
    /// 管理费用/营业总收入
    pub adminexp_of_gr: Option<f64>,
    /// 财务费用/营业总收入
    pub finaexp_of_gr: Option<f64>,
    /// 资产减值损失/营业总收入
    pub impai_ttm: Option<f64>,
    /// 营业总成本/营业总收入
    pub gc_of_gr: Option<f64>,
    /// 营业利润/营业总收入
    pub op_of_gr: Option<f64>,
    /// 息税前利润/营业总收入
    pub ebit_of_gr: Option<f64>,
    /// 净资产收益率
    pub roe: Option<f64>,
    /// 加权平均净资产收益率
    pub roe_waa: Option<f64>,
    /// 净资产收益率(扣除非经常损益)
    pub roe_dt: Option<f64>,
    /// 总资产报酬率
    pub roa: Option<f64>,
    /// 总资产净利润
    pub npta: Option<f64>,
    /// 投入资本回报率
    pub roic: Option<f64>,
    /// 年化净资产收益率
    pub roe_yearly: Option<f64>,
    /// 年化总资产报酬率
    pub roa2_yearly: Option<f64>,
    /// 平均净资产收益率
    pub roe_avg: Option<f64>,
    /// 经营活动净收益/利润总额
    pub opincome_of_ebt: Option<f64>,
    /// 价值变动净收益/利润总额
    pub investincome_of_ebt: Option<f64>,
    /// 营业外收支净额/利润总额
    pub n_op_profit_of_ebt: Option<f64>,
    /// 所得税/利润总额
    pub tax_to_ebt: Option<f64>,
    /// 扣除非经常损益后的净利润/净利润
    pub dtprofit_to_profit: Option<f64>,
    /// 销售商品提供劳务收到的现金/营业收入
    pub salescash_to_or: Option<f64>,
    /// 经营活动产生的现金流量净额/营业收入
    pub ocf_to_or: Option<f64>,
    /// 经营活动产生的现金流量净额/经营活动净收益
    pub ocf_to_opincome: Option<f64>,
    /// 资本支出/折旧和摊销
    pub capitalized_to_da: Option<f64>,
    /// 资产负债率
    pub debt_to_assets: Option<f64>,
    /// 权益乘数
    pub assets_to_eqt: Option<f64>,
    /// 权益乘数(杜邦分析)
    pub dp_assets_to_eqt: Option<f64>,
    /// 流动资产/总资产
    pub ca_to_assets: Option<f64>,
    /// 非流动资产/总资产
    pub nca_to_assets: Option<f64>,
    /// 有形资产/总资产
    pub tbassets_to_totalassets: Option<f64>,
    /// 带息债务/全部投入资本
    pub int_to_talcap: Option<f64>,
    /// 归属于母公司的股东权益/全部投入资本
    pub eqt_to_talcapital: Option<f64>,
    /// 流动负债/负债合计
    pub currentdebt_to_debt: Option<f64>,
    /// 非流动负债/负债合计
    pub longdeb_to_debt: Option<f64>,
    /// 经营活动产生的现金流量净额/流动负债
    pub ocf_to_shortdebt: Option<f64>,
    /// 产权比率
    pub debt_to_eqt: Option<f64>,
    /// 数据来源
    pub source: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}

macro_rules! finance_from_model {
    ($($field:ident $doc:literal),* $(,)?) => {
        impl From<Model> for crate::domain::StockFinance {
            fn from(m: Model) -> Self {
                Self {
                    third_code: crate::domain::ThirdCode::from_stored(m.third_code),
                    ann_date: m.ann_date,
                    end_date: m.end_date,
                    $($field: m.$field,)*
                    source: m.source,
                }
            }
        }
    };
}
crate::domain::finance_indicators!(finance_from_model);
