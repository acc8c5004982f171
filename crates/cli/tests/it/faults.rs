//! Faults seen from the command line: an import cut off mid-file by the server dropping
//! its connections, two `migrate up` processes at once, a password in a refused URL.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use stockdb::data_engineering::{PgSyncRepository, SyncJobType, SyncRepository, SyncTaskStatus};
use test_support::TestDb;

use crate::stockdb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_cut_off_mid_file_resumes_to_exactly_the_files_rows() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    // 40,000 lines: 2,000 stocks × 20 days, every 97th line bad, every 101st a repeat of
    // an earlier key with a new close (the later line wins).
    let mut file = std::fs::File::create(dir.path().join("daily.csv")).unwrap();
    writeln!(file, "ts_code,trade_date,open,high,low,close,vol").unwrap();
    let mut expected: HashMap<(String, String), String> = HashMap::new();
    let (mut lines, mut bad) = (0, 0);
    for i in 0..40_000u32 {
        lines += 1;
        let (stock, day) = if i % 101 == 100 {
            ((i - 50) % 2_000, (i - 50) / 2_000)
        } else {
            (i % 2_000, i / 2_000)
        };
        let code = format!("{stock:06}.SZ");
        let date = format!("2024{:02}{:02}", 1 + day / 28, 1 + day % 28);
        if i % 97 == 96 {
            writeln!(file, "{code},{date},1,2,1,not-a-number,1").unwrap();
            bad += 1;
        } else {
            let close = format!("{}.25", i);
            writeln!(file, "{code},{date},1,2,1,{close},1").unwrap();
            expected.insert((code, date), close);
        }
    }
    drop(file);
    let path = dir.path().join("daily.csv");

    let mut child = stockdb(test_db.url())
        .args(["import", "daily", "--batch-size", "1000"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once some batches are in, drop every connection of the import, as a server restart does.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let offset: Option<i32> = sqlx::query_scalar("SELECT max(current_offset) FROM sync_tasks")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
        if offset.unwrap_or(0) >= 2_000 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be cut off"
        );
        assert!(Instant::now() < deadline, "the import made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'stockdb-cli'",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let cut = child.wait_with_output().unwrap();
    assert_eq!(
        cut.status.code(),
        Some(1),
        "the cut-off import fails: {}",
        String::from_utf8_lossy(&cut.stderr)
    );
    assert!(
        String::from_utf8_lossy(&cut.stderr).contains("--resume"),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );

    let resumed = stockdb(test_db.url())
        .args([
            "import",
            "daily",
            "--batch-size",
            "1000",
            "--resume",
            "--json",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(summary["status"], "COMPLETED");
    assert!(summary["resumed_after_lines"].as_u64().unwrap() >= 2_000);

    let stored: HashMap<(String, String), String> =
        sqlx::query_as::<_, (String, chrono::NaiveDate, f64)>(
            "SELECT third_code, trade_date, close FROM stock_daily",
        )
        .fetch_all(test_db.db().pool())
        .await
        .unwrap()
        .into_iter()
        .map(|(code, date, close)| {
            (
                (code, date.format("%Y%m%d").to_string()),
                format!("{close:.2}"),
            )
        })
        .collect();
    assert_eq!(stored.len(), expected.len(), "every distinct key once");
    assert_eq!(stored, expected, "each key holds its last line's value");

    let sync = PgSyncRepository::new(test_db.db().clone());
    let task = sync
        .get_latest_by_job_type(SyncJobType::ImportDaily)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.status, SyncTaskStatus::Completed);
    assert_eq!(task.current_offset, lines, "every line counted once");
    assert_eq!(
        task.total_processed,
        lines - bad,
        "every good line processed once"
    );
    let failures = sync
        .list_failures(Some(SyncJobType::ImportDaily), true, 10_000)
        .await
        .unwrap();
    assert_eq!(
        failures.len() as i32,
        bad,
        "one failure record per bad line, none repeated"
    );
}

#[tokio::test]
async fn two_migrate_up_processes_apply_once_and_both_succeed() {
    let test_db = TestDb::empty().await;
    let children: Vec<_> = (0..2)
        .map(|_| {
            stockdb(test_db.url())
                .args(["migrate", "up"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let applied: Vec<usize> = outputs
        .iter()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|line| line.starts_with("applied "))
                .count()
        })
        .collect();
    let mut sorted = applied.clone();
    sorted.sort_unstable();
    let latest = migration::MigrationRunner::LATEST;
    assert_eq!(
        sorted,
        [0, latest],
        "exactly one process applies: {applied:?}"
    );
    let schema = migration::fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(schema, migration::golden(latest).unwrap());
}

#[test]
fn a_password_in_a_refused_url_is_never_printed() {
    let output = stockdb("postgres://app:hunter2-secret@127.0.0.1:1/stock")
        .args(["sync", "status"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("app:***@127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let url = stockdb("postgres://app:hunter2-secret@db/stock")
        .args(["db", "url"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&url.stdout).contains("hunter2"));
}
