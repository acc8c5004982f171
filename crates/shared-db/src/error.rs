//! `RepoError`, the one error type every repository returns, and `InvalidInput`.

use std::error::Error as StdError;
use std::fmt;

use sea_orm::{DbErr, RuntimeErr, TransactionError};

/// A boxed error from the driver, kept as the `source` of a [`RepoError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Bad input, rejected before anything was written.
///
/// Names the field, the offending value (shortened to 80 characters, or `***` for
/// secrets) and, for batches, the 0-based index of the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    /// 0-based index of the offending row when the input was a batch.
    pub row: Option<usize>,
    /// The field (column) name, as the schema spells it.
    pub field: &'static str,
    /// The offending value, printable and shortened.
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
}

const MAX_VALUE_CHARS: usize = 80;

impl InvalidInput {
    /// `field` had `value`, rejected for `reason`.
    pub fn new(field: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        let value = value.to_string();
        let value = if value.chars().count() > MAX_VALUE_CHARS {
            let mut short: String = value.chars().take(MAX_VALUE_CHARS).collect();
            short.push('…');
            short
        } else {
            value
        };
        Self {
            row: None,
            field,
            value,
            reason: reason.into(),
        }
    }

    /// A rejected secret: the value is never kept.
    pub fn secret(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            row: None,
            field,
            value: "***".to_owned(),
            reason: reason.into(),
        }
    }

    /// The same error, located at `row` of a batch.
    #[must_use]
    pub fn at_row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}", self.field, self.value)?;
        if let Some(row) = self.row {
            write!(f, " in row {row}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl StdError for InvalidInput {}

/// What a repository call can fail with.
///
/// `Unavailable`, `Timeout` and `Busy` are worth retrying; the others are not. No variant
/// ever carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// The row the call needs does not exist.
    #[error("{entity} {key} not found")]
    NotFound {
        /// What was looked for (`sync task`, `research session` …).
        entity: &'static str,
        /// Its key, as the caller gave it.
        key: String,
    },
    /// A unique key is already taken.
    #[error("{entity} already exists: {key}")]
    Conflict {
        /// The table.
        entity: String,
        /// PostgreSQL's description of the key (`Key (alias)=(x) already exists.`).
        key: String,
    },
    /// Bad input; nothing was written.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// A state change the stored row does not allow: the domain rules forbid it (a
    /// `COMPLETED` task set `RUNNING`), or another writer moved the row first.
    #[error("{entity} {key} is {state}; it cannot become {wanted}")]
    StateConflict {
        /// What the row is (`sync task`, `research session` …).
        entity: &'static str,
        /// Its key.
        key: String,
        /// Its stored state.
        state: String,
        /// The state asked for.
        wanted: String,
    },
    /// Another live worker holds the row (a sync task's lease); try again once it is done.
    #[error("{entity} {key} is held by another live process")]
    Busy {
        /// What the row is.
        entity: &'static str,
        /// Its key.
        key: String,
    },
    /// This worker's hold on the row was taken over by another one (its lease expired or
    /// its connection died); its write was refused and nothing of it was written.
    #[error("{entity} {key} was taken over by another run; this run's write was refused")]
    Superseded {
        /// What the row is.
        entity: &'static str,
        /// Its key.
        key: String,
    },
    /// A stored secret cannot be read or written: no key is configured, or not the one it
    /// was encrypted with. The source says which; it never holds the secret.
    #[error("cannot use the secret of {entity} {key}")]
    Secret {
        /// What holds the secret (`llm config` …).
        entity: &'static str,
        /// Its key.
        key: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// stockdb broke one of its own invariants: a bug to report, not bad input.
    #[error("internal error in {component}: {detail}")]
    Internal {
        /// The part of stockdb (`bulk encoder` …).
        component: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// A connection could not be made or acquired in time, or a statement hit
    /// `statement_timeout`.
    #[error("{what} timed out")]
    Timeout {
        /// What took too long.
        what: TimedOut,
    },
    /// The server went away or refused us (connection lost, terminated, shutting down).
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Any other database error.
    #[error("database error")]
    Database(#[source] BoxError),
}

impl RepoError {
    /// True when the server failed this call's transaction to break a deadlock (`40P01`),
    /// as Citus does when two multi-shard writes lock rows on two workers in opposite
    /// orders: the same call again succeeds.
    pub fn is_deadlock(&self) -> bool {
        let Self::Database(source) = self else {
            return false;
        };
        source
            .downcast_ref::<sqlx::Error>()
            .and_then(sqlx::Error::as_database_error)
            .is_some_and(|db| match db.code().as_deref() {
                Some(sqlstate::DEADLOCK_DETECTED) => true,
                // Citus's `COPY` passes a worker's deadlock on without its code, as it
                // does a unique violation (see `UNIQUE_VIOLATION_MESSAGE`).
                Some(sqlstate::INTERNAL_ERROR) => db.message() == DEADLOCK_MESSAGE,
                _ => false,
            })
    }

    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Timeout { .. } | Self::Busy { .. }
        )
    }
}

/// What a [`RepoError::Timeout`] waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimedOut {
    /// Making a new connection to the server.
    Connecting,
    /// Taking a connection from the pool (every one was busy).
    AcquiringConnection,
    /// A statement ran past `statement_timeout` (or was cancelled).
    Statement,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "connecting to the database",
            Self::AcquiringConnection => "acquiring a connection",
            Self::Statement => "statement",
        })
    }
}

