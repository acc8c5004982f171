//! Resumable imports of Tushare-format CSV files: the stock list (`stock_basic`), daily
//! bars (`daily`, `daily_basic`, `adj_factor`) and financial indicators (`fina_indicator`).
//!
//! An import is a sync task run under a lease (`SyncRepository::take`). The file is
//! streamed in batches; each batch's valid rows, a failure record per bad line and the
//! task's progress commit in one transaction (`SyncRepository::commit_batch`), fenced by
//! the lease, so an interrupted import resumed with `resume` neither repeats nor loses a
//! line, and a run whose task was taken over writes nothing more. Each commit also records
//! where the file's committed part ends (a byte offset) and the hash of those bytes; a
//! resume checks both before it seeks there, so a changed or truncated file is refused.
//! While one batch commits, a blocking thread parses the next. The rooms: `records` (CSV
//! records with their physical line, end offset and prefix hash), `parse` (the pure
//! parser), `reader` (opening, checking and the parser thread) and this file (the run).

mod akshare;
mod checkpoint;
mod error;
mod market;
mod options;
mod parse;
mod reader;
mod records;

pub use akshare::{DEFAULT_SECTOR_TYPE, akshare_code};
pub use checkpoint::ImportCheckpoint;
pub use error::ImportError;
pub use options::{DEFAULT_MAX_RECORD_BYTES, ImportOptions, MAX_BATCH_SIZE, MAX_RECORD_BYTES};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use data_engineering::{
    RunOutcome, SyncBatch, SyncJobType, SyncRepository, SyncTask, SyncTaskStatus, TaskLease,
};
use serde::Serialize;
use shared_db::{InvalidInput, RepoError, utc_now};
use uuid::Uuid;

use self::options::check_options;
use self::reader::{Batch, Checkpoint, OpenFile, ParserSetup, ReadError};

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
    /// Lines of a file without prices (`daily_basic`, `adj_factor`) whose bar is not
    /// stored yet: not written, each with a retryable failure record; importing the file
    /// again once the day's prices are in completes them.
    pub deferred: u64,
    /// Header columns the kind does not read.
    pub ignored_columns: Vec<String>,
    /// Of a fresh import (not `resume`): the newest earlier import of the same file left
    /// unfinished, which `resume` would have continued; this one read the file from its
    /// start (a line read twice changes nothing) and left that task as it was.
    pub unfinished_before: Option<UnfinishedImport>,
    /// Wall time of this run.
    pub elapsed: Duration,
}

