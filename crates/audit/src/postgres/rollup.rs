//! The daily rollups of both logs on PostgreSQL: a catch-up that is exact and idempotent,
//! and the split of a whole-day read into the days rolled up and the rows of the others.
//!
//! A day is rolled up from its rows in one go: its rollup rows are deleted and computed
//! again, and `audit_rollup_days` records how many calls it held. A later catch-up rolls a
//! day up again when its rows outnumber that count (a call saved late, by stockdb or any
//! other writer), or, for LLM calls, when a price was recorded after the day was rolled up
//! and in force before it ended (a price set for the past). A day with fewer rows than it
//! counted lost rows to retention: its rollup is kept, never computed from what is left.
//! So costs after retention are as priced when the day's rows were last seen: a price set
//! for a time whose rows are gone does not reprice it.

use chrono::{NaiveDate, NaiveDateTime};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

use super::partitions::literal;
use crate::domain::{RollupReport, TimeWindow};

/// The LLM call log.
pub(super) const LLM: &str = "llm_call_logs";
/// The external-API call log.
pub(super) const API: &str = "external_api_call_logs";

/// The columns of the `calls` CTE that `priced_calls.sql` prices, from `llm_call_logs`
/// (without an alias: the tables it is joined with name none of these).
pub(super) const CALL_COLUMNS: &str = "vendor, model_name, created_at, \
    created_at::date AS day, caller_module, coalesce(caller_agent, '') AS caller_agent, \
    coalesce(config_alias, '') AS config_alias, session_id, status, latency_ms, \
    coalesce(total_tokens, 0)::numeric AS total_tokens, \
    coalesce(prompt_tokens, 0)::numeric AS prompt_tokens, \
    coalesce(cached_prompt_tokens, 0)::numeric AS cached_prompt_tokens, \
    coalesce(completion_tokens, 0)::numeric AS completion_tokens, \
    coalesce(reasoning_tokens, 0)::numeric AS reasoning_tokens, \
    (cached_prompt_tokens IS NULL AND reasoning_tokens IS NULL) AS no_breakdown";

/// Said first in the transaction of a statement built on `priced`: its cost estimate
/// (a join over the partitioned log) turns JIT compilation on, which took 2 s of a read
/// of a year's rollup that runs in 10 ms without it (10,000,000 calls).
pub(super) const NO_JIT: &str = "SET LOCAL jit = off";

/// The CTEs after `calls` that price every call at its own time (`priced`).
pub(super) const PRICED_CALLS: &str = include_str!("priced_calls.sql");

/// The measures of an LLM rollup row, as aggregates of `priced` and in the rollup tables'
/// column order.
const LLM_MEASURES: &str = "count(*), count(*) FILTER (WHERE status = 'failed'), \
    count(*) FILTER (WHERE no_breakdown), sum(prompt_tokens), sum(cached_prompt_tokens), \
    sum(completion_tokens), sum(reasoning_tokens), sum(total_tokens), sum(latency_ms), sum(cost)";

/// The dimensions of an LLM rollup row after its day (and session).
const LLM_DIMENSIONS: &str = "vendor, model_name, caller_module, caller_agent, config_alias";

/// Dates as an SQL array literal: typed values, so nothing to escape.
fn date_array(days: &[NaiveDate]) -> String {
    let items: Vec<String> = days
        .iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect();
    format!("'{{{}}}'::date[]", items.join(","))
}

/// Timestamps as an SQL array literal: typed values, so nothing to escape.
fn timestamp_array(times: impl Iterator<Item = chrono::NaiveDateTime>) -> String {
    let items: Vec<String> = times
        .map(|t| format!("\"{}\"", t.format("%Y-%m-%d %H:%M:%S%.6f")))
        .collect();
    format!("'{{{}}}'::timestamp[]", items.join(","))
}

/// The days of `log` within `[from, to)` whose rollup is missing or stale (see the module
/// docs), each with the calls it holds now, oldest first.
async fn stale_days(
    conn: &impl ConnectionTrait,
    log: &str,
    from: Option<NaiveDateTime>,
    to: NaiveDateTime,
) -> Result<Vec<(NaiveDate, i64)>, DbErr> {
    let lower = from.map_or_else(|| "'-infinity'::timestamp".to_owned(), literal);
    let repriced = if log == LLM {
        "OR (s.calls = d.calls AND EXISTS (SELECT 1 FROM llm_model_prices p \
             WHERE p.created_at >= d.rolled_at AND p.effective_from < s.day + 1))"
    } else {
        ""
    };
    let sql = format!(
        "SELECT s.day, s.calls FROM (\
             SELECT created_at::date AS day, count(*) AS calls FROM {log} \
             WHERE created_at >= {lower} AND created_at < {upper} GROUP BY 1) s \
         LEFT JOIN audit_rollup_days d ON d.log = '{log}' AND d.day = s.day \
         WHERE d.day IS NULL OR s.calls > d.calls {repriced} ORDER BY s.day",
        upper = literal(to),
    );
    let rows = conn
        .query_all_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
        .collect()
}

