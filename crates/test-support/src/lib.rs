//! Test harness: each test gets its own PostgreSQL database.
//!
//! [`TestDb::new`] clones a template database that was migrated once per test run
//! (`CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY`), so tests run in parallel without
//! seeing each other's rows; dropping the `TestDb` drops its database.
//!
//! The server comes from `TEST_DATABASE_URL` or `DATABASE_URL`; without either, from one
//! PostgreSQL container per test process, started through testcontainers from the locally
//! built image [`test_image`] (`cargo xtask test-image`) when a Docker engine is reachable;
//! otherwise the test fails with a message saying how to provide one. It never skips.
//!
//! With `STOCKDB_TEST_TARGET=citus`, each test process runs a Citus cluster of its own
//! instead (a coordinator and two workers, [`cluster::CitusCluster`]; Citus must be
//! installed: `cargo xtask citus`): the template is migrated on the coordinator and
//! distributed as `stockdb db distribute` does, and each test's database is a copy of it
//! on every node, so the repositories run on the distributed schema. [`TestDb::empty`]
//! stays a plain database of the coordinator.
//!
//! Set `STOCKDB_KEEP_TEST_DB=1` to keep each test's database for inspection;
//! `cargo xtask db clean-tests` removes leftovers.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "a test harness fails the test loudly, and says so on stderr, instead of returning errors"
)]

mod citus;
pub mod cluster;
mod container;

pub use citus::citus_target;

use rand::Rng as _;
use rand::distr::Alphanumeric;
use shared_db::{Db, DbConfig, LockKey, url_with_database};
use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

/// Prefix of every per-test database name; `cargo xtask db clean-tests` removes them.
pub const TEST_DB_PREFIX: &str = "stockdb_test_";
/// Prefix of template database names; the suffix is the migrations' digest.
pub const TEMPLATE_PREFIX: &str = "stockdb_tpl_";

/// A fresh database for one test, dropped when this value is dropped.
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
    /// The workers' administration URLs, where this database has a copy (Citus target).
    workers: Vec<String>,
    db: Db,
}

impl TestDb {
    /// A database at the latest schema version, with no rows.
    pub async fn new() -> Self {
        let server = server().await;
        Self::create(&server.admin_url, &server.workers, Some(&server.template)).await
    }

    /// A database with an empty schema, for migration tests.
    pub async fn empty() -> Self {
        let server = server().await;
        Self::create(&server.admin_url, &[], None).await
    }

    /// A copy of `template` (or an empty database) on the server and on each of
    /// `workers`: a Citus database is the coordinator's and the workers' databases of one
    /// name, each copied from its own template.
    async fn create(admin_url: &str, workers: &[String], template: Option<&str>) -> Self {
        let name = format!("{TEST_DB_PREFIX}{}", random_suffix());
        let sql = match template {
            Some(template) => {
                format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY"#)
            }
            None => format!(r#"CREATE DATABASE "{name}""#),
        };
        for admin in std::iter::once(admin_url).chain(workers.iter().map(String::as_str)) {
            admin_execute(admin, &sql).await;
        }
        let url = url_with_database(admin_url, &name).expect("the server URL parses");
        let db = Db::connect(&DbConfig::new(&url).with_application_name("stockdb-test"))
            .await
            .unwrap_or_else(|err| panic!("cannot connect to test database {name}: {err:?}"));
        Self {
            name,
            url,
            admin_url: admin_url.to_owned(),
            workers: workers.to_vec(),
            db,
        }
    }

    /// The pool connected to this test's database (10 connections).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The URL of this test's database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Rows in `table` (a fixed table name from the test).
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(self.db.pool())
            .await
            .unwrap_or_else(|err| panic!("counting {table}: {err}"))
    }

    /// Runs `sql` (statements from the test) on this test's database.
    pub async fn execute(&self, sql: &str) {
        execute(&self.db, sql).await;
    }

    /// Terminates every backend holding an advisory lock in this test's database (as an
    /// idle timeout or a proxy cuts a connection), one entry per backend: whether it went.
    /// Only the locks `pg_advisory_lock` takes (`objsubid` 1 and 2) held by clients'
    /// backends: on Citus, a client's backend writing a distributed table holds Citus's own
    /// shard locks, which `pg_locks` also shows as advisory, and its maintenance daemon and
    /// internal connections take some of their own.
    pub async fn cut_advisory_lock_holders(&self) -> Vec<bool> {
        sqlx::query_scalar(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
             JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid IN (1, 2) \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND a.backend_type = 'client backend' \
               AND a.application_name NOT LIKE 'citus%' \
             GROUP BY l.pid",
        )
        .fetch_all(self.db.pool())
        .await
        .unwrap_or_else(|err| panic!("cutting advisory lock holders: {err}"))
    }

