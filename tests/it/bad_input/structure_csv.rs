//! The market-structure files (`trade_cal`, `suspend_d`, `stk_limit`, `namechange`,
//! `index_weight`, `dividend`) through their imports: good lines stored as written, each
//! bad line a failure record of the kind's job type naming its line and field, a second
//! import of the same file changing nothing.

use super::*;
use data_engineering::{Exchange, SuspendType};

const CASES: &[FileCase] = &[
    FileCase {
        kind: ImportKind::TradeCal,
        job: SyncJobType::ImportTradeCal,
        text: "exchange,cal_date,is_open,pretrade_date\n\
               SSE,20240102,1,20231229\n\
               SSE,20240106,0,20240105\n\
               NYSE,20240102,1,\n\
               SZSE,20240102,yes,\n\
               SZSE,,1,\n\
               SZSE,20240103,1,20240102\n",
        rows: 3,
        bad: &[(4, "exchange"), (5, "is_open"), (6, "cal_date")],
    },
    FileCase {
        kind: ImportKind::Suspend,
        job: SyncJobType::ImportSuspend,
        text: "ts_code,trade_date,suspend_timing,suspend_type,suspend_reason\n\
               000001.SZ,20240130,,S,重大事项\n\
               000001.SZ,20240205,,R,\n\
               000001.SZ,20240206,,X,\n\
               600000.SH,20240126,09:30-10:30,S,异常波动\n",
        rows: 3,
        bad: &[(4, "suspend_type")],
    },
    FileCase {
        kind: ImportKind::StkLimit,
        job: SyncJobType::ImportStkLimit,
        text: "trade_date,ts_code,pre_close,up_limit,down_limit\n\
               20240102,000001.SZ,9.39,10.33,8.45\n\
               20240102,600000.SH,6.6,7.26,5.94\n\
               20240102,600001.SH,6.6,5.94,7.26\n\
               20240102,600002.SH,6.6,,5.94\n",
        rows: 2,
        bad: &[(4, "down_limit"), (5, "up_limit")],
    },
    FileCase {
        kind: ImportKind::Namechange,
        job: SyncJobType::ImportNamechange,
        text: "ts_code,name,start_date,end_date,ann_date,change_reason\n\
               600518.SH,康美药业,20010319,20190521,20010316,\n\
               600518.SH,ST康美,20190522,,20190524,ST\n\
               600518.SH,,20200428,,,\n\
               600518.SH,*ST康美,20200428,20200101,,*ST\n",
        rows: 2,
        bad: &[(4, "name"), (5, "end_date")],
    },
    FileCase {
        kind: ImportKind::IndexWeight,
        job: SyncJobType::ImportIndexWeight,
        text: "index_code,con_code,trade_date,weight\n\
               000300.SH,600519.SH,20240131,5.9\n\
               000300.SH,000001.SZ,20240131,0.8\n\
               000300.SH,000002.SZ,20240131,-1\n\
               000300.SH,,20240131,1\n",
        rows: 2,
        bad: &[(4, "weight"), (5, "con_code")],
    },
    FileCase {
        kind: ImportKind::Dividend,
        job: SyncJobType::ImportDividend,
        text: "ts_code,end_date,ann_date,div_proc,stk_div,stk_bo_rate,stk_co_rate,cash_div,\
               cash_div_tax,record_date,ex_date,pay_date,div_listdate,imp_ann_date,base_date,\
               base_share\n\
               600000.SH,20231231,20240420,预案,0.5,0.2,0.3,0.45,0.5,,,,,,20231231,2935.2\n\
               600000.SH,20231231,20240420,实施,0.5,0.2,0.3,0.45,0.5,20240620,20240621,\
               20240621,20240624,20240614,20231231,2935.2\n\
               600000.SH,20231231,,实施,0.5,,,,,,,,,,,\n\
               600000.SH,20221231,20230420,实施,,,,-0.1,,,,,,,,\n",
        rows: 2,
        bad: &[(4, "ann_date"), (5, "cash_div")],
    },
];

#[tokio::test]
async fn each_market_structure_file_round_trips_and_its_bad_lines_become_failure_records() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    import_cases(&db, CASES, |case, file| ImportOptions::new(case.kind, file)).await;
    let market = db.market();
    let day = |d: &str| d.parse::<NaiveDate>().unwrap();
    let open = market
        .trading_days(Exchange::Szse, day("2024-01-01"), day("2024-01-31"))
        .await
        .unwrap();
    assert_eq!(open, [day("2024-01-03")], "SZSE's bad lines left out");
    let status = market
        .status_on(&ThirdCode::parse("600518.SH").unwrap(), day("2019-05-24"))
        .await
        .unwrap();
    assert_eq!(
        status.name.map(|n| n.change_reason),
        Some(Some("ST".into()))
    );
    let halted = market
        .status_on(&ThirdCode::parse("000001.SZ").unwrap(), day("2024-02-01"))
        .await
        .unwrap()
        .halt
        .unwrap();
    assert_eq!(
        (halted.suspend_type, halted.reason.as_deref()),
        (SuspendType::Suspend, Some("重大事项"))
    );
    let dividends = market
        .dividends(&ThirdCode::parse("600000.SH").unwrap())
        .await
        .unwrap();
    let implemented = dividends.iter().find(|d| d.is_implemented()).unwrap();
    assert_eq!(
        (
            implemented.ex_date,
            implemented.div_listdate,
            implemented.base_share
        ),
        (
            Some(day("2024-06-21")),
            Some(day("2024-06-24")),
            Some(2935.2)
        )
    );
    let universe = market
        .universe_as_of(&ThirdCode::parse("000300.SH").unwrap(), day("2024-02-15"))
        .await
        .unwrap();
    assert_eq!(universe.members.len(), 2);
}
