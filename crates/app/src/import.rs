//! Resumable imports of Tushare-format CSV files: the stock list (`stock_basic`), daily
//! bars (`daily`, `daily_basic`, `adj_factor`) and financial indicators (`fina_indicator`).
//!
//! The file is streamed in batches; each batch's valid rows, a failure record per bad
//! line and the sync task's progress commit in one transaction
//! (`SyncRepository::commit_batch`), so an interrupted import resumed with `resume`
//! neither repeats nor loses a line. While one batch commits, a blocking thread parses the
//! next, so memory stays flat whatever the file's size.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use data_engineering::{
    BatchRows, StockDaily, StockFinance, StockInfo, SyncFailureRecord, SyncJobType, SyncRepository,
    SyncTask, SyncTaskStatus, ThirdCode,
};
use serde::Serialize;
use serde_json::json;
use shared_db::{Db, InvalidInput, RepoError, utc_now};
use sqlx::Connection as _;
use uuid::Uuid;

/// Which Tushare file an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    /// `stock_basic`: `ts_code`, `symbol`, `name` and the optional stock columns.
    Stocks,
    /// `daily` / `daily_basic` / `adj_factor`: `ts_code`, `trade_date` and any value columns.
    Daily,
    /// `fina_indicator`: `ts_code`, `ann_date`, `end_date` and any indicator columns.
    Finance,
}

impl ImportKind {
    /// The sync job an import of this kind records.
    pub fn job_type(self) -> SyncJobType {
        match self {
            Self::Stocks => SyncJobType::StockList,
            Self::Daily => SyncJobType::DailyHistory,
            Self::Finance => SyncJobType::FinanceHistory,
        }
    }

    /// Columns a file of this kind must have.
    pub fn required_columns(self) -> &'static [&'static str] {
        match self {
            Self::Stocks => &["ts_code", "symbol", "name"],
            Self::Daily => &["ts_code", "trade_date"],
            Self::Finance => &["ts_code", "ann_date", "end_date"],
        }
    }

    /// Every column this kind reads (others are reported and ignored).
    pub fn known_columns(self) -> Vec<&'static str> {
        let mut known = self.required_columns().to_vec();
        match self {
            Self::Stocks => known.extend(STOCK_COLUMNS),
            Self::Daily => known.extend(StockDaily::VALUE_FIELDS),
            Self::Finance => known.extend(StockFinance::INDICATORS),
        }
        known.push("source");
        known
    }
}

/// The optional `stock_basic` columns, in Tushare's order.
pub const STOCK_COLUMNS: [&str; 12] = [
    "area",
    "industry",
    "fullname",
    "enname",
    "cnspell",
    "market",
    "exchange",
    "curr_type",
    "list_status",
    "list_date",
    "delist_date",
    "is_hs",
];

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
    /// `resume` found no unfinished import of this file.
    #[error("no unfinished {job} import of {path} to resume")]
    NothingToResume {
        /// The job type.
        job: SyncJobType,
        /// The file.
        path: PathBuf,
    },
    /// Another process is importing this file right now.
    #[error("sync task {0} is being run by another process")]
    Busy(Uuid),
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
    /// Setting up the import failed.
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

/// One parsed batch of lines.
struct Batch {
    rows: BatchRows,
    failures: Vec<SyncFailureRecord>,
    lines: u32,
    bytes: u64,
}

