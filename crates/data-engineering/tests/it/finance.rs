//! `PgStockFinanceRepository`: wide upserts and recent reports.

use data_engineering::{PgStockFinanceRepository, StockFinance, StockFinanceRepository};
use test_support::TestDb;

use crate::{code, report};

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
