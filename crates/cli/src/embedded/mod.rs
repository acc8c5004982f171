//! The embedded default: a PostgreSQL cluster stockdb creates and manages in a data
//! directory, with the server binaries installed on the machine (`initdb`, `pg_ctl`).
//!
//! The cluster is private to the account that runs stockdb. It listens on a Unix socket
//! inside the data directory only (no TCP port: nothing to collide with, nothing to reach
//! from the network); the socket's directory and the socket are mode 0700, so no other
//! account (root aside) can even reach it; and its only `pg_hba.conf` line is `peer`
//! authentication through an ident map that lets exactly that account in as `postgres`.
//! Peer authentication was chosen over a generated password: the kernel vouches for the
//! client's account, so there is no secret to store, leak or rotate. `initdb` refuses to
//! run as root, so when stockdb runs as root the cluster runs as the `postgres` system
//! user (the one the server packages create), through `runuser`, with its directories
//! owned by that user; root is then the account let in.

mod access;
mod files;
mod process;

pub use process::find_server_binaries;

use std::path::{Path, PathBuf};
use std::process::Command;

use self::files::{OwnedDir, set_dir_mode};
use self::process::{account_name, checked_pg, is_root, run, run_pg, set_mode, uid_of};

/// What can go wrong managing the embedded cluster.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No `initdb`/`pg_ctl` on the machine.
    #[error(
        "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or under \
         /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: apt install postgresql; \
         Fedora: dnf install postgresql-server; macOS: brew install postgresql@15), or set \
         DATABASE_URL (or --database-url) to a server you already have"
    )]
    NoServerBinaries,
    /// Running as root without a `postgres` user to run the cluster as.
    #[error(
        "stockdb runs as root, and initdb refuses to: the cluster must run as an unprivileged \
         user, but there is no `postgres` user (install the PostgreSQL server package, which \
         creates it), or set DATABASE_URL"
    )]
    NoServiceUser,
    /// The service user cannot reach the data directory.
    #[error(
        "the `postgres` user cannot reach {0} (a parent directory is private); choose a data \
         directory it can reach, e.g. --data-dir /var/lib/stockdb"
    )]
    Unreachable(PathBuf),
    /// The data directory's path cannot be used for a cluster.
    #[error("cannot use {path:?} as the data directory: {reason}")]
    BadPath {
        /// The path, as given.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A command failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and output.
        detail: String,
    },
    /// A file or directory stockdb writes in the cluster is not what it should be: a link,
    /// not a file, or another account's. Another account may have put it there.
    #[error(
        "refusing to use {path}: {what}. Another account may have put it there: check what it \
         is, remove it, and run the command again"
    )]
    Planted {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The data directory belongs to another account, or others may write in it.
    #[error(
        "refusing the data directory {path}: {reason}; choose a directory of your own (e.g. \
         the default, or a new one)"
    )]
    ForeignDataDir {
        /// The data directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("{what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The database the embedded cluster serves stockdb from.
pub const DATABASE: &str = "stockdb";

/// The settings file stockdb keeps in the cluster, included by `postgresql.conf`.
const SETTINGS_FILE: &str = "stockdb.conf";

/// A cluster in `data_dir`: `pgdata/` (the cluster), `run/` (socket and server log).
#[derive(Debug, Clone)]
pub struct EmbeddedCluster {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    /// The system user the server runs as, when stockdb runs as root.
    run_as: Option<String>,
}

/// Where the cluster stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterState {
    /// `initdb` has not run.
    Uninitialized,
    /// Initialized, not running.
    Stopped,
    /// Running.
    Running,
}

