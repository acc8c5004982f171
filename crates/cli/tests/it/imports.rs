//! Imports that cannot lose, double-count or stall: a run that lost its hold is fenced
//! off, a changed file is refused on resume, one run per file, lines PostgreSQL would
//! refuse and lines too long to hold become failure records.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use stockdb::data_engineering::{PgSyncRepository, SyncJobType, SyncRepository, SyncTaskStatus};
use test_support::TestDb;

use crate::stockdb;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A `daily` file of `lines` lines over 1,000 stocks: line `i` is stock `i % 1000` on
/// day `i / 1000`, close `i.5`. Returns the path and the closes by key.
fn daily_file(dir: &Path, name: &str, lines: u32) -> (PathBuf, HashMap<(String, String), f64>) {
    let path = dir.join(name);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(file, "ts_code,trade_date,open,high,low,close,vol").unwrap();
    let mut expected = HashMap::new();
    for i in 0..lines {
        let code = format!("{:06}.SZ", i % 1_000);
        let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()
            + chrono::Duration::days(i64::from(i / 1_000));
        let date = day.format("%Y%m%d").to_string();
        writeln!(file, "{code},{date},1,2,1,{i}.5,1").unwrap();
        expected.insert((code, day.to_string()), f64::from(i) + 0.5);
    }
    file.flush().unwrap();
    (path, expected)
}

