//! The `stockdb` binary against a test database: imports with bad lines, resume,
//! JSON output, exit codes, and the embedded cluster's lifecycle.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::assert::OutputAssertExt as _;
use serde_json::Value;
use stockdb::data_engineering::{
    PgStockDailyRepository, PgSyncRepository, StockDaily, StockDailyRepository, SyncJobType,
    SyncRepository, SyncTaskStatus, ThirdCode,
};
use test_support::TestDb;

use crate::stockdb;

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "stockdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn daily_csv(lines: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut text = "ts_code,trade_date,open,high,low,close,vol\n".to_owned();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    text.into_bytes()
}

#[tokio::test]
async fn an_import_with_bad_lines_keeps_the_good_ones_and_records_each_bad_one() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = daily_csv((1..=9).map(|d| format!("000001.SZ,2024010{d},10,11,9,10.{d},1000")));
    for bad in [
        "000001.SZ.TOO.LONG.CODE,20240110,1,1,1,1,1", // line 11: code over 20 characters
        "000001.SZ,,1,1,1,1,1",                       // line 12: empty trade_date
        "000001.SZ,20240230,1,1,1,1,1",               // line 13: impossible date
        "000001.SZ,20240111,1,1,1,inf,1",             // line 14: infinity
        "000001.SZ,20240112,1,1,1,1e400,1",           // line 15: overflows to infinity
        "000001.SZ,20240113,1,1,1",                   // line 16: too few fields
        "x'); DROP TABLE stock_daily;--,20240114,1,1,1,1,1", // line 17: SQL-looking code
        "000001.SZ,20240115,1,1,1,abc,1",             // line 18: not a number
    ] {
        csv.extend_from_slice(bad.as_bytes());
        csv.push(b'\n');
    }
    csv.extend_from_slice(b"000001.SZ,20240116,1,1,1,\xff\xfe,1\n"); // line 19: not UTF-8
    csv.extend_from_slice(b"000002.SZ,20240102,5,6,4,nan,\n"); // line 20: good; nan and empty are missing values
    let file = write_file(dir.path(), "daily.csv", &csv);

    let output = stockdb(test_db.url())
        .args(["import", "daily"])
        .arg(&file)
        .arg("--json")
        .output()
        .unwrap();
    let summary = json_of(&output);
    assert_eq!(summary["status"], "COMPLETED");
    assert_eq!(summary["lines_read"], 19);
    assert_eq!(summary["rows"], 10);
    assert_eq!(summary["inserted"], 10);
    assert_eq!(summary["rejected"], 9);

    let sync = PgSyncRepository::new(test_db.db().clone());
    let failures = sync
        .list_failures(Some(SyncJobType::ImportDaily), true, 100)
        .await
        .unwrap();
    let mut messages: Vec<&str> = failures
        .iter()
        .filter_map(|f| f.error_message.as_deref())
        .collect();
    messages.sort_by_key(|m| m[5..].split(':').next().and_then(|n| n.parse::<u32>().ok()));
    let expected = [
        ("line 11", "third_code"),
        ("line 12", "trade_date"),
        ("line 13", "trade_date"),
        ("line 14", "close"),
        ("line 15", "close"),
        ("line 16", "expected 7 fields, found 5"),
        ("line 17", "third_code"),
        ("line 18", "close"),
        ("line 19", "not UTF-8"),
    ];
    assert_eq!(messages.len(), expected.len(), "{messages:#?}");
    for (message, (line, what)) in messages.iter().zip(expected) {
        assert!(
            message.starts_with(line) && message.contains(what),
            "{message:?} should name {line} and {what}"
        );
    }
    assert!(
        failures
            .iter()
            .all(|f| f.max_retries == 0 && !f.can_retry())
    );
    let task = sync
        .get_latest_by_job_type(SyncJobType::ImportDaily)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (task.status, task.current_offset, task.total_processed),
        (SyncTaskStatus::Completed, 19, 10)
    );

    let dailies = PgStockDailyRepository::new(test_db.db().clone());
    let code = ThirdCode::parse("000002.SZ").unwrap();
    let bar = dailies
        .get_latest_by_third_code(&code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bar.open, bar.close, bar.vol), (Some(5.0), None, None));
}

