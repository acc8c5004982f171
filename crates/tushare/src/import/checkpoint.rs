//! [`ImportCheckpoint`]: what an import records in its sync task's `config`, typed, so the
//! keys are written and read in one place.

use chrono::NaiveDate;
use data_engineering::SyncTask;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ImportKind;

/// The file an import reads and how far it got, as stored in `sync_tasks.config`.
///
/// At the start: the kind, the file's canonical path and its size. After each committed
/// batch: the byte offset where the committed part of the file ends and the BLAKE3 hash of
/// those bytes, which a resume checks before it seeks there. The JSON keys are those every
/// earlier stockdb wrote, so a task an older release left unfinished still resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCheckpoint {
    /// Always `csv`: an import's task, not other sync work.
    pub source: String,
    /// The file's kind.
    pub kind: ImportKind,
    /// Its canonical path.
    pub file: String,
    /// Its size when the import started.
    pub bytes: u64,
    /// Where the committed part of the file ends (after the last committed batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The BLAKE3 of the file's bytes before `offset`, in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_blake3: Option<String>,
    /// The day of an AkShare board file without dates, as the import was given it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_date: Option<NaiveDate>,
}

/// What one committed batch adds to the task's `config`.
#[derive(Serialize)]
struct Progress<'a> {
    offset: u64,
    prefix_blake3: &'a str,
}

impl ImportCheckpoint {
    /// The checkpoint of an import of `file` (`bytes` long) that has not committed yet.
    pub fn start(kind: ImportKind, file: String, bytes: u64) -> Self {
        Self {
            source: "csv".to_owned(),
            kind,
            file,
            bytes,
            offset: None,
            prefix_blake3: None,
            trade_date: None,
        }
    }

    /// The JSON stored as the task's `config` when the import starts.
    pub fn to_config(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// What a batch that ends at `offset`, the file's bytes before it hashing to
    /// `prefix_blake3`, merges into the task's `config`.
    pub fn after_batch(offset: u64, prefix_blake3: &str) -> Value {
        serde_json::to_value(Progress {
            offset,
            prefix_blake3,
        })
        .unwrap_or(Value::Null)
    }

    /// The `config` filter that finds the tasks of imports of `file`.
    pub fn of_file(file: &str) -> Value {
        serde_json::json!({ "file": file })
    }

    /// The checkpoint `task` recorded; `None` when its `config` is not an import's (other
    /// keys, such as a run's lease, are ignored).
    pub fn of_task(task: &SyncTask) -> Option<Self> {
        task.config
            .clone()
            .and_then(|config| serde_json::from_value(config).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_keys_are_those_earlier_releases_wrote() {
        let start = ImportCheckpoint::start(ImportKind::Daily, "/d/daily.csv".to_owned(), 99);
        assert_eq!(
            start.to_config(),
            serde_json::json!({"source": "csv", "kind": "daily", "file": "/d/daily.csv", "bytes": 99})
        );
        // The config after two batches, with a run's lease, as the repository merges it.
        let mut config = start.to_config();
        for (key, value) in [
            ("offset", serde_json::json!(40)),
            ("prefix_blake3", serde_json::json!("ab12")),
            ("lease", serde_json::json!("token")),
        ] {
            config[key] = value;
        }
        assert_eq!(
            ImportCheckpoint::after_batch(40, "ab12"),
            serde_json::json!({"offset": 40, "prefix_blake3": "ab12"})
        );
        let read: ImportCheckpoint = serde_json::from_value(config).unwrap();
        assert_eq!(read.offset, Some(40));
        assert_eq!(read.prefix_blake3.as_deref(), Some("ab12"));
        assert_eq!(read.bytes, 99);
    }
}
