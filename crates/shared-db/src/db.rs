//! `Db`: the connection pool every repository shares, and the transaction helper.

use std::str::FromStr;

use sea_orm::{DatabaseConnection, DatabaseTransaction, SqlxPostgresConnector};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::config::DbConfig;
use crate::error::{InvalidInput, RepoError};

/// Idle time after which a pooled connection is pinged before use.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// A cheap-to-clone handle on one connection pool.
///
/// Repositories keep a clone. SeaORM queries go through [`Db::conn`]; the bulk engine
/// uses the same pool through [`Db::pool`], so both share its size and timeouts.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    pool: PgPool,
    connect_timeout: Duration,
}

impl Db {
    /// Opens the pool and checks that one connection can be made within
    /// `config.connect_timeout`.
    ///
    /// Errors: `Invalid` for a malformed URL or settings (the password is never shown),
    /// `Unavailable` or `Timeout` when the server cannot be reached.
    pub async fn connect(config: &DbConfig) -> Result<Self, RepoError> {
        config.validate()?;
        let mut options = PgConnectOptions::from_str(&config.url)
            .map_err(|err| {
                InvalidInput::new(
                    "url",
                    config.redacted_url(),
                    format!("not a PostgreSQL URL: {err}"),
                )
            })?
            .application_name(&config.application_name)
            // Statements are logged at DEBUG only: bind values are never logged by sqlx,
            // but INFO-level SQL floods service logs.
            .log_statements(tracing::log::LevelFilter::Debug);
        if let Some(timeout) = config.statement_timeout {
            options = options.options([("statement_timeout", timeout.as_millis().to_string())]);
        }
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
                        what: "connecting to the database",
                    });
                }
            };
        Ok(Self {
            connect_timeout: config.connect_timeout,
            ..Self::from_pool(pool)
        })
    }

    /// Wraps an existing sqlx pool (for services that already own one).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            conn: SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone()),
            pool,
            connect_timeout: DbConfig::DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// A new connection outside the pool, with the pool's settings, made within the
    /// connect timeout: for what must live on one session, such as a session advisory
    /// lock that has to go away with the connection when the process dies.
    pub async fn dedicated_connection(&self) -> Result<PgConnection, RepoError> {
        let options = self.pool.connect_options();
        match tokio::time::timeout(self.connect_timeout, PgConnection::connect_with(&options)).await
        {
            Ok(conn) => Ok(conn?),
            Err(_elapsed) => Err(RepoError::Timeout {
                what: "connecting to the database",
            }),
        }
    }

    /// The SeaORM connection (a pool) for queries.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The underlying sqlx pool, for `COPY` and array binds that SeaORM does not expose.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back when it
    /// returns `Err` or panics.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, RepoError>
    where
        F: for<'c> AsyncFnOnce(&'c DatabaseTransaction) -> Result<T, RepoError> + Send,
        T: Send,
    {
        Ok(self.conn.transaction_async(work).await?)
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
