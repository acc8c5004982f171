//! Migrations against a real server: golden schema at every version, down, idempotent up,
//! offline SQL, adoption of the earlier service's databases, concurrent runs.

use migration::{Direction, MigrateError, MigrationRunner, fingerprint, golden, sql_script};
use shared_db::Db;
use test_support::{TestDb, execute};

async fn runner(test_db: &TestDb) -> MigrationRunner {
    MigrationRunner::connect(test_db.url())
        .await
        .expect("connect runner")
}

async fn print(db: &Db) -> String {
    fingerprint(db.conn()).await.expect("fingerprint")
}

/// A database as the earlier service's Alembic revisions left it at `version`.
async fn alembic_database(version: usize) -> TestDb {
    let test_db = TestDb::empty().await;
    execute(
        test_db.db(),
        &sql_script(Direction::Up, 0, version).unwrap(),
    )
    .await;
    execute(
        test_db.db(),
        &format!(
            "DROP TABLE seaql_migrations;
             CREATE TABLE alembic_version (
                 version_num VARCHAR(32) NOT NULL,
                 CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
             INSERT INTO alembic_version VALUES ('c0ff0000000{version}');"
        ),
    )
    .await;
    test_db
}

/// Runs `script` as an operator would: `psql -v ON_ERROR_STOP=1`, one statement at a time
/// (online migrations build indexes `CONCURRENTLY`, which one multi-statement query refuses).
fn psql(url: &str, script: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql runs the offline scripts: install postgresql-client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "psql failed on the script: {status}");
}

async fn has_history_table(db: &Db) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT to_regclass('public.seaql_migrations') IS NOT NULL")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn each_version_prints_its_golden_schema() {
    let test_db = TestDb::empty().await;
    let runner = runner(&test_db).await;
    assert_eq!(print(test_db.db()).await, golden(0).unwrap());
    for version in 1..=MigrationRunner::LATEST {
        let applied = runner.up(Some(version)).await.unwrap();
        assert_eq!(applied, [MigrationRunner::names()[version - 1]]);
        let live = print(test_db.db()).await;
        let expected = golden(version).unwrap();
        // `STOCKDB_GOLDEN=bless` writes a new version's print (then review the diff).
        if live != expected && std::env::var("STOCKDB_GOLDEN").is_ok_and(|v| v == "bless") {
            let path = format!(
                "{}/../migration/golden/v{version}.txt",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::write(path, &live).unwrap();
            continue;
        }
        assert!(
            live == expected,
            "schema after {version} differs:\n{}",
            migration::diff("golden", expected, "live", &live)
        );
        assert_eq!(runner.status().await.unwrap().version(), version);
    }
}

#[tokio::test]
async fn each_down_returns_to_the_previous_golden_schema() {
    let test_db = TestDb::empty().await;
    let runner = runner(&test_db).await;
    runner.up(None).await.unwrap();
    for version in (0..MigrationRunner::LATEST).rev() {
        let reverted = runner.down(None).await.unwrap();
        assert_eq!(reverted, [MigrationRunner::names()[version]]);
        assert_eq!(
            print(test_db.db()).await,
            golden(version).unwrap(),
            "after down to {version}"
        );
    }
    assert_eq!(runner.status().await.unwrap().version(), 0);
    assert!(
        runner.down(None).await.unwrap().is_empty(),
        "down at 0 is a no-op"
    );
}

#[tokio::test]
async fn down_to_a_version_reverts_several_steps() {
    let test_db = TestDb::empty().await;
    let runner = runner(&test_db).await;
    runner.up(None).await.unwrap();
    let reverted = runner.down(Some(1)).await.unwrap();
    let names = MigrationRunner::names();
    let expected: Vec<&str> = names[1..].iter().rev().copied().collect();
    assert_eq!(reverted, expected);
    assert_eq!(print(test_db.db()).await, golden(1).unwrap());
    assert!(matches!(
        runner.down(Some(2)).await,
        Err(MigrateError::Target { to: 2, .. })
    ));
}

#[tokio::test]
async fn up_twice_is_a_no_op() {
    let test_db = TestDb::empty().await;
    let runner = runner(&test_db).await;
    assert_eq!(
        runner.up(None).await.unwrap().len(),
        MigrationRunner::LATEST
    );
    assert!(runner.up(None).await.unwrap().is_empty());
    assert_eq!(
        print(test_db.db()).await,
        golden(MigrationRunner::LATEST).unwrap()
    );
    assert!(matches!(
        runner.up(Some(1)).await,
        Err(MigrateError::Target { to: 1, .. })
    ));
}

