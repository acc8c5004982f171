//! Moving over from the earlier service as it stands today: a database at its newest
//! revision (`c0ff00000013`), with rows in stockdb's tables and in its own, is adopted,
//! migrated to stockdb's newest version and read back, and the service's own tables and
//! rows come through untouched; the two can then run side by side.

use migration::{
    MigrateError, MigrationRunner, SERVICE_TABLES, SERVICE_TABLES_VERSION, Stamp, fingerprint,
    golden, service_tables_at, split_managed, with_tables,
};
use shared_db::{Db, Page};
use stockdb::Stockdb;
use stockdb::coordinator::SessionFilter;
use stockdb::data_engineering::ThirdCode;
use test_support::{TestDb, execute};

/// The earlier service's own tables, as its revisions 0005 … 0013 build them.
const OTHER_TABLES: &str = include_str!("../fixtures/legacy_c0ff00000013_others.sql");
/// The print of a database its revision files built, up to c0ff00000013.
const LEGACY_PRINT: &str = include_str!("../fixtures/legacy_c0ff00000013.txt");

/// stockdb's migrations 1 … 4 are the earlier service's revisions 0001 … 0004 exactly.
const OUR_FIRST_FOUR: [&str; 4] = [
    include_str!("../../migration/sql/c0ff00000001_initial_schema.up.sql"),
    include_str!("../../migration/sql/c0ff00000002_add_sync_tables.up.sql"),
    include_str!("../../migration/sql/c0ff00000003_execution_tracking_and_reports.up.sql"),
    include_str!("../../migration/sql/c0ff00000004_add_retry_fields_to_research_sessions.up.sql"),
];

/// The lines of `print` that describe the service's own tables and their sequences.
fn service_part(print: &str) -> String {
    with_tables("", print, &SERVICE_TABLES)
}

/// Every row of each of the service's own tables, as JSON, in a stable order.
async fn other_rows(db: &Db) -> Vec<String> {
    let mut rows = Vec::new();
    for table in [
        "concept",
        "concept_stock",
        "scheduler_job_config",
        "web_search_cache",
        "mi_limit_up_stock",
    ] {
        let json: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text FROM {table} t ORDER BY 1"
        )))
        .fetch_all(db.pool())
        .await
        .unwrap();
        rows.extend(json.into_iter().map(|row| format!("{table}: {row}")));
    }
    rows
}

/// A database as the earlier service's newest version leaves it, with rows.
async fn service_database() -> TestDb {
    let test_db = TestDb::empty().await;
    for sql in OUR_FIRST_FOUR {
        execute(test_db.db(), sql).await;
    }
    execute(test_db.db(), OTHER_TABLES).await;
    execute(
        test_db.db(),
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, \
         CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)); \
         INSERT INTO alembic_version VALUES ('c0ff00000013');",
    )
    .await;
    assert_eq!(
        fingerprint(test_db.db().conn()).await.unwrap(),
        LEGACY_PRINT,
        "the fixture builds what the service's revisions build"
    );
    execute(
        test_db.db(),
        "INSERT INTO stock_info (third_code, symbol, name, industry) \
             VALUES ('600519.SH', '600519', '贵州茅台', '白酒'); \
         INSERT INTO stock_daily (third_code, trade_date, close, source) \
             VALUES ('600519.SH', '2024-06-03', 1650.5, 'tushare'); \
         INSERT INTO llm_configs (alias, vendor, provider_type, api_key, model_name, is_active) \
             VALUES ('deepseek-chat', 'deepseek', 'openai', 'sk-plaintext', 'deepseek-chat', true); \
         INSERT INTO sync_tasks (id, job_type, status, current_offset, batch_size, total_processed) \
             VALUES ('00000000-0000-4000-8000-000000000001', 'DAILY_HISTORY', 'PAUSED', 1200, 50, 1200); \
         INSERT INTO research_sessions (id, symbol, status, created_at) \
             VALUES ('00000000-0000-4000-8000-00000000000a', '600519.SH', 'failed', '2024-06-03 09:00'); \
         INSERT INTO research_sessions (id, symbol, status, created_at, retry_count, parent_session_id) \
             VALUES ('00000000-0000-4000-8000-00000000000b', '600519.SH', 'completed', '2024-06-03 10:00', \
                     1, '00000000-0000-4000-8000-00000000000a'); \
         INSERT INTO concept (code, name) VALUES ('BK0001', '白酒概念'); \
         INSERT INTO concept_stock (concept_code, third_code, stock_name, weight) \
             VALUES ('BK0001', '600519.SH', '贵州茅台', 0.5); \
         INSERT INTO scheduler_job_config (id, job_id, job_name, cron_expression, created_at, updated_at) \
             VALUES ('00000000-0000-4000-8000-0000000000c1', 'daily_sync', '日线同步', '0 18 * * 1-5', \
                     '2024-06-01', '2024-06-01'); \
         INSERT INTO web_search_cache VALUES ('k1', '{\"q\": \"茅台\"}', '{}', '2024-06-01', '2024-06-02'); \
         INSERT INTO mi_limit_up_stock (trade_date, third_code, stock_name, pct_chg, close, amount, limit_type) \
             VALUES ('2024-06-03', '600519.SH', '贵州茅台', 10.0, 1650.5, 1e9, '首板');",
    )
    .await;
    test_db
}