/// Imports `options.path` into the database behind `db`, recording a sync task.
///
/// `stop` is checked between batches: when set, the task is left `PAUSED` and the summary
/// says so. Bad lines never stop the good ones: each gets a failure record (with
/// `max_retries` 0, since retrying cannot fix a line) naming the line, field and value.
pub async fn import_csv(
    db: &Db,
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
    let mut reader = csv_reader(&path).map_err(io_err)?;
    let columns = Columns::read(&mut reader, options.kind, &path)?;

    // The task, and a lock that tells a live import from an abandoned one.
    let job = options.kind.job_type();
    let file = path.display().to_string();
    let (task, _lock) = if options.resume {
        resume_task(db, sync, job, &file).await?
    } else {
        let config =
            json!({"source": "csv", "kind": options.kind, "file": file, "bytes": total_bytes});
        let task = SyncTask::new(job, batch_i32(options.batch_size), Some(config), utc_now())
            .map_err(RepoError::from)?;
        sync.create(&task).await?;
        let lock = TaskLock::acquire(db, task.id)
            .await?
            .ok_or(ImportError::Busy(task.id))?;
        (sync.resume(task.id, utc_now()).await?, lock)
    };
    let resumed = u64::try_from(task.current_offset).unwrap_or(0);
    progress.begin(total_bytes, resumed);

    let mut summary = ImportSummary {
        task_id: task.id,
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
    let batches = spawn_parser(reader, columns, options.clone(), resumed);
    let outcome = run_batches(
        sync,
        task.id,
        batches,
        options,
        progress,
        stop,
        &mut summary,
    )
    .await;
    progress.end();
    summary.elapsed = started.elapsed();
    let now = utc_now();
    match outcome {
        Ok(finished) => {
            let mut task = sync
                .get_by_id(task.id)
                .await?
                .ok_or_else(|| RepoError::NotFound {
                    entity: "sync task",
                    key: task.id.to_string(),
                })?;
            if finished {
                task.complete(now).map_err(RepoError::from)?;
            } else {
                task.pause(now).map_err(RepoError::from)?;
            }
            summary.status = sync.update(&task).await?.status;
            Ok(summary)
        }
        Err(source) => {
            // Best effort: the database may be the very thing that failed.
            if let Ok(Some(mut failed)) = sync.get_by_id(task.id).await
                && failed.fail(now).is_ok()
            {
                let _ = sync.update(&failed).await;
            }
            Err(ImportError::Database {
                task_id: task.id,
                source,
            })
        }
    }
}

/// Commits batches until the file ends (`Ok(true)`) or a stop is asked for (`Ok(false)`).
async fn run_batches(
    sync: &dyn SyncRepository,
    task_id: Uuid,
    mut batches: tokio::sync::mpsc::Receiver<Result<Batch, std::io::Error>>,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
    stop: &AtomicBool,
    summary: &mut ImportSummary,
) -> Result<bool, RepoError> {
    let mut committed = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) || options.max_batches.is_some_and(|max| committed >= max) {
            return Ok(false);
        }
        let Some(batch) = batches.recv().await else {
            return Ok(true);
        };
        let batch = batch.map_err(|err| {
            RepoError::InvalidState(format!("reading {}: {err}", options.path.display()))
        })?;
        let rows = batch.rows.len() as u64;
        let rejected = batch.failures.len() as u64;
        let (task, report) = sync
            .commit_batch(task_id, batch.rows, &batch.failures, batch.lines)
            .await?;
        committed += 1;
        summary.lines_read += u64::from(batch.lines);
        summary.rows += rows;
        summary.rejected += rejected;
        summary.inserted += report.inserted;
        summary.updated += report.updated;
        summary.unchanged += report.unchanged;
        progress.advance(batch.bytes, u64::try_from(task.current_offset).unwrap_or(0));
    }
}

/// Finds the newest unfinished import of `file` and takes it over.
async fn resume_task(
    db: &Db,
    sync: &dyn SyncRepository,
    job: SyncJobType,
    file: &str,
) -> Result<(SyncTask, TaskLock), ImportError> {
    let candidates = sync
        .list_tasks(Some(job), shared_db::Page::MAX_LIMIT)
        .await?;
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
    let lock = TaskLock::acquire(db, task.id)
        .await?
        .ok_or(ImportError::Busy(task.id))?;
    if task.status == SyncTaskStatus::Running {
        // Nobody holds its lock: the process that ran it is gone (killed, or cut off by a
        // server restart). Record that, then take it over.
        let mut abandoned = task.clone();
        abandoned.fail(utc_now()).map_err(RepoError::from)?;
        sync.update(&abandoned).await?;
    }
    Ok((sync.resume(task.id, utc_now()).await?, lock))
}

/// A session advisory lock on a task, held by a dedicated connection: while an import
/// runs, a second `--resume` of the same file is refused; when the process dies (or the
/// server restarts), the lock goes with its connection.
struct TaskLock {
    _conn: sqlx::PgConnection,
}

impl TaskLock {
    async fn acquire(db: &Db, task: Uuid) -> Result<Option<Self>, RepoError> {
        let options = db.pool().connect_options();
        let mut conn = sqlx::PgConnection::connect_with(&*options).await?;
        let key = i64::from_be_bytes(task.as_bytes()[..8].try_into().unwrap_or_default());
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        Ok(locked.then_some(Self { _conn: conn }))
    }
}

fn batch_i32(batch_size: usize) -> i32 {
    i32::try_from(batch_size).unwrap_or(i32::MAX)
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>, std::io::Error> {
    let file = File::open(path)?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        // Lines with the wrong number of fields become failure records, not an abort.
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file)))
}

/// The header: where each known column is, and what is ignored.
#[derive(Debug, Clone)]
struct Columns {
    kind: ImportKind,
    width: usize,
    index: HashMap<&'static str, usize>,
    ignored: Vec<String>,
}

