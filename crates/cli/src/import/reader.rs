//! The reading side of an import: a blocking thread that streams the file, parses it in
//! batches and hands them over a bounded channel, so memory stays flat whatever the
//! file's size.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use data_engineering::{BatchRows, SyncFailureRecord, SyncJobType};
use shared_db::utc_now;

use super::parse::{Columns, ImportKind, parse_record};

/// One parsed batch of lines.
pub(crate) struct Batch {
    /// The good lines' rows.
    pub(crate) rows: BatchRows,
    /// A failure record per bad line.
    pub(crate) failures: Vec<SyncFailureRecord>,
    /// Data lines (records) the batch covers.
    pub(crate) lines: u32,
    /// Bytes of the file consumed once the batch's last line is read.
    pub(crate) bytes: u64,
}

/// The file could not be read as CSV past some point.
#[derive(Debug)]
pub(crate) struct ReadError {
    /// The physical line where reading stopped, when known.
    pub(crate) line: Option<u64>,
    /// What the CSV reader said.
    pub(crate) source: csv::Error,
}

/// Opens `path` for an import: a CSV reader whose header line is not consumed yet.
pub(crate) fn open(path: &Path) -> std::io::Result<csv::Reader<BufReader<File>>> {
    let file = File::open(path)?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        // Lines with the wrong number of fields become failure records, not an abort.
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file)))
}

/// Reads the header line of `reader` and maps it for a `kind` file.
pub(crate) fn read_header(
    reader: &mut csv::Reader<BufReader<File>>,
    kind: ImportKind,
) -> Result<Columns, String> {
    let mut header = csv::ByteRecord::new();
    match reader.read_byte_record(&mut header) {
        Ok(true) => Columns::new(&header, kind),
        Ok(false) => Err("the file is empty: no header line".to_owned()),
        Err(err) => Err(format!("cannot read the header line: {err}")),
    }
}

/// What the parser thread needs besides the reader.
pub(crate) struct ParserSetup {
    pub(crate) columns: Columns,
    pub(crate) kind: ImportKind,
    pub(crate) job: SyncJobType,
    pub(crate) batch_size: usize,
    pub(crate) default_source: String,
    /// Data lines an earlier run did; they are read past, not parsed.
    pub(crate) skip: u64,
}

/// Parses the rest of the file on a blocking thread, `batch_size` data lines per batch.
/// The channel holds two batches; dropping the receiver stops the thread.
pub(crate) fn spawn_parser(
    mut reader: csv::Reader<BufReader<File>>,
    setup: ParserSetup,
) -> tokio::sync::mpsc::Receiver<Result<Batch, ReadError>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    drop(tokio::task::spawn_blocking(move || {
        let batch_size = setup.batch_size.max(1);
        let mut record = csv::ByteRecord::new();
        let mut rows = setup.kind.batch(batch_size);
        let mut failures = Vec::new();
        let mut lines = 0u32;
        // Data lines read so far, the skipped ones included.
        let mut read = 0u64;
        loop {
            let more = match reader.read_byte_record(&mut record) {
                Ok(more) => more,
                Err(source) => {
                    let line = source.position().map(csv::Position::line);
                    let _ = sender.blocking_send(Err(ReadError { line, source }));
                    return;
                }
            };
            if more {
                read += 1;
                if read <= setup.skip {
                    continue;
                }
                lines += 1;
                let line = record.position().map_or(0, csv::Position::line);
                if let Err(err) = parse_record(
                    &record,
                    &setup.columns,
                    &mut rows,
                    line,
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
                    rows: std::mem::replace(&mut rows, setup.kind.batch(batch_size)),
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
