//! `Db`: the connection pool every repository shares, and the transaction helper.

use std::str::FromStr;
use std::sync::Arc;

use sea_orm::{
    AccessMode, ConnectionTrait as _, DatabaseBackend, DatabaseTransaction, IsolationLevel,
    QueryResult, SqlxPostgresConnector, Statement, TransactionTrait as _, Value,
};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::config::DbConfig;
use crate::conn::Conn;
use crate::dburl::known_parameters_only;
use crate::error::{InvalidInput, RepoError, TimedOut};
use crate::replica::{ReplicaSet, ReplicaStatus};
use crate::time::{Clock, SystemClock};

/// Idle time after which a pooled connection is pinged before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// A cheap-to-clone handle on the primary's connection pool, and on the pools of its read
/// replicas when the configuration names any.
///
/// Repositories keep a clone. Writes and SeaORM queries go through [`Db::conn`]; the bulk
/// engine uses the same pool through [`Db::pool`], so both share its size and timeouts.
/// Read-only calls that may be served slightly stale go through [`Db::read`].
///
/// A handle made by [`Db::begin`] is bound to one transaction: every SeaORM statement of
/// every repository made on it (and its clones) runs in that transaction, reads included,
/// until [`Db::commit`] or [`Db::rollback`]. The bulk engine and [`Db::pool`] are not part
/// of it: repositories whose writes go through them refuse a bound handle.
#[derive(Clone, Debug)]
pub struct Db {
    conn: Conn,
    pool: PgPool,
    connect_timeout: Duration,
    replicas: Option<Arc<ReplicaSet>>,
    clock: Arc<dyn Clock>,
    /// Whether the database has Citus, probed on first use and shared by the clones.
    citus: Arc<tokio::sync::OnceCell<bool>>,
}

impl Db {
    /// Opens the pool and checks that one connection can be made within
    /// `config.connect_timeout`.
    ///
    /// Errors: `Invalid` for a malformed URL or settings (the password is never shown);
    /// `Unavailable` with the cause as its source (refused, no such host, bad password)
    /// when the server says no, at once; `Timeout` when it does not answer in time.
    pub async fn connect(config: &DbConfig) -> Result<Self, RepoError> {
        let options = config.connect_options()?;
        // One plain attempt first: the pool retries a refused connection until its
        // timeout and then reports only that it timed out, losing the cause.
        check_reachable(config).await?;
        let pool_options = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(config.min_connections)
            .acquire_timeout(config.acquire_timeout)
            // A ping before every acquire costs a round trip per query; only connections
            // idle long enough to have been cut by the server or a proxy are checked.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > IDLE_BEFORE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            });
        let pool =
            match tokio::time::timeout(config.connect_timeout, pool_options.connect_with(options))
                .await
            {
                Ok(pool) => pool?,
                Err(_elapsed) => {
                    return Err(RepoError::Timeout {
                        what: TimedOut::Connecting,
                    });
                }
            };
        let replicas = if config.replica_urls.is_empty() {
            None
        } else {
            Some(ReplicaSet::start(config, &pool).await?)
        };
        Ok(Self {
            connect_timeout: config.connect_timeout,
            replicas,
            ..Self::from_pool(pool)
        })
    }

