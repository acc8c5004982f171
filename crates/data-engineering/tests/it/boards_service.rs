//! The broken-board and previous-limit-up pools, the dragon-tiger list and sector flows:
//! each read from rows the earlier service's statements wrote, saved by stockdb and read
//! back by that service's `get_by_date` select, values equal; a large dragon-tiger save
//! (the engine's `COPY` path) keeps seats and stamps.

use std::sync::Arc;

use chrono::NaiveDateTime;
use data_engineering::{
    BrokenBoardStock, DayBoardRepository, DragonTigerEntry, PgDayBoardRepository,
    PreviousLimitUpStock, Seat, SectorFlow,
};
use serde_json::json;
use shared_db::ManualClock;
use test_support::TestDb;

use crate::{code, date};

fn at(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

#[tokio::test]
async fn broken_boards_and_previous_limit_ups_read_both_ways() {
    let test_db = TestDb::new().await;
    let pool = test_db.db().pool();
    // The service's PgBrokenBoardRepository.save_all (open_count always 0 there).
    sqlx::query(
        "INSERT INTO de_broken_board_pool (trade_date, third_code, stock_name, pct_chg, close, \
             amount, turnover_rate, open_count, first_limit_up_time, last_open_time, industry, \
             created_at, updated_at) \
         VALUES ('2024-06-04', '300001.SZ', '特锐德', 7.5, 20.1, 9.9e8, 8.8, 0, '101500', NULL, \
                 '电网设备', '2024-06-04 16:00', '2024-06-04 16:00') \
         ON CONFLICT (trade_date, third_code) DO UPDATE SET open_count = EXCLUDED.open_count, \
             updated_at = EXCLUDED.updated_at",
    )
    .execute(pool)
    .await
    .unwrap();
    let broken = PgDayBoardRepository::<BrokenBoardStock>::new(test_db.db().clone());
    let theirs = broken.by_date(date("2024-06-04")).await.unwrap();
    assert_eq!(
        theirs,
        [BrokenBoardStock {
            trade_date: date("2024-06-04"),
            third_code: code("300001.SZ"),
            stock_name: "特锐德".into(),
            pct_chg: 7.5,
            close: 20.1,
            amount: 9.9e8,
            turnover_rate: 8.8,
            open_count: 0,
            first_limit_up_time: Some("101500".into()),
            last_open_time: None,
            industry: "电网设备".into(),
        }]
    );
    let mut ours = theirs[0].clone();
    ours.third_code = code("600111.SH");
    ours.open_count = 3;
    broken.save_all(vec![ours]).await.unwrap();
    let read: Vec<(String, i32)> = sqlx::query_as(
        "SELECT third_code, open_count FROM de_broken_board_pool WHERE trade_date = '2024-06-04' \
         ORDER BY third_code",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(read, [("300001.SZ".into(), 0), ("600111.SH".into(), 3)]);

    let previous = PgDayBoardRepository::<PreviousLimitUpStock>::new(test_db.db().clone());
    // The service's PgPreviousLimitUpRepository.save_all, read back by stockdb.
    sqlx::query(
        "INSERT INTO de_previous_limit_up (trade_date, third_code, stock_name, pct_chg, close, \
             amount, turnover_rate, yesterday_consecutive_boards, industry, created_at, updated_at) \
         VALUES ('2024-06-04', '603002.SH', '宏昌电子', -3.1, 5.31, 9e7, 1.5, 1, '电子化学品', \
                 '2024-06-04 16:00', '2024-06-04 16:00') \
         ON CONFLICT (trade_date, third_code) DO UPDATE SET pct_chg = EXCLUDED.pct_chg, \
             updated_at = EXCLUDED.updated_at",
    )
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(
        previous.by_date(date("2024-06-04")).await.unwrap(),
        [PreviousLimitUpStock {
            trade_date: date("2024-06-04"),
            third_code: code("603002.SH"),
            stock_name: "宏昌电子".into(),
            pct_chg: -3.1,
            close: 5.31,
            amount: 9e7,
            turnover_rate: 1.5,
            yesterday_consecutive_boards: 1,
            industry: "电子化学品".into(),
        }]
    );
    let row = |third_code: &str, pct_chg: f64| PreviousLimitUpStock {
        trade_date: date("2024-06-05"),
        third_code: code(third_code),
        stock_name: format!("name of {third_code}"),
        pct_chg,
        close: 8.0,
        amount: 1e8,
        turnover_rate: 3.0,
        yesterday_consecutive_boards: 2,
        industry: String::new(),
    };
    previous
        .save_all(vec![row("000001.SZ", -3.2), row("600000.SH", 6.1)])
        .await
        .unwrap();
    let best_first: Vec<f64> = previous
        .by_date(date("2024-06-05"))
        .await
        .unwrap()
        .iter()
        .map(|r| r.pct_chg)
        .collect();
    assert_eq!(best_first, [6.1, -3.2]);
    let mut bad = row("000002.SZ", 1.0);
    bad.yesterday_consecutive_boards = 0;
    let err = previous.save_all(vec![bad]).await.unwrap_err();
    assert!(
        err.to_string().contains("yesterday_consecutive_boards"),
        "{err}"
    );
}

fn entry(third_code: &str, reason: &str, net: f64) -> DragonTigerEntry {
    DragonTigerEntry {
        trade_date: date("2024-06-03"),
        third_code: code(third_code),
        stock_name: format!("name of {third_code}"),
        pct_chg: 10.0,
        close: 15.2,
        reason: reason.into(),
        net_amount: net,
        buy_amount: 5e7,
        sell_amount: 5e7 - net,
        buy_seats: vec![Seat {
            seat_name: "机构专用".into(),
            amount: 3.512e7,
        }],
        sell_seats: vec![Seat {
            seat_name: "华鑫证券上海分公司".into(),
            amount: 1.2e7,
        }],
    }
}

#[tokio::test]
async fn dragon_tiger_seats_are_stored_as_the_service_shapes_them() {
    let test_db = TestDb::new().await;
    let pool = test_db.db().pool();
    let clock = Arc::new(ManualClock::new(at("2024-06-03T12:00:00")));
    let repo =
        PgDayBoardRepository::<DragonTigerEntry>::new(test_db.db().with_clock(clock.clone()));
    let listed = vec![
        entry("600001.SH", "日涨幅偏离值达7%", 2e7),
        entry("600001.SH", "连续三个交易日内涨幅偏离值累计达20%", 2e7),
        entry("000002.SZ", "日换手率达20%", 4e7),
    ];
    let saved = repo.save_all(listed.clone()).await.unwrap();
    assert_eq!(saved.inserted, 3, "one stock, two reasons: two entries");
    // The service's get_by_date reads its JSON as it wrote it.
    let (buy, sell): (serde_json::Value, serde_json::Value) = sqlx::query_as(
        "SELECT buy_seats, sell_seats FROM de_dragon_tiger WHERE trade_date = '2024-06-03' \
         AND third_code = '000002.SZ'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        buy,
        json!([{"seat_name": "机构专用", "buy_amount": 35120000.0}])
    );
    assert_eq!(
        sell,
        json!([{"seat_name": "华鑫证券上海分公司", "sell_amount": 12000000.0}])
    );
    let read = repo.by_date(date("2024-06-03")).await.unwrap();
    assert_eq!(read[0], listed[2], "most net buying first, values equal");
    // The service's own rows: seats always [] there.
    sqlx::query(
        "INSERT INTO de_dragon_tiger (trade_date, third_code, stock_name, pct_chg, close, reason, \
             net_amount, buy_amount, sell_amount, buy_seats, sell_seats, created_at, updated_at) \
         VALUES ('2024-06-04', '002230.SZ', '科大讯飞', -5.0, 40.0, '日跌幅偏离值达7%', -1e7, 2e7, \
                 3e7, '[]', '[]', '2024-06-04 18:00', '2024-06-04 18:00') \
         ON CONFLICT (trade_date, third_code, reason) DO UPDATE SET buy_seats = EXCLUDED.buy_seats",
    )
    .execute(pool)
    .await
    .unwrap();
    let theirs = repo.by_date(date("2024-06-04")).await.unwrap();
    assert!(theirs[0].buy_seats.is_empty() && theirs[0].sell_seats.is_empty());
    assert_eq!(repo.latest_day().await.unwrap(), Some(date("2024-06-04")));
    // A seat a foreign writer broke is an error naming the column, not a wrong seat.
    sqlx::query(
        "UPDATE de_dragon_tiger SET sell_seats = '[{\"seat\": 1}]' WHERE third_code = '002230.SZ'",
    )
    .execute(pool)
    .await
    .unwrap();
    let err = repo.by_date(date("2024-06-04")).await.unwrap_err();
    assert!(err.to_string().contains("sell_seats"), "{err}");
}

#[tokio::test]
async fn a_large_list_goes_by_copy_with_its_seats_and_stamps() {
    let test_db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new(at("2024-06-03T12:00:00")));
    let repo =
        PgDayBoardRepository::<DragonTigerEntry>::new(test_db.db().with_clock(clock.clone()));
    let many: Vec<DragonTigerEntry> = (0..1_500)
        .map(|i| {
            entry(
                &format!("{:06}.SZ", i + 1),
                "日涨幅偏离值达7%",
                f64::from(i),
            )
        })
        .collect();
    assert_eq!(repo.save_all(many.clone()).await.unwrap().inserted, 1_500);
    clock.advance(chrono::Duration::hours(1));
    let mut changed = many.clone();
    changed[7].sell_seats.clear();
    let again = repo.save_all(changed.clone()).await.unwrap();
    assert_eq!((again.updated, again.unchanged), (1, 1_499));
    let stamps: Vec<(String, NaiveDateTime, NaiveDateTime)> = sqlx::query_as(
        "SELECT third_code, created_at, updated_at FROM de_dragon_tiger \
         WHERE third_code IN ('000008.SZ', '000009.SZ') ORDER BY third_code",
    )
    .fetch_all(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(
        stamps,
        [
            (
                "000008.SZ".into(),
                at("2024-06-03T12:00:00"),
                at("2024-06-03T13:00:00")
            ),
            (
                "000009.SZ".into(),
                at("2024-06-03T12:00:00"),
                at("2024-06-03T12:00:00")
            ),
        ]
    );
    let read = repo.by_date(date("2024-06-03")).await.unwrap();
    let stored = read
        .iter()
        .find(|e| e.third_code.as_str() == "000008.SZ")
        .unwrap();
    assert_eq!(stored, &changed[7]);
}

#[tokio::test]
async fn sector_flows_are_kept_per_type_and_read_by_net_inflow() {
    let test_db = TestDb::new().await;
    let repo = PgDayBoardRepository::<SectorFlow>::new(test_db.db().clone());
    let flow = |name: &str, kind: &str, net: f64| SectorFlow {
        trade_date: date("2024-06-03"),
        sector_name: name.into(),
        sector_type: kind.into(),
        net_amount: net,
        inflow_amount: 0.0,
        outflow_amount: 0.0,
        pct_chg: 1.5,
    };
    repo.save_all(vec![
        flow("半导体", "行业资金流", 3e8),
        flow("半导体", "概念资金流", -1e8),
        flow("光伏概念", "概念资金流", 5e8),
    ])
    .await
    .unwrap();
    let read: Vec<(String, String)> = repo
        .by_date(date("2024-06-03"))
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.sector_type, f.sector_name))
        .collect();
    assert_eq!(
        read,
        [
            ("概念资金流".into(), "光伏概念".into()),
            ("概念资金流".into(), "半导体".into()),
            ("行业资金流".into(), "半导体".into()),
        ]
    );
    // The service's get_by_date(d, sector_type).
    let theirs: Vec<(String, f64)> = sqlx::query_as(
        "SELECT sector_name, net_amount FROM de_sector_capital_flow \
         WHERE trade_date = '2024-06-03' AND sector_type = '行业资金流'",
    )
    .fetch_all(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(theirs, [("半导体".into(), 3e8)]);
    // Its save_all, read back by stockdb (in/outflow 0, as it always stores them).
    sqlx::query(
        "INSERT INTO de_sector_capital_flow (trade_date, sector_name, sector_type, net_amount, \
             inflow_amount, outflow_amount, pct_chg, created_at, updated_at) \
         VALUES ('2024-06-04', '白酒', '概念资金流', 1.2e8, 0, 0, -0.4, '2024-06-04 16:00', \
                 '2024-06-04 16:00') \
         ON CONFLICT (trade_date, sector_name, sector_type) DO UPDATE SET \
             net_amount = EXCLUDED.net_amount, updated_at = EXCLUDED.updated_at",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(
        repo.by_date(date("2024-06-04")).await.unwrap(),
        [SectorFlow {
            trade_date: date("2024-06-04"),
            ..flow("白酒", "概念资金流", 1.2e8)
        }]
        .map(|f| SectorFlow { pct_chg: -0.4, ..f })
    );
    let err = repo
        .save_all(vec![flow("", "概念资金流", 1.0)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sector_name"), "{err}");
}