async fn stored_closes(test_db: &TestDb) -> HashMap<(String, String), f64> {
    sqlx::query_as::<_, (String, chrono::NaiveDate, f64)>(
        "SELECT third_code, trade_date, close FROM stock_daily",
    )
    .fetch_all(test_db.db().pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(code, date, close)| ((code, date.to_string()), close))
    .collect()
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Waits until some task's offset reaches `at_least` lines.
async fn wait_for_offset(test_db: &TestDb, at_least: i32, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let offset: Option<i32> = sqlx::query_scalar("SELECT max(current_offset) FROM sync_tasks")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
        if offset.unwrap_or(0) >= at_least {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended too soon"
        );
        assert!(Instant::now() < deadline, "the import made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_hold_is_fenced_off_and_nothing_is_counted_twice() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = daily_file(dir.path(), "daily.csv", 150_000);
    let mut first = stockdb(test_db.url())
        .args(["import", "daily", "--batch-size", "500"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_offset(&test_db, 2_000, &mut first).await;
    // Its lease connection dies (an idle timeout, a proxy) while it goes on working.
    let cut = test_db.cut_advisory_lock_holders().await;
    assert_eq!(cut, [true], "one lease connection");
    // A second run takes the import over.
    let second = loop {
        let output = stockdb(test_db.url())
            .args([
                "import",
                "daily",
                "--batch-size",
                "500",
                "--resume",
                "--json",
            ])
            .arg(&path)
            .output()
            .unwrap();
        // The server may not have dropped the dead connection's locks yet.
        if !text(&output.stderr).contains("held by another live process") {
            break output;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let summary = json_of(&second);
    assert_eq!(summary["status"], "COMPLETED");
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stdout));
    assert!(
        text(&first.stderr).contains("taken over by another run"),
        "{}",
        text(&first.stderr)
    );
    assert_eq!(stored_closes(&test_db).await, expected, "every line once");
    // The earlier service's sync engine, on the same database, never sees an import.
    let theirs: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM sync_tasks WHERE job_type IN \
                 ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL')) \
              + (SELECT count(*) FROM sync_failure_records WHERE job_type IN \
                 ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL'))",
    )
    .fetch_one(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(theirs, 0);
    let task = PgSyncRepository::new(test_db.db().clone())
        .get_latest_by_job_type(SyncJobType::ImportDaily)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.status, SyncTaskStatus::Completed);
    assert_eq!(
        (task.current_offset, task.total_processed),
        (150_000, 150_000),
        "every line counted once"
    );
}

#[tokio::test]
async fn a_changed_or_truncated_file_is_not_resumed() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = daily_file(dir.path(), "daily.csv", 3_000);
    let paused = json_of(
        &stockdb(test_db.url())
            .args([
                "import",
                "daily",
                "--batch-size",
                "1000",
                "--max-batches",
                "1",
                "--json",
            ])
            .arg(&path)
            .output()
            .unwrap(),
    );
    assert_eq!(paused["status"], "PAUSED");
    let original = std::fs::read(&path).unwrap();
    let rows_before = test_db.count("stock_daily").await;
    let resume = || {
        stockdb(test_db.url())
            .args(["import", "daily", "--resume"])
            .arg(&path)
            .output()
            .unwrap()
    };
    // Same size, other rows in the part already imported.
    let mut changed = original.clone();
    let at = changed.windows(4).position(|w| w == b"12.5").unwrap();
    changed[at] = b'9';
    std::fs::write(&path, &changed).unwrap();
    let refused = resume();
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("changed since"),
        "{}",
        text(&refused.stderr)
    );
    // Truncated below the offset, and grown.
    for content in [
        &original[..original.len() / 10],
        &[original.as_slice(), b"000001.SZ,20300101,1,1\n"].concat(),
    ] {
        std::fs::write(&path, content).unwrap();
        let refused = resume();
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            text(&refused.stderr).contains("bytes"),
            "{}",
            text(&refused.stderr)
        );
    }
    assert_eq!(
        test_db.count("stock_daily").await,
        rows_before,
        "nothing written"
    );
    let task = PgSyncRepository::new(test_db.db().clone())
        .get_latest_by_job_type(SyncJobType::ImportDaily)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.current_offset, 1_000, "the offset is where it was");
    // The unchanged file resumes from where it stopped.
    std::fs::write(&path, &original).unwrap();
    let done = json_of(
        &stockdb(test_db.url())
            .args(["import", "daily", "--resume", "--json"])
            .arg(&path)
            .output()
            .unwrap(),
    );
    assert_eq!(
        (
            done["resumed_after_lines"].as_u64(),
            done["lines_read"].as_u64()
        ),
        (Some(1_000), Some(2_000))
    );
    assert_eq!(test_db.count("stock_daily").await, 3_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_import_of_a_file_waits_for_the_first() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = daily_file(dir.path(), "daily.csv", 60_000);
    let mut first = stockdb(test_db.url())
        .args(["import", "daily", "--batch-size", "500"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_offset(&test_db, 500, &mut first).await;
    let second = stockdb(test_db.url())
        .args(["import", "daily"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stderr).contains("held by another live process"),
        "{}",
        text(&second.stderr)
    );
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(
        test_db.count("sync_tasks").await,
        1,
        "the second made no task"
    );
    assert_eq!(stored_closes(&test_db).await, expected);
}

#[tokio::test]
async fn lines_postgres_would_refuse_or_too_long_to_hold_become_failure_records() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stock_basic.csv");
    let huge = "长".repeat(700_000); // 2.1 MB of UTF-8 in one field.
    let mut csv = b"ts_code,symbol,name,industry\n".to_vec();
    csv.extend_from_slice(
        b"600519.SH,600519,\xe8\xb4\xb5\xe5\xb7\x9e\xe8\x8c\x85\xe5\x8f\xb0\0,baijiu\n",
    );
    csv.extend_from_slice(b"000001.SZ,000001,Ping An,bank\n");
    csv.extend_from_slice(format!("000002.SZ,000002,\"{huge}\",property\n").as_bytes());
    csv.extend_from_slice(b"000004.SZ,000004,Guo Nong,pharma\n");
    std::fs::write(&file, &csv).unwrap();
    let summary = json_of(
        &stockdb(test_db.url())
            .args(["import", "stocks", "--json"])
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert_eq!(summary["status"], "COMPLETED");
    assert_eq!(
        (summary["rows"].as_u64(), summary["rejected"].as_u64()),
        (Some(2), Some(2))
    );
    let failures = PgSyncRepository::new(test_db.db().clone())
        .list_failures(None, true, 10)
        .await
        .unwrap();
    let messages: Vec<String> = failures
        .iter()
        .map(|f| f.error_message.clone().unwrap_or_default())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("line 2:") && m.contains("NUL")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("line 4:") && m.contains("over the 1048576-byte limit")),
        "{messages:?}"
    );
    assert!(messages.iter().all(|m| !m.contains('\0')));
    assert_eq!(test_db.count("stock_info").await, 2);

    let too_big = stockdb(test_db.url())
        .args(["import", "stocks", "--batch-size", "1000000"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(too_big.status.code(), Some(1));
    assert!(
        text(&too_big.stderr).contains("batch_size"),
        "{}",
        text(&too_big.stderr)
    );
}

#[tokio::test]
async fn an_import_whose_run_died_is_shown_abandoned_and_a_fresh_one_says_so() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (path, expected) = daily_file(dir.path(), "daily.csv", 2_000);
    // A first import paused after one batch, then its task taken by a run that dies
    // (its lease dropped without `release`, as a killed process leaves it): RUNNING.
    let paused = json_of(
        &stockdb(test_db.url())
            .args([
                "import",
                "daily",
                "--batch-size",
                "500",
                "--max-batches",
                "1",
                "--json",
            ])
            .arg(&path)
            .output()
            .unwrap(),
    );
    let task_id: uuid::Uuid = paused["task_id"].as_str().unwrap().parse().unwrap();
    let sync = PgSyncRepository::new(test_db.db().clone());
    let lease = sync
        .take(task_id, None, shared_db::utc_now())
        .await
        .unwrap();
    drop(lease);

    let status = stockdb(test_db.url())
        .args(["sync", "status"])
        .output()
        .unwrap();
    let shown = text(&status.stdout);
    assert!(shown.contains("RUNNING (abandoned)"), "{shown}");
    assert!(
        shown.contains(&format!("task {task_id}: its run is gone"))
            && shown.contains("after 500 lines")
            && shown.contains("--resume` continues it"),
        "{shown}"
    );
    let listed = json_of(
        &stockdb(test_db.url())
            .args(["sync", "status", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(listed[0]["abandoned"], true);

    // A plain import of the same file says it met the unfinished one.
    let fresh = stockdb(test_db.url())
        .args(["import", "daily"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));
    let said = text(&fresh.stdout);
    assert!(
        said.contains(&format!("an earlier import of this file (sync task {task_id}, RUNNING after 500 lines) was left unfinished")),
        "{said}"
    );
    assert_eq!(stored_closes(&test_db).await, expected);
}
