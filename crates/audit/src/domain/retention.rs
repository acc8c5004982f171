//! Monthly partitions of the audit logs and their retention.
//!
//! Both logs are range-partitioned by `created_at` (schema version 8): one partition a
//! month, named `<table>_YYYY_MM`, plus the first one, `<table>_before_YYYY_MM`, which
//! holds every row the table had when it was converted (from `MINVALUE`). stockdb makes
//! partitions ahead of time ([`RetentionRepository::ensure_partitions`], which `stockdb
//! retention apply` runs, and a save that meets a month without one makes it and tries
//! again), so a write never fails for want of one.
//!
//! [`RetentionRepository::ensure_partitions`]: crate::RetentionRepository::ensure_partitions
//! [`RetentionRepository::horizon`]: crate::RetentionRepository::horizon
//!
//! Retention works on whole partitions only: a partition whose every row is older than
//! the horizon is dropped (`DROP TABLE`, no row-by-row delete); one older than the shorter
//! blanking horizon has its text blanked by one statement (the numbers stay, so statistics
//! and costs still count those calls). A partition that straddles a horizon is kept whole
//! until it is entirely past it, so rows may live up to a month longer than asked, never
//! shorter.
//!
//! Research sessions are not partitioned and retention does not delete them: a session
//! whose calls were in a dropped partition keeps its record and node executions and loses
//! those calls. The plan lists a dropped partition's calls per session
//! (`calls_by_session`), from which the composition (`stockdb::Retention`, which asks the
//! sessions' owner which are still stored) counts what kept sessions lose, and
//! [`RetentionRepository::horizon`] tells readers that calls
//! before it are gone, so that an empty call list of an old session is never mistaken for
//! a session that made no calls.

use chrono::NaiveDateTime;
use serde::Serialize;
use shared_db::InvalidInput;

/// Months of partitions maintenance makes ahead of the current one.
pub const MONTHS_AHEAD: u32 = 3;

/// How long audit history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Partitions whose every row is older than this many days are dropped.
    pub keep_days: u32,
    /// Partitions whose every row is older than this many days (fewer than `keep_days`)
    /// have their prompt, completion and response text blanked; `None` blanks nothing.
    pub blank_after_days: Option<u32>,
}

impl RetentionPolicy {
    /// Checks the policy: `keep_days` at least 1, `blank_after_days` at least 1 and fewer
    /// than `keep_days`.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.keep_days == 0 {
            return Err(InvalidInput::new("keep", "0d", "must be 1 day or more"));
        }
        if let Some(blank) = self.blank_after_days
            && (blank == 0 || blank >= self.keep_days)
        {
            return Err(InvalidInput::new(
                "blank_after",
                format!("{blank}d"),
                format!(
                    "must be at least 1 day and shorter than keep ({}d)",
                    self.keep_days
                ),
            ));
        }
        Ok(())
    }
}

/// What happens to one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionAction {
    /// Kept as it is.
    Keep,
    /// Text blanked; rows kept.
    Blank,
    /// Dropped with its rows.
    Drop,
    /// The partition the conversion to schema version 8 made of a table's rows: split
    /// into one partition a month (listed after it, `pending`) before anything else.
    Split,
}

/// One partition of an audit log and what retention does with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedPartition {
    /// `llm_call_logs` or `external_api_call_logs`.
    pub table: &'static str,
    /// The partition's name.
    pub partition: String,
    /// Its lower bound (`None`: from the beginning of time).
    pub from: Option<NaiveDateTime>,
    /// Its upper bound (exclusive); `None` for the default partition, which holds the rows
    /// of months that have no partition of their own until maintenance moves them there.
    pub to: Option<NaiveDateTime>,
    /// What retention does with it.
    pub action: PartitionAction,
    /// A month of the converted partition, not a partition yet: its split makes it.
    pub pending: bool,
    /// Its rows, counted for a partition to drop; for one to blank, its rows that still
    /// hold text (none left: the partition is kept); the planner's estimate for one kept.
    pub rows: u64,
    /// Its size on disk, with indexes and TOAST, in bytes.
    pub bytes: u64,
    /// Of a partition to drop: its calls per research session (calls without a session
    /// are not listed). Not serialised: a month may hold many sessions.
    #[serde(skip)]
    pub calls_by_session: Vec<SessionCalls>,
    /// Of a partition to drop: its calls that belong to research sessions still stored.
    /// Sessions are the coordinator's: this context leaves it 0 and the composition
    /// (`stockdb`) counts it with [`PlannedPartition::count_stored_sessions`].
    pub calls_of_stored_sessions: u64,
    /// Of a partition to drop: how many stored research sessions those calls belong to
    /// (counted like `calls_of_stored_sessions`).
    pub stored_sessions: u64,
}

