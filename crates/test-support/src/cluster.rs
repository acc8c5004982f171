//! Throwaway PostgreSQL clusters for the replication and Citus tests: a primary made with
//! `initdb` (with Citus loaded, for a Citus node) and streaming replicas of it made with
//! `pg_basebackup -R`, each in its own temporary
//! directory and listening on a Unix socket there only (no TCP port to collide with or to
//! be reached from elsewhere). As root, the server runs as the `postgres` user, as
//! `initdb` requires. Dropping a cluster stops it at once.
//!
//! [`CitusCluster`] is a coordinator and its workers of such clusters: the Citus test
//! target (`STOCKDB_TEST_TARGET=citus`) runs the suite on one per test process.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output};

/// One running (or stopped) PostgreSQL cluster of its own.
pub struct Cluster {
    root: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<&'static str>,
}

impl Cluster {
    /// A new primary, started (with only the databases `initdb` makes).
    pub fn primary() -> Self {
        Self::initdb("")
    }

    /// A new primary with `settings` (lines of `postgresql.conf`) after the throwaway
    /// defaults, which they override: the benchmark's history server turns durability back
    /// on and sizes its memory.
    pub fn primary_with(settings: &str) -> Self {
        Self::initdb(settings)
    }

    /// A new primary with Citus loaded (`shared_preload_libraries`, and the logical WAL
    /// its online distribution copies rows with), started. Its background tasks (a
    /// rebalance's shard moves) are looked for every 200 ms, not 5 s: the tests' moves
    /// are small, and would mostly wait. Panics, saying how to install
    /// it, when the server has no Citus.
    pub fn citus_node() -> Self {
        let lib = bin_dir()
            .parent()
            .map(|dir| dir.join("lib").join("citus.so"));
        assert!(
            lib.as_ref().is_some_and(|lib| lib.is_file()),
            "these tests need Citus in the server's library directory ({lib:?}): \
             `cargo xtask citus` builds and installs it from ../shared/vendor/citus"
        );
        Self::initdb(
            "shared_preload_libraries = 'citus'\noutput_plugin_libraries = 'pgoutput, test_decoding, citus'\n\
             wal_level = logical\n\
             max_replication_slots = 20\nmax_wal_senders = 20\nmax_connections = 200\n\
             max_prepared_transactions = 200\n\
             citus.background_task_queue_interval = '200ms'\n",
        )
    }

    fn initdb(settings: &str) -> Self {
        let cluster = Self::new_dir();
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data().display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.configure();
        cluster.append_conf(settings);
        cluster.start();
        cluster
    }

    /// A streaming replica of this (running) cluster, started.
    pub fn replica(&self) -> Self {
        let replica = Self::new_dir();
        replica.pg(
            "pg_basebackup",
            &[
                "-D",
                &replica.data().display().to_string(),
                "-h",
                &self.socket_dir().display().to_string(),
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                "--no-sync",
                // At once: the default spread checkpoint waits most of checkpoint_timeout.
                "--checkpoint=fast",
            ],
        );
        replica.configure();
        replica.start();
        replica
    }

    fn new_dir() -> Self {
        let bin = bin_dir();
        let run_as = is_root().then_some("postgres");
        let root = tempfile::Builder::new()
            .prefix("stockdb-replication-")
            .tempdir()
            .expect("a temporary directory");
        for dir in [root.path().to_path_buf(), root.path().join("socket")] {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            if let Some(user) = run_as {
                let status = Command::new("chown")
                    .args([user, &dir.display().to_string()])
                    .status();
                assert!(
                    status.is_ok_and(|s| s.success()),
                    "chown {user} {}",
                    dir.display()
                );
            }
        }
        Self { root, bin, run_as }
    }

    /// Its data directory (the benchmark evicts a database's files from the page cache).
    pub fn data_dir(&self) -> PathBuf {
        self.data()
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.path().join("socket")
    }

