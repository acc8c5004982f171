//! `PgStockRepository`: upserts keep ids, lookups, paging, missing-finance selection.

use data_engineering::{
    PgStockFinanceRepository, PgStockRepository, StockFinanceRepository, StockRepository,
};
use shared_db::{Page, RepoError};
use test_support::TestDb;

use crate::{code, date, report, stock};

#[tokio::test]
async fn save_returns_the_stored_stock_and_keeps_its_id() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    let first = repo
        .save(stock("000001.SZ", "000001", "平安银行"))
        .await
        .unwrap();
    let mut renamed = first.info.clone();
    renamed.name = "平安银行股份".into();
    renamed.industry = Some("银行".into());
    let second = repo.save(renamed).await.unwrap();
    assert_eq!(second.id, first.id, "an upsert never changes the id");
    assert_eq!(second.info.name, "平安银行股份");
    assert_eq!(second.info.industry.as_deref(), Some("银行"));
}

#[tokio::test]
async fn every_column_lands_in_its_own_place_through_both_write_paths() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    // A distinct value in every column, so two columns swapped anywhere would show.
    let distinct = |n: usize| {
        let mut s = stock(
            &format!("{n:06}.SZ"),
            &format!("{n:06}"),
            &format!("name-{n}"),
        );
        s.area = Some(format!("area-{n}"));
        s.industry = Some(format!("industry-{n}"));
        s.market = Some(format!("market-{n}"));
        s.list_date = Some(date("2001-02-03"));
        s.fullname = Some(format!("fullname-{n}"));
        s.enname = Some(format!("enname-{n}"));
        s.cnspell = Some(format!("cnspell-{n}"));
        s.exchange = Some(format!("exch-{n}"));
        s.curr_type = Some(format!("curr-{n}"));
        s.list_status = Some("L".into());
        s.delist_date = Some(date("2030-04-05"));
        s.is_hs = Some("H".into());
        s.source = Some(format!("src-{n}"));
        s.last_finance_sync_date = Some(date("2024-06-07"));
        s
    };
    // 1,500 new rows go in by COPY, and the same rows again by the UNNEST upsert.
    let stocks: Vec<_> = (0..1_500).map(distinct).collect();
    repo.save_all(stocks.clone()).await.unwrap();
    let updated: Vec<_> = stocks
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.area = s.area.map(|a| format!("{a}+"));
            s
        })
        .collect();
    for expected in [stocks, updated] {
        repo.save_all(expected.clone()).await.unwrap();
        let stored = repo.get_all(Page::first(10_000).unwrap()).await.unwrap();
        let stored: Vec<_> = stored.into_iter().map(|s| s.info).collect();
        assert_eq!(stored, expected);
    }
}

#[tokio::test]
async fn save_all_keeps_ids_dedups_last_wins_and_reports() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    let report = repo
        .save_all(vec![
            stock("600000.SH", "600000", "浦发银行"),
            stock("000001.SZ", "000001", "平安银行"),
        ])
        .await
        .unwrap();
    assert_eq!(
        (report.received, report.inserted, report.updated),
        (2, 2, 0)
    );
    let before = repo
        .get_by_third_code(&code("600000.SH"))
        .await
        .unwrap()
        .unwrap();

    let report = repo
        .save_all(vec![
            stock("600000.SH", "600000", "old name"),
            stock("000001.SZ", "000001", "平安银行"),
            stock("600000.SH", "600000", "浦发银行 (new)"),
            stock("600519.SH", "600519", "贵州茅台"),
        ])
        .await
        .unwrap();
    assert_eq!(report.received, 4);
    assert_eq!(report.deduplicated, 3);
    assert_eq!(
        (report.inserted, report.updated, report.unchanged),
        (1, 1, 1)
    );
    let after = repo
        .get_by_third_code(&code("600000.SH"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.id, before.id);
    assert_eq!(after.info.name, "浦发银行 (new)", "the last duplicate wins");
}