/// `err` and its causes, each once, joined by `: ` (what a log line or a report shows; the
/// causes sqlx and SeaORM give carry no password).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The database's own error behind `err`, when the server raised one.
pub fn database_error(err: &DbErr) -> Option<&dyn sqlx::error::DatabaseError> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            e.as_database_error()
        }
        _ => None,
    }
}

/// The SQLSTATE codes stockdb acts on, by their names in PostgreSQL's Appendix A, and the
/// code of an error.
pub mod sqlstate {
    use sea_orm::DbErr;

    /// `unique_violation`: a unique key is taken.
    pub const UNIQUE_VIOLATION: &str = "23505";
    /// `foreign_key_violation`: the referenced row is missing, or rows still point here.
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    /// `check_violation`: a CHECK constraint, or a row no partition takes.
    pub const CHECK_VIOLATION: &str = "23514";
    /// `lock_not_available`: `lock_timeout` expired (or `NOWAIT` met a lock).
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    /// `deadlock_detected`: the server broke a deadlock by failing this transaction.
    pub const DEADLOCK_DETECTED: &str = "40P01";
    /// `query_canceled`: `statement_timeout`, or a cancel request.
    pub const QUERY_CANCELED: &str = "57014";
    /// `admin_shutdown`: the server is shutting down, or the backend was terminated.
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    /// `crash_shutdown`: another backend crashed.
    pub const CRASH_SHUTDOWN: &str = "57P02";
    /// `cannot_connect_now`: the server is starting or recovering.
    pub const CANNOT_CONNECT_NOW: &str = "57P03";
    /// `too_many_connections`.
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    /// `duplicate_database`.
    pub const DUPLICATE_DATABASE: &str = "42P04";
    /// `duplicate_table`: also a partition made by another process at the same moment.
    pub const DUPLICATE_TABLE: &str = "42P07";
    /// `internal_error`.
    pub const INTERNAL_ERROR: &str = "XX000";
    /// Class 08, connection exceptions: every code starts with this.
    pub const CONNECTION_EXCEPTION_CLASS: &str = "08";

    /// The SQLSTATE of `err`, when the server raised it.
    pub fn of(err: &DbErr) -> Option<String> {
        super::database_error(err).and_then(|db| db.code().map(|code| code.into_owned()))
    }

    /// Whether the server raised `err` with `code`.
    pub fn is(err: &DbErr, code: &str) -> bool {
        of(err).as_deref() == Some(code)
    }

    /// Whether sqlx's `err` is the server's `code`.
    pub fn is_sqlx(err: &sqlx::Error, code: &str) -> bool {
        err.as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|found| found == code)
    }
}

impl From<sqlx::Error> for RepoError {
    fn from(err: sqlx::Error) -> Self {
        let class = classify(&err);
        Self::from_class(class, Box::new(err))
    }
}

impl From<DbErr> for RepoError {
    fn from(err: DbErr) -> Self {
        let class = match &err {
            DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout) => {
                Class::Timeout(TimedOut::AcquiringConnection)
            }
            DbErr::ConnectionAcquire(_) | DbErr::Conn(RuntimeErr::Internal(_)) => {
                Class::Unavailable
            }
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)) => classify(e),
            _ => Class::Other,
        };
        Self::from_class(class, Box::new(err))
    }
}

impl RepoError {
    fn from_class(class: Class, source: BoxError) -> Self {
        match class {
            Class::Conflict { table, detail } => Self::Conflict {
                entity: table,
                key: detail,
            },
            Class::MissingReference { detail } => Self::NotFound {
                entity: "referenced row",
                key: detail,
            },
            Class::Timeout(what) => Self::Timeout { what },
            Class::Unavailable => Self::Unavailable(source),
            Class::Other => Self::Database(source),
        }
    }
}

