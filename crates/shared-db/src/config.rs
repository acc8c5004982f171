//! `DbConfig`: where the database is and how the pool behaves.

use std::fmt;
use std::time::Duration;

use crate::dburl::redact_url;
use crate::error::InvalidInput;

/// Connection and pool settings.
///
/// Build with [`DbConfig::new`] and the `with_*` methods, or [`DbConfig::from_env`].
/// `Debug` hides the password of the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DbConfig {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Most connections the pool opens (default 10).
    pub max_connections: u32,
    /// Connections kept open when idle (default 0).
    pub min_connections: u32,
    /// Longest wait for the first connection at start-up (default 10 s).
    pub connect_timeout: Duration,
    /// Longest wait for a free connection before a call fails with `RepoError::Timeout`
    /// (default 30 s).
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout` for every connection; `None` leaves the server's.
    pub statement_timeout: Option<Duration>,
    /// `application_name` shown in `pg_stat_activity` (default `stockdb`).
    pub application_name: String,
    /// How long a connection may be silent before the server probes its client with TCP
    /// keepalives (default 60 s; `None` leaves the server's setting, often two hours).
    /// A client that died without closing its connection is then noticed within about
    /// twice this time, and its locks and transaction released. Set as the session's
    /// `tcp_keepalives_idle` (probes every tenth of it, three unanswered probes end the
    /// connection); sqlx offers no client-side keepalive.
    pub tcp_keepalive: Option<Duration>,
    /// Whether the server may compile stockdb's queries with LLVM (default `false`: every
    /// connection starts with `jit = off`). stockdb's queries are index walks of
    /// milliseconds; on a table of many partitions the planner's cost of a lateral walk
    /// crosses `jit_above_cost`, and compiling then takes 100 ms or more on every call,
    /// where the query itself takes 30 (see `docs/performance.md`).
    pub jit: bool,
    /// Streaming replicas of the primary that read-only repository calls may be served
    /// from (default none). Each gets a pool of its own with these settings. See
    /// [`crate::Db::read`] for which calls go there and when they fall back.
    pub replica_urls: Vec<String>,
    /// The most a replica may lag behind the primary and still serve reads (default 5 s).
    /// The lag is how long the replica has been missing WAL the primary had: each check
    /// reads the primary's WAL position and the replica's replay position (see
    /// `replica.rs`); zero when it has replayed all the primary had at the last check.
    pub replica_max_lag: Duration,
    /// How often each replica's reachability and lag are checked (default 1 s). A reader
    /// may be served data up to `replica_max_lag` plus this interval old.
    pub replica_check_interval: Duration,
}

impl DbConfig {
    /// The default [`DbConfig::connect_timeout`].
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            min_connections: 0,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            acquire_timeout: Duration::from_secs(30),
            statement_timeout: None,
            application_name: "stockdb".to_owned(),
            tcp_keepalive: Some(Duration::from_secs(60)),
            jit: false,
            replica_urls: Vec::new(),
            replica_max_lag: Duration::from_secs(5),
            replica_check_interval: Duration::from_secs(1),
        }
    }

    /// Reads `DATABASE_URL` and the optional `STOCKDB_DB_MAX_CONNECTIONS`,
    /// `STOCKDB_DB_MIN_CONNECTIONS`, `STOCKDB_DB_CONNECT_TIMEOUT_MS`,
    /// `STOCKDB_DB_ACQUIRE_TIMEOUT_MS`, `STOCKDB_DB_STATEMENT_TIMEOUT_MS`,
    /// `STOCKDB_DB_TCP_KEEPALIVE_MS` (0 turns either off), `STOCKDB_DB_JIT` (`on` or `off`),
    /// `STOCKDB_DB_APPLICATION_NAME`,
    /// `STOCKDB_DB_REPLICA_URLS` (comma-separated), `STOCKDB_DB_REPLICA_MAX_LAG_MS` and
    /// `STOCKDB_DB_REPLICA_CHECK_INTERVAL_MS`.
    ///
    /// A missing `DATABASE_URL` or a value that does not parse is an [`InvalidInput`]
    /// naming the variable.
    pub fn from_env() -> Result<Self, InvalidInput> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Like [`DbConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InvalidInput> {
        let url = lookup("DATABASE_URL")
            .filter(|url| !url.is_empty())
            .ok_or_else(|| {
                InvalidInput::new(
                    "DATABASE_URL",
                    "",
                    "not set; give a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/stockdb",
                )
            })?;
        Self::new(url).with_overrides(lookup)
    }

    /// This configuration with the `STOCKDB_DB_*` settings that `lookup` has (see
    /// [`DbConfig::from_env`]) applied over it; the URL is kept.
    pub fn with_overrides(
        self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, InvalidInput> {
        let mut config = self;
        let number = |key: &'static str| -> Result<Option<u64>, InvalidInput> {
            lookup(key)
                .map(|raw| {
                    raw.trim()
                        .parse::<u64>()
                        .map_err(|_| InvalidInput::new(key, raw, "not a whole number"))
                })
                .transpose()
        };
        if let Some(n) = number("STOCKDB_DB_MAX_CONNECTIONS")? {
            config.max_connections = u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                InvalidInput::new("STOCKDB_DB_MAX_CONNECTIONS", n, "must be 1 or more")
            })?;
        }
        if let Some(n) = number("STOCKDB_DB_MIN_CONNECTIONS")? {
            config.min_connections = u32::try_from(n)
                .map_err(|_| InvalidInput::new("STOCKDB_DB_MIN_CONNECTIONS", n, "too large"))?;
        }
        if let Some(ms) = number("STOCKDB_DB_CONNECT_TIMEOUT_MS")? {
            config.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = number("STOCKDB_DB_ACQUIRE_TIMEOUT_MS")? {
            config.acquire_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = number("STOCKDB_DB_STATEMENT_TIMEOUT_MS")? {
            config.statement_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(ms) = number("STOCKDB_DB_TCP_KEEPALIVE_MS")? {
            config.tcp_keepalive = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(raw) = lookup("STOCKDB_DB_JIT") {
            config.jit = match raw.trim() {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                _ => return Err(InvalidInput::new("STOCKDB_DB_JIT", raw, "not on or off")),
            };
        }
        if let Some(name) = lookup("STOCKDB_DB_APPLICATION_NAME") {
            config.application_name = name;
        }
        if let Some(urls) = lookup("STOCKDB_DB_REPLICA_URLS") {
            config.replica_urls = urls
                .split(',')
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(ms) = number("STOCKDB_DB_REPLICA_MAX_LAG_MS")? {
            config.replica_max_lag = Duration::from_millis(ms);
        }
        if let Some(ms) = number("STOCKDB_DB_REPLICA_CHECK_INTERVAL_MS")? {
            config.replica_check_interval = Duration::from_millis(ms);
        }
        config.validate()?;
        Ok(config)
    }

    /// Sets [`DbConfig::max_connections`].
    #[must_use]
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets [`DbConfig::min_connections`].
    #[must_use]
    pub fn with_min_connections(mut self, n: u32) -> Self {
        self.min_connections = n;
        self
    }

    /// Sets [`DbConfig::connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`DbConfig::acquire_timeout`].
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets [`DbConfig::statement_timeout`].
    #[must_use]
    pub fn with_statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Sets [`DbConfig::jit`].
    #[must_use]
    pub fn with_jit(mut self, jit: bool) -> Self {
        self.jit = jit;
        self
    }

    /// Sets [`DbConfig::tcp_keepalive`].
    #[must_use]
    pub fn with_tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.tcp_keepalive = idle;
        self
    }

    /// The session settings every connection of this configuration starts with
    /// (`statement_timeout`, the TCP keepalive settings, `jit`), as `(name, value)` pairs.
    pub fn session_options(&self) -> Vec<(&'static str, String)> {
        let mut options = Vec::new();
        if !self.jit {
            options.push(("jit", "off".to_owned()));
        }
        if let Some(timeout) = self.statement_timeout {
            options.push(("statement_timeout", timeout.as_millis().to_string()));
        }
        if let Some(idle) = self.tcp_keepalive {
            let secs = idle.as_secs().max(1);
            options.push(("tcp_keepalives_idle", secs.to_string()));
            options.push(("tcp_keepalives_interval", (secs / 10).max(1).to_string()));
            options.push(("tcp_keepalives_count", "3".to_owned()));
        }
        options
    }

    /// Sets [`DbConfig::replica_urls`].
    #[must_use]
    pub fn with_replicas<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.replica_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`DbConfig::replica_max_lag`].
    #[must_use]
    pub fn with_replica_max_lag(mut self, lag: Duration) -> Self {
        self.replica_max_lag = lag;
        self
    }

    /// Sets [`DbConfig::replica_check_interval`].
    #[must_use]
    pub fn with_replica_check_interval(mut self, interval: Duration) -> Self {
        self.replica_check_interval = interval;
        self
    }

    /// This configuration pointed at `url` (a replica), with no replicas of its own.
    pub(crate) fn for_replica(&self, url: &str) -> Self {
        Self {
            url: url.to_owned(),
            replica_urls: Vec::new(),
            ..self.clone()
        }
    }

    /// Sets [`DbConfig::application_name`].
    #[must_use]
    pub fn with_application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// The URL with its password replaced by `***`, for logs and messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks the settings that do not need a server.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let is_postgres =
            |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !is_postgres(&self.url) {
            return Err(InvalidInput::new(
                "url",
                self.redacted_url(),
                "must start with postgres:// or postgresql://",
            ));
        }
        if let Some(url) = self.replica_urls.iter().find(|url| !is_postgres(url)) {
            return Err(InvalidInput::new(
                "replica_urls",
                redact_url(url),
                "must start with postgres:// or postgresql://",
            ));
        }
        if !self.replica_urls.is_empty() && self.replica_check_interval.is_zero() {
            return Err(InvalidInput::new(
                "replica_check_interval",
                "0",
                "must be longer than zero",
            ));
        }
        if self.max_connections == 0 {
            return Err(InvalidInput::new("max_connections", 0, "must be 1 or more"));
        }
        if self.min_connections > self.max_connections {
            return Err(InvalidInput::new(
                "min_connections",
                self.min_connections,
                format!("more than max_connections ({})", self.max_connections),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("application_name", &self.application_name)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .field("jit", &self.jit)
            .field(
                "replica_urls",
                &self
                    .replica_urls
                    .iter()
                    .map(|url| redact_url(url))
                    .collect::<Vec<_>>(),
            )
            .field("replica_max_lag", &self.replica_max_lag)
            .field("replica_check_interval", &self.replica_check_interval)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let config = DbConfig::new("postgres://app:hunter2@db/stock");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn from_env_names_the_bad_variable() {
        let err = DbConfig::from_lookup(|key| match key {
            "DATABASE_URL" => Some("postgres://x@y/z".into()),
            "STOCKDB_DB_MAX_CONNECTIONS" => Some("ten".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(err.field, "STOCKDB_DB_MAX_CONNECTIONS");
        assert_eq!(err.value, "ten");
    }

    #[test]
    fn from_env_reads_replicas_and_never_shows_their_passwords() {
        let config = DbConfig::from_lookup(|key| match key {
            "DATABASE_URL" => Some("postgres://x@primary/z".into()),
            "STOCKDB_DB_REPLICA_URLS" => {
                Some(" postgres://app:hunter2@r1/z , ,postgres://app:hunter2@r2/z".into())
            }
            "STOCKDB_DB_REPLICA_MAX_LAG_MS" => Some("250".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            config.replica_urls,
            ["postgres://app:hunter2@r1/z", "postgres://app:hunter2@r2/z"]
        );
        assert_eq!(config.replica_max_lag, Duration::from_millis(250));
        assert!(!format!("{config:?}").contains("hunter2"));
        let err = DbConfig::new("postgres://x@y/z")
            .with_replicas(["mysql://app:hunter2@r1/z"])
            .validate()
            .unwrap_err();
        assert_eq!(err.field, "replica_urls");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn from_env_requires_database_url() {
        let err = DbConfig::from_lookup(|_| None).unwrap_err();
        assert_eq!(err.field, "DATABASE_URL");
    }

    #[test]
    fn from_env_reads_pool_settings() {
        let config = DbConfig::from_lookup(|key| match key {
            "DATABASE_URL" => Some("postgres://x@y/z".into()),
            "STOCKDB_DB_MAX_CONNECTIONS" => Some("4".into()),
            "STOCKDB_DB_STATEMENT_TIMEOUT_MS" => Some("1500".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.max_connections, 4);
        assert_eq!(config.statement_timeout, Some(Duration::from_millis(1500)));
        assert!(!config.jit);
        assert!(
            config
                .session_options()
                .contains(&("jit", "off".to_owned()))
        );
    }

    #[test]
    fn from_env_reads_jit_and_names_a_bad_value() {
        let with = |value: &'static str| {
            DbConfig::from_lookup(|key| match key {
                "DATABASE_URL" => Some("postgres://x@y/z".into()),
                "STOCKDB_DB_JIT" => Some(value.into()),
                _ => None,
            })
        };
        let on = with("on").unwrap();
        assert!(on.jit);
        assert!(on.session_options().iter().all(|(name, _)| *name != "jit"));
        assert!(!with("off").unwrap().jit);
        let err = with("maybe").unwrap_err().to_string();
        assert!(
            err.contains("STOCKDB_DB_JIT") && err.contains("maybe"),
            "{err}"
        );
    }
}
