//! The operator path under attack and under stress: who can reach the embedded cluster,
//! hostile data directory names, migrations that destroy only when asked, a demo that
//! never touches data it did not make, waits that say what they wait for, and output that
//! cannot drive the terminal.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use test_support::TestDb;

use crate::stockdb;

/// The `stockdb` binary on an embedded cluster in `data_dir` (no `DATABASE_URL`).
fn embedded(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stockdb"))
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory the `postgres` user can traverse (the server runs as that user
/// when the tests run as root), with the cluster in it stopped when the test ends.
struct Cluster {
    _dir: tempfile::TempDir,
    data_dir: PathBuf,
}

impl Cluster {
    fn new(name: &str) -> Option<Self> {
        assert!(
            stockdb_cli::embedded::find_server_binaries().is_some(),
            "no PostgreSQL server binaries (initdb, pg_ctl): install the server package \
             (apt install postgresql) to run the embedded cluster's tests"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let data_dir = dir.path().join(name);
        Some(Self {
            _dir: dir,
            data_dir,
        })
    }

    fn run(&self, args: &[&str]) -> Output {
        embedded(&self.data_dir, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "stockdb {args:?}: {}",
            text(&output.stderr)
        );
        text(&output.stdout)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(&["db", "stop"]);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

#[test]
fn the_embedded_cluster_admits_its_owner_only() {
    let Some(cluster) = Cluster::new("stockdb") else {
        return;
    };
    cluster.ok(&["db", "start"]);
    let run_dir = cluster.data_dir.join("run");
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&run_dir), 0o700, "the socket's directory is private");
    assert_eq!(
        mode(&run_dir.join(".s.PGSQL.5432")),
        0o700,
        "so is the socket"
    );
    let hba = std::fs::read_to_string(cluster.data_dir.join("pgdata/pg_hba.conf")).unwrap();
    let rules: Vec<&str> = hba
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(rules, ["local all postgres peer map=stockdb"], "{hba}");
    assert!(!hba.contains("trust"));
    let settings = std::fs::read_to_string(cluster.data_dir.join("pgdata/stockdb.conf")).unwrap();
    assert!(
        settings.contains("listen_addresses = ''"),
        "no TCP: {settings}"
    );
    // Its owner gets in.
    assert_eq!(
        serde_json::from_str::<Value>(&cluster.ok(&["sync", "status", "--json"])).unwrap(),
        Value::Array(vec![])
    );
    if is_root() {
        // Other accounts do not: neither through the socket's directory nor, were that
        // open, through the authentication rules.
        for account in ["nobody", "postgres"] {
            let url = format!(
                "host={} user=postgres dbname=stockdb connect_timeout=5",
                run_dir.display()
            );
            let tried = Command::new("runuser")
                .args(["-u", account, "--", "psql", &url, "-c", "SELECT 1"])
                .output()
                .unwrap();
            assert!(
                !tried.status.success(),
                "{account} connected: {}",
                text(&tried.stdout)
            );
        }
    }
}

#[test]
fn links_planted_in_the_cluster_are_never_followed() {
    let Some(cluster) = Cluster::new("stockdb") else {
        return;
    };
    cluster.ok(&["db", "start"]);
    cluster.ok(&["db", "stop"]);
    // What the server's account could plant: a link where stockdb writes its settings,
    // pointing at a file only root may read.
    let secret = cluster._dir.path().join("root-only");
    std::fs::write(&secret, "root's secret\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let owner =
        |path: &Path| std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(path).unwrap());
    let secret_owner = owner(&secret);
    for name in ["pg_hba.conf", "pg_ident.conf", "stockdb.conf"] {
        let planted = cluster.data_dir.join("pgdata").join(name);
        let kept = std::fs::read_to_string(&planted).unwrap();
        std::fs::remove_file(&planted).unwrap();
        std::os::unix::fs::symlink(&secret, &planted).unwrap();
        let output = cluster.run(&["db", "start"]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("refusing to use {}", planted.display()))
                && stderr.contains("symbolic link"),
            "{stderr}"
        );
        // The target is untouched: its text, its owner, its mode.
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root's secret\n");
        assert_eq!(owner(&secret), secret_owner);
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_file(&planted).unwrap();
        std::fs::write(&planted, kept).unwrap();
        if is_root() {
            let chown = Command::new("chown")
                .args(["postgres:postgres", &planted.display().to_string()])
                .status()
                .unwrap();
            assert!(chown.success());
        }
    }
    // The socket's directory replaced by a link to a directory whose mode must not change.
    let run_dir = cluster.data_dir.join("run");
    let elsewhere = cluster._dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    let moved = cluster.data_dir.join("run.moved");
    std::fs::rename(&run_dir, &moved).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &run_dir).unwrap();
    let output = cluster.run(&["db", "start"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("symbolic link"),
        "{}",
        text(&output.stderr)
    );
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    std::fs::remove_file(&run_dir).unwrap();
    std::fs::rename(&moved, &run_dir).unwrap();
    // Mended, it starts.
    cluster.ok(&["db", "start"]);
}

#[test]
fn a_data_directory_others_own_or_may_write_in_is_refused() {
    let Some(cluster) = Cluster::new("stockdb") else {
        return;
    };
    std::fs::create_dir(&cluster.data_dir).unwrap();
    std::fs::set_permissions(&cluster.data_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = cluster.run(&["db", "start"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("other accounts may write in it (mode 777)"),
        "{stderr}"
    );
    assert!(
        !cluster.data_dir.join("pgdata").exists(),
        "nothing was made"
    );
    if is_root() {
        std::fs::set_permissions(&cluster.data_dir, std::fs::Permissions::from_mode(0o700))
            .unwrap();
        let chown = Command::new("chown")
            .args(["nobody", &cluster.data_dir.display().to_string()])
            .status()
            .unwrap();
        assert!(chown.success());
        let output = cluster.run(&["db", "start"]);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("is owned by uid"), "{stderr}");
        assert!(
            !cluster.data_dir.join("pgdata").exists(),
            "nothing was made"
        );
    }
}

#[test]
fn hostile_data_directory_names_are_quoted_or_refused() {
    // A quote and a hash in the path: once they broke the config or hid the socket.
    let Some(cluster) = Cluster::new("it's #1 stockdb") else {
        return;
    };
    cluster.ok(&["db", "start"]);
    let url = cluster.ok(&["db", "url"]);
    assert!(url.contains("%27") && url.contains("%23"), "encoded: {url}");
    cluster.ok(&["sync", "status"]);

    // A path whose socket would not fit the kernel's limit is refused before anything
    // is made.
    let long = std::env::temp_dir().join("d".repeat(100));
    let output = embedded(&long, &["db", "start"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("shorter --data-dir"),
        "{}",
        text(&output.stderr)
    );
    assert!(!long.exists(), "nothing was created");
}

#[test]
fn migrate_commands_on_the_embedded_cluster_are_not_undone() {
    let Some(cluster) = Cluster::new("stockdb") else {
        return;
    };
    let status = |cluster: &Cluster| cluster.ok(&["migrate", "status"]);
    cluster.ok(&["migrate", "up", "--to", "1"]);
    let latest = migration::MigrationRunner::LATEST;
    assert!(
        status(&cluster).contains(&format!("schema version: 1 of {latest}")),
        "{}",
        status(&cluster)
    );
    cluster.ok(&["migrate", "down", "--yes"]);
    assert!(status(&cluster).contains(&format!("schema version: 0 of {latest}")));
    cluster.ok(&["migrate", "up"]);
    assert!(status(&cluster).contains(&format!("schema version: {latest} of {latest}")));
}

#[tokio::test]
async fn destroying_migrations_ask_first_and_spare_other_tables() {
    let test_db = TestDb::new().await;
    test_db
        .execute(
            "CREATE TABLE customer_notes (id int PRIMARY KEY, note text); \
         INSERT INTO customer_notes VALUES (1, 'keep me'); \
         INSERT INTO llm_configs (alias, vendor, provider_type, api_key, model_name) \
         VALUES ('real', 'v', 'openai', 'k', 'm')",
        )
        .await;
    for args in [&["migrate", "fresh"][..], &["migrate", "down", "--to", "0"]] {
        let output = stockdb(test_db.url())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("nothing was changed") && stderr.contains("--yes"),
            "{stderr}"
        );
        assert!(
            text(&output.stdout).contains("llm_configs"),
            "says what it would drop"
        );
    }
    assert_eq!(test_db.count("llm_configs").await, 1, "nothing dropped");

    let output = stockdb(test_db.url())
        .args(["migrate", "fresh", "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("leaves alone customer_notes"));
    assert_eq!(
        test_db.count("llm_configs").await,
        0,
        "stockdb's tables are new"
    );
    assert_eq!(
        test_db.count("customer_notes").await,
        1,
        "another table is kept"
    );
}

#[tokio::test]
async fn a_blocked_migration_names_its_blocker_and_gives_up_in_time() {
    let test_db = TestDb::empty().await;
    // Another process holds the migration lock.
    let mut holder = test_db.db().pool().acquire().await.unwrap();
    shared_db::LockKey::Migration
        .lock(&mut *holder)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    let started = Instant::now();
    let output = stockdb(test_db.url())
        .args(["migrate", "up", "--lock-timeout", "2s"])
        .output()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("process {pid}")), "{stderr}");
    assert!(
        stderr.contains("waiting for the migration lock"),
        "{stderr}"
    );
    assert!(stderr.contains("gave up after waiting"), "{stderr}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(
        migration::fingerprint(test_db.db().conn()).await.unwrap(),
        "",
        "nothing was applied"
    );
}

#[test]
fn a_refused_connection_says_so_at_once() {
    let started = Instant::now();
    let output = stockdb("postgres://app@127.0.0.1:1/stock")
        .args(["sync", "status"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_demo_never_touches_a_database_that_holds_data() {
    let test_db = TestDb::new().await;
    test_db
        .execute(
            "INSERT INTO llm_configs (alias, vendor, provider_type, api_key, model_name, base_url) \
         VALUES ('deepseek-chat', 'deepseek', 'openai', 'sk-real-key', 'deepseek-chat', \
                 'https://real.example/v1')",
        )
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let output = stockdb(test_db.url())
        .args(["demo", "--stocks", "5", "--days", "5"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("llm_configs"),
        "{}",
        text(&output.stderr)
    );
    let (key, url): (String, String) = sqlx::query_as("SELECT api_key, base_url FROM llm_configs")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(
        (key.as_str(), url.as_str()),
        ("sk-real-key", "https://real.example/v1")
    );
    assert_eq!(test_db.count("stock_info").await, 0);
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn the_demo_works_in_a_private_directory_and_leaves_nothing_behind() {
    let test_db = TestDb::new().await;
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let output = stockdb(test_db.url())
        .args([
            "demo",
            "--stocks",
            "8",
            "--days",
            "10",
            "--quarters",
            "2",
            "--sessions",
            "2",
        ])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["victim"], "the working directory is gone");
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("stockdb-demo-"),
        "imports named their files: {stdout}"
    );
    let alias: String = sqlx::query_scalar("SELECT alias FROM llm_configs")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(alias, "demo-deepseek-chat");
}

#[tokio::test]
async fn names_from_files_cannot_drive_the_terminal() {
    let test_db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stock_basic.csv");
    std::fs::write(
        &file,
        "ts_code,symbol,name\n600519.SH,600519,\"\u{1b}[2J\u{1b}[31mMou\rtai\"\n",
    )
    .unwrap();
    let imported = stockdb(test_db.url())
        .args(["import", "stocks"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let shown = stockdb(test_db.url())
        .args(["stock", "show", "600519.SH"])
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert!(!shown.stdout.contains(&0x1b) && !shown.stdout.contains(&b'\r'));
    assert!(
        text(&shown.stdout).contains("\\u{1b}[31mMou\\rtai"),
        "{}",
        text(&shown.stdout)
    );

    // A header column stockdb ignores, named to clear the screen: listed, escaped.
    let file = dir.path().join("daily.csv");
    std::fs::write(
        &file,
        "ts_code,trade_date,close,\"x\u{1b}[2Jy\"\n600519.SH,20240102,1,2\n",
    )
    .unwrap();
    let imported = stockdb(test_db.url())
        .args(["import", "daily"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(!imported.stdout.contains(&0x1b) && !imported.stderr.contains(&0x1b));
    assert!(
        text(&imported.stdout).contains("ignored columns: x\\u{1b}[2jy"),
        "{}",
        text(&imported.stdout)
    );
    // What another writer left in alembic_version, shown by `migrate status`, and a
    // value quoted by an error.
    test_db
        .execute(
            "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL); \
             INSERT INTO alembic_version VALUES (E'c0ff\\x1b[2J')",
        )
        .await;
    for args in [
        &["migrate", "status"][..],
        &["llm", "delete", "\u{1b}[2Jx", "--yes"][..],
    ] {
        let output = stockdb(test_db.url()).args(args).output().unwrap();
        assert!(
            !output.stdout.contains(&0x1b) && !output.stderr.contains(&0x1b),
            "{args:?}: {}{}",
            text(&output.stdout),
            text(&output.stderr)
        );
    }
}

#[tokio::test]
async fn a_closed_output_pipe_ends_the_command_quietly() {
    let test_db = TestDb::new().await;
    test_db
        .execute(
            "INSERT INTO stock_daily (third_code, trade_date, close) \
         SELECT '000001.SZ', date '2000-01-01' + i, i FROM generate_series(0, 5000) i",
        )
        .await;
    let mut child = stockdb(test_db.url())
        .args([
            "daily",
            "000001.SZ",
            "--from",
            "2000-01-01",
            "--to",
            "2020-01-01",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    // The reader goes away, as `head` does, with most of the output unwritten.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", text(&output.stderr));
    assert!(
        output.stderr.is_empty(),
        "quietly: {}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn health_reports_reachability_schema_and_drift_and_exits_1_when_unhealthy() {
    let test_db = TestDb::new().await;
    let health = |url: &str| {
        let output = stockdb(url)
            .args(["db", "health", "--json"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
        (output.status.code(), report)
    };
    let (code, report) = health(test_db.url());
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["healthy"], true);
    assert_eq!(
        report["schema"]["version"],
        migration::MigrationRunner::LATEST
    );
    assert_eq!(report["schema"]["matches_golden"], true);
    assert!(report["pool"]["max"].as_u64().unwrap() >= 1);

    // Drift: an index stockdb made is gone.
    sqlx::query("DROP INDEX ix_stock_daily_trade_date")
        .execute(test_db.db().pool())
        .await
        .unwrap();
    let (code, report) = health(test_db.url());
    assert_eq!(code, Some(1));
    assert_eq!(report["schema"]["matches_golden"], false);
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("golden print")
    );

    // Behind: a database at an older version.
    let old = TestDb::empty().await;
    let runner = migration::MigrationRunner::connect(old.url())
        .await
        .unwrap();
    runner.up(Some(4)).await.unwrap();
    let (code, report) = health(old.url());
    assert_eq!(code, Some(1));
    assert_eq!(report["schema"]["version"], 4);
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("migrate up"),
        "{report}"
    );

    // A server that is not there, named with a password that must not be printed.
    let gone = "postgres://postgres:s3cret-pw@127.0.0.1:1/stockdb";
    let output = stockdb(gone).args(["db", "health"]).output().unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("UNREACHABLE") && shown.contains("refused"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret-pw"), "{shown}");
}

#[tokio::test]
async fn migration_commands_end_quietly_when_their_reader_is_gone() {
    let test_db = TestDb::new().await;
    for args in [
        &["migrate", "status"][..],
        &["migrate", "up"],
        &["migrate", "alembic-stamp"],
    ] {
        // stdout and stderr into one pipe whose reader is gone before anything is
        // written, as `stockdb migrate up 2>&1 | true` does.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = stockdb(test_db.url())
            .args(args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(141), "{args:?}");
    }
    // Each did its work before it found nobody to tell.
    let stamped: String = sqlx::query_scalar("SELECT version_num FROM alembic_version")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(stamped, "c0ff00000013");
}
