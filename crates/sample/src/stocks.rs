//! The stock list and the trading calendar.

use chrono::{Datelike, NaiveDate, Weekday};
use data_engineering::{StockInfo, ThirdCode};
use rand::Rng;

use crate::Sampler;

const SURNAMES: &[&str] = &[
    "平安", "华夏", "中信", "招商", "东方", "长江", "海通", "国泰", "万科", "格力", "美的", "五粮",
    "恒瑞", "宁德", "比亚", "隆基", "紫金", "中兴", "海康", "立讯", "京东", "阳光", "通威", "天齐",
    "北方",
];
const SUFFIXES: &[&str] = &[
    "银行", "科技", "电子", "医药", "能源", "股份", "控股", "实业", "材料", "智能", "新能", "电器",
];
const INDUSTRIES: &[&str] = &[
    "银行",
    "白酒",
    "半导体",
    "电气设备",
    "化学制药",
    "汽车整车",
    "房地产",
    "软件服务",
    "家用电器",
    "证券",
    "电力",
    "通信设备",
    "医疗器械",
    "煤炭开采",
    "食品",
];
const AREAS: &[&str] = &[
    "深圳", "上海", "北京", "浙江", "江苏", "广东", "山东", "四川", "福建", "湖北",
];

/// The boards stocks are spread over: first code, exchange suffix, exchange, market.
const BOARDS: &[(u32, &str, &str, &str)] = &[
    (1, "SZ", "SZSE", "主板"),
    (300_001, "SZ", "SZSE", "创业板"),
    (600_000, "SH", "SSE", "主板"),
    (688_001, "SH", "SSE", "科创板"),
];

/// `n` stocks spread over the SZSE and SSE boards, with unique codes and symbols.
pub fn stocks(n: usize, seed: u64) -> Vec<StockInfo> {
    let mut s = Sampler::new(seed);
    (0..n)
        .filter_map(|idx| {
            let (base, suffix, exchange, market) = BOARDS[idx % BOARDS.len()];
            let number = base + u32::try_from(idx / BOARDS.len()).ok()?;
            let symbol = format!("{number:06}");
            // Six digits and an exchange suffix always parse.
            let code = ThirdCode::parse(&format!("{symbol}.{suffix}")).ok()?;
            let name = format!("{}{}", s.pick(SURNAMES), s.pick(SUFFIXES));
            let mut stock = StockInfo::new(code, &symbol, &name);
            stock.area = Some(s.pick(AREAS).to_owned());
            stock.industry = Some(s.pick(INDUSTRIES).to_owned());
            stock.market = Some(market.to_owned());
            let year = s.rng.random_range(1991..2023);
            stock.list_date = NaiveDate::from_ymd_opt(
                year,
                s.rng.random_range(1..=12),
                s.rng.random_range(1..=28),
            );
            stock.fullname = Some(format!("{name}股份有限公司"));
            stock.enname = Some(format!("{} Co., Ltd.", s.letters(6)));
            stock.cnspell = Some(s.letters(4));
            stock.exchange = Some(exchange.to_owned());
            stock.curr_type = Some("CNY".to_owned());
            stock.list_status = Some("L".to_owned());
            stock.is_hs = Some(s.pick(&["N", "H", "S"]).to_owned());
            stock.source = Some("tushare".to_owned());
            Some(stock)
        })
        .collect()
}

/// `n` weekdays from `start` on (holidays are not modelled).
pub fn trading_days(start: NaiveDate, n: usize) -> Vec<NaiveDate> {
    start
        .iter_days()
        .filter(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun))
        .take(n)
        .collect()
}
