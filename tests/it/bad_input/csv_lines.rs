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

/// Imports `file` as daily bars in batches of `batch_size`.
async fn import_daily(
    db: &stockdb::Stockdb,
    file: &std::path::Path,
    batch_size: usize,
    progress: &dyn tushare::ImportProgress,
) -> Result<tushare::ImportSummary, tushare::ImportError> {
    let mut options = ImportOptions::new(ImportKind::Daily, file);
    options.batch_size = batch_size;
    import_csv(
        db.sync().as_ref(),
        &options,
        progress,
        &AtomicBool::new(false),
    )
    .await
}

#[tokio::test]
async fn a_pipe_a_device_or_a_directory_is_refused_before_anything_is_read() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("daily.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    // A link named like a CSV that leads to an endless device.
    let zero = dir.path().join("daily.csv");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for path in [fifo.as_path(), zero.as_path(), dir.path()] {
        // A FIFO's open would block until a writer comes: the refusal must come first.
        let result = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            import_daily(&db, path, 10, &NoProgress),
        )
        .await
        .unwrap_or_else(|_| panic!("importing {} hung", path.display()));
        let err = result.expect_err("not a regular file");
        assert!(
            matches!(err, tushare::ImportError::Header { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    assert_eq!(test_db.count("sync_tasks").await, 0, "no task was started");
}

#[tokio::test]
async fn a_quote_left_open_stops_the_import_at_its_line_keeping_the_batches_before() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts_code,trade_date,open,high,low,close,vol,amount\n");
    for idx in 0..4 {
        csv.push_str(&format!("600{idx:03}.SH,20240102,1,2,0.5,1.5,100,150\n"));
    }
    // Line 6 opens a quote that never closes: the rest of the file would be one field.
    csv.push_str("600100.SH,20240102,\"1,2,0.5,1.5,100,150\n");
    for idx in 0..500 {
        csv.push_str(&format!("601{idx:03}.SH,20240102,1,2,0.5,1.5,100,150\n"));
    }
    let file = dir.path().join("daily.csv");
    std::fs::write(&file, &csv).unwrap();
    let err = import_daily(&db, &file, 2, &NoProgress)
        .await
        .expect_err("a runaway quote fails the import");
    assert!(
        matches!(err, tushare::ImportError::Malformed { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("line 6:"), "{message}");
    assert!(message.contains("quote left open"), "{message}");
    assert!(!err.is_transient(), "resuming would stop at the same line");
    assert_eq!(
        test_db.count("stock_daily").await,
        4,
        "the two batches before the line stay"
    );
    let task = db
        .sync()
        .get_latest_unfinished(
            SyncJobType::ImportDaily,
            &tushare::ImportCheckpoint::of_file(
                &file.canonicalize().unwrap().display().to_string(),
            ),
        )
        .await
        .unwrap()
        .expect("the task is left unfinished");
    assert_eq!(task.status, data_engineering::SyncTaskStatus::Failed);
}

/// Appends lines to the file when the import begins, as a download still writing would.
struct Appender(std::path::PathBuf);

impl tushare::ImportProgress for Appender {
    fn begin(&self, _total_bytes: u64, _resumed_lines: u64) {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .unwrap();
        for idx in 0..50 {
            writeln!(file, "602{idx:03}.SH,20240102,1,2,0.5,1.5,100,150").unwrap();
        }
    }
}

#[tokio::test]
async fn a_file_that_grows_during_the_import_is_read_to_the_size_it_had_when_it_began() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("ts_code,trade_date,open,high,low,close,vol,amount\n");
    for idx in 0..10 {
        csv.push_str(&format!("600{idx:03}.SH,20240102,1,2,0.5,1.5,100,150\n"));
    }
    // The last line is still being written when the import starts.
    csv.push_str("600999.SH,2024");
    let file = dir.path().join("daily.csv");
    std::fs::write(&file, &csv).unwrap();
    let summary = import_daily(&db, &file, 3, &Appender(file.clone()))
        .await
        .unwrap();
    assert_eq!(summary.rows, 10, "the lines the file had, not the appended");
    assert_eq!(summary.rejected, 1, "the cut last line is a failure record");
    assert_eq!(test_db.count("stock_daily").await, 10);
}

#[tokio::test]
async fn a_stock_line_reusing_a_symbol_is_a_failure_record_and_the_list_loads() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    db.stocks()
        .save_all(vec![StockInfo::new(
            ThirdCode::parse("600519.SH").unwrap(),
            "600519",
            "贵州茅台",
        )])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stock_basic.csv");
    std::fs::write(
        &file,
        "ts_code,symbol,name\n\
         000001.SZ,000001,平安银行\n\
         000002.SZ,000001,万科A\n\
         000003.SZ,600519,盗用\n\
         000004.SZ,000004,国华网安\n",
    )
    .unwrap();
    let mut options = ImportOptions::new(ImportKind::Stocks, &file);
    options.batch_size = 10;
    let summary = import_csv(
        db.sync().as_ref(),
        &options,
        &NoProgress,
        &AtomicBool::new(false),
    )
    .await
    .unwrap();
    assert_eq!(summary.status, data_engineering::SyncTaskStatus::Completed);
    assert_eq!((summary.rows, summary.rejected), (2, 2));
    assert_eq!(
        test_db.count("stock_info").await,
        3,
        "600519, 000001, 000004"
    );
    let failures = db
        .sync()
        .list_failures(Some(SyncJobType::ImportStockList), true, 10)
        .await
        .unwrap();
    let mut messages: Vec<&str> = failures
        .iter()
        .filter_map(|f| f.error_message.as_deref())
        .collect();
    messages.sort();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with(
            "line 3: symbol \"000001\" of 000002.SZ is already given to 000001.SZ on line 2"
        ),
        "{messages:?}"
    );
    assert!(
        messages[1]
            .starts_with("line 4: symbol \"600519\" of 000003.SZ is already stored for 600519.SH"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn import_options_out_of_bounds_fail_once_up_front() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("daily.csv");
    std::fs::write(
        &file,
        "ts_code,trade_date,open,high,low,close,vol,amount\n\
         000001.SZ,20240102,1,2,0.5,1.5,100,150\n",
    )
    .unwrap();
    let base = ImportOptions::new(ImportKind::Daily, &file);
    let cases: Vec<(&str, ImportOptions)> = vec![
        (
            "source",
            ImportOptions {
                source: "s".repeat(21),
                ..base.clone()
            },
        ),
        (
            "source",
            ImportOptions {
                source: String::new(),
                ..base.clone()
            },
        ),
        (
            "source",
            ImportOptions {
                source: "wind\u{1b}[2J".to_owned(),
                ..base.clone()
            },
        ),
        (
            "max_record_bytes",
            ImportOptions {
                max_record_bytes: 1 << 40,
                ..base.clone()
            },
        ),
        (
            "max_record_bytes",
            ImportOptions {
                max_record_bytes: 100,
                ..base.clone()
            },
        ),
    ];
    for (field, options) in cases {
        let err = import_csv(
            db.sync().as_ref(),
            &options,
            &NoProgress,
            &AtomicBool::new(false),
        )
        .await
        .expect_err(field);
        assert!(
            matches!(&err, tushare::ImportError::Repo(RepoError::Invalid(bad)) if bad.field == field),
            "{err:?}"
        );
    }
    assert_eq!(test_db.count("sync_tasks").await, 0, "nothing was started");
    assert_eq!(test_db.count("sync_failure_records").await, 0);
}
