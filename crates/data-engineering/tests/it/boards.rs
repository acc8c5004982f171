//! `PgDayBoardRepository`: each day board upserted on its natural key, stamped by the
//! handle's clock, read in its order, and beside the earlier service's own statements (its
//! repositories' `save_all` upserts and `get_by_date` selects, issued as it issues them).

use std::sync::Arc;

use chrono::NaiveDateTime;
use data_engineering::{DayBoardRepository, LimitUpStock, PgDayBoardRepository};
use shared_db::ManualClock;
use test_support::TestDb;

use crate::{code, date};

fn stock(third_code: &str, boards: i32, first: &str) -> LimitUpStock {
    LimitUpStock {
        trade_date: date("2024-06-03"),
        third_code: code(third_code),
        stock_name: format!("name of {third_code}"),
        pct_chg: 10.01,
        close: 12.31,
        amount: 1.5e8,
        turnover_rate: 6.2,
        consecutive_boards: boards,
        first_limit_up_time: Some(first.into()),
        last_limit_up_time: Some("145700".into()),
        industry: "汽车零部件".into(),
    }
}

async fn times(test_db: &TestDb, third_code: &str) -> (NaiveDateTime, NaiveDateTime) {
    sqlx::query_as("SELECT created_at, updated_at FROM de_limit_up_pool WHERE third_code = $1")
        .bind(third_code)
        .fetch_one(test_db.db().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_days_pool_is_upserted_on_its_key_and_read_by_boards() {
    let test_db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new("2024-06-03T10:00:00".parse().unwrap()));
    let repo = PgDayBoardRepository::<LimitUpStock>::new(test_db.db().with_clock(clock.clone()));
    let pool = vec![
        stock("600001.SH", 1, "093000"),
        stock("000002.SZ", 3, "092500"),
        stock("300003.SZ", 1, "092500"),
        stock("600001.SH", 1, "093100"),
    ];
    let saved = repo.save_all(pool.clone()).await.unwrap();
    assert_eq!(
        (saved.received, saved.deduplicated, saved.inserted),
        (4, 3, 3)
    );
    let day = repo.by_date(date("2024-06-03")).await.unwrap();
    let order: Vec<(&str, i32)> = day
        .iter()
        .map(|s| (s.third_code.as_str(), s.consecutive_boards))
        .collect();
    assert_eq!(
        order,
        [("000002.SZ", 3), ("300003.SZ", 1), ("600001.SH", 1)],
        "most boards first, then the earliest to seal"
    );
    assert_eq!(
        day[2].first_limit_up_time.as_deref(),
        Some("093100"),
        "the last duplicate won"
    );
    clock.advance(chrono::Duration::hours(8));
    let mut later = pool[1].clone();
    later.close = 12.5;
    let again = repo.save_all(vec![later, pool[2].clone()]).await.unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 1, 1));
    let (created, updated) = times(&test_db, "000002.SZ").await;
    assert_eq!(
        (created.to_string(), updated.to_string()),
        ("2024-06-03 10:00:00".into(), "2024-06-03 18:00:00".into())
    );
    let (_, untouched) = times(&test_db, "300003.SZ").await;
    assert_eq!(
        untouched.to_string(),
        "2024-06-03 10:00:00",
        "an equal row is not rewritten"
    );
    assert_eq!(repo.latest_day().await.unwrap(), Some(date("2024-06-03")));
    let mut bad = pool[0].clone();
    bad.consecutive_boards = 0;
    let err = repo.save_all(vec![pool[0].clone(), bad]).await.unwrap_err();
    assert!(err.to_string().contains("consecutive_boards"), "{err}");
}

#[tokio::test]
async fn the_services_pool_and_ours_read_both_ways() {
    let test_db = TestDb::new().await;
    let pool = test_db.db().pool();
    // The service's PgLimitUpPoolRepository.save_all, times from its local clock.
    sqlx::query(
        "INSERT INTO de_limit_up_pool (trade_date, third_code, stock_name, pct_chg, close, amount, \
             turnover_rate, consecutive_boards, first_limit_up_time, last_limit_up_time, industry, \
             created_at, updated_at) \
         VALUES ('2024-06-04', '002594.SZ', '比亚迪', 10.0, 250.8, 3.2e9, 2.1, 2, '093512', NULL, \
                 '汽车整车', '2024-06-04 16:00', '2024-06-04 16:00') \
         ON CONFLICT (trade_date, third_code) DO UPDATE SET stock_name = EXCLUDED.stock_name, \
             updated_at = EXCLUDED.updated_at",
    )
    .execute(pool)
    .await
    .unwrap();
    let repo = PgDayBoardRepository::<LimitUpStock>::new(test_db.db().clone());
    let theirs = repo.by_date(date("2024-06-04")).await.unwrap();
    assert_eq!(
        (
            theirs[0].stock_name.as_str(),
            theirs[0].consecutive_boards,
            theirs[0].last_limit_up_time.clone()
        ),
        ("比亚迪", 2, None)
    );
    repo.save_all(vec![stock("600519.SH", 1, "100000")])
        .await
        .unwrap();
    // Its get_by_date.
    let read: Vec<(String, i32, String)> = sqlx::query_as(
        "SELECT third_code, consecutive_boards, industry FROM de_limit_up_pool WHERE trade_date = '2024-06-03'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(read, [("600519.SH".to_owned(), 1, "汽车零部件".to_owned())]);
}