#[tokio::test]
async fn status_reads_without_creating_the_history_table() {
    let test_db = TestDb::empty().await;
    let status = runner(&test_db).await.status().await.unwrap();
    assert_eq!(status.version(), 0);
    assert_eq!(status.pending, MigrationRunner::names());
    assert_eq!(status.matches_golden, Some(true));
    assert!(!has_history_table(test_db.db()).await);
}

#[tokio::test]
async fn status_reports_drift_from_the_golden_schema() {
    let test_db = TestDb::empty().await;
    let runner = runner(&test_db).await;
    runner.up(None).await.unwrap();
    execute(test_db.db(), "CREATE INDEX ix_drift ON stock_daily (close)").await;
    let status = runner.status().await.unwrap();
    assert_eq!(status.matches_golden, Some(false));
    let mut printed = Vec::new();
    migration::MigrateCommand::Status
        .run(Some(test_db.url()), &mut printed)
        .await
        .unwrap();
    assert!(String::from_utf8(printed).unwrap().contains("DIFFERS"));
}

#[tokio::test]
async fn offline_sql_scripts_match_the_runner() {
    let test_db = TestDb::empty().await;
    let latest = MigrationRunner::LATEST;
    psql(
        test_db.url(),
        &sql_script(Direction::Up, 0, latest).unwrap(),
    );
    assert_eq!(print(test_db.db()).await, golden(latest).unwrap());
    let runner = runner(&test_db).await;
    assert_eq!(
        runner.status().await.unwrap().version(),
        latest,
        "bookkeeping written too"
    );
    psql(
        test_db.url(),
        &sql_script(Direction::Down, latest, 0).unwrap(),
    );
    assert_eq!(print(test_db.db()).await, golden(0).unwrap());
    assert_eq!(runner.status().await.unwrap().version(), 0);
}

#[tokio::test]
async fn adopt_accepts_every_alembic_revision_and_later_migrations_run() {
    for version in 1..=4 {
        let test_db = alembic_database(version).await;
        let runner = runner(&test_db).await;
        let status = runner.status().await.unwrap();
        assert!(status.needs_adopt());
        assert!(
            matches!(runner.up(None).await, Err(MigrateError::NeedsAdopt { ref revision }) if *revision == format!("c0ff0000000{version}")),
            "up refuses before adopt"
        );
        assert_eq!(runner.adopt().await.unwrap().version, version);
        assert_eq!(
            runner.adopt().await.unwrap().version,
            version,
            "adopting twice is a no-op"
        );
        let status = runner.status().await.unwrap();
        assert_eq!(status.version(), version);
        assert_eq!(status.matches_golden, Some(true));
        runner.up(None).await.unwrap();
        assert_eq!(
            print(test_db.db()).await,
            golden(MigrationRunner::LATEST).unwrap()
        );
        // The earlier service's revision follows what stockdb applied of its chain.
        let revision: String = sqlx::query_scalar("SELECT version_num FROM alembic_version")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
        // Version 4 is the service's 0004 (moving 0003 on), version 12 makes its own
        // tables and moves 0004 to its newest revision.
        let expected = if version >= 3 {
            "c0ff00000013".to_owned()
        } else {
            format!("c0ff0000000{version}")
        };
        assert_eq!(revision, expected, "adopted at c0ff0000000{version}");
    }
}

#[tokio::test]
async fn adopt_refuses_a_missing_index_with_a_diff_and_changes_nothing() {
    let test_db = alembic_database(2).await;
    execute(test_db.db(), "DROP INDEX ix_sync_tasks_status").await;
    let before = print(test_db.db()).await;
    let err = runner(&test_db).await.adopt().await.unwrap_err();
    let MigrateError::AdoptRefused {
        diff: Some(diff), ..
    } = &err
    else {
        panic!("expected a refusal with a diff, got {err:?}");
    };
    assert!(
        diff.contains("-  index ix_sync_tasks_status CREATE INDEX ix_sync_tasks_status"),
        "{diff}"
    );
    assert!(err.to_string().contains("nothing was changed"));
    assert_eq!(print(test_db.db()).await, before);
    assert!(!has_history_table(test_db.db()).await);
}

#[tokio::test]
async fn adopt_refuses_an_extra_column_with_a_diff() {
    let test_db = alembic_database(3).await;
    execute(
        test_db.db(),
        "ALTER TABLE stock_info ADD COLUMN board VARCHAR(10)",
    )
    .await;
    let err = runner(&test_db).await.adopt().await.unwrap_err();
    let MigrateError::AdoptRefused {
        diff: Some(diff), ..
    } = &err
    else {
        panic!("expected a refusal with a diff, got {err:?}");
    };
    assert!(
        diff.contains("+  column board character varying(10) NULL"),
        "{diff}"
    );
    assert!(!has_history_table(test_db.db()).await);
}

