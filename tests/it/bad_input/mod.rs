//! Bad input, table-driven: more than a hundred malformed inputs across the public API
//! and the CSV importer, one test per class of input, one file per context. Each is a
//! typed error (or, for a CSV line, a failure record) naming the field and the value,
//! and nothing of a failed call is written.

mod audit_logs;
mod board_csv;
mod config;
mod csv_lines;
mod llm_configs;
mod market;
mod sessions;
mod structure_csv;
mod sync_tasks;

// What the tests of every class use; each file takes them with `use super::*`.
use std::sync::atomic::AtomicBool;

use audit::{CallStatus, ExternalApiCallLog, LlmCallLog};
use chrono::{NaiveDate, NaiveDateTime};
use coordinator::{NodeExecution, NodeStatus, ResearchSession, SessionStatus};
use data_engineering::{
    StockDaily, StockFinance, StockInfo, SyncFailureRecord, SyncJobType, SyncTask, ThirdCode,
};
use llm_platform::{ApiKey, NewLlmConfig, SecretCipher};
use serde_json::json;
use shared_db::{DbConfig, InvalidInput, Page, RepoError, utc_now};
use test_support::TestDb;
use tushare::{ImportKind, ImportOptions, NoProgress, import_csv};

/// One case: what was tried, the field the error must name, a fragment of the value it
/// must show, and what happened.
pub(super) struct Outcome {
    what: String,
    field: &'static str,
    value: String,
    result: Result<(), RepoError>,
}

#[derive(Default)]
pub(super) struct Cases(Vec<Outcome>);

impl Cases {
    pub(super) fn check(
        &mut self,
        what: impl Into<String>,
        field: &'static str,
        value: impl Into<String>,
        result: Result<(), RepoError>,
    ) {
        self.0.push(Outcome {
            what: what.into(),
            field,
            value: value.into(),
            result,
        });
    }

    pub(super) fn check_input<T>(
        &mut self,
        what: impl Into<String>,
        field: &'static str,
        value: impl Into<String>,
        result: Result<T, InvalidInput>,
    ) {
        self.check(
            what,
            field,
            value,
            result.map(drop).map_err(RepoError::from),
        );
    }
}

pub(super) fn code() -> ThirdCode {
    ThirdCode::parse("000001.SZ").unwrap()
}

pub(super) fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

pub(super) fn stock_with(edit: impl FnOnce(&mut StockInfo)) -> StockInfo {
    let mut stock = StockInfo::new(code(), "000001", "平安银行");
    edit(&mut stock);
    stock
}

pub(super) fn bar_with(edit: impl FnOnce(&mut StockDaily)) -> StockDaily {
    let mut bar = StockDaily::new(code(), day("2024-01-02"));
    bar.close = Some(10.0);
    edit(&mut bar);
    bar
}

pub(super) fn report_with(edit: impl FnOnce(&mut StockFinance)) -> StockFinance {
    let mut report = StockFinance::new(code(), day("2024-04-20"), day("2024-03-31"));
    edit(&mut report);
    report
}

pub(super) fn at(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

pub(super) fn llm_call(edit: impl FnOnce(&mut LlmCallLog)) -> LlmCallLog {
    let mut call = LlmCallLog::new(
        "research",
        "deepseek",
        "deepseek-chat",
        "?",
        at("2024-06-03T10:00:00"),
    );
    call.prompt_tokens = Some(1);
    call.completion_tokens = Some(1);
    call.total_tokens = Some(2);
    call.temperature = 0.5;
    call.latency_ms = 10;
    edit(&mut call);
    call
}

pub(super) fn api_call(edit: impl FnOnce(&mut ExternalApiCallLog)) -> ExternalApiCallLog {
    let mut call = ExternalApiCallLog::new("tushare", "daily", at("2024-06-03T10:00:00"));
    call.status_code = Some(200);
    call.latency_ms = 10;
    edit(&mut call);
    call
}

impl Cases {
    /// Every case must have failed with `Invalid` naming its field and showing its value,
    /// and no error may show the test's secret.
    pub(super) fn judge(&self) {
        assert!(!self.0.is_empty(), "no cases");
        let mut wrong = Vec::new();
        for case in &self.0 {
            match &case.result {
                Err(RepoError::Invalid(invalid))
                    if invalid.field == case.field && invalid.value.contains(&case.value) => {}
                other => wrong.push(format!(
                    "{}: expected invalid {} showing {:?}, got {other:?}",
                    case.what, case.field, case.value
                )),
            }
            if let Err(err) = &case.result {
                let shown = format!("{err} {err:?}");
                assert!(
                    !shown.contains("sk-bad-input"),
                    "{}: a secret leaked: {shown}",
                    case.what
                );
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {} cases wrong:\n{}",
            wrong.len(),
            self.0.len(),
            wrong.join("\n")
        );
    }
}

/// Nothing of a failed call was written: every table stockdb manages is empty but for
/// `sessions` research sessions a test set up itself.
pub(super) async fn untouched(test_db: &TestDb, sessions: i64) {
    for table in stockdb::Stockdb::TABLES {
        let expected = if table == "research_sessions" {
            sessions
        } else {
            0
        };
        assert_eq!(
            test_db.count(table).await,
            expected,
            "{table} was written to"
        );
    }
}

/// One import file of a kind: its text (header first), the rows its good lines make, and a
/// fragment each bad line's failure record must hold, by file line.
pub(super) struct FileCase {
    pub(super) kind: ImportKind,
    pub(super) job: SyncJobType,
    pub(super) text: &'static str,
    pub(super) rows: u64,
    pub(super) bad: &'static [(u64, &'static str)],
}

/// Imports each case's file twice with the options `options` makes: the first stores its
/// good lines and records each bad one as a failure of the kind's job type naming its
/// line and field; the second changes nothing.
pub(super) async fn import_cases(
    db: &stockdb::Stockdb,
    cases: &[FileCase],
    options: impl Fn(&FileCase, &std::path::Path) -> ImportOptions,
) {
    let dir = tempfile::tempdir().unwrap();
    for case in cases {
        let file = dir.path().join(format!("{}.csv", case.kind.name()));
        std::fs::write(&file, case.text).unwrap();
        let options = options(case, &file);
        let (sync, stop) = (db.sync(), AtomicBool::new(false));
        let run = || import_csv(sync.as_ref(), &options, &NoProgress, &stop);
        let first = run().await.unwrap();
        let what = case.kind.name();
        assert_eq!(
            (first.rows, first.inserted, first.rejected),
            (case.rows, case.rows, case.bad.len() as u64),
            "{what}"
        );
        let again = run().await.unwrap();
        assert_eq!(
            (again.inserted, again.updated),
            (0, 0),
            "{what}: idempotent"
        );
        let failures = db
            .sync()
            .list_failures(Some(case.job), true, 100)
            .await
            .unwrap();
        // Each run records each bad line once.
        assert_eq!(failures.len(), 2 * case.bad.len(), "{what}");
        for (line, field) in case.bad {
            let prefix = format!("line {line}:");
            let message = failures
                .iter()
                .filter_map(|f| f.error_message.as_deref())
                .find(|m| m.starts_with(&prefix))
                .unwrap_or_else(|| panic!("{what}: no failure record for {prefix}"));
            assert!(message.contains(field), "{what}: {message:?} names {field}");
        }
    }
}