/// The statements that roll `days` of `log` up again from their rows and record their
/// `calls`.
fn roll_statements(log: &str, days: &[(NaiveDate, i64)]) -> Vec<String> {
    let dates: Vec<NaiveDate> = days.iter().map(|(day, _)| *day).collect();
    let counts: Vec<String> = days.iter().map(|(_, calls)| calls.to_string()).collect();
    let array = date_array(&dates);
    let mut statements = Vec::with_capacity(4);
    if log == LLM {
        statements.push(format!(
            "DELETE FROM llm_call_daily WHERE day = ANY({array})"
        ));
        statements.push(format!(
            "DELETE FROM llm_session_daily WHERE day = ANY({array})"
        ));
        statements.push(format!(
            "WITH calls AS (\
                 SELECT {CALL_COLUMNS} FROM unnest({array}) AS wanted(d) \
                 JOIN llm_call_logs ON created_at >= wanted.d AND created_at < wanted.d + 1), \
             {PRICED_CALLS}, \
             daily AS (\
                 INSERT INTO llm_call_daily \
                 SELECT day, {LLM_DIMENSIONS}, coalesce(currency, ''), {LLM_MEASURES} \
                 FROM priced GROUP BY day, {LLM_DIMENSIONS}, currency) \
             INSERT INTO llm_session_daily \
             SELECT day, session_id, coalesce(currency, ''), {LLM_MEASURES} \
             FROM priced WHERE session_id IS NOT NULL GROUP BY day, session_id, currency"
        ));
    } else {
        statements.push(format!(
            "DELETE FROM external_api_call_daily WHERE day = ANY({array})"
        ));
        statements.push(format!(
            "INSERT INTO external_api_call_daily \
             SELECT created_at::date, service_name, operation, count(*), \
                    count(*) FILTER (WHERE status = 'failed'), sum(latency_ms) \
             FROM unnest({array}) AS wanted(d) \
             JOIN external_api_call_logs ON created_at >= wanted.d AND created_at < wanted.d + 1 \
             GROUP BY 1, 2, 3"
        ));
    }
    statements.push(format!(
        "INSERT INTO audit_rollup_days (log, day, calls, rolled_at) \
         SELECT '{log}', day, calls, now() AT TIME ZONE 'utc' \
         FROM unnest({array}, '{{{counts}}}'::bigint[]) AS rolled(day, calls) \
         ON CONFLICT (log, day) DO UPDATE SET calls = EXCLUDED.calls, rolled_at = EXCLUDED.rolled_at",
        counts = counts.join(","),
    ));
    statements
}

/// Rolls up, on `conn`, every day of both logs within `[from, to)` whose rollup is missing
/// or stale. Exact when `conn` sees one snapshot of those days' rows (a `REPEATABLE READ`
/// transaction, or rows no one can change: a partition locked to be dropped); a catch-up
/// that races a writer of the same day counts what its snapshot held, and the next one
/// sees the day's rows outnumber that and rolls it up again.
pub(super) async fn catch_up(
    conn: &impl ConnectionTrait,
    from: Option<NaiveDateTime>,
    to: NaiveDateTime,
) -> Result<RollupReport, DbErr> {
    let mut report = RollupReport::default();
    // Before schema version 10 (stockdb deployed ahead of its migration) there is no
    // rollup to keep: retention drops as it did.
    if !has_rollup(conn).await? {
        return Ok(report);
    }
    // Both callers hold a transaction. JIT compiling took 2.4 s of 4.4 s for a month of
    // 82,000 calls; sorts and hashes spill to disk at the default `work_mem`.
    conn.execute_unprepared(&format!("{NO_JIT}; SET LOCAL work_mem = '64MB'"))
        .await?;
    for log in [LLM, API] {
        let days = stale_days(conn, log, from, to).await?;
        if days.is_empty() {
            continue;
        }
        // A month of days a statement: the planner sizes each well, and the memory a
        // statement needs stays that of a month however long the history.
        for chunk in days.chunks(31) {
            for sql in roll_statements(log, chunk) {
                conn.execute_unprepared(&sql).await?;
            }
        }
        let calls = days.iter().map(|(_, calls)| *calls).sum::<i64>();
        let (day_count, call_count) = (days.len() as u64, u64::try_from(calls).unwrap_or(0));
        if log == LLM {
            (report.llm_days, report.llm_calls) = (day_count, call_count);
        } else {
            (report.api_days, report.api_calls) = (day_count, call_count);
        }
    }
    Ok(report)
}