impl From<TransactionError<RepoError>> for RepoError {
    fn from(err: TransactionError<RepoError>) -> Self {
        match err {
            TransactionError::Connection(db_err) => db_err.into(),
            TransactionError::Transaction(repo_err) => repo_err,
        }
    }
}

enum Class {
    Conflict { table: String, detail: String },
    MissingReference { detail: String },
    Timeout(TimedOut),
    Unavailable,
    Other,
}

/// How Citus starts the message of a write planned on shards a concurrent distribution
/// replaced.
const CITUS_SHARD_MOVED: &str = "could not find valid entry for shard";

/// How PostgreSQL starts the message of a unique violation. Citus's `COPY` into a
/// distributed table passes a worker's error on with this message but without its code
/// (`XX000`, `ReportCopyError` in its `multi_copy.c`).
const UNIQUE_VIOLATION_MESSAGE: &str = "duplicate key value violates unique constraint";

/// PostgreSQL's message of a deadlock it broke (`40P01`); through Citus's `COPY`, code
/// `XX000`.
const DEADLOCK_MESSAGE: &str = "deadlock detected";

/// Whether `err` says a unique key is taken, on a single server or through Citus.
pub(crate) fn is_unique_violation(err: &dyn sqlx::error::DatabaseError) -> bool {
    match err.code().as_deref() {
        Some(sqlstate::UNIQUE_VIOLATION) => true,
        Some(sqlstate::INTERNAL_ERROR) => err.message().starts_with(UNIQUE_VIOLATION_MESSAGE),
        _ => false,
    }
}

fn classify(err: &sqlx::Error) -> Class {
    match err {
        sqlx::Error::PoolTimedOut => Class::Timeout(TimedOut::AcquiringConnection),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Class::Unavailable,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            match code.as_ref() {
                _ if is_unique_violation(db.as_ref()) => {
                    let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
                    Class::Conflict {
                        table: db.table().unwrap_or("row").to_owned(),
                        detail: pg
                            .and_then(|pg| pg.detail())
                            .or(db.constraint())
                            .unwrap_or("unique key")
                            .to_owned(),
                    }
                }
                // The referenced row does not exist, or (on a delete) other rows still
                // point at this one.
                sqlstate::FOREIGN_KEY_VIOLATION => {
                    let detail = db
                        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        .and_then(|pg| pg.detail())
                        .or(db.constraint())
                        .unwrap_or("foreign key")
                        .to_owned();
                    if detail.contains("is still referenced") {
                        Class::Conflict {
                            table: db.table().unwrap_or("row").to_owned(),
                            detail,
                        }
                    } else {
                        Class::MissingReference { detail }
                    }
                }
                sqlstate::QUERY_CANCELED => Class::Timeout(TimedOut::Statement),
                sqlstate::ADMIN_SHUTDOWN
                | sqlstate::CRASH_SHUTDOWN
                | sqlstate::CANNOT_CONNECT_NOW
                | sqlstate::TOO_MANY_CONNECTIONS => Class::Unavailable,
                c if c.starts_with(sqlstate::CONNECTION_EXCEPTION_CLASS) => Class::Unavailable,
                // Citus, while `create_distributed_table_concurrently` replaces a table's
                // shards, fails a multi-row write planned on the old ones (citus#6360);
                // the same write again goes to the new shards.
                sqlstate::INTERNAL_ERROR if db.message().starts_with(CITUS_SHARD_MOVED) => {
                    Class::Unavailable
                }
                _ => Class::Other,
            }
        }
        _ => Class::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_names_field_value_and_row() {
        let err = InvalidInput::new(
            "third_code",
            "000001.SZ.TOO.LONG.FOR.IT",
            "longer than 20 characters",
        )
        .at_row(3);
        assert_eq!(
            err.to_string(),
            r#"invalid third_code "000001.SZ.TOO.LONG.FOR.IT" in row 3: longer than 20 characters"#
        );
    }

    #[test]
    fn invalid_input_shortens_long_values() {
        let err = InvalidInput::new("name", "x".repeat(500), "too long");
        assert_eq!(err.value.chars().count(), MAX_VALUE_CHARS + 1);
    }

    #[test]
    fn secret_values_are_never_kept() {
        let err = InvalidInput::secret("api_key", "must not be empty");
        assert_eq!(
            err.to_string(),
            r#"invalid api_key "***": must not be empty"#
        );
    }

    #[test]
    fn pool_timeout_is_a_transient_timeout() {
        let err = RepoError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(
            err,
            RepoError::Timeout {
                what: TimedOut::AcquiringConnection
            }
        ));
        assert!(err.is_transient());
    }
}
