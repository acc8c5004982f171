//! The embedded default: a PostgreSQL cluster stockdb creates and manages in a data
//! directory, with the server binaries installed on the machine (`initdb`, `pg_ctl`).
//!
//! The cluster listens on a Unix socket inside the data directory only (no TCP port, so
//! nothing to collide with) and trusts local connections. `initdb` refuses to run as
//! root, so when stockdb runs as root the cluster runs as the `postgres` system user (the
//! one the server packages create), through `runuser`, with its directories owned by that
//! user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    /// A command failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and output.
        detail: String,
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

    /// A cluster in `data_dir`, with the server binaries found on this machine.
    pub fn new(data_dir: impl Into<PathBuf>) -> Result<Self, EmbeddedError> {
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

    fn run_dir(&self) -> PathBuf {
        self.data_dir.join("run")
    }

    /// The server log.
    pub fn log_file(&self) -> PathBuf {
        self.run_dir().join("postgres.log")
    }

    /// The URL of the `stockdb` database (over the Unix socket).
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost/{database}?host={}&port=5432",
            self.run_dir().display()
        )
    }

    /// Where the cluster stands.
    pub fn state(&self) -> ClusterState {
        if !self.pgdata().join("PG_VERSION").exists() {
            return ClusterState::Uninitialized;
        }
        let pgdata = self.pgdata().display().to_string();
        match self.run_pg("pg_ctl", &["-D", &pgdata, "status"]) {
            Ok(output) if output.status.success() => ClusterState::Running,
            _ => ClusterState::Stopped,
        }
    }

    /// Initializes the cluster if needed, starts it if it is not running, and creates the
    /// `stockdb` database if it is missing. Returns the database URL.
    pub async fn ensure_started(&self) -> Result<String, EmbeddedError> {
        if self.state() == ClusterState::Uninitialized {
            self.init()?;
        }
        if self.state() != ClusterState::Running {
            self.start()?;
        }
        self.ensure_database().await?;
        Ok(self.url())
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
        }
        set_mode(&pgdata, 0o700)?;
        let pgdata_arg = pgdata.display().to_string();
        self.checked(
            "initdb",
            &[
                "-D",
                &pgdata_arg,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
        )?;
        let settings = format!(
            "\n# stockdb embedded cluster: Unix socket only, in its own directory.\n\
             listen_addresses = ''\nunix_socket_directories = '{}'\nport = 5432\n",
            run_dir.display()
        );
        let conf = pgdata.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|source| EmbeddedError::Io {
            what: "reading",
            path: conf.clone(),
            source,
        })?;
        text.push_str(&settings);
        std::fs::write(&conf, text).map_err(|source| EmbeddedError::Io {
            what: "writing",
            path: conf.clone(),
            source,
        })
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
        let mut conn = sqlx::PgConnection::connect(&self.url_of("postgres"))
            .await
            .map_err(sql_err)?;
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
                && err
                    .as_database_error()
                    .is_none_or(|e| e.code().as_deref() != Some("42P04"))
            {
                return Err(sql_err(err));
            }
        }
        conn.close().await.map_err(sql_err)
    }

    /// Runs the server binary `program` with `args`, as the service user when stockdb
    /// runs as root.
    fn run_pg(&self, program: &str, args: &[&str]) -> Result<Output, EmbeddedError> {
        let binary = self.bin_dir.join(program).display().to_string();
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", &binary]);
                c
            }
            None => Command::new(&binary),
        };
        command.args(args);
        // A server started from here must not hold on to our output pipes.
        command.stdin(std::process::Stdio::null());
        command.output().map_err(|source| EmbeddedError::Io {
            what: "running",
            path: PathBuf::from(binary),
            source,
        })
    }

    fn checked(&self, program: &str, args: &[&str]) -> Result<Output, EmbeddedError> {
        let output = self.run_pg(program, args)?;
        if output.status.success() {
            return Ok(output);
        }
        Err(EmbeddedError::Command {
            command: format!("{program} {}", args.join(" ")),
            detail: describe(&output),
        })
    }
}

fn describe(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    format!("{} {}{}", output.status, stderr.trim(), stdout.trim())
}

fn run(command: &mut Command) -> Result<(), EmbeddedError> {
    let output = command.output().map_err(|source| EmbeddedError::Io {
        what: "running",
        path: PathBuf::from(command.get_program()),
        source,
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(EmbeddedError::Command {
            command: format!("{command:?}"),
            detail: describe(&output),
        })
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        EmbeddedError::Io {
            what: "setting permissions of",
            path: path.to_owned(),
            source,
        }
    })
}

/// True when this process runs as root.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else a few usual places.
pub fn find_server_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|dir| has_both(dir)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    if let Some((_, dir)) = versions.into_iter().rev().find(|(_, dir)| has_both(dir)) {
        return Some(dir);
    }
    [
        "/usr/local/pgsql/bin",
        "/opt/homebrew/bin",
        "/usr/local/bin",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|dir| has_both(dir))
}
