//! The reading side of an import: opening the file (checking, on a resume, that the part
//! already imported is byte for byte what was imported), and a blocking thread that
//! parses it in batches handed over a bounded channel, so memory stays flat whatever the
//! file's size.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Take};
use std::path::Path;

use data_engineering::{BatchRows, SyncFailureRecord, SyncJobType};
use shared_db::utc_now;

use super::parse::{Columns, parse_record};
use super::records::{Record, RecordReader};
use crate::ImportKind;

/// One parsed batch of lines.
pub(crate) struct Batch {
    /// The good lines' rows.
    pub(crate) rows: BatchRows,
    /// A failure record per bad line.
    pub(crate) failures: Vec<SyncFailureRecord>,
    /// Data lines (records) the batch covers.
    pub(crate) lines: u32,
    /// Bytes of the file consumed once the batch's last line is read.
    pub(crate) offset: u64,
    /// The hash of those bytes.
    pub(crate) prefix_hash: String,
}

/// Where a resumed import starts: a record boundary an earlier run committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Bytes of the file already imported (the header included).
    pub(crate) offset: u64,
    /// Their BLAKE3 hash, hex.
    pub(crate) prefix_hash: String,
}

/// Why the file cannot be read (on).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The header line is missing columns, or the file is empty.
    #[error("{0}")]
    Header(String),
    /// The file's start is not what an earlier run imported.
    #[error("{0}")]
    Changed(String),
}

/// An open file positioned after its header (or at a resume's checkpoint).
pub(crate) struct OpenFile {
    pub(crate) reader: RecordReader<BufReader<Take<File>>>,
    pub(crate) columns: Columns,
}

/// Opens `path` for reading if it is a regular file: a FIFO would block the import until
/// someone writes to it, a device (`/dev/zero`) would never end, and a directory is no
/// file. Checked before opening (a FIFO's open itself blocks) and on the opened file.
fn open_regular(path: &Path) -> Result<File, ReadError> {
    let not_regular = || {
        ReadError::Header(
            "not a regular file (a pipe, a device or a directory): only files are imported"
                .to_owned(),
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Bytes read at a time.
const BUFFER: usize = 1 << 20;

/// Opens `path` as a `kind` file of `size` bytes (what it had when the import started: a
/// file that grows meanwhile is read no further) and reads and maps its header (at most
/// `max_record` bytes); then, for a resume, checks that the file's first
/// `checkpoint.offset` bytes hash as recorded and goes on from there. A changed or
/// truncated file is `Changed`: nothing is read past its start.
pub(crate) fn open(
    path: &Path,
    kind: ImportKind,
    checkpoint: Option<&Checkpoint>,
    max_record: usize,
    size: u64,
) -> Result<OpenFile, ReadError> {
    let file = open_regular(path)?;
    let mut reader = RecordReader::new(
        BufReader::with_capacity(BUFFER, file.take(size)),
        0,
        1,
        blake3::Hasher::new(),
        max_record,
    );
    let mut header = Record::default();
    if !reader.read(&mut header)? {
        return Err(ReadError::Header(
            "the file is empty: no header line".to_owned(),
        ));
    }
    if let Some(bytes) = header.too_long {
        return Err(ReadError::Header(format!(
            "the header line has {bytes} bytes, over the {max_record}-byte limit"
        )));
    }
    let columns = Columns::new(&header, kind).map_err(ReadError::Header)?;
    let Some(checkpoint) = checkpoint else {
        return Ok(OpenFile { reader, columns });
    };
    // Hash the part an earlier run imported, counting its lines, then go on from its end.
    let mut file = open_regular(path)?;
    let (hasher, newlines) = hash_prefix(&mut file, checkpoint.offset)?;
    let hash = hasher.finalize().to_hex().to_string();
    if hash != checkpoint.prefix_hash {
        return Err(ReadError::Changed(format!(
            "its first {} bytes are not the ones imported before (the file was changed since)",
            checkpoint.offset
        )));
    }
    file.seek(SeekFrom::Start(checkpoint.offset))?;
    let reader = RecordReader::new(
        BufReader::with_capacity(BUFFER, file.take(size.saturating_sub(checkpoint.offset))),
        checkpoint.offset,
        newlines + 1,
        hasher,
        max_record,
    );
    Ok(OpenFile { reader, columns })
}

/// The hash of the first `len` bytes of `file`, and how many newlines they hold.
fn hash_prefix(file: &mut File, len: u64) -> Result<(blake3::Hasher, u64), ReadError> {
    let mut hasher = blake3::Hasher::new();
    let mut newlines = 0u64;
    let mut left = len;
    let mut buf = vec![0u8; BUFFER];
    while left > 0 {
        let want = usize::try_from(left.min(BUFFER as u64)).unwrap_or(BUFFER);
        let got = file.read(&mut buf[..want])?;
        if got == 0 {
            return Err(ReadError::Changed(format!(
                "it is shorter than the {len} bytes imported before (the file was truncated)"
            )));
        }
        hasher.update(&buf[..got]);
        newlines += buf[..got].iter().filter(|&&b| b == b'\n').count() as u64;
        left -= got as u64;
    }
    Ok((hasher, newlines))
}

/// What the parser thread needs besides the file.
pub(crate) struct ParserSetup {
    pub(crate) job: SyncJobType,
    pub(crate) batch_size: usize,
    pub(crate) max_record: usize,
    pub(crate) default_source: String,
}

/// Parses the rest of the file on a blocking thread, `batch_size` data lines per batch.
/// The channel holds two batches; dropping the receiver stops the thread.
pub(crate) fn spawn_parser(
    file: OpenFile,
    setup: ParserSetup,
) -> tokio::sync::mpsc::Receiver<Result<Batch, std::io::Error>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    drop(tokio::task::spawn_blocking(move || {
        let OpenFile {
            mut reader,
            columns,
        } = file;
        let batch_size = setup.batch_size.max(1);
        let mut record = Record::default();
        let mut rows = columns.batch(batch_size);
        let mut failures = Vec::new();
        let mut lines = 0u32;
        loop {
            let more = match reader.read(&mut record) {
                Ok(more) => more,
                Err(err) => {
                    let _ = sender.blocking_send(Err(err));
                    return;
                }
            };
            if more {
                lines += 1;
                if let Err(err) = parse_record(
                    &record,
                    &columns,
                    &mut rows,
                    setup.max_record,
                    &setup.default_source,
                ) {
                    failures.push(
                        SyncFailureRecord::new(
                            setup.job,
                            err.locator(),
                            err.to_string(),
                            utc_now(),
                        )
                        // Retrying cannot fix a line.
                        .with_max_retries(0),
                    );
                }
            }
            if lines > 0 && (!more || lines as usize >= batch_size) {
                let batch = Batch {
                    rows: std::mem::replace(&mut rows, columns.batch(batch_size)),
                    failures: std::mem::take(&mut failures),
                    lines: std::mem::take(&mut lines),
                    offset: reader.offset(),
                    prefix_hash: reader.prefix_hash(),
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