#[tokio::test]
async fn a_database_of_the_services_newest_revision_is_adopted_migrated_and_read_back() {
    let test_db = service_database().await;
    let others_before = other_rows(test_db.db()).await;
    let print_before = split_managed(&fingerprint(test_db.db().conn()).await.unwrap());

    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    let status = runner.status().await.unwrap();
    assert!(status.needs_adopt());
    assert!(status.others.is_empty(), "stockdb manages every table");
    let adoption = runner.adopt().await.unwrap();
    assert_eq!(
        (adoption.version, adoption.revision.as_str()),
        (4, "c0ff00000013")
    );
    assert!(adoption.left_alone.is_empty(), "{:?}", adoption.left_alone);
    runner.up(None).await.unwrap();
    let status = runner.status().await.unwrap();
    assert_eq!(status.version(), MigrationRunner::LATEST);
    assert_eq!(
        status.matches_golden,
        Some(true),
        "drift checks stockdb's tables only"
    );
    runner.close().await.unwrap();

    // stockdb's tables are at its newest version; the service's are as they were.
    let after = split_managed(&fingerprint(test_db.db().conn()).await.unwrap());
    assert_eq!(after.managed, golden(MigrationRunner::LATEST).unwrap());
    assert_eq!(after.others, print_before.others);
    // Their tables as stockdb's newest version makes them: v13 dropped the indexes on
    // the boards' ids and checks a run's status, which the service never reads nor breaks.
    let print = fingerprint(test_db.db().conn()).await.unwrap();
    assert_eq!(
        service_part(&print),
        service_part(golden(MigrationRunner::LATEST).unwrap()),
    );
    assert_eq!(
        other_rows(test_db.db()).await,
        others_before,
        "their rows untouched"
    );
    let revision: String = sqlx::query_scalar("SELECT version_num FROM alembic_version")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(
        revision, "c0ff00000013",
        "the service's revision is left as it was"
    );

    // Every row reads back through stockdb.
    let db = Stockdb::from_db(test_db.db().clone(), None);
    let code = ThirdCode::parse("600519.SH").unwrap();
    let stock = db.stocks().get_by_third_code(&code).await.unwrap().unwrap();
    assert_eq!(stock.info.name, "贵州茅台");
    let bar = db
        .dailies()
        .get_latest_by_third_code(&code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bar.close, Some(1650.5));
    let config = db
        .llm_configs()
        .get_by_alias("deepseek-chat")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(config.api_key.unwrap().expose(), "sk-plaintext");
    let task = db
        .sync()
        .get_by_id("00000000-0000-4000-8000-000000000001".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.current_offset, 1200);
    let parent = "00000000-0000-4000-8000-00000000000a".parse().unwrap();
    let retries = db.sessions().list_retries(parent).await.unwrap();
    assert_eq!(retries.len(), 1);
    assert_eq!(
        (retries[0].retry_count, retries[0].parent_session_id),
        (1, Some(parent))
    );
    let first_runs = db
        .sessions()
        .list_sessions(
            &SessionFilter {
                first_runs_only: true,
                ..SessionFilter::default()
            },
            Page::first(10).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        first_runs.iter().map(|s| s.id).collect::<Vec<_>>(),
        [parent]
    );
}

