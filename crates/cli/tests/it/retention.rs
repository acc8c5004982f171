//! `stockdb retention apply`: a dry run shows what would go, a run without --yes and
//! without a terminal changes nothing, a confirmed run drops whole partitions, and a
//! session whose calls went says so.

use std::process::{Output, Stdio};

use chrono::{Datelike, Duration, Months, NaiveDate};
use test_support::TestDb;
use uuid::Uuid;

use crate::stockdb;

fn run(url: &str, args: &[&str]) -> Output {
    stockdb(url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn retention_drops_old_partitions_only_when_asked_and_says_what_sessions_lose() {
    let test_db = TestDb::new().await;
    let url = test_db.url();
    // The call lands in the partition the conversion made of the (then empty) log; the
    // run splits it into months first.
    let today = chrono::Utc::now().date_naive();
    let five_months_ago = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap()
        - Months::new(5)
        + Duration::days(2);
    let at = five_months_ago.and_hms_opt(9, 30, 0).unwrap();
    let session = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO research_sessions (id, symbol, status, created_at) \
         VALUES ($1, '600519.SH', 'completed', $2)",
    )
    .bind(session)
    .bind(at)
    .execute(test_db.db().pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO llm_call_logs (id, session_id, caller_module, model_name, vendor, \
             prompt_text, temperature, latency_ms, status, created_at) \
         VALUES ($1, $2, 'research', 'deepseek-chat', 'deepseek', '分析', 0.7, 800, 'success', $3)",
    )
    .bind(Uuid::new_v4())
    .bind(session)
    .bind(at)
    .execute(test_db.db().pool())
    .await
    .unwrap();
    // A call of a session its owner deleted: in the partition, not counted as a kept
    // session's (which sessions are kept is the coordinator's to say).
    sqlx::query(
        "INSERT INTO llm_call_logs (id, session_id, caller_module, model_name, vendor, \
             prompt_text, temperature, latency_ms, status, created_at) \
         VALUES ($1, $2, 'research', 'deepseek-chat', 'deepseek', '分析', 0.7, 800, 'success', $3)",
    )
    .bind(Uuid::new_v4())
    .bind(Uuid::new_v4())
    .bind(at)
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let partition = format!("llm_call_logs_{}", five_months_ago.format("%Y_%m"));

    let dry = run(url, &["retention", "apply", "--keep", "60d", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    let shown = text(&dry);
    assert!(
        shown.contains(&partition) && shown.contains("would drop (after split)"),
        "{shown}"
    );
    assert!(
        shown.contains("1 of its calls belong to 1 research sessions that are kept"),
        "{shown}"
    );
    assert_eq!(test_db.count("llm_call_logs").await, 2);

    let refused = run(url, &["retention", "apply", "--keep", "60d"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("nothing was changed"),
        "{}",
        text(&refused)
    );
    assert_eq!(test_db.count("llm_call_logs").await, 2);

    let done = run(url, &["retention", "apply", "--keep", "60d", "--yes"]);
    assert!(done.status.success(), "{}", text(&done));
    assert!(
        text(&done).contains(&format!("dropped  {partition} (2 rows)")),
        "{}",
        text(&done)
    );
    assert_eq!(test_db.count("llm_call_logs").await, 0);
    assert_eq!(test_db.count("research_sessions").await, 1);

    let show = run(url, &["sessions", "show", &session.to_string()]);
    assert!(show.status.success(), "{}", text(&show));
    assert!(
        text(&show).contains("was dropped by retention; this session's calls"),
        "{}",
        text(&show)
    );

    let bad = run(url, &["retention", "apply", "--keep", "0d", "--yes"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(text(&bad).contains("keep"), "{}", text(&bad));
}