impl Columns {
    fn read(
        reader: &mut csv::Reader<BufReader<File>>,
        kind: ImportKind,
        path: &Path,
    ) -> Result<Self, ImportError> {
        let header_err = |reason: String| ImportError::Header {
            path: path.to_owned(),
            reason,
        };
        let headers = reader
            .byte_headers()
            .map_err(|err| header_err(format!("cannot read the header line: {err}")))?
            .clone();
        let known = kind.known_columns();
        let mut index = HashMap::new();
        let mut ignored = Vec::new();
        for (idx, raw) in headers.iter().enumerate() {
            let name = std::str::from_utf8(raw)
                .map_err(|_| header_err(format!("header column {} is not UTF-8", idx + 1)))?
                .trim_start_matches('\u{feff}')
                .trim()
                .to_ascii_lowercase();
            match known.iter().find(|k| **k == name) {
                Some(k) => {
                    index.insert(*k, idx);
                }
                None => ignored.push(name),
            }
        }
        let missing: Vec<&str> = kind
            .required_columns()
            .iter()
            .copied()
            .filter(|c| !index.contains_key(c))
            .collect();
        if !missing.is_empty() {
            return Err(header_err(format!(
                "missing required column(s) {} for a {kind:?} import",
                missing.join(", ")
            )));
        }
        Ok(Self {
            kind,
            width: headers.len(),
            index,
            ignored,
        })
    }
}

/// A line that could not become a row.
struct LineError {
    code: Option<ThirdCode>,
    message: String,
}

impl LineError {
    fn new(code: Option<ThirdCode>, line: u64, err: &InvalidInput) -> Self {
        Self {
            code,
            message: format!("line {line}: {err}"),
        }
    }
}

/// One data line's fields, by column name.
struct Line<'a> {
    columns: &'a Columns,
    fields: Vec<&'a str>,
}

impl Line<'_> {
    fn get(&self, column: &'static str) -> Option<&str> {
        self.columns
            .index
            .get(column)
            .map(|&idx| self.fields[idx].trim())
    }

    fn text(&self, column: &'static str) -> Option<String> {
        self.get(column)
            .filter(|v| !is_missing(v))
            .map(str::to_owned)
    }

    fn number(&self, column: &'static str) -> Result<Option<f64>, InvalidInput> {
        match self.get(column) {
            None => Ok(None),
            Some(raw) if is_missing(raw) => Ok(None),
            Some(raw) => {
                let value: f64 = raw
                    .parse()
                    .map_err(|_| InvalidInput::new(column, raw, "not a number"))?;
                if value.is_finite() {
                    Ok(Some(value))
                } else {
                    Err(InvalidInput::new(column, raw, "not a finite number"))
                }
            }
        }
    }

    fn date(&self, column: &'static str) -> Result<Option<NaiveDate>, InvalidInput> {
        match self.get(column) {
            None => Ok(None),
            Some(raw) if is_missing(raw) => Ok(None),
            Some(raw) => NaiveDate::parse_from_str(raw, "%Y%m%d")
                .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
                .map(Some)
                .map_err(|_| InvalidInput::new(column, raw, "not a date (YYYYMMDD or YYYY-MM-DD)")),
        }
    }

    fn required_date(&self, column: &'static str) -> Result<NaiveDate, InvalidInput> {
        self.date(column)?
            .ok_or_else(|| InvalidInput::new(column, "", "must not be empty"))
    }

    fn source(&self, default: &str) -> Option<String> {
        self.text("source").or_else(|| Some(default.to_owned()))
    }
}

/// Pandas and Tushare spell a missing value in several ways.
fn is_missing(raw: &str) -> bool {
    matches!(
        raw,
        "" | "nan" | "NaN" | "NAN" | "None" | "null" | "NULL" | "\\N"
    )
}

/// Rows of a batch under construction.
enum Rows {
    Stocks(Vec<StockInfo>),
    Dailies(Vec<StockDaily>),
    Finance(Vec<StockFinance>),
}

impl Rows {
    fn new(kind: ImportKind, capacity: usize) -> Self {
        match kind {
            ImportKind::Stocks => Self::Stocks(Vec::with_capacity(capacity)),
            ImportKind::Daily => Self::Dailies(Vec::with_capacity(capacity)),
            ImportKind::Finance => Self::Finance(Vec::with_capacity(capacity)),
        }
    }

    fn into_batch_rows(self) -> BatchRows {
        match self {
            Self::Stocks(rows) => BatchRows::Stocks(rows),
            Self::Dailies(rows) => BatchRows::Dailies(rows),
            Self::Finance(rows) => BatchRows::Finance(rows),
        }
    }