impl ImportSummary {
    /// Data lines per second over this run.
    pub fn lines_per_second(&self) -> f64 {
        self.lines_read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// An import left unfinished.
#[derive(Debug, Clone, Serialize)]
pub struct UnfinishedImport {
    /// Its sync task.
    pub task_id: Uuid,
    /// Where it stands (`RUNNING` for one whose run died).
    pub status: SyncTaskStatus,
    /// The data lines it had done.
    pub lines_done: u64,
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
    Read(std::io::Error),
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
    check_options(options)?;
    let path = options
        .path
        .canonicalize()
        .map_err(|source| ImportError::Io {
            path: options.path.clone(),
            source,
        })?;
    let size = std::fs::metadata(&path)
        .map_err(|source| ImportError::Io {
            path: path.clone(),
            source,
        })?
        .len();
    let job = options.kind.job_type();
    let file = path.display().to_string();
    // One run per file at a time: a second import of it is `Busy` while the first lives.
    let scope = format!("import {job} {file}");
    // An earlier import of this file left unfinished, which a fresh one leaves as it is.
    let mut unfinished = None;
    let (lease, opened) = if options.resume {
        let lease = resume(sync, job, &file, &scope).await?;
        match open_for_resume(&lease, &path, size, options) {
            Ok(opened) => (lease, opened),
            Err(err) => {
                // Nothing was read past the file's start: leave the task as it was found.
                let _ = sync.release(lease, RunOutcome::Failed, utc_now()).await;
                return Err(err);
            }
        }
    } else {
        unfinished = sync
            .get_latest_unfinished(job, &ImportCheckpoint::of_file(&file))
            .await?
            .map(|task| UnfinishedImport {
                task_id: task.id,
                status: task.status,
                lines_done: u64::try_from(task.current_offset).unwrap_or(0),
            });
        let opened = open(&path, size, options)?;
        let batch_size = i32::try_from(options.batch_size)
            .map_err(|_| InvalidInput::new("batch_size", options.batch_size, "too large"))
            .map_err(RepoError::from)?;
        let mut checkpoint = ImportCheckpoint::start(options.kind, file.clone(), size);
        checkpoint.trade_date = options.trade_date;
        let config = checkpoint.to_config();
        let task =
            SyncTask::new(job, batch_size, Some(config), utc_now()).map_err(RepoError::from)?;
        (sync.start(&task, Some(&scope), utc_now()).await?, opened)
    };
    let task_id = lease.task_id();
    let stored_offset = lease.task().current_offset;
    let resumed = u64::try_from(stored_offset)
        .map_err(|_| InvalidInput::new("current_offset", stored_offset, "negative"))
        .map_err(RepoError::from)?;
    progress.begin(size, resumed);

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
        deferred: 0,
        ignored_columns: opened.columns.ignored.clone(),
        unfinished_before: unfinished,
        elapsed: Duration::ZERO,
    };
    let batches = reader::spawn_parser(
        opened,
        ParserSetup {
            job,
            batch_size: options.batch_size,
            max_record: options.max_record_bytes,
            default_source: options.source.clone(),
        },
    );
    let mut committed_offset = 0;
    let outcome = run_batches(
        sync,
        &lease,
        batches,
        options,
        progress,
        stop,
        &mut summary,
        &mut committed_offset,
    )
    .await;
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
        Err(Stop::Repo(RepoError::Superseded { .. })) => Err(ImportError::Superseded { task_id }),
        Err(stopped) => {
            // Best effort: the database may be the very thing that failed.
            let _ = sync.release(lease, RunOutcome::Failed, now).await;
            Err(match stopped {
                Stop::Read(source) if source.kind() == std::io::ErrorKind::InvalidData => {
                    ImportError::Malformed {
                        path,
                        offset: committed_offset,
                        task_id,
                        reason: source.to_string(),
                    }
                }
                Stop::Read(source) => ImportError::Read {
                    path,
                    offset: committed_offset,
                    task_id,
                    source,
                },
                Stop::Repo(source) if source.is_transient() => {
                    ImportError::Interrupted { task_id, source }
                }
                Stop::Repo(source) => ImportError::Refused { task_id, source },
            })
        }
    }
}

/// Opens the file at its start, to read its first `size` bytes.
fn open(
    path: &std::path::Path,
    size: u64,
    options: &ImportOptions,
) -> Result<OpenFile, ImportError> {
    let mut opened = reader::open(path, options.kind, None, options.max_record_bytes, size)
        .map_err(|err| match err {
            ReadError::Io(source) => ImportError::Io {
                path: path.to_owned(),
                source,
            },
            ReadError::Header(reason) | ReadError::Changed(reason) => ImportError::Header {
                path: path.to_owned(),
                reason,
            },
        })?;
    opened.columns.trade_date = options.trade_date;
    Ok(opened)
}