#[tokio::test]
async fn an_interrupted_import_resumes_without_duplicates_or_losses() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lines = (0..25).map(|i| format!("{:06}.SZ,20240102,1,2,0.5,{i}.5,100", i % 7));
    // 25 lines, 7 stocks: keys repeat across batches, so a repeated batch would show.
    let csv = daily_csv(
        lines
            .enumerate()
            .map(|(i, l)| l.replace("20240102", &format!("202401{:02}", i / 7 + 2))),
    );
    let file = write_file(dir.path(), "daily.csv", &csv);

    let first = json_of(
        &stockdb(test_db.url())
            .args([
                "import",
                "daily",
                "--batch-size",
                "10",
                "--max-batches",
                "1",
                "--json",
            ])
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert_eq!(
        (first["status"].as_str(), first["lines_read"].as_u64()),
        (Some("PAUSED"), Some(10))
    );

    // A crashed importer leaves its task RUNNING; nobody holds its lock, so --resume takes it over.
    sqlx::query("UPDATE sync_tasks SET status = 'RUNNING'")
        .execute(test_db.db().pool())
        .await
        .unwrap();
    let second = json_of(
        &stockdb(test_db.url())
            .args([
                "import",
                "daily",
                "--batch-size",
                "10",
                "--resume",
                "--json",
            ])
            .arg(&file)
            .output()
            .unwrap(),
    );
    assert_eq!(second["status"], "COMPLETED");
    assert_eq!(
        (
            second["resumed_after_lines"].as_u64(),
            second["lines_read"].as_u64()
        ),
        (Some(10), Some(15))
    );
    assert_eq!(
        second["inserted"].as_u64().unwrap() + first["inserted"].as_u64().unwrap(),
        25
    );

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_daily")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(rows, 25, "every line once");
    let task = PgSyncRepository::new(test_db.db().clone())
        .get_latest_by_job_type(SyncJobType::ImportDaily)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (task.status, task.current_offset, task.total_processed),
        (SyncTaskStatus::Completed, 25, 25)
    );

    let nothing = stockdb(test_db.url())
        .args(["import", "daily", "--resume"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(nothing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no unfinished"));
}

#[tokio::test]
async fn query_json_parses_back_into_domain_types() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let stocks = write_file(
        dir.path(),
        "stock_basic.csv",
        "ts_code,symbol,name,industry,list_date\n600519.SH,600519,贵州茅台,白酒,20010827\n"
            .as_bytes(),
    );
    let daily = write_file(
        dir.path(),
        "daily.csv",
        &daily_csv([
            "600519.SH,20240102,1700,1720,1690,1710.5,3000".to_owned(),
            "600519.SH,20240103,1710,1730,1700,1725,2500".to_owned(),
        ]),
    );
    for (kind, file) in [("stocks", &stocks), ("daily", &daily)] {
        stockdb(test_db.url())
            .args(["import", kind])
            .arg(file)
            .assert()
            .success();
    }
    let bars: Vec<StockDaily> = serde_json::from_value(json_of(
        &stockdb(test_db.url())
            .args([
                "daily",
                "600519.SH",
                "--from",
                "2024-01-01",
                "--to",
                "20240131",
                "--json",
            ])
            .output()
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(
        bars.iter().map(|b| b.close).collect::<Vec<_>>(),
        [Some(1710.5), Some(1725.0)]
    );

    let shown = json_of(
        &stockdb(test_db.url())
            .args(["stock", "show", "600519.sh", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(shown["stock"]["name"], "贵州茅台");
    assert_eq!(shown["latest_daily"]["close"], 1725.0);
    let tasks = json_of(
        &stockdb(test_db.url())
            .args(["sync", "status", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(tasks.as_array().map(Vec::len), Some(2));
    let stats = json_of(
        &stockdb(test_db.url())
            .args(["audit", "stats", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(stats["llm"], Value::Array(vec![]));
}

#[tokio::test]
async fn exit_codes_tell_usage_errors_from_failures() {
    let test_db = TestDb::new().await;
    let usage = stockdb(test_db.url()).args(["daily"]).output().unwrap();
    assert_eq!(
        usage.status.code(),
        Some(2),
        "a missing argument is a usage error"
    );
    let missing = stockdb(test_db.url())
        .args(["stock", "show", "999999.SZ"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no stock 999999.SZ"));
    let bad_code = stockdb(test_db.url())
        .args(["stock", "show", "not a code"])
        .output()
        .unwrap();
    assert_eq!(bad_code.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_code.stderr).contains("third_code"));
    stockdb(test_db.url()).arg("--help").assert().success();
    stockdb(test_db.url())
        .args(["import", "--help"])
        .assert()
        .success();
}

#[test]
fn the_embedded_cluster_starts_serves_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    // The server runs as the `postgres` user when the tests run as root: let it in.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let data_dir = dir.path().join("stockdb");
    let embedded = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("stockdb").unwrap();
        cmd.env_remove("DATABASE_URL")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(args);
        cmd.output().unwrap()
    };
    if stockdb_cli::embedded::find_server_binaries().is_none() {
        // No server binaries here: the error must say how to get some.
        let output = embedded(&["db", "start"]);
        assert_eq!(output.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&output.stderr).contains("apt install postgresql"));
        return;
    }
    let started = embedded(&["db", "start"]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let status = json_of(&embedded(&["db", "status", "--json"]));
    assert_eq!(status["state"], "running");
    let migrated = embedded(&["migrate", "status"]);
    let latest = migration::MigrationRunner::LATEST;
    assert!(
        String::from_utf8_lossy(&migrated.stdout)
            .contains(&format!("schema version: {latest} of {latest}"))
    );
    let tasks = json_of(&embedded(&["sync", "status", "--json"]));
    assert_eq!(tasks, Value::Array(vec![]));
    let healthy = embedded(&["db", "health", "--json"]);
    assert_eq!(healthy.status.code(), Some(0));
    assert_eq!(json_of(&healthy)["healthy"], true);
    let stopped = embedded(&["db", "stop"]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert_eq!(
        json_of(&embedded(&["db", "status", "--json"]))["state"],
        "stopped"
    );
    // A stopped server is unhealthy, and health does not start it.
    let unhealthy = embedded(&["db", "health", "--json"]);
    assert_eq!(unhealthy.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&unhealthy.stdout).unwrap();
    assert_eq!(report["primary"]["reachable"], false);
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("not running")
    );
    assert_eq!(
        json_of(&embedded(&["db", "status", "--json"]))["state"],
        "stopped"
    );
    // Started again on demand by the next command.
    assert_eq!(
        json_of(&embedded(&["sync", "status", "--json"])),
        Value::Array(vec![])
    );
    assert!(embedded(&["db", "stop"]).status.success());
}

#[tokio::test]
async fn adjusted_bars_and_point_in_time_reports_from_the_command_line() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    // A 2-for-1 split between the two days.
    let daily = write_file(
        dir.path(),
        "daily.csv",
        b"ts_code,trade_date,open,high,low,close,adj_factor\n\
          600519.SH,20240102,100,100,100,100,1\n600519.SH,20240103,50,50,50,50,2\n",
    );
    // Q1 announced 04-25, restated 08-20.
    let finance = write_file(
        dir.path(),
        "fina_indicator.csv",
        b"ts_code,ann_date,end_date,roe\n600519.SH,20240425,20240331,7.5\n600519.SH,20240820,20240331,7.8\n000001.SZ,20240420,20240331,2.1\n",
    );
    for (kind, file) in [("daily", &daily), ("finance", &finance)] {
        stockdb(test_db.url())
            .args(["import", kind])
            .arg(file)
            .assert()
            .success();
    }
    let closes = |adjust: &[&str]| -> Vec<f64> {
        let bars: Vec<StockDaily> = serde_json::from_value(json_of(
            &stockdb(test_db.url())
                .args([
                    "daily",
                    "600519.SH",
                    "--from",
                    "2024-01-02",
                    "--to",
                    "2024-01-03",
                ])
                .args(adjust)
                .arg("--json")
                .output()
                .unwrap(),
        ))
        .unwrap();
        bars.iter().map(|b| b.close.unwrap()).collect()
    };
    assert_eq!(closes(&[]), [100.0, 50.0]);
    assert_eq!(closes(&["--adjust", "forward"]), [50.0, 50.0]);
    assert_eq!(closes(&["--adjust", "backward"]), [100.0, 100.0]);
    assert_eq!(
        closes(&["--adjust", "forward", "--anchor", "2024-01-02"]),
        [100.0, 100.0]
    );
    let anchor_alone = stockdb(test_db.url())
        .args(["daily", "600519.SH", "--anchor", "2024-01-02"])
        .output()
        .unwrap();
    assert_eq!(anchor_alone.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&anchor_alone.stderr)
            .contains("--anchor applies to --adjust forward only")
    );

    let roe = |args: &[&str]| -> Vec<(String, f64)> {
        json_of(
            &stockdb(test_db.url())
                .arg("finance")
                .args(args)
                .arg("--json")
                .output()
                .unwrap(),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["third_code"].as_str().unwrap().to_owned(),
                r["roe"].as_f64().unwrap(),
            )
        })
        .collect()
    };
    assert_eq!(
        roe(&["600519.SH", "--as-of", "2024-05-01"]),
        [("600519.SH".to_owned(), 7.5)],
        "the restatement is not known yet"
    );
    assert_eq!(
        roe(&["600519.SH", "--as-of", "2024-08-20"]),
        [("600519.SH".to_owned(), 7.8)]
    );
    assert_eq!(
        roe(&["--market", "--as-of", "2024-04-21"]),
        [("000001.SZ".to_owned(), 2.1)]
    );
    stockdb(test_db.url())
        .args(["finance", "--market"])
        .assert()
        .code(2);
}

#[tokio::test]
async fn audit_calls_lists_failed_calls_newest_first() {
    use stockdb::audit::{
        CallStatus, LlmCallLog, LlmCallLogRepository as _, PgLlmCallLogRepository,
    };
    let test_db = TestDb::new().await;
    let repo = PgLlmCallLogRepository::new(test_db.db().clone());
    for (minute, status) in [
        (0, CallStatus::Failed),
        (1, CallStatus::Success),
        (2, CallStatus::Failed),
    ] {
        let at = chrono::NaiveDate::from_ymd_opt(2024, 6, 3)
            .unwrap()
            .and_hms_opt(10, minute, 0)
            .unwrap();
        let mut call = LlmCallLog::new("research", "deepseek", "deepseek-chat", "hi", at);
        call.status = status;
        call.error_message = (status == CallStatus::Failed)
            .then(|| "Incorrect API key provided: sk-abcdefghijklmnop1234".to_owned());
        repo.save(&call).await.unwrap();
    }
    let output = stockdb(test_db.url())
        .args([
            "audit",
            "calls",
            "--since",
            "2024-06-01",
            "--status",
            "failed",
            "--json",
        ])
        .output()
        .unwrap();
    let listed = json_of(&output);
    let times: Vec<&str> = listed["llm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["created_at"].as_str().unwrap())
        .collect();
    assert_eq!(times, ["2024-06-03T10:02:00", "2024-06-03T10:00:00"]);
    let table = stockdb(test_db.url())
        .args(["audit", "calls", "--since", "2024-06-01"])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&table.stdout);
    assert!(shown.contains("3 LLM call(s)"), "{shown}");
    assert!(!shown.contains("sk-abcdefghijklmnop1234"), "{shown}");
    let both = stockdb(test_db.url())
        .args(["audit", "calls", "--service", "tushare", "--model", "x"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
}

#[tokio::test]
async fn non_finite_values_another_writer_stored_keep_their_value_in_json() {
    let test_db = TestDb::new().await;
    // The earlier service (or anyone's SQL) can store NaN and infinities in a bar.
    sqlx::query(
        "INSERT INTO stock_daily (third_code, trade_date, open, high, low, close, vol) \
         VALUES ('000001.SZ', '2024-06-03', 'NaN', 'Infinity', '-Infinity', 10.5, NULL)",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let output = stockdb(test_db.url())
        .args([
            "--json",
            "daily",
            "000001.SZ",
            "--from",
            "2024-06-01",
            "--to",
            "2024-06-30",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let json = json_of(&output);
    let bar = &json[0];
    assert_eq!(bar["open"], "NaN");
    assert_eq!(bar["high"], "Infinity");
    assert_eq!(bar["low"], "-Infinity");
    assert_eq!(bar["close"], 10.5);
    // Missing is null, not the same as NaN.
    assert_eq!(bar["vol"], Value::Null);
    // And the JSON reads back into the bar, values and all.
    let back: Vec<StockDaily> = serde_json::from_value(json.clone()).unwrap();
    assert!(back[0].open.unwrap().is_nan());
    assert_eq!(back[0].high, Some(f64::INFINITY));
}