    /// The one text value `sql` (a query from the test) returns.
    pub async fn text(&self, sql: &str) -> String {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.db.pool())
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"))
    }

    /// A new database holding a copy of this one. PostgreSQL copies only a database nobody
    /// is connected to, so this one's pool is closed first: use this one only as the
    /// source of copies afterwards.
    pub async fn copy(&self) -> TestDb {
        self.db.close().await;
        for admin in self.nodes() {
            // Citus's maintenance daemon stays connected to a database it serves.
            citus::disconnect_all(admin, &self.name).await;
        }
        Self::create(&self.admin_url, &self.workers, Some(&self.name)).await
    }

    /// The server's administration URL, then the workers'.
    fn nodes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.admin_url.as_str()).chain(self.workers.iter().map(String::as_str))
    }

    /// A configuration for this test's database, to open a pool with other settings.
    pub fn config(&self) -> DbConfig {
        DbConfig::new(&self.url).with_application_name("stockdb-test")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("STOCKDB_KEEP_TEST_DB").is_some() {
            eprintln!("kept test database {}", self.url);
            return;
        }
        // Drop cannot await, and the test's runtime may be shutting down: drop the
        // database from a thread with its own runtime, and wait for it.
        // The coordinator first: its sessions hold connections to the workers' copies.
        let nodes: Vec<String> = self.nodes().map(str::to_owned).collect();
        let name = self.name.clone();
        let joined = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            for admin_url in &nodes {
                runtime.block_on(drop_database(admin_url, &name));
            }
        })
        .join();
        if joined.is_err() && !std::thread::panicking() {
            panic!("could not drop test database {}", self.name);
        }
    }
}

/// The server every test of this process uses, and its migrated template.
pub(crate) struct Server {
    admin_url: String,
    /// The Citus workers' administration URLs (none on the other targets).
    workers: Vec<String>,
    template: String,
}

async fn server() -> &'static Server {
    static SERVER: OnceCell<Server> = OnceCell::const_new();
    SERVER
        .get_or_init(async || {
            if citus_target() {
                return citus::start().await;
            }
            let admin_url = match server_url_from_env() {
                Some(url) => {
                    record_server(&format!(
                        "{} from the environment",
                        shared_db::redact_url(&url)
                    ));
                    url
                }
                None => container::start().await,
            };
            let template = ensure_template(&admin_url).await;
            Server {
                admin_url,
                workers: Vec::new(),
                template,
            }
        })
        .await
}

/// The server URL the tests use, from `TEST_DATABASE_URL` or `DATABASE_URL`.
pub fn server_url_from_env() -> Option<String> {
    ["TEST_DATABASE_URL", "DATABASE_URL"]
        .into_iter()
        .find_map(|key| std::env::var(key).ok().filter(|url| !url.is_empty()))
}

/// Runs `sql` (statements from the test) on `db`, panicking with the statement on error.
pub async fn execute(db: &Db, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(db.pool())
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
}

/// The URL of the server the tests use (starting a container if that is the source), for
/// tests that need to connect to other databases of the same server.
pub async fn server_url() -> String {
    server().await.admin_url.clone()
}

/// The image test containers are made from: `STOCKDB_TEST_IMAGE`, else
/// [`DEFAULT_TEST_IMAGE`]. `cargo xtask test-image` builds it.
pub fn test_image() -> String {
    std::env::var("STOCKDB_TEST_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| DEFAULT_TEST_IMAGE.to_owned())
}

/// The test image's name and tag, built locally by `cargo xtask test-image` (no registry
/// is needed).
pub const DEFAULT_TEST_IMAGE: &str = "stockdb-test-postgres:15";

/// Runs `cleanup` (a shell command) once this process has gone, however it ends: statics
/// are never dropped, and a killed process runs no destructor. `what` names it in the
/// message when no watcher can be started.
pub(crate) fn when_this_process_ends(cleanup: &str, what: &str) {
    let watch = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {cleanup}",
        pid = std::process::id()
    );
    let spawned = std::process::Command::new("sh")
        .args(["-c", &watch])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(err) = spawned {
        eprintln!("test-support: cannot watch {what} for removal: {err}");
    }
}

/// Appends which server this test process uses to the file `STOCKDB_TEST_SERVER_LOG`
/// names, if any: test output is captured, and CI prints this file to show it.
pub(crate) fn record_server(what: &str) {
    let Some(path) = std::env::var_os("STOCKDB_TEST_SERVER_LOG") else {
        return;
    };
    let line = format!(
        "{} (pid {}): {what}\n",
        std::env::args().next().unwrap_or_default(),
        std::process::id()
    );
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| std::io::Write::write_all(&mut file, line.as_bytes()));
    if let Err(err) = written {
        eprintln!(
            "test-support: cannot write {}: {err}",
            path.to_string_lossy()
        );
    }
}

/// What a test says when it has no server.
pub(crate) const NO_SERVER: &str = "\nNo PostgreSQL server for the tests.\n\
    Set TEST_DATABASE_URL (or DATABASE_URL) to a server the tests may create databases on, e.g.\n\
    \n    TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test --workspace\n\n\
    or start a Docker engine so that a PostgreSQL container can be run.\n";

