//! Financial indicators: `StockFinance`, one report period of one stock.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use shared_db::{InvalidInput, check_finite, check_len};

use super::{ThirdCode, check_date};

/// Calls `$callback!` with every indicator column of `stock_finance` (all
/// `double precision`), in schema order, each with its column comment: `name "comment", …`.
///
/// The one list the struct, the entity conversion, the bulk writer and the CSV importer
/// are generated from.
macro_rules! finance_indicators {
    ($callback:ident) => {
        $callback! {
        eps "基本每股收益",
        dt_eps "稀释每股收益",
        total_revenue_ps "每股营业总收入",
        revenue_ps "每股营业收入",
        capital_rese_ps "每股资本公积",
        surplus_rese_ps "每股盈余公积",
        undist_profit_ps "每股未分配利润",
        extra_item "非经常性损益",
        profit_dedt "扣除非经常性损益后的净利润",
        gross_margin "毛利率",
        current_ratio "流动比率",
        quick_ratio "速动比率",
        cash_ratio "保守速动比率",
        inv_turn "存货周转率",
        ar_turn "应收账款周转率",
        ca_turn "流动资产周转率",
        fa_turn "固定资产周转率",
        assets_turn "总资产周转率",
        invturn_days "存货周转天数",
        arturn_days "应收账款周转天数",
        op_income "经营活动净收益",
        valuechange_income "价值变动净收益",
        interst_income "利息费用",
        daa "折旧与摊销",
        ebit "息税前利润",
        ebitda "息税折旧摊销前利润",
        fcff "企业自由现金流量",
        fcfe "股权自由现金流量",
        current_exint "无息流动负债",
        noncurrent_exint "无息非流动负债",
        interestdebt "带息债务",
        netdebt "净债务",
        tangible_asset "有形资产",
        working_capital "营运资金",
        networking_capital "营运流动资本",
        invest_capital "全部投入资本",
        retained_earnings "留存收益",
        diluted2_eps "期末摊薄每股收益",
        bps "每股净资产",
        ocfps "每股经营活动产生的现金流量净额",
        retainedps "每股留存收益",
        cfps "每股现金流量净额",
        ebit_ps "每股息税前利润",
        fcff_ps "每股企业自由现金流量",
        fcfe_ps "每股股权自由现金流量",
        netprofit_margin "销售净利率",
        grossprofit_margin "销售毛利率",
        cogs_of_sales "销售成本率",
        expense_of_sales "销售期间费用率",
        profit_to_gr "净利润/营业总收入",
        saleexp_to_gr "销售费用/营业总收入",
        adminexp_of_gr "管理费用/营业总收入",
        finaexp_of_gr "财务费用/营业总收入",
        impai_ttm "资产减值损失/营业总收入",
        gc_of_gr "营业总成本/营业总收入",
        op_of_gr "营业利润/营业总收入",
        ebit_of_gr "息税前利润/营业总收入",
        roe "净资产收益率",
        roe_waa "加权平均净资产收益率",
        roe_dt "净资产收益率(扣除非经常损益)",
        roa "总资产报酬率",
        npta "总资产净利润",
        roic "投入资本回报率",
        roe_yearly "年化净资产收益率",
        roa2_yearly "年化总资产报酬率",
        roe_avg "平均净资产收益率",
        opincome_of_ebt "经营活动净收益/利润总额",
        investincome_of_ebt "价值变动净收益/利润总额",
        n_op_profit_of_ebt "营业外收支净额/利润总额",
        tax_to_ebt "所得税/利润总额",
        dtprofit_to_profit "扣除非经常损益后的净利润/净利润",
        salescash_to_or "销售商品提供劳务收到的现金/营业收入",
        ocf_to_or "经营活动产生的现金流量净额/营业收入",
        ocf_to_opincome "经营活动产生的现金流量净额/经营活动净收益",
        capitalized_to_da "资本支出/折旧和摊销",
        debt_to_assets "资产负债率",
        assets_to_eqt "权益乘数",
        dp_assets_to_eqt "权益乘数(杜邦分析)",
        ca_to_assets "流动资产/总资产",
        nca_to_assets "非流动资产/总资产",
        tbassets_to_totalassets "有形资产/总资产",
        int_to_talcap "带息债务/全部投入资本",
        eqt_to_talcapital "归属于母公司的股东权益/全部投入资本",
        currentdebt_to_debt "流动负债/负债合计",
        longdeb_to_debt "非流动负债/负债合计",
        ocf_to_shortdebt "经营活动产生的现金流量净额/流动负债",
        debt_to_eqt "产权比率",        }
    };
}
pub(crate) use finance_indicators;

macro_rules! define_stock_finance {
    ($($field:ident $doc:literal),* $(,)?) => {
        /// Financial indicators of one stock for one report period, as Tushare's
        /// `fina_indicator` names them. Key: `(third_code, ann_date, end_date)`.
        /// Every indicator may be missing.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct StockFinance {
            /// 第三方代码.
            pub third_code: ThirdCode,
            /// 公告日期.
            pub ann_date: NaiveDate,
            /// 报告期.
            pub end_date: NaiveDate,
            $(
                #[doc = $doc]
                #[serde(with = "shared_db::float_text", default)]
                pub $field: Option<f64>,
            )*
            /// 数据来源 (at most 20 characters).
            pub source: Option<String>,
        }

        impl StockFinance {
            /// Names of the indicator columns, in schema order.
            pub const INDICATORS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// A report with no indicators.
            pub fn new(third_code: ThirdCode, ann_date: NaiveDate, end_date: NaiveDate) -> Self {
                Self { third_code, ann_date, end_date, $($field: None,)* source: None }
            }

            /// The indicator called `name`, or `None` if there is no such column.
            pub fn indicator(&self, name: &str) -> Option<Option<f64>> {
                match name {
                    $(stringify!($field) => Some(self.$field),)*
                    _ => None,
                }
            }

            /// Sets the indicator called `name`; false if there is no such column.
            pub fn set_indicator(&mut self, name: &str, value: Option<f64>) -> bool {
                match name {
                    $(stringify!($field) => self.$field = value,)*
                    _ => return false,
                }
                true
            }

            /// Checks the dates, that every indicator is finite and the source's length.
            pub fn validate(&self) -> Result<(), InvalidInput> {
                check_date("ann_date", self.ann_date)?;
                check_date("end_date", self.end_date)?;
                $(check_finite(stringify!($field), self.$field)?;)*
                check_len("source", self.source.as_deref(), 20)
            }
        }
    };
}
finance_indicators!(define_stock_finance);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_indicator_is_addressable() {
        let mut report = StockFinance::new(
            ThirdCode::parse("000001.SZ").unwrap(),
            NaiveDate::from_ymd_opt(2024, 4, 20).unwrap(),
            NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
        );
        assert_eq!(StockFinance::INDICATORS.len(), 87);
        for (idx, name) in StockFinance::INDICATORS.iter().enumerate() {
            assert!(report.set_indicator(name, Some(idx as f64)));
        }
        assert_eq!(
            report.roe,
            Some(
                StockFinance::INDICATORS
                    .iter()
                    .position(|n| *n == "roe")
                    .unwrap() as f64
            )
        );
        report.debt_to_eqt = Some(f64::INFINITY);
        assert_eq!(report.validate().unwrap_err().field, "debt_to_eqt");
    }
}