#[tokio::test]
async fn adopt_refuses_a_revision_it_does_not_know() {
    for unknown in ["c0ff00000007", "c0ff00000099", "abc123"] {
        let test_db = alembic_database(3).await;
        execute(
            test_db.db(),
            &format!("UPDATE alembic_version SET version_num = '{unknown}'"),
        )
        .await;
        let err = runner(&test_db).await.adopt().await.unwrap_err();
        assert!(matches!(err, MigrateError::AdoptRefused { diff: None, .. }));
        assert!(err.to_string().contains(unknown), "{err}");
        assert!(!has_history_table(test_db.db()).await);
    }
}

#[tokio::test]
async fn adopt_without_alembic_has_nothing_to_adopt() {
    let test_db = TestDb::empty().await;
    assert!(matches!(
        runner(&test_db).await.adopt().await,
        Err(MigrateError::NothingToAdopt(_))
    ));
}

#[tokio::test]
async fn concurrent_up_applies_once() {
    let test_db = TestDb::empty().await;
    let (first, second) = (runner(&test_db).await, runner(&test_db).await);
    let (a, b) = tokio::join!(first.up(None), second.up(None));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut counts = [a.len(), b.len()];
    counts.sort_unstable();
    assert_eq!(
        counts,
        [0, MigrationRunner::LATEST],
        "exactly one run applies"
    );
    assert_eq!(
        print(test_db.db()).await,
        golden(MigrationRunner::LATEST).unwrap()
    );
}

#[tokio::test]
async fn template_databases_start_at_the_latest_version() {
    let test_db = TestDb::new().await;
    assert_eq!(
        print(test_db.db()).await,
        golden(MigrationRunner::LATEST).unwrap()
    );
    assert_eq!(
        runner(&test_db).await.status().await.unwrap().version(),
        MigrationRunner::LATEST
    );
}

#[tokio::test]
async fn a_control_character_in_a_comment_or_name_never_makes_a_line_of_its_own() {
    let test_db = TestDb::new().await;
    let before = print(test_db.db()).await;
    assert_eq!(before, golden(MigrationRunner::LATEST).unwrap());
    // What a writer of comments could try: the primary key dropped, and a comment that
    // prints the line it left; a table whose name starts a line of its own.
    execute(
        test_db.db(),
        "ALTER TABLE llm_configs DROP CONSTRAINT llm_configs_pkey; \
         COMMENT ON COLUMN llm_configs.updated_at IS \
             E'x\\n  constraint llm_configs_pkey p PRIMARY KEY (id)\\x1b[2K'; \
         CREATE TABLE \"llm_configs\nindex spoof\" (id int)",
    )
    .await;
    let after = print(test_db.db()).await;
    assert_ne!(after, before);
    assert!(
        !after
            .lines()
            .any(|l| l == "  constraint llm_configs_pkey p PRIMARY KEY (id)"),
        "{after}"
    );
    assert!(!after.contains('\u{1b}'), "{after}");
    assert!(
        after.contains("  -- x\\n  constraint llm_configs_pkey p PRIMARY KEY (id)\\u{1b}[2K"),
        "{after}"
    );
    assert!(after.contains("table llm_configs\\nindex spoof"), "{after}");
}

#[tokio::test]
async fn a_revert_below_version_8_names_call_ids_stored_twice_and_changes_nothing() {
    let test_db = TestDb::new().await;
    // One call id at two times: what version 8's key allows and version 7's does not
    // (a writer that is not stockdb; stockdb's own save refuses it).
    execute(
        test_db.db(),
        "INSERT INTO llm_call_logs (id, caller_module, model_name, vendor, prompt_text, \
                                    temperature, latency_ms, status, created_at) \
         SELECT '00000000-0000-4000-8000-0000000000d1', 'c', 'm', 'v', 'p', 0, 1, 'success', at \
         FROM unnest(ARRAY[now() - interval '40 days', now()]) AS at",
    )
    .await;
    let before = print(test_db.db()).await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    let err = runner.down(Some(7)).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("llm_call_logs: 00000000-0000-4000-8000-0000000000d1 (2 rows)"),
        "{message}"
    );
    assert!(message.contains("Nothing was changed"), "{message}");
    assert_eq!(
        runner.status().await.unwrap().version(),
        MigrationRunner::LATEST
    );
    assert_eq!(print(test_db.db()).await, before);
    assert_eq!(test_db.count("llm_call_logs").await, 2);
    // One row deleted, the revert goes through.
    execute(
        test_db.db(),
        "DELETE FROM llm_call_logs WHERE created_at < now() - interval '1 day'",
    )
    .await;
    runner.down(Some(7)).await.unwrap();
    assert_eq!(print(test_db.db()).await, golden(7).unwrap());
    runner.close().await.unwrap();
}