/// The name of the template database of the current migrations and month: a migrated
/// database holds the audit logs' partitions of the month it was made in, so a template
/// made months ago would give every test an outdated calendar; one a month keeps them
/// true (`cargo xtask db clean-tests` drops the others).
pub fn template_name() -> String {
    format!(
        "{TEMPLATE_PREFIX}{:016x}_{}",
        migration::schema_digest(),
        shared_db::utc_now().format("%Y%m")
    )
}

/// Creates the template database for the current migrations unless it exists.
async fn ensure_template(admin_url: &str) -> String {
    let template = template_name();
    let mut admin = admin_connect(admin_url).await;
    LockKey::TestTemplate
        .lock(&mut admin)
        .await
        .expect("template lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut admin)
            .await
            .expect("template lookup");
    if !exists {
        // Build under another name and rename: a template is never seen half-migrated.
        let building = format!("{template}_building");
        run(
            &mut admin,
            format!(r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#),
        )
        .await
        .expect("drop stale template build");
        run(&mut admin, format!(r#"CREATE DATABASE "{building}""#))
            .await
            .expect("create template");
        let runner = migration::MigrationRunner::connect(
            &url_with_database(admin_url, &building).expect("the server URL parses"),
        )
        .await
        .expect("connect to template");
        runner.up(None).await.expect("migrate template");
        runner.close().await.expect("close template connection");
        run(
            &mut admin,
            format!(r#"ALTER DATABASE "{building}" RENAME TO "{template}""#),
        )
        .await
        .expect("publish template");
    }
    LockKey::TestTemplate
        .unlock(&mut admin)
        .await
        .expect("template unlock");
    admin.close().await.expect("close admin connection");
    template
}

pub(crate) async fn admin_connect(admin_url: &str) -> PgConnection {
    PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|err| {
            panic!(
                "cannot connect to the test server {}: {err}\n\
             Set TEST_DATABASE_URL (or DATABASE_URL) to a reachable PostgreSQL server.",
                shared_db::redact_url(admin_url)
            )
        })
}

async fn admin_execute(admin_url: &str, sql: &str) {
    let mut admin = admin_connect(admin_url).await;
    run(&mut admin, sql.to_owned())
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    admin.close().await.expect("close admin connection");
}

/// Drops `name` on the server at `admin_url`, cutting its sessions; when it cannot, panics
/// with who still holds it.
async fn drop_database(admin_url: &str, name: &str) {
    let mut admin = admin_connect(admin_url).await;
    let mut tries = 0;
    let dropped = loop {
        let dropped = run(
            &mut admin,
            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
        )
        .await;
        // 55006: still in use after the 5 s the server waits. Citus's maintenance daemon
        // can be opening a connection to the database as it is dropped; that connection
        // waits for the drop's lock, the drop for it to end: the next try finds it gone.
        let in_use = dropped
            .as_ref()
            .err()
            .and_then(|err| err.as_database_error())
            .is_some_and(|err| err.code().as_deref() == Some("55006"));
        if !in_use || tries == 5 {
            break dropped;
        }
        tries += 1;
    };
    if let Err(err) = dropped {
        let holders: Vec<String> = sqlx::query_scalar(
            "SELECT format('%s %s %s: %s', pid, backend_type, application_name, query) \
             FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(name)
        .fetch_all(&mut admin)
        .await
        .unwrap_or_default();
        let prepared: Vec<String> =
            sqlx::query_scalar("SELECT gid FROM pg_prepared_xacts WHERE database = $1")
                .bind(name)
                .fetch_all(&mut admin)
                .await
                .unwrap_or_default();
        panic!(
            "dropping {name} on {}: {err}; sessions {holders:?}, prepared transactions \
             {prepared:?}",
            shared_db::redact_url(admin_url)
        );
    }
    admin.close().await.expect("close admin connection");
}

/// Runs a statement built at run time (database names cannot be bind parameters).
async fn run(conn: &mut PgConnection, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(drop)
}

fn random_suffix() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(16)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect()
}

/// The directory of the PostgreSQL server binaries (`initdb`, `pg_ctl`, `pg_basebackup`),
/// as `pg_config --bindir` names it, for tests that run servers of their own (replicas, a
/// Citus cluster). Panics, saying what to install, when there is none.
pub fn server_bin_dir() -> std::path::PathBuf {
    const INSTALL: &str = "these tests need the PostgreSQL server binaries (initdb, pg_ctl, \
                           pg_basebackup) and pg_config: apt install postgresql";
    let output = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .unwrap_or_else(|err| panic!("{INSTALL} (running pg_config: {err})"));
    assert!(output.status.success(), "{INSTALL} (pg_config failed)");
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        dir.join("initdb").is_file(),
        "{INSTALL} (no initdb in {})",
        dir.display()
    );
    dir
}
