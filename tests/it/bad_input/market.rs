//! Bad market data: stock codes, the stock list, daily bars, financial reports.

use super::*;

/// Stock codes of every wrong shape.
#[tokio::test]
async fn stock_codes() {
    crate::logs();
    let mut cases = Cases::default();
    for (raw, fragment) in [
        ("", ""),
        ("000001.SZ.TOO.LONG.CODE", "000001.SZ.TOO.LONG.CODE"),
        ("000001 .SZ", "000001 .SZ"),
        ("000001.SZ\n", "000001.SZ"),
        ("x'); DROP TABLE stock_info;--", "DROP TABLE"),
        ("平安银行", "平安银行"),
        ("000001;SZ", "000001;SZ"),
        ("000001.SZ\0", "000001.SZ"),
        ("%", "%"),
        ("../../etc/passwd", "../../etc/passwd"),
        (" 000001.SZ", "000001.SZ"),
        ("０００００１.SZ", "０００００１"),
    ] {
        cases.check_input(
            format!("ThirdCode {raw:?}"),
            "third_code",
            fragment,
            ThirdCode::parse(raw),
        );
    }

    cases.judge();
}

/// Rows of the stock list: empty, over-long and ill-formed fields.
#[tokio::test]
async fn stock_list_rows() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();
    let over = |n: usize| "长".repeat(n);
    for (field, stock) in [
        ("symbol", stock_with(|s| s.symbol = String::new())),
        ("symbol", stock_with(|s| s.symbol = "00000100001".into())),
        ("name", stock_with(|s| s.name = "   ".into())),
        ("name", stock_with(|s| s.name = over(101))),
        ("area", stock_with(|s| s.area = Some(over(51)))),
        ("industry", stock_with(|s| s.industry = Some(over(51)))),
        ("market", stock_with(|s| s.market = Some(over(21)))),
        ("fullname", stock_with(|s| s.fullname = Some(over(201)))),
        ("enname", stock_with(|s| s.enname = Some("E".repeat(201)))),
        ("cnspell", stock_with(|s| s.cnspell = Some("P".repeat(51)))),
        (
            "exchange",
            stock_with(|s| s.exchange = Some("X".repeat(21))),
        ),
        (
            "curr_type",
            stock_with(|s| s.curr_type = Some("C".repeat(21))),
        ),
        (
            "list_status",
            stock_with(|s| s.list_status = Some("LISTED_FOR_GOOD".into())),
        ),
        // Short enough, but no code the schema documents (the earlier service's page of
        // stocks fails on it).
        (
            "list_status",
            stock_with(|s| s.list_status = Some("G".into())),
        ),
        (
            "is_hs",
            stock_with(|s| s.is_hs = Some("HONGKONG_SHANGHAI".into())),
        ),
        ("is_hs", stock_with(|s| s.is_hs = Some("Y".into()))),
        (
            "source",
            stock_with(|s| s.source = Some("a-source-name-over-20".into())),
        ),
        (
            "list_date",
            stock_with(|s| s.list_date = Some(day("1850-01-01"))),
        ),
        (
            "delist_date",
            stock_with(|s| s.delist_date = Some(day("2999-01-01"))),
        ),
        (
            "last_finance_sync_date",
            stock_with(|s| s.last_finance_sync_date = Some(day("0001-01-01"))),
        ),
    ] {
        let shown = match field {
            "list_date" => "1850-01-01".to_owned(),
            "delist_date" => "2999-01-01".to_owned(),
            "last_finance_sync_date" => "0001-01-01".to_owned(),
            _ => String::new(),
        };
        let good = stock_with(|s| s.third_code = ThirdCode::parse("600000.SH").unwrap());
        cases.check(
            format!("stocks.save_all bad {field}"),
            field,
            shown.clone(),
            db.stocks().save_all(vec![good, stock]).await.map(drop),
        );
    }
    cases.check(
        "stocks.save bad name",
        "name",
        "",
        db.stocks()
            .save(stock_with(|s| s.name = String::new()))
            .await
            .map(drop),
    );
    cases.check_input("page limit 0", "limit", "0", Page::first(0));
    cases.check(
        "missing finance limit 100001",
        "limit",
        "100001",
        db.stocks()
            .get_missing_finance_stocks(day("2024-03-31"), day("2024-04-30"), 100_001)
            .await
            .map(drop),
    );
    cases.check(
        "update sync date year 3000",
        "date",
        "3000-01-01",
        db.stocks()
            .update_last_finance_sync_date(&[code()], day("3000-01-01"))
            .await
            .map(drop),
    );

    cases.judge();
    untouched(&test_db, 0).await;
}