/// Whether the database has the rollups (schema version 10): stockdb may run ahead of
/// its migration, and the benchmark reads older schemas with this code.
async fn has_rollup(conn: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(conn
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT to_regclass('audit_rollup_days') IS NOT NULL",
        ))
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?
        .unwrap_or(false))
}

/// The days of `log` within `[from, to)` the rollup covers, oldest first (none before
/// schema version 10).
async fn rolled_days(
    conn: &impl ConnectionTrait,
    log: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDate>, DbErr> {
    if from >= to || !has_rollup(conn).await? {
        return Ok(Vec::new());
    }
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT day FROM audit_rollup_days WHERE log = $1 AND day >= $2 AND day < $3 \
             ORDER BY day",
            [log.into(), from.into(), to.into()],
        ))
        .await?;
    rows.iter().map(|row| row.try_get_by_index(0)).collect()
}

/// A window as a read takes it: the whole days `log`'s rollup covers, read from the
/// rollup, and the spans of the rest, read from the rows.
pub(super) struct WindowSplit {
    /// The rolled days, oldest first.
    pub(super) days: Vec<NaiveDate>,
    spans: Vec<(NaiveDateTime, NaiveDateTime)>,
}

impl WindowSplit {
    /// `window` split by the days of `log` rolled up now, as `conn` sees them.
    pub(super) async fn of(
        conn: &impl ConnectionTrait,
        log: &str,
        window: TimeWindow,
    ) -> Result<Self, DbErr> {
        let (first, last) = whole_days(window.from, window.to);
        let days = rolled_days(conn, log, first, last).await?;
        let spans = spans_without(window.from, window.to, &days);
        Ok(Self { days, spans })
    }

    /// The `FROM` items of the rows outside the rolled days: `log` joined to the spans.
    pub(super) fn rows_from(&self, log: &str) -> String {
        format!(
            "unnest({}, {}) AS span(lo, hi) \
             JOIN {log} ON created_at >= span.lo AND created_at < span.hi",
            timestamp_array(self.spans.iter().map(|s| s.0)),
            timestamp_array(self.spans.iter().map(|s| s.1)),
        )
    }

    /// The rolled days as an SQL array.
    pub(super) fn days_array(&self) -> String {
        date_array(&self.days)
    }
}

/// `[from, to)` without the whole `days` (sorted, each within it): the spans a read takes
/// from the rows.
fn spans_without(
    from: NaiveDateTime,
    to: NaiveDateTime,
    days: &[NaiveDate],
) -> Vec<(NaiveDateTime, NaiveDateTime)> {
    let mut spans = Vec::new();
    let mut start = from;
    for day in days {
        let day_start = day.and_time(chrono::NaiveTime::MIN);
        if day_start > start {
            spans.push((start, day_start));
        }
        start = start.max(day_start + chrono::Duration::days(1));
    }
    if start < to {
        spans.push((start, to));
    }
    spans
}

/// The whole days within `[from, to)`: from the first midnight at or after `from` to the
/// last at or before `to` (empty when there is none).
fn whole_days(from: NaiveDateTime, to: NaiveDateTime) -> (NaiveDate, NaiveDate) {
    let first = if from.time() == chrono::NaiveTime::MIN {
        from.date()
    } else {
        from.date() + chrono::Duration::days(1)
    };
    (first, to.date().max(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap_or_default()
    }

    fn at(t: &str) -> NaiveDateTime {
        t.parse().unwrap_or_default()
    }

    #[test]
    fn a_read_takes_from_the_rows_exactly_what_the_rollup_does_not_cover() {
        let (from, to) = (at("2026-01-01T12:00:00"), at("2026-01-06T06:00:00"));
        assert_eq!(whole_days(from, to), (day("2026-01-02"), day("2026-01-06")));
        let rolled = [day("2026-01-02"), day("2026-01-03"), day("2026-01-05")];
        assert_eq!(
            spans_without(from, to, &rolled),
            vec![
                (from, at("2026-01-02T00:00:00")),
                (at("2026-01-04T00:00:00"), at("2026-01-05T00:00:00")),
                (at("2026-01-06T00:00:00"), to),
            ]
        );
        assert_eq!(spans_without(from, to, &[]), vec![(from, to)]);
        let inside = (at("2026-01-03T01:00:00"), at("2026-01-03T02:00:00"));
        assert_eq!(
            whole_days(inside.0, inside.1),
            (day("2026-01-04"), day("2026-01-04"))
        );
    }

    #[test]
    fn dates_become_an_array_literal() {
        assert_eq!(
            date_array(&[day("2026-01-02"), day("2026-01-03")]),
            "'{2026-01-02,2026-01-03}'::date[]"
        );
    }
}
