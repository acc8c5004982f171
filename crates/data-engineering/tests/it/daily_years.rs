//! Daily bars and their yearly partitions: a batch of one year is written straight into
//! its year's partition, a batch of several through the table, and both report the same
//! exact counts.

use data_engineering::{PgStockDailyRepository, StockDaily, StockDailyRepository};
use shared_db::{Destination, Merge, RepoError, upsert_to};
use test_support::TestDb;

use crate::bar;

/// One bar of `day` for each of `stocks` stocks, closing at `close`.
fn day_bars(day: &str, stocks: usize, close: f64) -> Vec<StockDaily> {
    (0..stocks)
        .map(|s| bar(&format!("{s:06}.SZ"), day, close))
        .collect()
}

/// Saves `first`, then `first` with every other close changed beside the bars of
/// `next_day`, then merges a valuation onto `next_day`'s bars: the three reports'
/// `(inserted, updated, unchanged)`.
async fn save_change_merge(
    repo: &PgStockDailyRepository,
    first: Vec<StockDaily>,
    next_day: &str,
) -> [(u64, u64, u64); 3] {
    let stocks = first.len();
    let counts = |r: shared_db::UpsertReport| (r.inserted, r.updated, r.unchanged);
    let saved = counts(repo.save_all(first.clone()).await.unwrap());
    let mut second = first;
    for row in second.iter_mut().step_by(2) {
        row.close = Some(9.0);
    }
    second.extend(day_bars(next_day, stocks, 1.0));
    let changed = counts(repo.save_all(second).await.unwrap());
    let valuations = day_bars(next_day, stocks, 1.0)
        .into_iter()
        .map(|mut row| {
            row.close = None;
            row.pe = Some(33.0);
            row
        })
        .collect();
    let merged = counts(repo.merge_all(valuations).await.unwrap());
    [saved, changed, merged]
}

#[tokio::test]
async fn a_batch_of_one_year_and_one_across_years_report_the_same_exact_counts() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    // 10 stocks: one UNNEST statement; 1,200: COPY, then the staging table.
    for (stocks, [day, next, last_of_2024, first_of_2025]) in [
        (
            10_u64,
            ["2025-03-03", "2025-03-04", "2024-12-30", "2025-01-02"],
        ),
        (
            1_200,
            ["2025-04-01", "2025-04-02", "2024-12-31", "2025-01-03"],
        ),
    ] {
        let n = usize::try_from(stocks).unwrap();
        let half = stocks / 2;
        let expected = [(stocks, 0, 0), (stocks, half, half), (0, stocks, 0)];
        // The second batch is of 2025 alone, straight into its partition.
        let one_year = save_change_merge(&repo, day_bars(day, n, 1.0), next);
        assert_eq!(one_year.await, expected, "{stocks} stocks, one year");
        // The second batch spans 2024 and 2025, through the table.
        let two_years = save_change_merge(&repo, day_bars(last_of_2024, n, 1.0), first_of_2025);
        assert_eq!(two_years.await, expected, "{stocks} stocks, two years");
    }
    assert_eq!(test_db.count("stock_daily_2025").await, 3 * (10 + 1_200));
    assert_eq!(test_db.count("stock_daily_2024").await, 10 + 1_200);
    assert_eq!(test_db.count("stock_daily_default").await, 0);
    let merged = test_db
        .text("SELECT count(*)::text FROM stock_daily WHERE pe = 33 AND close = 1")
        .await;
    assert_eq!(merged, (2 * (10 + 1_200)).to_string());
}

#[tokio::test]
async fn a_batch_named_into_a_table_that_is_not_a_partition_is_refused_and_writes_nothing() {
    let test_db = TestDb::new().await;
    test_db
        .execute("CREATE TABLE stray_2025 (LIKE stock_daily INCLUDING ALL)")
        .await;
    for stocks in [10, 1_200] {
        let err = upsert_to(
            test_db.db(),
            day_bars("2025-03-03", stocks, 1.0),
            Merge::Overwrite,
            Destination::Partition("stray_2025"),
        )
        .await
        .unwrap_err();
        let RepoError::Invalid(invalid) = err else {
            panic!("expected the partition refused, got {err:?}");
        };
        assert_eq!(
            (invalid.field, invalid.value.as_str()),
            ("partition", "\"stray_2025\"")
        );
        assert!(invalid.reason.contains("stock_daily"), "{invalid}");
    }
    assert_eq!(test_db.count("stray_2025").await, 0);
    assert_eq!(test_db.count("stock_daily").await, 0);
}
