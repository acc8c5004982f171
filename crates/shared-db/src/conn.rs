//! [`Conn`]: where a [`Db`](crate::Db) handle's SeaORM statements go — its pool, or one
//! transaction that several repositories share.

use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, IsolationLevel, QueryResult, Statement, TransactionError, TransactionOptions,
    TransactionTrait,
};

/// A pool, or one open transaction: cheap to clone, usable wherever SeaORM takes a
/// connection (`.all(&conn)`, `.exec(&conn)`).
///
/// A transaction is shared by every clone; `begin` on it opens a savepoint, so code that
/// makes its own transaction works unchanged inside a bound handle.
#[derive(Debug, Clone)]
pub enum Conn {
    /// A pool: each statement takes any connection; `begin` starts a transaction.
    Pool(DatabaseConnection),
    /// One transaction shared by every handle bound to it.
    Txn(Arc<DatabaseTransaction>),
}

#[async_trait::async_trait]
impl ConnectionTrait for Conn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Pool(conn) => conn.get_database_backend(),
            Self::Txn(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(conn) => conn.execute_raw(stmt).await,
            Self::Txn(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Self::Pool(conn) => conn.execute_unprepared(sql).await,
            Self::Txn(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Self::Pool(conn) => conn.query_one_raw(stmt).await,
            Self::Txn(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Self::Pool(conn) => conn.query_all_raw(stmt).await,
            Self::Txn(txn) => txn.query_all_raw(stmt).await,
        }
    }
}

#[async_trait::async_trait]
impl TransactionTrait for Conn {
    type Transaction = DatabaseTransaction;

    async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Pool(conn) => conn.begin().await,
            Self::Txn(txn) => txn.begin().await,
        }
    }

    async fn begin_with_config(
        &self,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Pool(conn) => conn.begin_with_config(isolation_level, access_mode).await,
            Self::Txn(txn) => txn.begin_with_config(isolation_level, access_mode).await,
        }
    }

    async fn begin_with_options(
        &self,
        options: TransactionOptions,
    ) -> Result<DatabaseTransaction, DbErr> {
        match self {
            Self::Pool(conn) => conn.begin_with_options(options).await,
            Self::Txn(txn) => txn.begin_with_options(options).await,
        }
    }

    async fn transaction<F, T, E>(&self, callback: F) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        match self {
            Self::Pool(conn) => conn.transaction(callback).await,
            Self::Txn(txn) => txn.transaction(callback).await,
        }
    }

    async fn transaction_with_config<F, T, E>(
        &self,
        callback: F,
        isolation_level: Option<IsolationLevel>,
        access_mode: Option<AccessMode>,
    ) -> Result<T, TransactionError<E>>
    where
        F: for<'c> FnOnce(
                &'c DatabaseTransaction,
            ) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>
            + Send,
        T: Send,
        E: std::fmt::Display + std::fmt::Debug + Send,
    {
        match self {
            Self::Pool(conn) => {
                conn.transaction_with_config(callback, isolation_level, access_mode)
                    .await
            }
            Self::Txn(txn) => {
                txn.transaction_with_config(callback, isolation_level, access_mode)
                    .await
            }
        }
    }
}
