//! Resumable imports of Tushare-format CSV files: the stock list (`stock_basic`), daily
//! bars (`daily`, `daily_basic`, `adj_factor`) and financial indicators (`fina_indicator`).
//!
//! An import is a sync task run under a lease (`SyncRepository::take`). The file is
//! streamed in batches; each batch's valid rows, a failure record per bad line and the
//! task's progress commit in one transaction (`SyncRepository::commit_batch`), fenced by
//! the lease, so an interrupted import resumed with `resume` neither repeats nor loses a
//! line, and a run whose task was taken over writes nothing more. While one batch
//! commits, a blocking thread parses the next. The rooms: `parse` (the pure parser),
//! `reader` (the parser thread) and this file (the run).

mod parse;
mod reader;

pub use parse::ImportKind;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use data_engineering::{
    RunOutcome, SyncBatch, SyncJobType, SyncRepository, SyncTask, SyncTaskStatus, TaskLease,
};
use serde::Serialize;
use serde_json::json;
use shared_db::{InvalidInput, Page, RepoError, utc_now};
use uuid::Uuid;

use self::reader::{Batch, ParserSetup, ReadError};

impl ImportKind {
    /// The sync job an import of this kind records.
    pub fn job_type(self) -> SyncJobType {
        match self {
            Self::Stocks => SyncJobType::StockList,
            Self::Daily => SyncJobType::DailyHistory,
            Self::Finance => SyncJobType::FinanceHistory,
        }
    }
}

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The file's kind.
    pub kind: ImportKind,
    /// The CSV file (UTF-8, comma-separated, with a header line).
    pub path: PathBuf,
    /// Data lines per batch (one transaction each).
    pub batch_size: usize,
    /// Continue the newest unfinished import of this file instead of starting anew.
    pub resume: bool,
    /// `source` written on rows when the file has no `source` column.
    pub source: String,
    /// Stop (leaving the task `PAUSED`) after this many batches; `None` runs to the end.
    pub max_batches: Option<u64>,
}

