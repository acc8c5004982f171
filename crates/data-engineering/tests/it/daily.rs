//! `PgStockDailyRepository`: bulk upserts, ranges, latest bars, the market view, and
//! concurrent writers.

use std::sync::Arc;

use data_engineering::{
    PgStockDailyRepository, PgStockRepository, StockDailyRepository, StockRepository,
};
use shared_db::RepoError;
use test_support::TestDb;

use crate::{bar, code, date, stock};

#[tokio::test]
async fn duplicates_in_one_call_keep_the_last_row() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    let report = repo
        .save_all(vec![
            bar("000001.SZ", "2024-01-02", 10.0),
            bar("000001.SZ", "2024-01-03", 11.0),
            bar("000001.SZ", "2024-01-02", 12.0),
        ])
        .await
        .unwrap();
    assert_eq!(
        (report.received, report.deduplicated, report.inserted),
        (3, 2, 2)
    );
    let rows = repo
        .get_by_third_code_and_date_range(
            &code("000001.SZ"),
            date("2024-01-02"),
            date("2024-01-02"),
        )
        .await
        .unwrap();
    assert_eq!(rows[0].close, Some(12.0));
}

#[tokio::test]
async fn save_all_overwrites_changed_rows_and_skips_identical_ones() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    let rows = vec![
        bar("000001.SZ", "2024-01-02", 10.0),
        bar("000001.SZ", "2024-01-03", 11.0),
    ];
    repo.save_all(rows.clone()).await.unwrap();
    let mut changed = rows.clone();
    changed[1].close = Some(11.5);
    changed[1].vol = Some(1_000.0);
    let report = repo.save_all(changed).await.unwrap();
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (0, 1, 1)
    );
    let latest = repo
        .get_latest_by_third_code(&code("000001.SZ"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((latest.close, latest.vol), (Some(11.5), Some(1_000.0)));
}

#[tokio::test]
async fn ranges_are_inclusive_and_ascending() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    repo.save_all(vec![
        bar("000001.SZ", "2024-01-05", 5.0),
        bar("000001.SZ", "2024-01-02", 2.0),
        bar("000001.SZ", "2024-01-04", 4.0),
        bar("000001.SZ", "2024-01-08", 8.0),
        bar("000002.SZ", "2024-01-04", 40.0),
    ])
    .await
    .unwrap();
    let rows = repo
        .get_by_third_code_and_date_range(
            &code("000001.SZ"),
            date("2024-01-02"),
            date("2024-01-05"),
        )
        .await
        .unwrap();
    let days: Vec<String> = rows.iter().map(|r| r.trade_date.to_string()).collect();
    assert_eq!(days, ["2024-01-02", "2024-01-04", "2024-01-05"]);

    let valuations = repo
        .get_valuation_dailies(&code("000001.SZ"), date("2024-01-04"), date("2024-01-08"))
        .await
        .unwrap();
    let pes: Vec<Option<f64>> = valuations.iter().map(|v| v.pe).collect();
    assert_eq!(pes, [Some(8.0), Some(10.0), Some(16.0)]);

    let err = repo
        .get_by_third_code_and_date_range(
            &code("000001.SZ"),
            date("2024-01-05"),
            date("2024-01-02"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RepoError::Invalid(ref i) if i.field == "start"),
        "{err:?}"
    );
}

#[tokio::test]
async fn latest_on_an_empty_table_is_none() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    assert_eq!(repo.get_latest_trade_date().await.unwrap(), None);
    assert_eq!(
        repo.get_latest_by_third_code(&code("000001.SZ"))
            .await
            .unwrap(),
        None
    );
    repo.save_all(vec![
        bar("000001.SZ", "2024-01-02", 1.0),
        bar("000002.SZ", "2024-01-03", 1.0),
    ])
    .await
    .unwrap();
    assert_eq!(
        repo.get_latest_trade_date().await.unwrap(),
        Some(date("2024-01-03"))
    );
    let latest = repo
        .get_latest_by_third_code(&code("000001.SZ"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.trade_date, date("2024-01-02"));
}

