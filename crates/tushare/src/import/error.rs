//! `ImportError`: why an import stopped, and whether running it again may help.

use std::path::PathBuf;

use data_engineering::SyncJobType;
use shared_db::RepoError;
use uuid::Uuid;

/// Why an import stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened or read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The header line is missing columns, or is not CSV.
    #[error("{path}: {reason}")]
    Header {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read on part-way; the lines before were committed and the
    /// task is left `FAILED`, to resume once the file is readable.
    #[error(
        "{path}: cannot read on after {offset} bytes (sync task {task_id}; continue with --resume)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Bytes committed.
        offset: u64,
        /// The task.
        task_id: Uuid,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file's content cannot be split into records past `offset` (a quote left open
    /// runs on for more lines than any record holds): the lines before were committed and
    /// the task is left `FAILED`; resuming would stop at the same place, so the file must
    /// be mended and imported afresh (its rows load again idempotently).
    #[error(
        "{path}: {reason} (sync task {task_id}, {offset} bytes committed; mend the file and import it afresh)"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Bytes committed.
        offset: u64,
        /// The task.
        task_id: Uuid,
        /// What is wrong, naming the line.
        reason: String,
    },
    /// A resume found the file changed since the import started; nothing was written.
    #[error("{path}: refusing to resume sync task {task_id}: {reason}; start a new import of it")]
    Changed {
        /// The file.
        path: PathBuf,
        /// The task.
        task_id: Uuid,
        /// What differs.
        reason: String,
    },
    /// `resume` found no unfinished import of this file.
    #[error("no unfinished {job} import of {path} to resume")]
    NothingToResume {
        /// The job type.
        job: SyncJobType,
        /// The file.
        path: PathBuf,
    },
    /// The database refused a batch for a reason that may pass (the connection went away,
    /// a timeout): the task is left `FAILED` (when it could be written) and `--resume`
    /// continues after the last committed batch.
    #[error("import stopped (sync task {task_id}; continue with --resume)")]
    Interrupted {
        /// The task.
        task_id: Uuid,
        /// The database error.
        #[source]
        source: RepoError,
    },
    /// Another run took the task over (this run had lost its hold on it): this run wrote
    /// nothing after that, and the other run carries the import on.
    #[error(
        "sync task {task_id} was taken over by another run; this run stopped and wrote nothing more"
    )]
    Superseded {
        /// The task.
        task_id: Uuid,
    },
    /// The database refused a batch for a reason a retry will not change; the task is left
    /// `FAILED` and resuming would fail the same way.
    #[error(
        "import stopped: the database refused a batch (sync task {task_id}); --resume would fail the same way"
    )]
    Refused {
        /// The task.
        task_id: Uuid,
        /// The database error.
        #[source]
        source: RepoError,
    },
    /// Setting up the import failed (another live import of the file: `Busy`).
    #[error(transparent)]
    Repo(#[from] RepoError),
}

impl ImportError {
    /// True when running the same import again later (with `--resume`) may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Io { .. } | Self::Read { .. } | Self::Interrupted { .. } => true,
            Self::Repo(err) => err.is_transient(),
            _ => false,
        }
    }
}