impl ImportOptions {
    /// Defaults: 10,000 lines per batch, source `tushare`, no resume.
    pub fn new(kind: ImportKind, path: impl Into<PathBuf>) -> Self {
        Self {
            kind,
            path: path.into(),
            batch_size: 10_000,
            resume: false,
            source: "tushare".to_owned(),
            max_batches: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// The sync task that records it.
    pub task_id: Uuid,
    /// `COMPLETED`, or `PAUSED` when stopped early.
    pub status: SyncTaskStatus,
    /// Data lines skipped because an earlier run had done them.
    pub resumed_after_lines: u64,
    /// Data lines read by this run.
    pub lines_read: u64,
    /// Of those, lines turned into rows.
    pub rows: u64,
    /// Rows that were new.
    pub inserted: u64,
    /// Rows that changed stored ones.
    pub updated: u64,
    /// Rows equal to what was stored.
    pub unchanged: u64,
    /// Lines rejected, each with a failure record.
    pub rejected: u64,
    /// Header columns the kind does not read.
    pub ignored_columns: Vec<String>,
    /// Wall time of this run.
    pub elapsed: Duration,
}

impl ImportSummary {
    /// Data lines per second over this run.
    pub fn lines_per_second(&self) -> f64 {
        self.lines_read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

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
    /// The file stopped being readable CSV part-way; the lines before were committed and
    /// the task is left `FAILED`.
    #[error("{path}: cannot read past line {} (sync task {task_id})", line.map_or_else(|| "?".to_owned(), |l| l.to_string()))]
    Read {
        /// The file.
        path: PathBuf,
        /// The physical line where reading stopped, when known.
        line: Option<u64>,
        /// The task.
        task_id: Uuid,
        /// What the CSV reader said.
        #[source]
        source: csv::Error,
    },
    /// `resume` found no unfinished import of this file.
    #[error("no unfinished {job} import of {path} to resume")]
    NothingToResume {
        /// The job type.
        job: SyncJobType,
        /// The file.
        path: PathBuf,
    },
    /// The database refused; the task is left `FAILED` (when it could be written) and can
    /// be resumed.
    #[error("import stopped (sync task {task_id}; continue with --resume)")]
    Database {
        /// The task.
        task_id: Uuid,
        /// The database error.
        #[source]
        source: RepoError,
    },
    /// Setting up the import failed (another live import holds the task: `Busy`).
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Receives progress; every method has an empty default.
pub trait ImportProgress: Send + Sync {
    /// The import starts: the file's size, and the lines an earlier run did.
    fn begin(&self, _total_bytes: u64, _resumed_lines: u64) {}
    /// A batch committed: bytes of the file consumed and data lines done so far.
    fn advance(&self, _bytes: u64, _lines: u64) {}
    /// The import ends.
    fn end(&self) {}
}

/// A progress sink that reports nothing.
#[derive(Debug, Default)]
pub struct NoProgress;

impl ImportProgress for NoProgress {}

/// Why the batch loop stopped early.
enum Stop {
    Read(ReadError),
    Repo(RepoError),
}

/// Imports `options.path` through `sync`, recording a sync task.
///
/// `stop` is checked between batches: when set, the task is left `PAUSED` and the summary
/// says so. Bad lines never stop the good ones: each gets a failure record (with
/// `max_retries` 0, since retrying cannot fix a line) naming the physical line, the field
/// and the value.
pub async fn import_csv(
    sync: &dyn SyncRepository,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
    stop: &AtomicBool,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let path = options
        .path
        .canonicalize()
        .map_err(|source| ImportError::Io {
            path: options.path.clone(),
            source,
        })?;
    let io_err = |source| ImportError::Io {
        path: path.clone(),
        source,
    };
    let total_bytes = std::fs::metadata(&path).map_err(io_err)?.len();
    let mut reader = reader::open(&path).map_err(io_err)?;
    let columns =
        reader::read_header(&mut reader, options.kind).map_err(|reason| ImportError::Header {
            path: path.clone(),
            reason,
        })?;

    let job = options.kind.job_type();
    let file = path.display().to_string();
    let lease = if options.resume {
        resume(sync, job, &file).await?
    } else {
        let batch_size = i32::try_from(options.batch_size)
            .map_err(|_| InvalidInput::new("batch_size", options.batch_size, "too large"))
            .map_err(RepoError::from)?;
        let config =
            json!({"source": "csv", "kind": options.kind, "file": file, "bytes": total_bytes});
        let task =
            SyncTask::new(job, batch_size, Some(config), utc_now()).map_err(RepoError::from)?;
        sync.create(&task).await?;
        sync.take(task.id, utc_now()).await?
    };
    let task_id = lease.task_id();
    let stored_offset = lease.task().current_offset;
    let resumed = u64::try_from(stored_offset)
        .map_err(|_| InvalidInput::new("current_offset", stored_offset, "negative"))
        .map_err(RepoError::from)?;
    progress.begin(total_bytes, resumed);

    let mut summary = ImportSummary {
        task_id,
        status: SyncTaskStatus::Running,
        resumed_after_lines: resumed,
        lines_read: 0,
        rows: 0,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        rejected: 0,
        ignored_columns: columns.ignored.clone(),
        elapsed: Duration::ZERO,
    };
    let batches = reader::spawn_parser(
        reader,
        ParserSetup {
            columns,
            kind: options.kind,
            job,
            batch_size: options.batch_size,
            default_source: options.source.clone(),
            skip: resumed,
        },
    );
    let outcome = run_batches(sync, &lease, batches, options, progress, stop, &mut summary).await;
    progress.end();
    summary.elapsed = started.elapsed();
    let now = utc_now();
    match outcome {
        Ok(finished) => {
            let outcome = if finished {
                RunOutcome::Completed
            } else {
                RunOutcome::Paused
            };
            summary.status = sync.release(lease, outcome, now).await?.status;
            Ok(summary)
        }
        Err(stopped) => {
            // Best effort: the database may be the very thing that failed.
            let _ = sync.release(lease, RunOutcome::Failed, now).await;
            Err(match stopped {
                Stop::Read(err) => ImportError::Read {
                    path,
                    line: err.line,
                    task_id,
                    source: err.source,
                },
                Stop::Repo(source) => ImportError::Database { task_id, source },
            })
        }
    }
}

/// Commits batches until the file ends (`Ok(true)`) or a stop is asked for (`Ok(false)`).
async fn run_batches(
    sync: &dyn SyncRepository,
    lease: &TaskLease,
    mut batches: tokio::sync::mpsc::Receiver<Result<Batch, ReadError>>,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
    stop: &AtomicBool,
    summary: &mut ImportSummary,
) -> Result<bool, Stop> {
    let mut committed = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) || options.max_batches.is_some_and(|max| committed >= max) {
            return Ok(false);
        }
        let Some(batch) = batches.recv().await else {
            return Ok(true);
        };
        let batch = batch.map_err(Stop::Read)?;
        let (rows, rejected, lines) = (
            batch.rows.len() as u64,
            batch.failures.len() as u64,
            batch.lines,
        );
        let (_, report) = sync
            .commit_batch(
                lease,
                SyncBatch {
                    rows: batch.rows,
                    failures: batch.failures,
                    items: lines,
                    checkpoint: None,
                },
            )
            .await
            .map_err(Stop::Repo)?;
        committed += 1;
        summary.lines_read += u64::from(lines);
        summary.rows += rows;
        summary.rejected += rejected;
        summary.inserted += report.inserted;
        summary.updated += report.updated;
        summary.unchanged += report.unchanged;
        progress.advance(
            batch.bytes,
            summary.resumed_after_lines + summary.lines_read,
        );
    }
}

/// Finds the newest unfinished import of `file` and takes it over.
async fn resume(
    sync: &dyn SyncRepository,
    job: SyncJobType,
    file: &str,
) -> Result<TaskLease, ImportError> {
    let candidates = sync.list_tasks(Some(job), Page::MAX_LIMIT).await?;
    let task = candidates
        .into_iter()
        .find(|t| {
            t.status != SyncTaskStatus::Completed
                && t.config
                    .as_ref()
                    .and_then(|c| c.get("file"))
                    .and_then(|f| f.as_str())
                    == Some(file)
        })
        .ok_or_else(|| ImportError::NothingToResume {
            job,
            path: PathBuf::from(file),
        })?;
    // Refused (`Busy`) while the run that holds it is alive; a run that crashed, or lost
    // its connection, is taken over, and its writes are refused from then on.
    Ok(sync.take(task.id, utc_now()).await?)
}

/// A shareable stop flag, for Ctrl-C handlers.
pub fn stop_flag() -> std::sync::Arc<AtomicBool> {
    std::sync::Arc::new(AtomicBool::new(false))
}
