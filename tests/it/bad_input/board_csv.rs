//! AkShare's day boards (`stock_zt_pool_em`, `…_zbgc_em`, `…_previous_em`,
//! `stock_lhb_detail_em`, `stock_sector_fund_flow_rank`) through their imports, as
//! `df.to_csv(index=False)` writes them: good lines stored under the day given (or the
//! file's 上榜日), each bad line a failure record of the kind's job type naming its line
//! and field, a second import changing nothing; a pool without its day is refused before
//! anything is read, and a resume cannot change the day.

use super::*;
use data_engineering::SyncTaskStatus;

const CASES: &[FileCase] = &[
    FileCase {
        kind: ImportKind::ZtPool,
        job: SyncJobType::ImportZtPool,
        text: "序号,代码,名称,涨跌幅,最新价,成交额,流通市值,总市值,换手率,封板资金,首次封板时间,\
               最后封板时间,炸板次数,涨停统计,连板数,所属行业\n\
               1,603002,宏昌电子,10.04,5.48,126511232.0,6.2e9,6.2e9,2.07,1.2e8,092500,092500,0,1/1,1,电子化学品\n\
               2,301000,肇民科技,20.0,30.6,3.1e8,2.1e9,4.1e9,15.1,2e7,100112,131500,2,2/2,2,汽车零部件\n\
               3,900901,云赛B股,10.0,1.0,1,1,1,1,1,,,0,1/1,1,\n\
               4,000004,国华网安,10.0,20.0,1e8,1,1,3.3,1,,,0,1/1,0,软件开发\n",
        rows: 2,
        bad: &[(4, "代码"), (5, "consecutive_boards")],
    },
    FileCase {
        kind: ImportKind::ZbgcPool,
        job: SyncJobType::ImportZbgcPool,
        text: "序号,代码,名称,涨跌幅,最新价,涨停价,成交额,流通市值,总市值,换手率,涨速,首次封板时间,\
               炸板次数,涨停统计,振幅,所属行业\n\
               1,002466,天齐锂业,6.1,40.2,41.66,2.2e9,5e10,6e10,3.3,0.1,093012,3,0/1,9.5,能源金属\n\
               2,600111,北方稀土,,20.1,21,1e9,1,1,1,0,100000,1,0/1,1,稀土\n",
        rows: 1,
        bad: &[(3, "涨跌幅")],
    },
    FileCase {
        kind: ImportKind::PreviousPool,
        job: SyncJobType::ImportPreviousPool,
        text: "序号,代码,名称,涨跌幅,最新价,涨停价,成交额,流通市值,总市值,换手率,涨速,振幅,\
               昨日封板时间,昨日连板数,涨停统计,所属行业\n\
               1,603002,宏昌电子,-3.1,5.31,6.03,9e7,6e9,6e9,1.5,0,5,092500,1,1/1,电子化学品\n\
               2,301000,肇民科技,5.2,32.2,36.7,2e8,2e9,4e9,10,0,8,100112,2,2/2,汽车零部件\n\
               3,000001,平安银行,1,11,12,1e9,1,1,1,0,1,093000,x,1/1,银行\n",
        rows: 2,
        bad: &[(4, "昨日连板数")],
    },
    FileCase {
        kind: ImportKind::Lhb,
        job: SyncJobType::ImportLhb,
        text: "序号,代码,名称,上榜日,解读,收盘价,涨跌幅,龙虎榜净买额,龙虎榜买入额,龙虎榜卖出额,\
               龙虎榜成交额,市场总成交额,净买额占总成交比,成交额占总成交比,换手率,流通市值,上榜原因\n\
               1,603002,宏昌电子,2024-06-03,1家机构买入,5.48,10.04,3.2e7,5.1e7,1.9e7,7e7,1.2e8,25,55,2.07,6e9,日涨幅偏离值达到7%的前5只证券\n\
               2,603002,宏昌电子,2024-06-03,1家机构买入,5.48,10.04,3.2e7,5.1e7,1.9e7,7e7,1.2e8,25,55,2.07,6e9,连续三个交易日内涨幅偏离值累计达到20%的证券\n\
               3,300001,特锐德,2024-06-3x,,20,5,1,1,1,1,1,1,1,1,1,日换手率达到20%的前5只证券\n\
               4,300002,神州泰岳,2024-06-03,,10,5,1,1,1,1,1,1,1,1,1,\n",
        rows: 2,
        bad: &[(4, "上榜日"), (5, "reason")],
    },
    FileCase {
        kind: ImportKind::SectorFlow,
        job: SyncJobType::ImportSectorFlow,
        text: "序号,名称,今日涨跌幅,今日主力净流入-净额,今日主力净流入-净占比,今日超大单净流入-净额,\
               今日主力净流入最大股\n\
               1,光伏概念,2.35,1520000000.0,5.1,900000000.0,隆基绿能\n\
               2,,1.0,1,1,1,x\n\
               3,半导体,-1.2,-830000000.0,-3.3,-500000000.0,中芯国际\n\
               4,白酒,0.5,inf,1,1,贵州茅台\n",
        rows: 2,
        bad: &[(3, "sector_name"), (5, "今日主力净流入-净额")],
    },
];