#[tokio::test]
async fn a_stockdb_database_gets_the_services_revision_for_coexistence() {
    let test_db = TestDb::new().await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    let revision = |r: &str| r.to_owned();
    // stockdb's newest version has the service's own tables too: its newest revision.
    assert_eq!(
        runner.alembic_stamp().await.unwrap(),
        Stamp::Recorded(revision("c0ff00000013"))
    );
    assert_eq!(
        runner.alembic_stamp().await.unwrap(),
        Stamp::Kept(revision("c0ff00000013")),
        "twice is once"
    );
    let rows: Vec<String> = sqlx::query_scalar("SELECT version_num FROM alembic_version")
        .fetch_all(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(rows, ["c0ff00000013"]);
    // The table is Alembic's own, so the service's `alembic upgrade head` reads it.
    let key: String = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = 'alembic_version'::regclass",
    )
    .fetch_one(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(key, "alembic_version_pkc");
    // stockdb keeps working with it in place.
    let status = runner.status().await.unwrap();
    assert!(!status.needs_adopt());
    assert!(
        status.alembic_stamped,
        "stockdb made it: `migrate status` says stamped"
    );
    assert_eq!(status.matches_golden, Some(true));
    // A revision of the service ahead of stockdb's equivalent is left alone.
    sqlx::query("UPDATE alembic_version SET version_num = 'c0ff00000013'")
        .execute(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(
        runner.alembic_stamp().await.unwrap(),
        Stamp::Kept(revision("c0ff00000013"))
    );
    // So is one newer than any stockdb knows (the service moved on): a deploy script that
    // stamps every time goes on working.
    sqlx::query("UPDATE alembic_version SET version_num = 'c0ff00000014'")
        .execute(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(
        runner.alembic_stamp().await.unwrap(),
        Stamp::Newer(revision("c0ff00000014"))
    );
    // A revert below version 4 would drop the columns that service's sessions need: refused
    // unless asked for explicitly, and nothing changes.
    let err = runner.down(Some(3)).await.unwrap_err();
    assert!(
        err.to_string().contains("c0ff00000014") && err.to_string().contains("retry_count"),
        "{err}"
    );
    assert_eq!(
        runner.status().await.unwrap().version(),
        MigrationRunner::LATEST
    );
    let runner = runner.breaking_earlier_service(true);
    assert_eq!(
        runner.down(Some(3)).await.unwrap().len(),
        MigrationRunner::LATEST - 3
    );
    // A value that is no revision of that service is refused, as before.
    sqlx::query("UPDATE alembic_version SET version_num = 'whatever'")
        .execute(test_db.db().pool())
        .await
        .unwrap();
    assert!(runner.alembic_stamp().await.is_err());
    runner.close().await.unwrap();
}

#[test]
fn stockdbs_service_tables_print_as_the_services_revisions_make_them() {
    let ours = service_part(golden(SERVICE_TABLES_VERSION).unwrap());
    assert_eq!(ours, service_part(LEGACY_PRINT));
    assert_eq!(ours.lines().filter(|l| l.starts_with("table ")).count(), 12);
    assert_eq!(
        ours.lines().filter(|l| l.starts_with("sequence ")).count(),
        9
    );
}

/// A database at the service's `revision` (0005 … 0013): stockdb's first four versions,
/// the service's tables that revision had made, and `concept_relation` where 0011 and 0012
/// have it (0013 drops it); no rows.
async fn database_at(revision: &str) -> TestDb {
    let test_db = TestDb::empty().await;
    for sql in OUR_FIRST_FOUR {
        execute(test_db.db(), sql).await;
    }
    execute(test_db.db(), OTHER_TABLES).await;
    for table in SERVICE_TABLES {
        if !service_tables_at(revision).contains(&table) {
            execute(test_db.db(), &format!("DROP TABLE {table} CASCADE")).await;
        }
    }
    if matches!(revision, "c0ff00000011" | "c0ff00000012") {
        execute(
            test_db.db(),
            "CREATE TABLE concept_relation (id serial PRIMARY KEY, \
             source_concept_code varchar(50) NOT NULL)",
        )
        .await;
    }
    execute(
        test_db.db(),
        &format!(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, \
             CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)); \
             INSERT INTO alembic_version VALUES ('{revision}');"
        ),
    )
    .await;
    test_db
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn every_revision_of_the_service_is_adopted_and_gets_the_tables_it_lacks() {
    for revision in [
        "c0ff00000005",
        "c0ff00000009",
        "c0ff00000010",
        "c0ff00000011",
        "c0ff00000012",
        "c0ff00000013",
    ] {
        let test_db = database_at(revision).await;
        let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
        let adoption = runner.adopt().await.unwrap();
        assert_eq!(adoption.version, 4, "{revision}");
        let left_alone: Vec<String> = if revision == "c0ff00000011" || revision == "c0ff00000012" {
            vec![
                "table concept_relation".into(),
                "sequence concept_relation_id_seq".into(),
            ]
        } else {
            Vec::new()
        };
        assert_eq!(
            adoption.left_alone, left_alone,
            "{revision}: checked, not left alone"
        );
        runner.up(None).await.unwrap();
        let print = split_managed(&fingerprint(test_db.db().conn()).await.unwrap());
        assert_eq!(
            print.managed,
            golden(MigrationRunner::LATEST).unwrap(),
            "{revision}: every table at stockdb's newest version"
        );
        let now: String = sqlx::query_scalar("SELECT version_num FROM alembic_version")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
        assert_eq!(
            now, "c0ff00000013",
            "{revision}: the service's upgrade adds nothing"
        );
        // The scheduler's default jobs come with its table, as c0ff00000010 seeds them;
        // a table the service made keeps what it holds (here: nothing).
        let jobs = count(test_db.db(), "SELECT count(*) FROM scheduler_job_config").await;
        let seeded = if service_tables_at(revision).contains(&"scheduler_job_config") {
            0
        } else {
            4
        };
        assert_eq!(jobs, seeded, "{revision}");
        runner.close().await.unwrap();
    }
}

#[tokio::test]
async fn adopt_refuses_the_withdrawn_revision_and_a_service_table_that_differs() {
    let test_db = database_at("c0ff00000005").await;
    execute(
        test_db.db(),
        "UPDATE alembic_version SET version_num = 'c0ff00000006'",
    )
    .await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    let err = runner.adopt().await.unwrap_err();
    assert!(err.to_string().contains("withdrawn"), "{err}");

    let test_db = database_at("c0ff00000013").await;
    execute(test_db.db(), "DROP INDEX ix_de_dragon_tiger_trade_date").await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    let err = runner.adopt().await.unwrap_err();
    let MigrateError::AdoptRefused {
        diff: Some(diff), ..
    } = &err
    else {
        panic!("expected a refusal with a diff, got {err:?}");
    };
    assert!(
        diff.contains("-  index ix_de_dragon_tiger_trade_date"),
        "{diff}"
    );
}

#[tokio::test]
async fn a_revert_below_version_12_is_refused_while_the_service_shares_the_database() {
    let test_db = service_database().await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    runner.adopt().await.unwrap();
    runner.up(None).await.unwrap();
    let err = runner
        .down(Some(SERVICE_TABLES_VERSION - 1))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("c0ff00000013") && err.to_string().contains("own tables"),
        "{err}"
    );
    assert_eq!(count(test_db.db(), "SELECT count(*) FROM concept").await, 1);
    let runner = runner.breaking_earlier_service(true);
    runner.down(Some(SERVICE_TABLES_VERSION - 1)).await.unwrap();
    let print = split_managed(&fingerprint(test_db.db().conn()).await.unwrap());
    assert_eq!(print.managed, golden(SERVICE_TABLES_VERSION - 1).unwrap());
    let revision: String = sqlx::query_scalar("SELECT version_num FROM alembic_version")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(
        revision, "c0ff00000004",
        "the service's upgrade makes them again"
    );
}