impl EmbeddedCluster {
    /// The default data directory: `$STOCKDB_DATA_DIR`, else `/var/lib/stockdb` for root
    /// (the `postgres` user must be able to reach it), else `$XDG_DATA_HOME/stockdb` or
    /// `~/.local/share/stockdb`, else `./.stockdb`.
    pub fn default_data_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("STOCKDB_DATA_DIR") {
            return PathBuf::from(dir);
        }
        if is_root() {
            return PathBuf::from("/var/lib/stockdb");
        }
        if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
            return PathBuf::from(dir).join("stockdb");
        }
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(".local/share/stockdb");
        }
        PathBuf::from(".stockdb")
    }

    /// A cluster in `data_dir`, with the server binaries found on this machine. A path
    /// that cannot hold a cluster (not UTF-8, control characters, a socket path over the
    /// kernel's limit) is refused here, before anything is made.
    pub fn new(data_dir: impl Into<PathBuf>) -> Result<Self, EmbeddedError> {
        let data_dir = data_dir.into();
        let data_dir = if data_dir.is_absolute() {
            data_dir
        } else {
            std::env::current_dir()
                .map_err(|source| EmbeddedError::Io {
                    what: "reading the current directory for",
                    path: data_dir.clone(),
                    source,
                })?
                .join(data_dir)
        };
        access::check_data_dir(&data_dir, &data_dir.join("run"))?;
        let bin_dir = find_server_binaries().ok_or(EmbeddedError::NoServerBinaries)?;
        let run_as = if is_root() {
            let exists = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .is_ok_and(|o| o.status.success());
            if !exists {
                return Err(EmbeddedError::NoServiceUser);
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        Ok(Self {
            data_dir,
            bin_dir,
            run_as,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn pgdata(&self) -> PathBuf {
        self.data_dir.join("pgdata")
    }

    /// Where the server's socket is (mode 0700).
    pub fn run_dir(&self) -> PathBuf {
        self.data_dir.join("run")
    }

    /// The server log.
    pub fn log_file(&self) -> PathBuf {
        self.run_dir().join("postgres.log")
    }

    /// The URL of the `stockdb` database (over the Unix socket).
    pub fn url(&self) -> Result<String, EmbeddedError> {
        access::socket_url(&self.run_dir(), DATABASE)
    }

    /// Where the cluster stands.
    pub fn state(&self) -> ClusterState {
        if !self.pgdata().join("PG_VERSION").exists() {
            return ClusterState::Uninitialized;
        }
        let pgdata = self.pgdata().display().to_string();
        match self.pg("pg_ctl", &["-D", &pgdata, "status"]) {
            Ok(output) if output.status.success() => ClusterState::Running,
            _ => ClusterState::Stopped,
        }
    }

    /// Initializes the cluster if needed, starts it if it is not running, and creates the
    /// `stockdb` database if it is missing. Returns the database URL.
    ///
    /// Before every start, the cluster's access rules are (re)written, so a cluster made
    /// by an older stockdb (which trusted every local connection) is closed too.
    pub async fn ensure_started(&self) -> Result<String, EmbeddedError> {
        self.check_data_dir_owner()?;
        if self.state() == ClusterState::Uninitialized {
            self.init()?;
        }
        if self.state() != ClusterState::Running {
            self.secure()?;
            self.start()?;
        }
        self.ensure_database().await?;
        self.url()
    }

    /// Stops the cluster (fast shutdown); a stopped cluster is left as it is.
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        if self.state() != ClusterState::Running {
            return Ok(());
        }
        let pgdata = self.pgdata().display().to_string();
        self.checked("pg_ctl", &["-D", &pgdata, "-m", "fast", "-w", "stop"])
            .map(drop)
    }

    fn init(&self) -> Result<(), EmbeddedError> {
        let (pgdata, run_dir) = (self.pgdata(), self.run_dir());
        for dir in [&self.data_dir, &pgdata, &run_dir] {
            std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::Io {
                what: "creating",
                path: dir.clone(),
                source,
            })?;
        }
        if let Some(user) = &self.run_as {
            // The service user must traverse the data directory and own its cluster.
            set_mode(&self.data_dir, 0o711)?;
            for dir in [&pgdata, &run_dir] {
                run(Command::new("chown")
                    .args([&format!("{user}:{user}"), &dir.display().to_string()]))?;
            }
            let reachable = Command::new("runuser")
                .args([
                    "-u",
                    user,
                    "--",
                    "test",
                    "-w",
                    &run_dir.display().to_string(),
                ])
                .status()
                .is_ok_and(|s| s.success());
            if !reachable {
                return Err(EmbeddedError::Unreachable(self.data_dir.clone()));
            }
        } else {
            set_mode(&self.data_dir, 0o700)?;
        }
        set_dir_mode(&pgdata, 0o700)?;
        set_dir_mode(&run_dir, 0o700)?;
        let pgdata_arg = pgdata.display().to_string();
        self.checked(
            "initdb",
            &[
                "-D",
                &pgdata_arg,
                "-U",
                "postgres",
                "--auth-local=peer",
                "--auth-host=reject",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
        )?;
        let pgdata = self.owned_pgdata()?;
        let mut text = pgdata.read("postgresql.conf")?;
        // A relative include is read from the data directory: no path to quote here.
        text.push_str(&format!(
            "\n# stockdb's own settings (rewritten before every start).\ninclude '{SETTINGS_FILE}'\n"
        ));
        pgdata.write("postgresql.conf", &text)
    }

    /// The uid the server runs as: the service user's when stockdb runs as root, else
    /// this process's.
    fn server_uid(&self) -> Result<u32, EmbeddedError> {
        uid_of(self.run_as.as_deref())
    }

    /// The cluster's directory, checked to be the server account's own (not a link).
    fn owned_pgdata(&self) -> Result<OwnedDir, EmbeddedError> {
        OwnedDir::open(&self.pgdata(), self.server_uid()?)
    }

    /// Refuses a data directory that another account owns, or that others may write in:
    /// whoever can write there can replace the cluster's directories with links. (A
    /// data directory stockdb made is this account's, mode 0700, or 0711 under root.)
    fn check_data_dir_owner(&self) -> Result<(), EmbeddedError> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = match std::fs::metadata(&self.data_dir) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(EmbeddedError::Io {
                    what: "reading",
                    path: self.data_dir.clone(),
                    source,
                });
            }
        };
        let foreign = |reason: String| EmbeddedError::ForeignDataDir {
            path: self.data_dir.clone(),
            reason,
        };
        let me = uid_of(None)?;
        if meta.uid() != me && meta.uid() != 0 {
            return Err(foreign(format!(
                "it is owned by uid {}, not by this account (uid {me}) or root",
                meta.uid()
            )));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(foreign(format!(
                "other accounts may write in it (mode {:o})",
                meta.mode() & 0o7777
            )));
        }
        Ok(())
    }

    /// (Re)writes who may connect and how the server listens: the socket directory's
    /// mode, `pg_hba.conf`, `pg_ident.conf` and stockdb's settings file.
    ///
    /// The service account owns `pgdata/` and `run/` and could have put links there:
    /// nothing is written through one (see `files`).
    fn secure(&self) -> Result<(), EmbeddedError> {
        let run_dir = self.run_dir();
        set_dir_mode(&run_dir, 0o700)?;
        let account = account_name()?;
        let pgdata = self.owned_pgdata()?;
        pgdata.write("pg_hba.conf", &access::hba_conf())?;
        pgdata.write("pg_ident.conf", &access::ident_conf(&account))?;
        pgdata.write(SETTINGS_FILE, &access::server_settings(&run_dir))
    }

    fn start(&self) -> Result<(), EmbeddedError> {
        let pgdata = self.pgdata().display().to_string();
        let log = self.log_file().display().to_string();
        match self.checked(
            "pg_ctl",
            &["-D", &pgdata, "-l", &log, "-w", "-t", "60", "start"],
        ) {
            Ok(_) => Ok(()),
            // Another stockdb may have started it a moment ago.
            Err(_) if self.state() == ClusterState::Running => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn ensure_database(&self) -> Result<(), EmbeddedError> {
        use sqlx::Connection as _;
        let sql_err = |err: sqlx::Error| EmbeddedError::Command {
            command: format!("creating database {DATABASE}"),
            detail: err.to_string(),
        };
        let url = access::socket_url(&self.run_dir(), "postgres")?;
        let mut conn = sqlx::PgConnection::connect(&url).await.map_err(sql_err)?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await
                .map_err(sql_err)?;
        if !exists {
            let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                r#"CREATE DATABASE "{DATABASE}""#
            )))
            .execute(&mut conn)
            .await;
            // A concurrent stockdb may have created it first.
            if let Err(err) = created
                && err.as_database_error().is_none_or(|e| {
                    e.code().as_deref() != Some(shared_db::sqlstate::DUPLICATE_DATABASE)
                })
            {
                return Err(sql_err(err));
            }
        }
        conn.close().await.map_err(sql_err)
    }

    fn pg(&self, program: &str, args: &[&str]) -> Result<std::process::Output, EmbeddedError> {
        run_pg(&self.bin_dir, self.run_as.as_deref(), program, args)
    }

    fn checked(&self, program: &str, args: &[&str]) -> Result<std::process::Output, EmbeddedError> {
        checked_pg(&self.bin_dir, self.run_as.as_deref(), program, args)
    }
}
