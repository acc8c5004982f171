//! CSV records out of a byte stream, with what a resumable import needs to know about
//! each: its physical line, the exact byte offset where it ends, and the hash of every
//! byte before that offset. Records longer than a cap are reported and skipped, never
//! held in memory whole.

use std::io::BufRead;

use csv_core::ReadRecordResult;

/// One record's fields, as raw bytes.
#[derive(Debug, Default)]
pub(crate) struct Record {
    data: Vec<u8>,
    ends: Vec<usize>,
    filled: usize,
    fields: usize,
    /// The physical line the record starts on (the file's first line is 1).
    pub(crate) line: u64,
    /// Bytes of the record when it was longer than the cap; its fields are then empty.
    pub(crate) too_long: Option<u64>,
}

impl Record {
    /// The number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields
    }

    /// The fields, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let ends = &self.ends[..self.fields];
        ends.iter().enumerate().map(|(idx, &end)| {
            let start = if idx == 0 { 0 } else { ends[idx - 1] };
            &self.data[start..end]
        })
    }

    /// A record of `fields`, for tests.
    #[cfg(test)]
    pub(crate) fn of(fields: &[&str]) -> Self {
        let mut record = Self::default();
        for field in fields {
            record.data.extend_from_slice(field.as_bytes());
            record.ends.push(record.data.len());
        }
        record.filled = record.data.len();
        record.fields = fields.len();
        record
    }
}

/// The most physical lines one record may span. A quoted field may hold newlines, but a
/// quote left open by mistake swallows the rest of the file as one field: past this many
/// lines the read fails, naming the line the record starts on, rather than a whole file
/// becoming one rejected line.
pub(crate) const MAX_RECORD_LINES: u64 = 100;

/// Reads records from `input`, hashing every byte it consumes.
pub(crate) struct RecordReader<R> {
    input: R,
    parser: csv_core::Reader,
    /// Bytes consumed since the start of the file.
    offset: u64,
    hasher: blake3::Hasher,
    last_byte: u8,
    max_record: usize,
}

impl<R: BufRead> RecordReader<R> {
    /// A reader of `input`, which starts `offset` bytes into its file, on physical line
    /// `line`, after bytes whose hash state is `hasher`; records over `max_record` bytes
    /// are skipped.
    pub(crate) fn new(
        input: R,
        offset: u64,
        line: u64,
        hasher: blake3::Hasher,
        max_record: usize,
    ) -> Self {
        let mut parser = csv_core::Reader::new();
        parser.set_line(line);
        Self {
            input,
            parser,
            offset,
            hasher,
            last_byte: b'\n',
            max_record,
        }
    }

    /// Bytes consumed since the start of the file: where the last record read ends.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The hash of every byte consumed since the start of the file, as hex.
    pub(crate) fn prefix_hash(&self) -> String {
        self.hasher.finalize().to_hex().to_string()
    }

    /// Reads the next record into `record`; false at the end of the input.
    pub(crate) fn read(&mut self, record: &mut Record) -> std::io::Result<bool> {
        record.filled = 0;
        record.fields = 0;
        record.too_long = None;
        let mut skipped = 0u64;
        if record.data.is_empty() {
            record.data.resize(4 * 1024, 0);
        }
        if record.ends.is_empty() {
            record.ends.resize(64, 0);
        }
        let first_line = self.parser.line();
        loop {
            let input = self.input.fill_buf()?;
            let (result, nin, nout, nend) = self.parser.read_record(
                input,
                &mut record.data[record.filled..],
                &mut record.ends[record.fields..],
            );
            self.hasher.update(&input[..nin]);
            if let Some(&last) = input[..nin].last() {
                self.last_byte = last;
            }
            self.offset += nin as u64;
            self.input.consume(nin);
            // csv_core counts field ends from the record's start across calls.
            record.filled += nout;
            record.fields += nend;
            if self.parser.line().saturating_sub(first_line) > MAX_RECORD_LINES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "line {first_line}: a record starting here runs on past \
                         {MAX_RECORD_LINES} lines (a quote left open?); the import stops at \
                         it, keeping the batches committed before it"
                    ),
                ));
            }
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull
                    if record.filled + record.fields * 8 < self.max_record =>
                {
                    let (data, ends) = (record.data.len(), record.ends.len());
                    if result == ReadRecordResult::OutputFull {
                        record.data.resize(data * 2, 0);
                    } else {
                        record.ends.resize(ends * 2, 0);
                    }
                }
                ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                    // Over the cap: count what is read and keep none of it.
                    skipped += record.filled as u64;
                    record.filled = 0;
                    record.fields = 0;
                    record.too_long = Some(skipped);
                }
                ReadRecordResult::Record => {
                    let newlines = record.data[..record.filled]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count() as u64;
                    let last_line = if self.last_byte == b'\n' {
                        self.parser.line() - 1
                    } else {
                        self.parser.line()
                    };
                    record.line = last_line.saturating_sub(newlines);
                    if let Some(skipped) = &mut record.too_long {
                        *skipped += record.filled as u64;
                        record.filled = 0;
                        record.fields = 0;
                    }
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8], max: usize) -> Vec<(u64, Vec<String>, Option<u64>, u64)> {
        let mut reader = RecordReader::new(text, 0, 1, blake3::Hasher::new(), max);
        let mut record = Record::default();
        let mut out = Vec::new();
        while reader.read(&mut record).unwrap() {
            let fields = record
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((record.line, fields, record.too_long, reader.offset()));
        }
        out
    }

    #[test]
    fn records_know_their_physical_line_and_end() {
        let text = b"a,b\n1,\"x\ny\"\n\n2,z\r\n3,w";
        let got = records(text, 1 << 20);
        assert_eq!(
            got,
            [
                (1, vec!["a".into(), "b".into()], None, 4),
                (2, vec!["1".into(), "x\ny".into()], None, 12),
                (5, vec!["2".into(), "z".into()], None, 17),
                (6, vec!["3".into(), "w".into()], None, 21),
            ]
        );
    }

    #[test]
    fn long_records_are_skipped_not_held() {
        let long = "x".repeat(50_000);
        let text = format!("a,b\n1,{long}\n2,y\n");
        let got = records(text.as_bytes(), 10_000);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].2, Some(50_001), "the long record's size");
        assert!(got[1].1.is_empty());
        assert_eq!(
            (got[2].0, got[2].1.clone()),
            (3, vec!["2".into(), "y".into()])
        );
    }

    #[test]
    fn the_hash_covers_exactly_the_bytes_consumed() {
        let text = b"a,b\n1,2\n3,4\n";
        let mut reader = RecordReader::new(&text[..], 0, 1, blake3::Hasher::new(), 1 << 20);
        let mut record = Record::default();
        assert!(reader.read(&mut record).unwrap());
        assert!(reader.read(&mut record).unwrap());
        assert_eq!(reader.offset(), 8);
        assert_eq!(
            reader.prefix_hash(),
            blake3::hash(&text[..8]).to_hex().to_string()
        );
    }

    #[test]
    fn a_reader_can_start_mid_file() {
        let text = b"a,b\n1,2\n3,4\n";
        let mut hasher = blake3::Hasher::new();
        hasher.update(&text[..8]);
        let mut reader = RecordReader::new(&text[8..], 8, 3, hasher, 1 << 20);
        let mut record = Record::default();
        assert!(reader.read(&mut record).unwrap());
        assert_eq!((record.line, reader.offset()), (3, 12));
        assert_eq!(
            reader.prefix_hash(),
            blake3::hash(text).to_hex().to_string()
        );
    }
}
