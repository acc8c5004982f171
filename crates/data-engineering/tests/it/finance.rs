//! `PgStockFinanceRepository`: wide upserts and recent reports.

use data_engineering::{PgStockFinanceRepository, StockFinance, StockFinanceRepository};
use test_support::TestDb;

use crate::{code, date, report};

#[tokio::test]
async fn five_thousand_wide_rows_in_one_call() {
    let test_db = TestDb::new().await;
    let repo = PgStockFinanceRepository::new(test_db.db().clone());
    // Every one of the 91 columns set: a naive multi-VALUES insert of these would need
    // 455,000 bind parameters.
    let reports: Vec<StockFinance> = (0..5_000)
        .map(|i| {
            let mut r = report(&format!("{:06}.SZ", i / 8), "2024-04-20", "2024-03-31", 0.0);
            r.end_date = r.end_date - chrono::Months::new(3 * (i % 8));
            for (idx, name) in StockFinance::INDICATORS.iter().enumerate() {
                r.set_indicator(name, Some(f64::from(i) + idx as f64 / 100.0));
            }
            r.source = Some("tushare".into());
            r
        })
        .collect();
    let saved = repo.save_all(reports.clone()).await.unwrap();
    assert_eq!((saved.deduplicated, saved.inserted), (5_000, 5_000));
    assert_eq!(test_db.count("stock_finance").await, 5_000);
    let recent = repo
        .get_by_third_code_recent(&code("000000.SZ"), 1)
        .await
        .unwrap();
    assert_eq!(recent, [reports[0].clone()], "every column round-trips");
}

#[tokio::test]
async fn recent_reports_come_newest_period_first_and_last_duplicate_wins() {
    let test_db = TestDb::new().await;
    let repo = PgStockFinanceRepository::new(test_db.db().clone());
    repo.save_all(vec![
        report("000001.SZ", "2023-08-20", "2023-06-30", 5.0),
        report("000001.SZ", "2024-04-20", "2024-03-31", 1.0),
        report("000001.SZ", "2024-03-15", "2023-12-31", 9.0),
        report("000001.SZ", "2024-04-20", "2024-03-31", 2.0),
        report("000002.SZ", "2024-04-20", "2024-03-31", 7.0),
    ])
    .await
    .unwrap();
    let recent = repo
        .get_by_third_code_recent(&code("000001.SZ"), 2)
        .await
        .unwrap();
    let view: Vec<(String, Option<f64>)> = recent
        .iter()
        .map(|r| (r.end_date.to_string(), r.roe))
        .collect();
    assert_eq!(
        view,
        [
            ("2024-03-31".to_owned(), Some(2.0)),
            ("2023-12-31".to_owned(), Some(9.0))
        ]
    );
    assert!(
        repo.get_by_third_code_recent(&code("000009.SZ"), 5)
            .await
            .unwrap()
            .is_empty()
    );
}

/// 600000.SH: Q1 announced 04-25 and restated 08-20; H1 announced 08-20. 000001.SZ: Q1
/// announced 04-20 only. 000002.SZ: nothing before 2024-05-01.
async fn restated(repo: &PgStockFinanceRepository) {
    repo.save_all(vec![
        report("600000.SH", "2024-04-25", "2024-03-31", 1.0),
        report("600000.SH", "2024-08-20", "2024-03-31", 1.5),
        report("600000.SH", "2024-08-20", "2024-06-30", 2.0),
        report("000001.SZ", "2024-04-20", "2024-03-31", 3.0),
        report("000002.SZ", "2024-05-01", "2024-03-31", 4.0),
    ])
    .await
    .unwrap();
}

fn periods(reports: &[StockFinance]) -> Vec<(String, String, Option<f64>)> {
    reports
        .iter()
        .map(|r| (r.end_date.to_string(), r.ann_date.to_string(), r.roe))
        .collect()
}

#[tokio::test]
async fn a_stock_as_of_a_day_sees_only_what_was_announced_by_then() {
    let test_db = TestDb::new().await;
    let repo = PgStockFinanceRepository::new(test_db.db().clone());
    restated(&repo).await;
    let code = code("600000.SH");
    let as_of = async |day: &str| periods(&repo.get_as_of(&code, date(day), 10).await.unwrap());
    assert!(
        as_of("2024-04-24").await.is_empty(),
        "nothing announced yet"
    );
    assert_eq!(
        as_of("2024-04-25").await,
        [("2024-03-31".into(), "2024-04-25".into(), Some(1.0))],
        "announced that day: visible"
    );
    assert_eq!(
        as_of("2024-08-19").await,
        [("2024-03-31".into(), "2024-04-25".into(), Some(1.0))],
        "the restatement and the half year, announced the next day, are invisible"
    );
    assert_eq!(
        as_of("2024-08-20").await,
        [
            ("2024-06-30".into(), "2024-08-20".into(), Some(2.0)),
            ("2024-03-31".into(), "2024-08-20".into(), Some(1.5)),
        ],
        "newest period first, each in its latest version"
    );
    assert_eq!(
        periods(&repo.get_as_of(&code, date("2025-01-01"), 1).await.unwrap()),
        [("2024-06-30".into(), "2024-08-20".into(), Some(2.0))],
        "at most N periods"
    );
    assert!(repo.get_as_of(&code, date("2025-01-01"), 0).await.is_err());
}

#[tokio::test]
async fn the_market_as_of_a_day_has_each_stocks_newest_known_period() {
    let test_db = TestDb::new().await;
    let repo = PgStockFinanceRepository::new(test_db.db().clone());
    assert!(
        repo.get_market_as_of(date("2024-01-01"))
            .await
            .unwrap()
            .is_empty()
    );
    restated(&repo).await;
    let market = async |day: &str| {
        repo.get_market_as_of(date(day))
            .await
            .unwrap()
            .iter()
            .map(|r| (r.third_code.to_string(), r.end_date.to_string(), r.roe))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        market("2024-04-30").await,
        [
            ("000001.SZ".into(), "2024-03-31".into(), Some(3.0)),
            ("600000.SH".into(), "2024-03-31".into(), Some(1.0)),
        ],
        "000002.SZ announced nothing yet: no row"
    );
    assert_eq!(
        market("2024-08-20").await,
        [
            ("000001.SZ".into(), "2024-03-31".into(), Some(3.0)),
            ("000002.SZ".into(), "2024-03-31".into(), Some(4.0)),
            ("600000.SH".into(), "2024-06-30".into(), Some(2.0)),
        ]
    );
}
