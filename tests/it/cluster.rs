//! Throwaway PostgreSQL clusters for the replication and Citus tests: a primary made with
//! `initdb` (with Citus loaded, for a Citus node) and streaming replicas of it made with
//! `pg_basebackup -R`, each in its own temporary
//! directory and listening on a Unix socket there only (no TCP port to collide with or to
//! be reached from elsewhere). As root, the server runs as the `postgres` user, as
//! `initdb` requires. Dropping a cluster stops it at once.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output};

/// One running (or stopped) cluster.
pub(crate) struct Cluster {
    root: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<&'static str>,
}

impl Cluster {
    /// A new primary, started (with only the databases `initdb` makes).
    pub(crate) fn primary() -> Self {
        Self::initdb("")
    }

    /// A new primary with Citus loaded (`shared_preload_libraries`, and the logical WAL
    /// its online distribution copies rows with), started. Panics, saying how to install
    /// it, when the server has no Citus.
    pub(crate) fn citus_node() -> Self {
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
             max_replication_slots = 20\nmax_wal_senders = 20\nmax_connections = 200\n",
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
    pub(crate) fn replica(&self) -> Self {
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
    pub(crate) fn host(&self) -> String {
        self.socket_dir().display().to_string()
    }

    /// Starts the server and waits until it accepts connections.
    pub(crate) fn start(&self) {
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
    pub(crate) fn stop(&self) {
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
    pub(crate) fn url(&self) -> String {
        self.url_of("stockdb")
    }

    pub(crate) fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost/{database}?host={}",
            self.socket_dir().display()
        )
    }

    /// Creates database `stockdb`.
    pub(crate) async fn create_stockdb(&self) {
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
pub(crate) async fn sql(url: &str, statement: &str) {
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
    let found = test_support::server_bin_dir();
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