#[tokio::test]
async fn lookups_by_symbol_and_codes() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    repo.save_all(vec![
        stock("600000.SH", "600000", "浦发银行"),
        stock("000001.SZ", "000001", "平安银行"),
        stock("000002.SZ", "000002", "万科A"),
    ])
    .await
    .unwrap();
    assert_eq!(
        repo.get_by_symbol("000002")
            .await
            .unwrap()
            .unwrap()
            .info
            .name,
        "万科A"
    );
    assert!(repo.get_by_symbol("999999").await.unwrap().is_none());
    assert!(
        repo.get_by_third_code(&code("999999.SZ"))
            .await
            .unwrap()
            .is_none()
    );
    let found = repo
        .get_by_third_codes(&[
            code("600000.SH"),
            code("999999.SZ"),
            code("000001.SZ"),
            code("000001.SZ"),
        ])
        .await
        .unwrap();
    let codes: Vec<&str> = found.iter().map(|s| s.info.third_code.as_str()).collect();
    assert_eq!(
        codes,
        ["000001.SZ", "600000.SH"],
        "known codes only, ordered by code"
    );
    assert!(repo.get_by_third_codes(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn get_all_pages_in_id_order() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    for (idx, name) in ["c", "a", "b"].iter().enumerate() {
        repo.save(stock(
            &format!("00000{idx}.SZ"),
            &format!("00000{idx}"),
            name,
        ))
        .await
        .unwrap();
    }
    let names = |page: Vec<data_engineering::Stock>| {
        page.into_iter().map(|s| s.info.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(repo.get_all(Page::new(0, 2).unwrap()).await.unwrap()),
        ["c", "a"]
    );
    assert_eq!(
        names(repo.get_all(Page::new(2, 2).unwrap()).await.unwrap()),
        ["b"]
    );
    assert!(
        repo.get_all(Page::new(5, 2).unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(repo.count().await.unwrap(), 3);
}

#[tokio::test]
async fn a_symbol_taken_by_another_code_is_a_conflict() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    repo.save(stock("000001.SZ", "000001", "平安银行"))
        .await
        .unwrap();
    let err = repo
        .save(stock("000001.BJ", "000001", "clash"))
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");
}

#[tokio::test]
async fn a_failing_batch_writes_nothing() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    // 15,000 stocks span two statements; the last one reuses the first one's symbol, so
    // the second statement fails on the unique symbol index after the first succeeded.
    let mut stocks: Vec<_> = (0..15_000)
        .map(|i| stock(&format!("{i:06}.SZ"), &format!("{i:06}"), "x"))
        .collect();
    stocks.push(stock("999999.BJ", "000000", "duplicate symbol"));
    let err = repo.save_all(stocks).await.unwrap_err();
    assert!(matches!(err, RepoError::Conflict { .. }), "{err:?}");
    assert_eq!(test_db.count("stock_info").await, 0, "no partial rows");
}

#[tokio::test]
async fn invalid_rows_are_named_and_nothing_is_written() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    let mut bad = stock("000002.SZ", "000002", "万科A");
    bad.area = Some("区".repeat(51));
    let err = repo
        .save_all(vec![stock("000001.SZ", "000001", "平安银行"), bad])
        .await
        .unwrap_err();
    let RepoError::Invalid(invalid) = err else {
        panic!("{err:?}")
    };
    assert_eq!((invalid.field, invalid.row), ("area", Some(1)));
    assert_eq!(test_db.count("stock_info").await, 0);
}

#[tokio::test]
async fn a_missing_sync_date_never_erases_a_recorded_one() {
    let test_db = TestDb::new().await;
    let repo = PgStockRepository::new(test_db.db().clone());
    repo.save(stock("000001.SZ", "000001", "平安银行"))
        .await
        .unwrap();
    let changed = repo
        .update_last_finance_sync_date(&[code("000001.SZ"), code("999999.SZ")], date("2024-05-01"))
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let saved = repo
        .save(stock("000001.SZ", "000001", "平安银行"))
        .await
        .unwrap();
    assert_eq!(saved.info.last_finance_sync_date, Some(date("2024-05-01")));
    assert_eq!(
        repo.update_last_finance_sync_date(&[], date("2024-05-01"))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn missing_finance_selection_orders_limits_and_respects_the_threshold() {
    let test_db = TestDb::new().await;
    let stocks = PgStockRepository::new(test_db.db().clone());
    let finance = PgStockFinanceRepository::new(test_db.db().clone());
    let period = date("2024-03-31");
    let threshold = date("2024-04-15");
    stocks
        .save_all(vec![
            stock("600000.SH", "600000", "never synced"),
            stock("000001.SZ", "000001", "never synced, has the report"),
            stock("000002.SZ", "000002", "synced before the threshold"),
            stock("000003.SZ", "000003", "synced on the threshold"),
            stock("000004.SZ", "000004", "synced after the threshold"),
            stock("000005.SZ", "000005", "never synced, has another period"),
        ])
        .await
        .unwrap();
    finance
        .save_all(vec![
            report("000001.SZ", "2024-04-20", "2024-03-31", 1.0),
            report("000005.SZ", "2024-03-20", "2023-12-31", 1.0),
        ])
        .await
        .unwrap();
    stocks
        .update_last_finance_sync_date(&[code("000002.SZ")], date("2024-04-14"))
        .await
        .unwrap();
    stocks
        .update_last_finance_sync_date(&[code("000003.SZ")], threshold)
        .await
        .unwrap();
    stocks
        .update_last_finance_sync_date(&[code("000004.SZ")], date("2024-04-16"))
        .await
        .unwrap();

    let missing = stocks
        .get_missing_finance_stocks(period, threshold, 200)
        .await
        .unwrap();
    let missing: Vec<&str> = missing.iter().map(|c| c.as_str()).collect();
    assert_eq!(missing, ["000002.SZ", "000005.SZ", "600000.SH"]);

    let first_two = stocks
        .get_missing_finance_stocks(period, threshold, 2)
        .await
        .unwrap();
    assert_eq!(first_two, [code("000002.SZ"), code("000005.SZ")]);
    let err = stocks
        .get_missing_finance_stocks(period, threshold, 0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RepoError::Invalid(ref i) if i.field == "limit"),
        "{err:?}"
    );
}