fn options(case: &FileCase, file: &std::path::Path) -> ImportOptions {
    let mut options = ImportOptions::new(case.kind, file);
    options.source = "akshare".into();
    if case.kind.needs_trade_date() {
        options.trade_date = Some(day("2024-06-03"));
    }
    options
}

#[tokio::test]
async fn each_akshare_board_file_round_trips_and_its_bad_lines_become_failure_records() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    import_cases(&db, CASES, options).await;
    let on = day("2024-06-03");
    let pool = db.limit_up().by_date(on).await.unwrap();
    let read: Vec<(&str, i32, Option<&str>)> = pool
        .iter()
        .map(|s| {
            (
                s.third_code.as_str(),
                s.consecutive_boards,
                s.first_limit_up_time.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            ("301000.SZ", 2, Some("100112")),
            ("603002.SH", 1, Some("092500"))
        ]
    );
    let broken = db.broken_boards().by_date(on).await.unwrap();
    assert_eq!(
        (broken[0].third_code.as_str(), broken[0].open_count),
        ("002466.SZ", 3)
    );
    let listed = db.dragon_tiger().by_date(on).await.unwrap();
    assert_eq!(listed.len(), 2, "one stock, two reasons");
    assert_eq!(listed[0].net_amount, 3.2e7);
    let flows = db.sector_flows().by_date(on).await.unwrap();
    let read: Vec<(&str, &str, f64)> = flows
        .iter()
        .map(|f| (f.sector_type.as_str(), f.sector_name.as_str(), f.net_amount))
        .collect();
    assert_eq!(
        read,
        [
            ("概念资金流", "光伏概念", 1.52e9),
            ("概念资金流", "半导体", -8.3e8)
        ]
    );
}

#[tokio::test]
async fn a_pool_needs_its_day_and_a_resume_keeps_it() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let case = &CASES[0];
    let file = dir.path().join("zt.csv");
    std::fs::write(&file, case.text).unwrap();
    let (sync, stop) = (db.sync(), AtomicBool::new(false));
    let mut options = ImportOptions::new(case.kind, &file);
    let err = import_csv(sync.as_ref(), &options, &NoProgress, &stop)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("trade_date"), "{err}");
    let mut lhb = ImportOptions::new(ImportKind::Lhb, &file);
    lhb.trade_date = Some(day("2024-06-03"));
    let err = import_csv(sync.as_ref(), &lhb, &NoProgress, &stop)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("its dates in its lines"), "{err}");
    assert!(
        db.sync().list_tasks(None, 10).await.unwrap().is_empty(),
        "nothing started"
    );
    // One line a batch, stopped after the first: the resume must keep the first day.
    options.trade_date = Some(day("2024-06-03"));
    options.batch_size = 1;
    options.max_batches = Some(1);
    let paused = import_csv(sync.as_ref(), &options, &NoProgress, &stop)
        .await
        .unwrap();
    assert_eq!(paused.status, SyncTaskStatus::Paused);
    options.resume = true;
    options.max_batches = None;
    options.trade_date = Some(day("2024-06-04"));
    let err = import_csv(sync.as_ref(), &options, &NoProgress, &stop)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("2024-06-03"), "{err}");
    options.trade_date = None;
    let resumed = import_csv(sync.as_ref(), &options, &NoProgress, &stop)
        .await
        .unwrap();
    assert_eq!(resumed.status, SyncTaskStatus::Completed);
    let days: Vec<NaiveDate> = db
        .limit_up()
        .by_date(day("2024-06-03"))
        .await
        .unwrap()
        .iter()
        .map(|s| s.trade_date)
        .collect();
    assert_eq!(days.len(), 2, "both good lines under the first day");
    assert!(
        db.limit_up()
            .by_date(day("2024-06-04"))
            .await
            .unwrap()
            .is_empty()
    );
}