    /// Parses `line` into a row of this batch's kind.
    fn push(&mut self, line: &Line<'_>, number: u64, source: &str) -> Result<(), LineError> {
        let raw_code = line.get("ts_code").unwrap_or_default();
        let code = ThirdCode::parse(raw_code).map_err(|err| LineError::new(None, number, &err))?;
        let fail = |err: InvalidInput| LineError::new(Some(code.clone()), number, &err);
        match self {
            Self::Stocks(rows) => {
                let mut stock = StockInfo::new(
                    code.clone(),
                    line.text("symbol").unwrap_or_default(),
                    line.text("name").unwrap_or_default(),
                );
                stock.area = line.text("area");
                stock.industry = line.text("industry");
                stock.fullname = line.text("fullname");
                stock.enname = line.text("enname");
                stock.cnspell = line.text("cnspell");
                stock.market = line.text("market");
                stock.exchange = line.text("exchange");
                stock.curr_type = line.text("curr_type");
                stock.list_status = line.text("list_status");
                stock.list_date = line.date("list_date").map_err(fail)?;
                stock.delist_date = line.date("delist_date").map_err(fail)?;
                stock.is_hs = line.text("is_hs");
                stock.source = line.source(source);
                stock.validate().map_err(fail)?;
                rows.push(stock);
            }
            Self::Dailies(rows) => {
                let mut daily = StockDaily::new(
                    code.clone(),
                    line.required_date("trade_date").map_err(fail)?,
                );
                for field in StockDaily::VALUE_FIELDS {
                    daily.set_value(field, line.number(field).map_err(fail)?);
                }
                daily.source = line.source(source);
                daily.validate().map_err(fail)?;
                rows.push(daily);
            }
            Self::Finance(rows) => {
                let mut report = StockFinance::new(
                    code.clone(),
                    line.required_date("ann_date").map_err(fail)?,
                    line.required_date("end_date").map_err(fail)?,
                );
                for field in StockFinance::INDICATORS {
                    report.set_indicator(field, line.number(field).map_err(fail)?);
                }
                report.source = line.source(source);
                report.validate().map_err(fail)?;
                rows.push(report);
            }
        }
        Ok(())
    }
}

/// Parses the file on a blocking thread, `options.batch_size` data lines per batch, after
/// skipping the `skip` lines an earlier run did. The channel holds two batches, so memory
/// stays flat; dropping the receiver stops the thread.
fn spawn_parser(
    mut reader: csv::Reader<BufReader<File>>,
    columns: Columns,
    options: ImportOptions,
    skip: u64,
) -> tokio::sync::mpsc::Receiver<Result<Batch, std::io::Error>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    let job = columns.kind.job_type();
    drop(tokio::task::spawn_blocking(move || {
        let batch_size = options.batch_size.max(1);
        let mut record = csv::ByteRecord::new();
        let mut rows = Rows::new(columns.kind, batch_size);
        let mut failures = Vec::new();
        let mut lines = 0u32;
        // Data lines read so far, the skipped ones included.
        let mut number = 0u64;
        loop {
            let more = match reader.read_byte_record(&mut record) {
                Ok(more) => more,
                Err(err) => {
                    let _ = sender.blocking_send(Err(std::io::Error::other(err)));
                    return;
                }
            };
            if more {
                number += 1;
                if number <= skip {
                    continue;
                }
                lines += 1;
                // Line numbers count the header as line 1, as editors do.
                if let Err(err) =
                    parse_line(&record, &columns, &mut rows, number + 1, &options.source)
                {
                    failures.push(line_failure(job, err.code, err.message));
                }
            }
            if lines > 0 && (!more || lines as usize >= batch_size) {
                let batch = Batch {
                    rows: std::mem::replace(&mut rows, Rows::new(columns.kind, batch_size))
                        .into_batch_rows(),
                    failures: std::mem::take(&mut failures),
                    lines: std::mem::take(&mut lines),
                    bytes: reader.position().byte(),
                };
                if sender.blocking_send(Ok(batch)).is_err() {
                    return;
                }
            }
            if !more {
                return;
            }
        }
    }));
    receiver
}

fn parse_line(
    record: &csv::ByteRecord,
    columns: &Columns,
    rows: &mut Rows,
    line_number: u64,
    source: &str,
) -> Result<(), LineError> {
    if record.len() != columns.width {
        return Err(LineError {
            code: None,
            message: format!(
                "line {line_number}: expected {} fields, found {}",
                columns.width,
                record.len()
            ),
        });
    }
    let mut fields = Vec::with_capacity(record.len());
    for (idx, raw) in record.iter().enumerate() {
        let text = std::str::from_utf8(raw).map_err(|_| LineError {
            code: None,
            message: format!("line {line_number}: field {} is not UTF-8", idx + 1),
        })?;
        fields.push(text);
    }
    rows.push(&Line { columns, fields }, line_number, source)
}

fn line_failure(job: SyncJobType, code: Option<ThirdCode>, message: String) -> SyncFailureRecord {
    // The locator is the stock when the line named a valid one, else the line itself.
    let locator = match code {
        Some(code) => code.to_string(),
        None => message
            .split(':')
            .next()
            .map_or_else(|| "line ?".to_owned(), str::to_owned),
    };
    SyncFailureRecord::new(job, locator, message, utc_now()).with_max_retries(0)
}

/// A shareable stop flag, for Ctrl-C handlers.
pub fn stop_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}