/// How many calls of one research session a partition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCalls {
    /// The session.
    pub session_id: uuid::Uuid,
    /// Its calls in the partition.
    pub calls: u64,
}

impl PlannedPartition {
    /// Fills `calls_of_stored_sessions` and `stored_sessions` from `is_stored`, which
    /// says whether a session is still stored.
    pub fn count_stored_sessions(&mut self, is_stored: impl Fn(&uuid::Uuid) -> bool) {
        let stored = self
            .calls_by_session
            .iter()
            .filter(|entry| is_stored(&entry.session_id));
        let (calls, sessions) = stored.fold((0, 0), |(calls, sessions), entry| {
            (calls + entry.calls, sessions + 1)
        });
        self.calls_of_stored_sessions = calls;
        self.stored_sessions = sessions;
    }
}

impl RetentionPlan {
    /// Every session whose calls a partition to drop holds, each once.
    pub fn sessions_losing_calls(&self) -> Vec<uuid::Uuid> {
        let mut ids: Vec<uuid::Uuid> = self
            .with_action(PartitionAction::Drop)
            .flat_map(|p| p.calls_by_session.iter().map(|entry| entry.session_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// What retention would do (a dry run) or did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionPlan {
    /// When the plan was made (UTC).
    pub now: NaiveDateTime,
    /// Partitions entirely before this are dropped.
    pub drop_before: NaiveDateTime,
    /// Partitions entirely before this have their text blanked.
    pub blank_before: Option<NaiveDateTime>,
    /// Every partition of both logs, oldest first per table.
    pub partitions: Vec<PlannedPartition>,
    /// What maintenance did first (by `apply` only): partitions made, rows moved, splits.
    pub maintenance: Option<MaintenanceReport>,
}

/// What partition maintenance did: the work that keeps every row in a monthly partition
/// and months ready ahead of the clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MaintenanceReport {
    /// Monthly partitions made: ahead of the clock, for rows the default partitions held,
    /// and by splits.
    pub created: Vec<String>,
    /// Rows moved out of the default partitions into their months.
    pub moved_from_default: u64,
    /// The converted partitions split into months.
    pub split: Vec<SplitReport>,
    /// The closed days rolled up (see [`RollupReport`]).
    pub rolled_up: RollupReport,
}

/// What a rollup catch-up did: the days of each log whose rollup was missing or stale
/// (calls saved late, or a price recorded since for a time the day's calls ran), rolled up
/// again from their rows, and the calls those days hold. Zero when every closed day was
/// current: the catch-up is idempotent.
///
/// The daily rollups (`llm_call_daily`, `llm_session_daily`, `external_api_call_daily`)
/// cover the days `audit_rollup_days` lists; reads over whole days use them for those days
/// and the rows for the others, and retention never drops a partition before its days
/// are rolled up (in the transaction that drops it), so costs and counts outlive the rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RollupReport {
    /// LLM-call days rolled up.
    pub llm_days: u64,
    /// The calls of those days.
    pub llm_calls: u64,
    /// External-API-call days rolled up.
    pub api_days: u64,
    /// The calls of those days.
    pub api_calls: u64,
}

impl RollupReport {
    /// Adds what another run did.
    pub fn add(&mut self, other: Self) {
        self.llm_days += other.llm_days;
        self.llm_calls += other.llm_calls;
        self.api_days += other.api_days;
        self.api_calls += other.api_calls;
    }
}

/// One converted partition split into months.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitReport {
    /// The partition that was split (and then dropped).
    pub partition: String,
    /// The monthly partitions that replaced it.
    pub months: Vec<String>,
    /// Rows it held, all now in those months.
    pub rows: u64,
}

/// Where one audit log's partitions stand: what health reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionStatus {
    /// `llm_call_logs` or `external_api_call_logs`.
    pub table: &'static str,
    /// The upper bound of its latest monthly partition: rows dated from then on go to the
    /// default partition until maintenance makes their month.
    pub ready_until: Option<NaiveDateTime>,
    /// Rows its default partition holds (dated in months without a partition).
    pub rows_in_default: u64,
    /// The converted partition, when it holds rows and awaits its split.
    pub converted: Option<String>,
}

impl RetentionPlan {
    /// The partitions with `action`.
    pub fn with_action(&self, action: PartitionAction) -> impl Iterator<Item = &PlannedPartition> {
        self.partitions.iter().filter(move |p| p.action == action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_checked() {
        let policy = |keep, blank| RetentionPolicy {
            keep_days: keep,
            blank_after_days: blank,
        };
        assert!(policy(90, Some(30)).validate().is_ok());
        assert_eq!(policy(0, None).validate().unwrap_err().field, "keep");
        assert_eq!(
            policy(30, Some(30)).validate().unwrap_err().field,
            "blank_after"
        );
    }
}
