//! `MigrateError`: what a migration command can fail with.

use sea_orm_migration::DbErr;
use shared_db::RepoError;

/// What a migration command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The database could not be reached; the URL is shown without its secrets, and the
    /// cause (refused, no such host, a timeout) is the source.
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL, secrets redacted.
        url: String,
        /// Why.
        #[source]
        source: RepoError,
    },
    /// Another process held the migration lock for longer than the lock timeout.
    #[error(
        "gave up after waiting {waited_s} s for the migration lock, held by {holder}; \
         raise --lock-timeout, or stop that process"
    )]
    LockTimeout {
        /// Seconds waited.
        waited_s: u64,
        /// Who holds the lock (process id, application, since when).
        holder: String,
    },
    /// A command that destroys data was not confirmed; nothing was changed.
    #[error(
        "{what}; nothing was changed. Pass --yes to go ahead, or run it on a terminal to confirm"
    )]
    NotConfirmed {
        /// What would have been destroyed.
        what: String,
    },
    /// A statement failed.
    #[error("database error")]
    Db(#[source] DbErr),
    /// A migration stopped with a message of its own: an online step that could not get
    /// its lock, or rows that break a new check constraint (named, with the rows).
    #[error("{0}")]
    Migration(String),
    /// The requested target version cannot be reached with this command.
    #[error("cannot migrate to version {to}: {reason}")]
    Target {
        /// The requested version.
        to: usize,
        /// Why not.
        reason: String,
    },
    /// The database was created by the earlier service and must be adopted first.
    #[error(
        "this database was created by the earlier service (alembic revision {revision}) and has \
         no stockdb migration history; run `migrate adopt` first"
    )]
    NeedsAdopt {
        /// The revision found in `alembic_version`.
        revision: String,
    },
    /// `adopt` found nothing to adopt.
    #[error("nothing to adopt: {0}")]
    NothingToAdopt(String),
    /// `adopt` refused the database; nothing was changed.
    #[error("refusing to adopt, nothing was changed: {reason}{}", diff.as_deref().map(|d| format!("\n{d}")).unwrap_or_default())]
    AdoptRefused {
        /// Why.
        reason: String,
        /// Unified diff from the golden schema to the live one, when the schemas differ.
        diff: Option<String>,
    },
    /// No database URL was given to a command that needs one.
    #[error("no database: set DATABASE_URL or pass --database-url")]
    NoDatabase,
    /// The report could not be written.
    #[error("cannot write the report")]
    Output(#[from] std::io::Error),
    /// The migration history names migrations this build does not have.
    #[error("the database's migration history does not match this build: {0}")]
    History(String),
}

impl From<DbErr> for MigrateError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::Migration(message) => Self::Migration(message),
            other => Self::Db(other),
        }
    }
}