    /// Listens on the socket directory only; durability off (throwaway data).
    fn configure(&self) {
        self.append_conf(&format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{}'\nfsync = off\n\
             synchronous_commit = off\nfull_page_writes = off\nwal_receiver_status_interval = 1s\n",
            self.socket_dir().display()
        ));
    }

    fn append_conf(&self, settings: &str) {
        let conf = self.data().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(settings);
        std::fs::write(&conf, text).unwrap();
    }

    /// The directory of its Unix socket: its host name for other nodes.
    pub fn host(&self) -> String {
        self.socket_dir().display().to_string()
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let log = self.root.path().join("server.log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-l",
                &log.display().to_string(),
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server (fast: connections are cut, as in a failure).
    pub fn stop(&self) {
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data().display().to_string(),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
        );
    }

    /// The URL of database `stockdb` (made by [`Cluster::create_stockdb`] on the primary).
    pub fn url(&self) -> String {
        self.url_of("stockdb")
    }

    /// The URL of `database` on this cluster, through its socket.
    pub fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost/{database}?host={}",
            self.socket_dir().display()
        )
    }

    /// Creates database `stockdb`.
    pub async fn create_stockdb(&self) {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url_of("postgres"))
            .await
            .unwrap();
        sqlx::raw_sql("CREATE DATABASE stockdb")
            .execute(&mut conn)
            .await
            .unwrap();
    }

    /// The server binary `program`, to be run as the cluster's owner.
    fn command(&self, program: &str) -> Command {
        let binary = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&binary);
                c
            }
            None => Command::new(&binary),
        }
    }

    fn pg(&self, program: &str, args: &[&str]) -> Output {
        let output = self
            .command(program)
            .args(args)
            .current_dir(self.root.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|err| panic!("running {program}: {err}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout),
            std::fs::read_to_string(self.root.path().join("server.log")).unwrap_or_default()
        );
        output
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        if data.join("postmaster.pid").exists() {
            let _ = self
                .command("pg_ctl")
                .args([
                    "-D",
                    &data.display().to_string(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .output();
        }
    }
}

/// Runs `statement` (one or more, in one simple query) on a connection of its own to `url`.
pub async fn sql(url: &str, statement: &str) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("{statement}: {err}"));
}

/// Where the server binaries really live: a directory on PATH may hold links to a few.
fn bin_dir() -> PathBuf {
    let found = crate::server_bin_dir();
    std::fs::canonicalize(found.join("initdb"))
        .ok()
        .and_then(|initdb| initdb.parent().map(PathBuf::from))
        .unwrap_or(found)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A Citus coordinator and its workers, each a [`Cluster`] with Citus loaded that reaches
/// itself by its socket directory (`citus.local_hostname`).
pub struct CitusCluster {
    /// The coordinator: applications connect to it.
    pub coordinator: Cluster,
    /// The workers, which hold the distributed tables' shards.
    pub workers: Vec<Cluster>,
}

impl CitusCluster {
    /// A coordinator and `workers` workers, started, with no database of stockdb's yet.
    pub async fn new(workers: usize) -> Self {
        let coordinator = Cluster::citus_node();
        let workers: Vec<Cluster> = (0..workers).map(|_| Cluster::citus_node()).collect();
        let cluster = Self {
            coordinator,
            workers,
        };
        for node in cluster.nodes() {
            // A node reaches itself by this name (default `localhost`: TCP, which these
            // nodes do not listen on, and where another server may).
            let admin = node.url_of("postgres");
            sql(
                &admin,
                &format!("ALTER SYSTEM SET citus.local_hostname = '{}'", node.host()),
            )
            .await;
            sql(&admin, "SELECT pg_reload_conf()").await;
        }
        cluster
    }

    /// The coordinator, then the workers.
    pub fn nodes(&self) -> impl Iterator<Item = &Cluster> {
        std::iter::once(&self.coordinator).chain(&self.workers)
    }

    /// A new worker, started, with `database` and the extension, added to the coordinator's
    /// `database` (which holds no shard on it until a rebalance moves some).
    pub async fn add_worker(&mut self, database: &str) {
        let worker = Cluster::citus_node();
        let admin = worker.url_of("postgres");
        sql(
            &admin,
            &format!(
                "ALTER SYSTEM SET citus.local_hostname = '{}'",
                worker.host()
            ),
        )
        .await;
        sql(&admin, "SELECT pg_reload_conf()").await;
        sql(&admin, &format!(r#"CREATE DATABASE "{database}""#)).await;
        sql(&worker.url_of(database), "CREATE EXTENSION citus").await;
        sql(
            &self.coordinator.url_of(database),
            &format!("SELECT citus_add_node('{}', 5432)", worker.host()),
        )
        .await;
        self.workers.push(worker);
    }

    /// Creates `database` on every node with the extension, and makes it a Citus database
    /// on the coordinator: the coordinator in its metadata, the workers added.
    pub async fn create_database(&self, database: &str) {
        for node in self.nodes() {
            sql(
                &node.url_of("postgres"),
                &format!(r#"CREATE DATABASE "{database}""#),
            )
            .await;
            sql(&node.url_of(database), "CREATE EXTENSION citus").await;
        }
        let coordinator = self.coordinator.url_of(database);
        sql(
            &coordinator,
            &format!(
                "SELECT citus_set_coordinator_host('{}', 5432)",
                self.coordinator.host()
            ),
        )
        .await;
        for worker in &self.workers {
            sql(
                &coordinator,
                &format!("SELECT citus_add_node('{}', 5432)", worker.host()),
            )
            .await;
        }
    }

    /// Stops every node and removes its directory once this process has gone, however it
    /// ends: for a cluster kept in a static, which is never dropped.
    pub fn remove_when_this_process_ends(&self) {
        for node in self.nodes() {
            let root = node.root.path().display().to_string();
            // SIGQUIT: the postmaster's immediate shutdown.
            crate::when_this_process_ends(
                &format!(
                    "kill -QUIT $(head -1 '{root}/data/postmaster.pid') 2>/dev/null; sleep 2; \
                     rm -rf '{root}'"
                ),
                &root,
            );
        }
    }
}
