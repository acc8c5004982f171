//! [`ImportOptions`]: what to import and how, and the checks made before a file is opened.

use std::path::PathBuf;

use chrono::NaiveDate;
use shared_db::{InvalidInput, RepoError};

use crate::ImportKind;

/// The most data lines one batch (one transaction) may hold.
pub const MAX_BATCH_SIZE: usize = 100_000;
/// The default cap on one record's size: a Tushare line is well under 4 KiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;
/// The largest cap on one record's size a caller may set: a record is held in memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;
/// The longest `source` the tables hold (`varchar(20)`).
const SOURCE_MAX_CHARS: usize = 20;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The file's kind.
    pub kind: ImportKind,
    /// The CSV file (UTF-8, comma-separated, with a header line).
    pub path: PathBuf,
    /// Data lines per batch (one transaction each), 1..=[`MAX_BATCH_SIZE`].
    pub batch_size: usize,
    /// Records longer than this many bytes become failure records (default 1 MiB, at
    /// most [`MAX_RECORD_BYTES`]): an import never holds more than that of one line in
    /// memory.
    pub max_record_bytes: usize,
    /// Continue the newest unfinished import of this file instead of starting anew.
    pub resume: bool,
    /// `source` written on rows when the file has no `source` column: 1 to 20
    /// characters, no control characters.
    pub source: String,
    /// Stop (leaving the task `PAUSED`) after this many batches; `None` runs to the end.
    pub max_batches: Option<u64>,
    /// The day of an AkShare board whose frame has no date column
    /// ([`ImportKind::needs_trade_date`]): required for those, refused for the others. A
    /// resumed import keeps the day it started with.
    pub trade_date: Option<NaiveDate>,
}

impl ImportOptions {
    /// Defaults: 10,000 lines per batch, source `tushare`, no resume.
    pub fn new(kind: ImportKind, path: impl Into<PathBuf>) -> Self {
        Self {
            kind,
            path: path.into(),
            batch_size: 10_000,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            resume: false,
            source: "tushare".to_owned(),
            max_batches: None,
            trade_date: None,
        }
    }
}

/// Checks the options that need no file or database.
pub(super) fn check_options(options: &ImportOptions) -> Result<(), RepoError> {
    if !(1..=MAX_BATCH_SIZE).contains(&options.batch_size) {
        return Err(InvalidInput::new(
            "batch_size",
            options.batch_size,
            format!("must be between 1 and {MAX_BATCH_SIZE}"),
        )
        .into());
    }
    if !(1_024..=MAX_RECORD_BYTES).contains(&options.max_record_bytes) {
        return Err(InvalidInput::new(
            "max_record_bytes",
            options.max_record_bytes,
            format!("must be between 1,024 and {MAX_RECORD_BYTES} (64 MiB)"),
        )
        .into());
    }
    match (options.kind.needs_trade_date(), options.trade_date) {
        // A resume reads the day its import started with.
        (true, None) if !options.resume => {
            return Err(InvalidInput::new(
                "trade_date",
                "",
                format!(
                    "AkShare's {} frame has no date column: give the day it is of",
                    options.kind.name()
                ),
            )
            .into());
        }
        (false, Some(day)) => {
            return Err(InvalidInput::new(
                "trade_date",
                day,
                format!("a {} file has its dates in its lines", options.kind.name()),
            )
            .into());
        }
        // A day out of range is refused by the rows' own checks.
        (true, _) | (false, None) => {}
    }
    // Checked once here: a bad source would otherwise refuse every line of the file.
    shared_db::check_not_empty("source", &options.source)?;
    shared_db::check_len("source", Some(&options.source), SOURCE_MAX_CHARS)?;
    if let Some(c) = options.source.chars().find(|c| c.is_control()) {
        return Err(InvalidInput::new(
            "source",
            options.source.escape_debug(),
            format!("contains the control character {c:?}"),
        )
        .into());
    }
    Ok(())
}