    /// Wraps an existing sqlx pool (for services that already own one).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            conn: Conn::Pool(SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone())),
            pool,
            connect_timeout: DbConfig::DEFAULT_CONNECT_TIMEOUT,
            replicas: None,
            clock: Arc::new(SystemClock),
            citus: Arc::default(),
        }
    }

    /// This handle (and every repository made on it) with `clock` as its "now": what
    /// decides by the date — partitions ahead, retention horizons — asks it. The system's
    /// clock by default.
    #[must_use]
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            ..self.clone()
        }
    }

    /// Whether this database is a Citus one (the `citus` extension is created in it),
    /// asked of the server once per handle and its clones. Repositories choose, by it,
    /// the form of the few queries Citus cannot plan as a single server runs them best
    /// (a loose index scan, a correlated subquery beside a reference table, a lateral
    /// `LIMIT` over local rows). The Citus forms are right on any server; the answer is
    /// kept, so a service connected before `CREATE EXTENSION citus` reconnects
    /// (docs/scaling.md).
    pub async fn is_citus(&self) -> Result<bool, RepoError> {
        let present = self
            .citus
            .get_or_try_init(|| async {
                sqlx::query_scalar::<_, bool>(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
                )
                .fetch_one(&self.pool)
                .await
            })
            .await?;
        Ok(*present)
    }

    /// Now, by this handle's clock (UTC, microseconds).
    pub fn now(&self) -> chrono::NaiveDateTime {
        self.clock.now()
    }

    /// This handle with every read on the primary: for a caller that must read what it
    /// has just written (replicas may not have replayed it yet). Shares the pools.
    #[must_use]
    pub fn primary(&self) -> Self {
        Self {
            replicas: None,
            ..self.clone()
        }
    }

    /// Runs the read-only `query` on a replica, or on the primary. `query` gets the
    /// connection (a handle on a pool: cheap to clone) and is called at most twice.
    ///
    /// With replicas configured (and this handle not made by [`Db::primary`]), the query
    /// goes to the next usable replica in turn: reachable, a standby, lagging at most
    /// `replica_max_lag` when its watcher last checked (every `replica_check_interval`).
    /// With none usable it goes to the primary. When it fails on the replica because the
    /// replica is unreachable, had no connection free within 2 s, or raised a database
    /// error (a hot-standby conflict, say), it runs again on the primary, so a replica
    /// that dies between two checks costs its readers one failed try, never an error;
    /// `query` must therefore be safe to run twice (a read is). Errors of the call itself
    /// (not found, invalid input, a statement timeout) are returned as they are.
    ///
    /// What it reads may be up to `replica_max_lag` plus one check interval old.
    pub async fn read<T, F, Fut>(&self, query: F) -> Result<T, RepoError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = Result<T, RepoError>>,
    {
        match &self.replicas {
            Some(replicas) => replicas.read(&self.conn, query).await,
            None => query(self.conn.clone()).await,
        }
    }

    /// The rows of `sql` (one statement, with `values` for `$1` …), read as [`Db::read`]
    /// reads: on a replica when there are usable ones, else the primary.
    pub async fn read_all(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, RepoError> {
        self.read(|conn| {
            let statement =
                Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values.clone());
            async move { Ok(conn.query_all_raw(statement).await?) }
        })
        .await
    }

    /// What the replica watchers last saw, one entry per configured replica (none without
    /// replicas).
    pub fn replica_statuses(&self) -> Vec<ReplicaStatus> {
        self.replicas
            .as_ref()
            .map(|replicas| replicas.statuses())
            .unwrap_or_default()
    }

    /// Every configured replica checked now (at most 2 s each), then its status.
    pub async fn check_replicas(&self) -> Vec<ReplicaStatus> {
        match &self.replicas {
            Some(replicas) => replicas.check_now().await,
            None => Vec::new(),
        }
    }

    /// A new connection outside the pool, with the pool's settings, made within the
    /// connect timeout: for what must live on one session, such as a session advisory
    /// lock that has to go away with the connection when the process dies.
    pub async fn dedicated_connection(&self) -> Result<PgConnection, RepoError> {
        connect_within(self.connect_timeout, &self.pool.connect_options()).await
    }

    /// The SeaORM connection for queries: the primary's pool, or the transaction this
    /// handle is bound to.
    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// This handle's pools outside any transaction it is bound to: for work that must
    /// commit on its own whatever the bound transaction does (making a partition, say).
    #[must_use]
    pub fn detached(&self) -> Self {
        match &self.conn {
            Conn::Pool(_) => self.clone(),
            Conn::Txn(_) => Self {
                connect_timeout: self.connect_timeout,
                clock: self.clock.clone(),
                ..Self::from_pool(self.pool.clone())
            },
        }
    }

    /// Whether this handle is bound to a transaction ([`Db::begin`]).
    pub fn is_bound(&self) -> bool {
        matches!(self.conn, Conn::Txn(_))
    }

    /// A handle bound to a new transaction on the primary (a savepoint when this handle is
    /// bound already): repositories made on it and its clones run every statement in it,
    /// and see its writes, until [`Db::commit`] or [`Db::rollback`]. Dropped without
    /// either, it is rolled back.
    pub async fn begin(&self) -> Result<Self, RepoError> {
        let txn = self.conn.begin().await?;
        Ok(self.bound_to(txn))
    }

    fn bound_to(&self, txn: DatabaseTransaction) -> Self {
        Self {
            conn: Conn::Txn(Arc::new(txn)),
            pool: self.pool.clone(),
            connect_timeout: self.connect_timeout,
            replicas: None,
            clock: self.clock.clone(),
            citus: self.citus.clone(),
        }
    }

    /// Commits the transaction this handle is bound to. Every other clone of it (the
    /// repositories made on it) must be gone first: `Internal` otherwise, and the
    /// transaction is rolled back when the last clone goes.
    pub async fn commit(self) -> Result<(), RepoError> {
        Ok(self.into_transaction()?.commit().await?)
    }

    /// Rolls back the transaction this handle is bound to (as dropping every clone would,
    /// but now, and with its error).
    pub async fn rollback(self) -> Result<(), RepoError> {
        Ok(self.into_transaction()?.rollback().await?)
    }

    fn into_transaction(self) -> Result<DatabaseTransaction, RepoError> {
        let internal = |detail: &str| RepoError::Internal {
            component: "transaction",
            detail: detail.to_owned(),
        };
        match self.conn {
            Conn::Txn(txn) => Arc::try_unwrap(txn).map_err(|_| {
                internal("a handle bound to this transaction is still held elsewhere")
            }),
            Conn::Pool(_) => Err(internal("this handle is not bound to a transaction")),
        }
    }

    /// Runs `work` on a handle bound to one read-only `REPEATABLE READ` transaction, on a
    /// replica when one is usable (as [`Db::read`] chooses, falling back to the primary
    /// the same way), so that everything `work` reads is one consistent snapshot: several
    /// reads never mix two moments, or two replicas' lags. `work` may run twice.
    pub async fn read_snapshot<T, F, Fut>(&self, work: F) -> Result<T, RepoError>
    where
        F: Fn(Self) -> Fut,
        Fut: Future<Output = Result<T, RepoError>>,
    {
        let work = &work;
        self.read(|conn| async move {
            let txn = conn
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?;
            // Read only: dropping it (rolled back) loses nothing.
            work(self.bound_to(txn)).await
        })
        .await
    }

    /// The underlying sqlx pool, for `COPY` and array binds that SeaORM does not expose.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Which of `tables` hold at least one row, in the order given. The names are the
    /// caller's constants (quoted as identifiers), never input.
    pub async fn tables_with_rows(
        &self,
        tables: &[&'static str],
    ) -> Result<Vec<&'static str>, RepoError> {
        let mut holding = Vec::new();
        for table in tables {
            // A table of a later schema version than the database's has no rows.
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(format!("public.{table}"))
                .fetch_one(&self.pool)
                .await?;
            if !exists {
                continue;
            }
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            let has_rows: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM {quoted})"
            )))
            .fetch_one(&self.pool)
            .await?;
            if has_rows {
                holding.push(*table);
            }
        }
        Ok(holding)
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back when it
    /// returns `Err` or panics.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, RepoError>
    where
        F: for<'c> AsyncFnOnce(&'c DatabaseTransaction) -> Result<T, RepoError> + Send,
        T: Send,
    {
        Ok(match &self.conn {
            Conn::Pool(conn) => conn.transaction_async(work).await?,
            // A savepoint inside the bound transaction.
            Conn::Txn(txn) => txn.transaction_async(work).await?,
        })
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        if let Some(replicas) = &self.replicas {
            replicas.close().await;
        }
        self.pool.close().await;
    }
}

