//! The cross-section of window returns: every stock's return over its own last bars
//! ending on a day.

use data_engineering::{PgStockDailyRepository, StockDailyRepository, WindowReturn};
use shared_db::RepoError;
use test_support::TestDb;

use crate::{bar, code, date};

fn factored(
    third_code: &str,
    day: &str,
    close: f64,
    factor: Option<f64>,
) -> data_engineering::StockDaily {
    let mut daily = bar(third_code, day, close);
    daily.adj_factor = factor;
    daily
}

#[tokio::test]
async fn each_stock_counts_its_own_bars_and_splits_are_taken_out() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    repo.save_all(vec![
        // Bars every day; a 2-for-1 split on the 5th halves the price, doubles the factor.
        factored("000001.SZ", "2024-01-02", 10.0, Some(1.0)),
        factored("000001.SZ", "2024-01-03", 10.5, Some(1.0)),
        factored("000001.SZ", "2024-01-04", 11.0, Some(1.0)),
        factored("000001.SZ", "2024-01-05", 5.75, Some(2.0)),
        // Suspended on the 3rd and the 4th: its window reaches back further.
        factored("600000.SH", "2023-12-29", 4.0, Some(1.0)),
        factored("600000.SH", "2024-01-02", 5.0, Some(1.0)),
        factored("600000.SH", "2024-01-05", 6.0, Some(1.0)),
        // Too young for the window.
        factored("688001.SH", "2024-01-04", 20.0, Some(1.0)),
        factored("688001.SH", "2024-01-05", 21.0, Some(1.0)),
        // A missing factor: the stock is there, its return is not.
        factored("000002.SZ", "2024-01-03", 8.0, None),
        factored("000002.SZ", "2024-01-04", 8.0, Some(1.0)),
        factored("000002.SZ", "2024-01-05", 9.0, Some(1.0)),
        // No bar on the day: not in the cross-section.
        factored("000009.SZ", "2024-01-02", 3.0, Some(1.0)),
        factored("000009.SZ", "2024-01-03", 3.0, Some(1.0)),
        factored("000009.SZ", "2024-01-04", 3.0, Some(1.0)),
    ])
    .await
    .unwrap();
    let returns = repo
        .get_window_returns(date("2024-01-05"), 2)
        .await
        .unwrap();
    let round = |r: &WindowReturn| {
        (
            r.third_code.to_string(),
            r.start_date.to_string(),
            r.ret.map(|x| (x * 1e6).round() / 1e6),
        )
    };
    assert_eq!(
        returns.iter().map(round).collect::<Vec<_>>(),
        [
            (
                "000001.SZ".to_owned(),
                "2024-01-03".to_owned(),
                Some(0.095238)
            ),
            ("000002.SZ".to_owned(), "2024-01-03".to_owned(), None),
            ("600000.SH".to_owned(), "2023-12-29".to_owned(), Some(0.5)),
        ]
    );
    // One bar back: the day before in each stock's own series.
    let one = repo
        .get_window_returns(date("2024-01-05"), 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 4);
    assert_eq!(one[3].third_code, code("688001.SH"));
    assert_eq!(one[3].start_date, date("2024-01-04"));
    assert!(
        repo.get_window_returns(date("2024-01-06"), 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_window_outside_its_bounds_is_refused_by_name() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    for window in [0, data_engineering::MAX_TRADING_DAYS + 1] {
        let err = repo
            .get_window_returns(date("2024-01-05"), window)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RepoError::Invalid(invalid) if invalid.to_string().contains("window")),
            "{err}"
        );
    }
}