/// Daily bars: every kind of non-finite value, dates, source.
#[tokio::test]
async fn daily_bars() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();
    for (field, value, edit) in [
        (
            "open",
            "NaN",
            Box::new(|b: &mut StockDaily| b.open = Some(f64::NAN))
                as Box<dyn FnOnce(&mut StockDaily)>,
        ),
        (
            "high",
            "inf",
            Box::new(|b: &mut StockDaily| b.high = Some(f64::INFINITY)),
        ),
        (
            "low",
            "-inf",
            Box::new(|b: &mut StockDaily| b.low = Some(f64::NEG_INFINITY)),
        ),
        (
            "close",
            "NaN",
            Box::new(|b: &mut StockDaily| b.close = Some(f64::NAN)),
        ),
        (
            "pct_chg",
            "inf",
            Box::new(|b: &mut StockDaily| b.pct_chg = Some(f64::INFINITY)),
        ),
        (
            "vol",
            "NaN",
            Box::new(|b: &mut StockDaily| b.vol = Some(f64::NAN)),
        ),
        (
            "amount",
            "inf",
            Box::new(|b: &mut StockDaily| b.amount = Some(f64::MAX * 2.0)),
        ),
        (
            "pe_ttm",
            "NaN",
            Box::new(|b: &mut StockDaily| b.pe_ttm = Some(f64::NAN)),
        ),
        (
            "circ_mv",
            "-inf",
            Box::new(|b: &mut StockDaily| b.circ_mv = Some(f64::MIN * 2.0)),
        ),
        (
            "trade_date",
            "1899-12-31",
            Box::new(|b: &mut StockDaily| b.trade_date = day("1899-12-31")),
        ),
        (
            "trade_date",
            "2201-01-01",
            Box::new(|b: &mut StockDaily| b.trade_date = day("2201-01-01")),
        ),
        (
            "source",
            "tushare-pro-api-daily-v2",
            Box::new(|b: &mut StockDaily| b.source = Some("tushare-pro-api-daily-v2".into())),
        ),
    ] {
        let rows = vec![
            bar_with(|_| {}),
            bar_with(|b| {
                b.trade_date = day("2024-01-03");
                edit(b);
            }),
        ];
        cases.check(
            format!("dailies.save_all bad {field}"),
            field,
            value,
            db.dailies().save_all(rows.clone()).await.map(drop),
        );
        cases.check(
            format!("dailies.merge_all bad {field}"),
            field,
            value,
            db.dailies().merge_all(rows).await.map(drop),
        );
    }
    cases.check(
        "daily range reversed",
        "start",
        "2024-02-01",
        db.dailies()
            .get_by_third_code_and_date_range(&code(), day("2024-02-01"), day("2024-01-01"))
            .await
            .map(drop),
    );
    cases.check(
        "valuation range reversed",
        "start",
        "2024-02-01",
        db.dailies()
            .get_valuation_dailies(&code(), day("2024-02-01"), day("2024-01-01"))
            .await
            .map(drop),
    );

    cases.judge();
    untouched(&test_db, 0).await;
}

/// Financial reports.
#[tokio::test]
async fn financial_reports() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();
    for (field, value, edit) in [
        (
            "eps",
            "NaN",
            Box::new(|r: &mut StockFinance| r.eps = Some(f64::NAN))
                as Box<dyn FnOnce(&mut StockFinance)>,
        ),
        (
            "roe",
            "inf",
            Box::new(|r: &mut StockFinance| r.roe = Some(f64::INFINITY)),
        ),
        (
            "debt_to_eqt",
            "-inf",
            Box::new(|r: &mut StockFinance| r.debt_to_eqt = Some(f64::NEG_INFINITY)),
        ),
        (
            "fcff",
            "NaN",
            Box::new(|r: &mut StockFinance| r.fcff = Some(f64::NAN)),
        ),
        (
            "ann_date",
            "1700-01-01",
            Box::new(|r: &mut StockFinance| r.ann_date = day("1700-01-01")),
        ),
        (
            "end_date",
            "2500-12-31",
            Box::new(|r: &mut StockFinance| r.end_date = day("2500-12-31")),
        ),
        (
            "source",
            "a-very-long-source-name",
            Box::new(|r: &mut StockFinance| r.source = Some("a-very-long-source-name".into())),
        ),
    ] {
        let rows = vec![
            report_with(|_| {}),
            report_with(|r| {
                r.ann_date = day("2024-04-21");
                edit(r);
            }),
        ];
        cases.check(
            format!("finance.save_all bad {field}"),
            field,
            value,
            db.finance().save_all(rows).await.map(drop),
        );
    }
    cases.check(
        "finance recent 0",
        "limit",
        "0",
        db.finance()
            .get_by_third_code_recent(&code(), 0)
            .await
            .map(drop),
    );

    cases.judge();
    untouched(&test_db, 0).await;
}