impl DbConfig {
    /// The sqlx connect options of this configuration: its URL, application name and
    /// session settings (`statement_timeout`, TCP keepalives).
    pub fn connect_options(&self) -> Result<PgConnectOptions, RepoError> {
        self.validate()?;
        let (url, dropped) = known_parameters_only(&self.url).ok_or_else(|| {
            InvalidInput::new(
                "url",
                crate::UNPARSABLE_URL,
                "cannot be read without doubt (an `@`, `/`, `?` or `#` in the user name or \
                 password?): percent-encode them (%40 %2F %3F %23)",
            )
        })?;
        if !dropped.is_empty() {
            // Their names only: the driver would log their values (a password among them).
            tracing::warn!(
                parameters = %dropped.names.join(", "),
                secret_pieces = dropped.secret_pieces,
                "ignoring connection parameters the driver does not know (secret_pieces: \
                 parts of a secret cut by an `&` that should be written %26)"
            );
        }
        let options = PgConnectOptions::from_str(&url)
            .map_err(|err| {
                InvalidInput::new(
                    "url",
                    self.redacted_url(),
                    format!("not a PostgreSQL URL: {err}"),
                )
            })?
            .application_name(&self.application_name)
            // Statements are logged at DEBUG only: bind values are never logged by sqlx,
            // but INFO-level SQL floods service logs.
            .log_statements(tracing::log::LevelFilter::Debug);
        let settings = self.session_options();
        Ok(if settings.is_empty() {
            options
        } else {
            options.options(settings)
        })
    }
}

/// Makes one connection with `config` within its connect timeout and closes it: the
/// cause of a failure (refused, no such host, a bad password) comes back at once as the
/// error's source, never as a bare timeout.
pub async fn check_reachable(config: &DbConfig) -> Result<(), RepoError> {
    let probe = connect_within(config.connect_timeout, &config.connect_options()?).await?;
    probe.close().await?;
    Ok(())
}

/// One connection made within `timeout`, or why not.
async fn connect_within(
    timeout: Duration,
    options: &PgConnectOptions,
) -> Result<PgConnection, RepoError> {
    match tokio::time::timeout(timeout, PgConnection::connect_with(options)).await {
        Ok(conn) => conn.map_err(|err| match err {
            // Whatever the server or the network said, say it: the cause is the point.
            err @ (sqlx::Error::Io(_) | sqlx::Error::Tls(_)) => {
                RepoError::Unavailable(Box::new(err))
            }
            err => RepoError::from(err),
        }),
        Err(_elapsed) => Err(RepoError::Timeout {
            what: TimedOut::Connecting,
        }),
    }
}