#[tokio::test]
async fn the_market_on_one_day_comes_with_names() {
    let test_db = TestDb::new().await;
    let stocks = PgStockRepository::new(test_db.db().clone());
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    stocks
        .save_all(vec![
            stock("600000.SH", "600000", "浦发银行"),
            stock("000001.SZ", "000001", "平安银行"),
        ])
        .await
        .unwrap();
    repo.save_all(vec![
        bar("600000.SH", "2024-01-02", 7.0),
        bar("000001.SZ", "2024-01-02", 9.0),
        bar("000009.SZ", "2024-01-02", 3.0),
        bar("000001.SZ", "2024-01-03", 9.5),
    ])
    .await
    .unwrap();
    let market = repo
        .get_all_by_trade_date(date("2024-01-02"))
        .await
        .unwrap();
    let view: Vec<(&str, Option<&str>)> = market
        .iter()
        .map(|m| (m.daily.third_code.as_str(), m.name.as_deref()))
        .collect();
    assert_eq!(
        view,
        [
            ("000001.SZ", Some("平安银行")),
            ("000009.SZ", None),
            ("600000.SH", Some("浦发银行"))
        ]
    );
    assert!(
        repo.get_all_by_trade_date(date("2024-01-06"))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_non_finite_value_is_refused_with_its_row_and_nothing_is_written() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    let mut bad = bar("000001.SZ", "2024-01-03", 1.0);
    bad.pct_chg = Some(f64::NAN);
    let err = repo
        .save_all(vec![bar("000001.SZ", "2024-01-02", 1.0), bad])
        .await
        .unwrap_err();
    let RepoError::Invalid(invalid) = err else {
        panic!("{err:?}")
    };
    assert_eq!((invalid.field, invalid.row), ("pct_chg", Some(1)));
    assert_eq!(invalid.value, "NaN");
    assert_eq!(test_db.count("stock_daily").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_writers_in_opposite_orders_do_not_deadlock() {
    let test_db = TestDb::new().await;
    let repo = Arc::new(PgStockDailyRepository::new(test_db.db().clone()));
    let days: Vec<String> = (1..=28).map(|d| format!("2024-02-{d:02}")).collect();
    let rows = |version: f64| -> Vec<_> {
        (0..300)
            .flat_map(|s| {
                let days = &days;
                (0..days.len()).map(move |d| bar(&format!("{s:06}.SZ"), &days[d], version))
            })
            .collect()
    };
    for round in 0..3 {
        let forward = rows(f64::from(round));
        let mut backward = rows(f64::from(round) + 0.5);
        backward.reverse();
        let (a, b) = (Arc::clone(&repo), Arc::clone(&repo));
        let (first, second) = tokio::join!(
            tokio::spawn(async move { a.save_all(forward).await }),
            tokio::spawn(async move { b.save_all(backward).await }),
        );
        first.unwrap().unwrap();
        second.unwrap().unwrap();
    }
    assert_eq!(test_db.count("stock_daily").await, 300 * 28);
}

#[tokio::test]
async fn a_large_batch_of_mostly_new_rows_reports_inserts_and_updates_exactly() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    let days: Vec<String> = (1..=20).map(|d| format!("2024-03-{d:02}")).collect();
    let batch: Vec<_> = (0..1_000)
        .flat_map(|s| {
            days.iter()
                .map(move |day| bar(&format!("{s:06}.SZ"), day, 1.0))
        })
        .collect();
    // Stored beforehand: every 37th row, but not the first, middle or last one, so the
    // first COPY attempt meets a stored key mid-chunk and falls back to the upsert.
    let stored: Vec<_> = batch.iter().skip(1).step_by(37).cloned().collect();
    repo.save_all(stored.clone()).await.unwrap();
    let mut batch = batch;
    for row in &mut batch {
        row.close = Some(2.0);
    }
    let report = repo.save_all(batch.clone()).await.unwrap();
    assert_eq!(report.deduplicated, 20_000);
    assert_eq!(report.updated, stored.len() as u64);
    assert_eq!(report.inserted, 20_000 - stored.len() as u64);
    assert_eq!(test_db.count("stock_daily").await, 20_000);
    let last = repo
        .get_latest_by_third_code(&code("000999.SZ"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.close, Some(2.0));

    // All stored now: the sampled keys send the next call straight to the upsert.
    let report = repo.save_all(batch).await.unwrap();
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (0, 0, 20_000)
    );
}

#[tokio::test]
async fn merge_all_never_erases_stored_values() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    repo.save_all(vec![bar("000001.SZ", "2024-01-02", 10.0)])
        .await
        .unwrap();
    // A daily_basic-like row: valuation only.
    let mut basic = data_engineering::StockDaily::new(code("000001.SZ"), date("2024-01-02"));
    basic.pb = Some(1.5);
    let report = repo.merge_all(vec![basic.clone()]).await.unwrap();
    assert_eq!(report.updated, 1);
    let merged = repo
        .get_latest_by_third_code(&code("000001.SZ"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (merged.close, merged.pe, merged.pb),
        (Some(10.0), Some(20.0), Some(1.5))
    );
    // save_all, by contrast, overwrites every value column.
    repo.save_all(vec![basic]).await.unwrap();
    let overwritten = repo
        .get_latest_by_third_code(&code("000001.SZ"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((overwritten.close, overwritten.pb), (None, Some(1.5)));
}

/// 2,000 bars of 100 stocks on 20 days, each with `close`.
fn block(close: f64) -> Vec<data_engineering::StockDaily> {
    (0..100)
        .flat_map(|s| {
            (1..=20).map(move |d| bar(&format!("{s:06}.SZ"), &format!("2024-04-{d:02}"), close))
        })
        .collect()
}

#[tokio::test]
async fn a_large_merge_through_the_staging_table_keeps_what_it_does_not_bring() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    repo.save_all(block(10.0)).await.unwrap();
    // A daily_basic file: valuation only, for every stored bar and 500 new ones.
    let mut basics: Vec<_> = block(0.0)
        .into_iter()
        .chain((1..=5).flat_map(|d| {
            (100..200).map(move |s| bar(&format!("{s:06}.SZ"), &format!("2024-05-{d:02}"), 0.0))
        }))
        .map(|mut b| {
            b.close = None;
            b.pe = None;
            b.pb = Some(1.5);
            b
        })
        .collect();
    basics.reverse();
    let report = repo.merge_all(basics).await.unwrap();
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (500, 2_000, 0)
    );
    let merged = repo
        .get_latest_by_third_code(&code("000042.SZ"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (merged.close, merged.pe, merged.pb),
        (Some(10.0), Some(20.0), Some(1.5))
    );
}

#[tokio::test]
async fn two_large_upserts_in_one_transaction_each_stage_their_rows() {
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    repo.save_all(block(1.0)).await.unwrap();
    let mut txn = test_db.db().pool().begin().await.unwrap();
    for close in [2.0, 3.0] {
        let report = shared_db::upsert_in(&mut txn, block(close), shared_db::Merge::Overwrite)
            .await
            .unwrap();
        assert_eq!((report.inserted, report.updated), (0, 2_000));
    }
    txn.commit().await.unwrap();
    let last = repo
        .get_latest_by_third_code(&code("000099.SZ"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.close, Some(3.0));
    assert_eq!(test_db.count("stock_daily").await, 2_000);
}

/// 600000.SH from 2024-06-03: a 0.50 dividend before the 5th (factor 1 → 1.05) and a
/// 2-for-1 split before the 7th (1.05 → 2.10); the 6th was stored without a factor.
async fn corporate_actions(repo: &PgStockDailyRepository) {
    let bars = [
        ("2024-06-03", 10.00, Some(1.0)),
        ("2024-06-04", 10.50, Some(1.0)),
        ("2024-06-05", 10.00, Some(1.05)),
        ("2024-06-06", 10.20, None),
        ("2024-06-07", 5.00, Some(2.10)),
    ]
    .map(|(day, close, factor)| {
        let mut bar = bar("600000.SH", day, close);
        bar.open = Some(close);
        bar.adj_factor = factor;
        bar
    });
    repo.save_all(bars.to_vec()).await.unwrap();
}

fn adjusted_closes(bars: &[data_engineering::StockDaily]) -> Vec<f64> {
    bars.iter()
        .map(|b| (b.close.unwrap() * 10_000.0).round() / 10_000.0)
        .collect()
}

#[tokio::test]
async fn adjusted_prices_take_out_a_dividend_and_a_split() {
    use data_engineering::Adjust;
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    corporate_actions(&repo).await;
    let code = code("600000.SH");
    let (from, to) = (date("2024-06-03"), date("2024-06-07"));
    let get = async |adjust| repo.get_adjusted(&code, from, to, adjust).await.unwrap();

    let plain = get(Adjust::None).await;
    assert_eq!(adjusted_closes(&plain), [10.0, 10.5, 10.0, 10.2, 5.0]);
    // Hand-computed: close × factor / 2.10 (the factor on the 7th); the 6th carries 1.05.
    let forward = get(Adjust::Forward { anchor: None }).await;
    assert_eq!(adjusted_closes(&forward), [4.7619, 5.0, 5.0, 5.1, 5.0]);
    assert_eq!(
        forward[1].open, forward[1].close,
        "every price column is scaled"
    );
    assert_eq!(forward[4].vol, plain[4].vol, "volumes are as stored");
    // close × factor.
    let backward = get(Adjust::Backward).await;
    assert_eq!(adjusted_closes(&backward), [10.0, 10.5, 10.5, 10.71, 10.5]);
    // Anchored on the 5th: prices of the 5th as traded.
    let anchored = get(Adjust::Forward {
        anchor: Some(date("2024-06-05")),
    })
    .await;
    assert_eq!(adjusted_closes(&anchored)[2], 10.0);
}

#[tokio::test]
async fn bars_stored_after_the_anchor_do_not_change_a_forward_adjusted_series() {
    use data_engineering::Adjust;
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    corporate_actions(&repo).await;
    let code = code("600000.SH");
    let (from, to) = (date("2024-06-03"), date("2024-06-07"));
    let forward = async || {
        repo.get_adjusted(&code, from, to, Adjust::Forward { anchor: None })
            .await
            .unwrap()
    };
    let before = forward().await;
    // Another split after the range, and a rewritten later bar: the past stays put.
    let mut later = bar("600000.SH", "2024-06-11", 2.5);
    later.adj_factor = Some(4.2);
    repo.save_all(vec![later]).await.unwrap();
    assert_eq!(forward().await, before);
    // A range that reaches the new split is anchored on it.
    let reaching = repo
        .get_adjusted(
            &code,
            from,
            date("2024-06-11"),
            Adjust::Forward { anchor: None },
        )
        .await
        .unwrap();
    assert_eq!(adjusted_closes(&reaching)[4], 2.5);
}

#[tokio::test]
async fn a_bar_with_no_factor_on_or_before_it_is_refused() {
    use data_engineering::Adjust;
    let test_db = TestDb::new().await;
    let repo = PgStockDailyRepository::new(test_db.db().clone());
    repo.save_all(vec![bar("600000.SH", "2024-06-03", 10.0)])
        .await
        .unwrap();
    let code = code("600000.SH");
    for adjust in [Adjust::Backward, Adjust::Forward { anchor: None }] {
        let err = repo
            .get_adjusted(&code, date("2024-06-01"), date("2024-06-30"), adjust)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RepoError::NotFound { entity: "adj_factor", key } if key.contains("600000.SH") && key.contains("2024-06")),
            "{err}"
        );
    }
    // Unadjusted reads need no factor.
    assert_eq!(
        repo.get_adjusted(&code, date("2024-06-01"), date("2024-06-30"), Adjust::None)
            .await
            .unwrap()
            .len(),
        1
    );
}
