//! Bad CSV lines: each a failure record, the good lines loaded.

use super::*;

#[tokio::test]
async fn every_malformed_csv_line_becomes_a_failure_record_and_the_good_ones_load() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let header = "ts_code,trade_date,open,high,low,close,vol,amount\n";
    let bad_lines: Vec<(&[u8], &str)> = vec![
        (
            b"000001.SZ.TOO.LONG.CODE,20240102,1,1,1,1,1,1",
            "third_code",
        ),
        (b",20240102,1,1,1,1,1,1", "third_code"),
        (b"000001.SZ,,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,20240230,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,2024-13-01,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,18991231,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,99990101,1,1,1,1,1,1", "trade_date"),
        (b"000001.SZ,20240102,abc,1,1,1,1,1", "open"),
        (b"000001.SZ,20240102,1,inf,1,1,1,1", "high"),
        (b"000001.SZ,20240102,1,1,-Infinity,1,1,1", "low"),
        (b"000001.SZ,20240102,1,1,1,1e999,1,1", "close"),
        (b"000001.SZ,20240102,1,1,1,1,0x10,1", "vol"),
        (b"000001.SZ,20240102,1,1,1,1,1,1,extra", "expected 8 fields"),
        (b"000001.SZ,20240102,1", "expected 8 fields"),
        (b"000001.SZ,20240102,1,1,1,\xc3\x28,1,1", "not UTF-8"),
        (
            b"'; DELETE FROM stock_daily;--,20240102,1,1,1,1,1,1",
            "third_code",
        ),
        (b"000001.SZ,20240102,1,1,1,1,1,1;DROP", "amount"),
        (b"000001.SZ,20240102,1,1,1,\"1,5\",1,1", "close"),
    ];
    let mut csv = header.as_bytes().to_vec();
    let mut good = 0;
    for (idx, (line, _)) in bad_lines.iter().enumerate() {
        // A good line before every bad one.
        csv.extend_from_slice(format!("600{idx:03}.SH,20240102,1,2,0.5,1.5,100,150\n").as_bytes());
        good += 1;
        csv.extend_from_slice(line);
        csv.push(b'\n');
    }
    let file = dir.path().join("daily.csv");
    std::fs::write(&file, &csv).unwrap();
    let summary = import_csv(
        db.sync().as_ref(),
        &ImportOptions::new(ImportKind::Daily, &file),
        &NoProgress,
        &AtomicBool::new(false),
    )
    .await
    .unwrap();
    assert_eq!((summary.rows, summary.inserted), (good, good));
    assert_eq!(summary.rejected, bad_lines.len() as u64);
    let failures = db
        .sync()
        .list_failures(Some(SyncJobType::ImportDaily), true, 100)
        .await
        .unwrap();
    assert_eq!(failures.len(), bad_lines.len());
    for (idx, (_, fragment)) in bad_lines.iter().enumerate() {
        // Line 1 is the header; bad line idx is file line 2 * idx + 3.
        let line = format!("line {}:", 2 * idx + 3);
        let failure = failures
            .iter()
            .find(|f| {
                f.error_message
                    .as_deref()
                    .is_some_and(|m| m.starts_with(&line))
            })
            .unwrap_or_else(|| panic!("no failure record for {line}"));
        let message = failure.error_message.as_deref().unwrap_or_default();
        assert!(
            message.contains(fragment),
            "{message:?} should name {fragment}"
        );
    }
    assert_eq!(
        test_db.count("stock_daily").await,
        good as i64,
        "only the good lines"
    );
}