/// Opens the file of a resumed import where its last committed batch ended, after
/// checking that it is still the file that was imported.
fn open_for_resume(
    lease: &TaskLease,
    path: &std::path::Path,
    size: u64,
    options: &ImportOptions,
) -> Result<OpenFile, ImportError> {
    let task = lease.task();
    let changed = |reason: String| ImportError::Changed {
        path: path.to_owned(),
        task_id: task.id,
        reason,
    };
    let recorded = ImportCheckpoint::of_task(task);
    let older = || {
        changed(
            "its progress has no byte offset and hash to check the file against (an import by \
             an older stockdb)"
                .to_owned(),
        )
    };
    let Some(recorded) = recorded else {
        return Err(older());
    };
    if recorded.bytes != size {
        return Err(changed(format!(
            "it has {size} bytes, and had {} when the import started",
            recorded.bytes
        )));
    }
    let checkpoint = match (recorded.offset, recorded.prefix_blake3) {
        (Some(offset), Some(prefix_hash)) => Some(Checkpoint {
            offset,
            prefix_hash,
        }),
        (None, None) if task.current_offset == 0 => None,
        _ => return Err(older()),
    };
    if options.trade_date.is_some() && options.trade_date != recorded.trade_date {
        return Err(changed(format!(
            "it was started as the board of {}, not of the day now given",
            recorded
                .trade_date
                .map_or_else(|| "no day".to_owned(), |day| day.to_string())
        )));
    }
    let mut opened = reader::open(
        path,
        options.kind,
        checkpoint.as_ref(),
        options.max_record_bytes,
        size,
    )
    .map_err(|err| match err {
        ReadError::Changed(reason) => changed(reason),
        ReadError::Io(source) => ImportError::Io {
            path: path.to_owned(),
            source,
        },
        ReadError::Header(reason) => ImportError::Header {
            path: path.to_owned(),
            reason,
        },
    })?;
    opened.columns.trade_date = recorded.trade_date;
    Ok(opened)
}

/// Commits batches until the file ends (`Ok(true)`) or a stop is asked for (`Ok(false)`).
#[allow(
    clippy::too_many_arguments,
    reason = "the run's parts, each borrowed differently; a struct would only rename them"
)]
async fn run_batches(
    sync: &dyn SyncRepository,
    lease: &TaskLease,
    mut batches: tokio::sync::mpsc::Receiver<Result<Batch, std::io::Error>>,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
    stop: &AtomicBool,
    summary: &mut ImportSummary,
    committed_offset: &mut u64,
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
        let committed_batch = sync
            .commit_batch(
                lease,
                SyncBatch {
                    rows: batch.rows,
                    failures: batch.failures,
                    items: lines,
                    checkpoint: Some(ImportCheckpoint::after_batch(
                        batch.offset,
                        &batch.prefix_hash,
                    )),
                },
            )
            .await
            .map_err(Stop::Repo)?;
        committed += 1;
        *committed_offset = batch.offset;
        summary.lines_read += u64::from(lines);
        let report = committed_batch.report;
        summary.rows += rows - committed_batch.deferred - committed_batch.refused;
        summary.rejected += rejected + committed_batch.refused;
        summary.deferred += committed_batch.deferred;
        summary.inserted += report.inserted;
        summary.updated += report.updated;
        summary.unchanged += report.unchanged;
        progress.advance(
            batch.offset,
            summary.resumed_after_lines + summary.lines_read,
        );
    }
}

/// Finds the newest unfinished import of `file` and takes it over.
async fn resume(
    sync: &dyn SyncRepository,
    job: SyncJobType,
    file: &str,
    scope: &str,
) -> Result<TaskLease, ImportError> {
    let task = sync
        .get_latest_unfinished(job, &ImportCheckpoint::of_file(file))
        .await?
        .ok_or_else(|| ImportError::NothingToResume {
            job,
            path: PathBuf::from(file),
        })?;
    // Refused (`Busy`) while the run that holds it is alive; a run that crashed, or lost
    // its connection, is taken over, and its writes are refused from then on.
    Ok(sync.take(task.id, Some(scope), utc_now()).await?)
}

/// A shareable stop flag, for Ctrl-C handlers.
pub fn stop_flag() -> std::sync::Arc<AtomicBool> {
    std::sync::Arc::new(AtomicBool::new(false))
}
