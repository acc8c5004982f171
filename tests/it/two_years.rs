//! Two years of a database shared with the earlier service, in a minute: the clock is
//! injected and moved a day at a time, not the machine's. Every simulated day stockdb
//! imports the day's bars and saves calls through its repositories, and the earlier
//! service writes its sessions, nodes and calls as its repositories do (plain `INSERT`s:
//! its columns and defaults, no partition management). Retention runs monthly (but for
//! four months an operator forgot), version 9 is applied in month 6, the encryption key
//! is rotated in month 12. At the end: no write failed, every row written is stored or
//! was reported dropped, and statistics and costs over the kept window equal what the
//! rows written say.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use migration::MigrationRunner;
use shared_db::{Clock, ManualClock, Page};
use stockdb::Stockdb;
use stockdb::audit::{
    CostBy, CostScope, ExternalApiCallLog, LlmCallFilter, LlmCallLog, ModelPrice, PartitionAction,
    RetentionPolicy, TimeWindow,
};
use stockdb::llm_platform::{ApiKey, NewLlmConfig, SecretCipher};
use test_support::TestDb;
use tushare::{ImportKind, ImportOptions, NoProgress, import_csv};
use uuid::Uuid;

/// One LLM call as written, for the figures the end compares with.
#[derive(Debug, Clone)]
struct Written {
    model: &'static str,
    created_at: NaiveDateTime,
    prompt: i64,
    completion: i64,
    failed: bool,
}

/// The prices the test sets: 2 / 8 per million from the start, 1 / 4 from day 270.
fn price_at(at: NaiveDateTime, start: NaiveDateTime) -> (f64, f64) {
    if at >= start + Duration::days(270) {
        (1.0, 4.0)
    } else {
        (2.0, 8.0)
    }
}

/// The earlier service's writes of one research run at `at`, as its repositories make
/// them (`PgResearchSessionRepository`, `PgLLMCallLogRepository`,
/// `PgExternalAPICallLogRepository`: one commit each, `created_at` from `utcnow()`, the
/// real model never recorded, tokens unknown).
async fn the_services_run(pool: &sqlx::PgPool, at: NaiveDateTime, day: i64) -> [Uuid; 2] {
    let session = Uuid::new_v4();
    let run = |sql: &'static str| sqlx::query(sql);
    run(
        "INSERT INTO research_sessions (id, symbol, status, selected_experts, options, \
             trigger_source, created_at, completed_at, duration_ms, retry_count, \
             parent_session_id) \
         VALUES ($1, '600519.SH', 'running', '[\"technical\", \"fundamental\"]'::jsonb, \
             '{\"depth\": 2}'::jsonb, 'api', $2, NULL, NULL, 0, NULL)",
    )
    .bind(session)
    .bind(at)
    .execute(pool)
    .await
    .unwrap();
    let mut calls = [Uuid::nil(); 2];
    for (idx, agent) in ["technical_agent", "valuation_agent"].iter().enumerate() {
        let call = Uuid::new_v4();
        run(
            "INSERT INTO llm_call_logs (id, session_id, caller_module, caller_agent, \
                 model_name, vendor, prompt_text, system_message, completion_text, \
                 prompt_tokens, completion_tokens, total_tokens, temperature, latency_ms, \
                 status, error_message, created_at) \
             VALUES ($1, $2, 'research', $3, 'routed', 'llm_platform', '分析 600519.SH', \
                 'you are an analyst', '结论', NULL, NULL, NULL, 0.7, $4, 'success', NULL, $5)",
        )
        .bind(call)
        .bind(session)
        .bind(*agent)
        .bind(i32::try_from(500 + day % 700).unwrap())
        .bind(at + Duration::seconds(idx as i64 + 1))
        .execute(pool)
        .await
        .unwrap();
        calls[idx] = call;
        run(
            "INSERT INTO node_executions (id, session_id, node_type, status, result_data, \
                 narrative_report, error_type, error_message, started_at, completed_at, \
                 duration_ms) \
             VALUES (gen_random_uuid(), $1, $2, 'success', '{\"score\": 0.70}'::jsonb, \
                 '报告', NULL, NULL, $3, $3, 1000)",
        )
        .bind(session)
        .bind(*agent)
        .bind(at + Duration::seconds(idx as i64 + 1))
        .execute(pool)
        .await
        .unwrap();
    }
    run("INSERT INTO external_api_call_logs (id, session_id, service_name, operation, \
             request_params, response_data, status_code, latency_ms, status, error_message, \
             created_at) \
         VALUES (gen_random_uuid(), $1, 'bochai', 'web-search', \
             '{\"query\": \"贵州茅台\", \"freshness\": \"oneWeek\", \"summary\": true, \"count\": 10}'::jsonb, \
             '{\"results\": []}', 200, 120, 'success', NULL, $2)")
    .bind(session)
    .bind(at + Duration::seconds(3))
    .execute(pool)
    .await
    .unwrap();
    run(
        "UPDATE research_sessions SET status = 'completed', completed_at = $2, \
             duration_ms = 3000 WHERE id = $1",
    )
    .bind(session)
    .bind(at + Duration::seconds(3))
    .execute(pool)
    .await
    .unwrap();
    calls
}

fn day_file(dir: &std::path::Path, day: NaiveDate, n: i64) -> std::path::PathBuf {
    let path = dir.join("daily.csv");
    let mut text = "ts_code,trade_date,open,high,low,close,vol\n".to_owned();
    for code in ["000001.SZ", "600000.SH", "600519.SH"] {
        let close = 10.0 + (n % 50) as f64 / 10.0;
        text.push_str(&format!(
            "{code},{},{close},{},{},{close},{}\n",
            day.format("%Y%m%d"),
            close + 0.5,
            close - 0.5,
            1000 + n
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn two_years_beside_the_earlier_service_lose_nothing_and_fail_no_write() {
    crate::logs();
    let test_db = TestDb::empty().await;
    let runner = MigrationRunner::connect(test_db.url()).await.unwrap();
    // Version 8: partitioned logs, no default partition yet.
    runner.up(Some(8)).await.unwrap();
    let pool = test_db.db().pool().clone();
    let now = shared_db::utc_now();
    let start = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .unwrap()
        .and_hms_opt(9, 0, 0)
        .unwrap();
    let clock = ManualClock::new(start);
    let key_a = SecretCipher::generate_key();
    let stockdb_of = |cipher: SecretCipher| {
        Stockdb::from_db(test_db.db().clone(), Some(cipher)).with_clock(Arc::new(clock.clone()))
    };
    let mut db = stockdb_of(SecretCipher::from_base64(&key_a).unwrap());
    let dir = tempfile::tempdir().unwrap();

    // Configurations: stockdb's (encrypted with key A) and the service's (plaintext).
    db.llm_configs()
        .upsert(NewLlmConfig::new(
            "research",
            "deepseek",
            "openai",
            "deepseek-chat",
            ApiKey::new("sk-research-0001"),
        ))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO llm_configs (alias, vendor, provider_type, api_key, model_name, priority, \
             tags, is_active, created_at, updated_at) \
         VALUES ('service', 'deepseek', 'openai', 'sk-service-0002', 'deepseek-chat', 1, \
             '[\"default\"]'::jsonb, true, now(), now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (from, input, output) in [(start, 2.0, 8.0), (start + Duration::days(270), 1.0, 4.0)] {
        db.prices()
            .set(&ModelPrice {
                vendor: "deepseek".into(),
                model: "deepseek-chat".into(),
                effective_from: from,
                input_per_million: input,
                output_per_million: output,
                cached_input_per_million: None,
                reasoning_output_per_million: None,
                currency: "CNY".into(),
            })
            .await
            .unwrap();
    }

    let mut llm_written: HashMap<Uuid, Written> = HashMap::new();
    let mut api_written: HashSet<Uuid> = HashSet::new();
    let mut dropped = HashMap::from([("llm_call_logs", 0u64), ("external_api_call_logs", 0u64)]);
    let policy = RetentionPolicy {
        keep_days: 90,
        blank_after_days: Some(30),
    };
    let stop = AtomicBool::new(false);
    let mut imported_days = 0;
    for day in 0..730_i64 {
        let today = start + Duration::days(day);
        clock.set(today);
        // stockdb's nightly import of the day's bars.
        let path = day_file(dir.path(), today.date(), day);
        let summary = import_csv(
            db.sync().as_ref(),
            &ImportOptions::new(ImportKind::Daily, &path),
            &NoProgress,
            &stop,
        )
        .await
        .unwrap();
        assert_eq!(summary.inserted, 3, "day {day}");
        imported_days += 1;
        // stockdb's own research run: two priced calls and a data call.
        for (idx, (prompt, completion)) in [(1_000 + day, 300), (2_000, 500 + day)]
            .into_iter()
            .enumerate()
        {
            let at = today + Duration::hours(1) + Duration::minutes(idx as i64);
            let mut call = LlmCallLog::new("research", "deepseek", "deepseek-chat", "分析", at);
            call.prompt_tokens = Some(i32::try_from(prompt).unwrap());
            call.completion_tokens = Some(i32::try_from(completion).unwrap());
            call.total_tokens = Some(i32::try_from(prompt + completion).unwrap());
            call.latency_ms = 800;
            let failed = day % 17 == 0 && idx == 1;
            if failed {
                call.status = stockdb::audit::CallStatus::Failed;
                call.error_message = Some("RateLimitError".into());
            }
            db.llm_calls().save(&call).await.unwrap();
            llm_written.insert(
                call.id,
                Written {
                    model: "deepseek/deepseek-chat",
                    created_at: at,
                    prompt,
                    completion,
                    failed,
                },
            );
        }
        let api = ExternalApiCallLog::new("tushare", "daily", today + Duration::hours(1));
        db.api_calls().save(&api).await.unwrap();
        api_written.insert(api.id);
        // The earlier service's run.
        let at = today + Duration::hours(2);
        for call in the_services_run(&pool, at, day).await {
            llm_written.insert(
                call,
                Written {
                    model: "llm_platform/routed",
                    created_at: at,
                    prompt: 0,
                    completion: 0,
                    failed: false,
                },
            );
        }
        let id: Uuid = sqlx::query_scalar(
            "SELECT id FROM external_api_call_logs WHERE created_at = $1 AND service_name = 'bochai'",
        )
        .bind(at + Duration::seconds(3))
        .fetch_one(&pool)
        .await
        .unwrap();
        api_written.insert(id);

        let month = day / 30;
        if day % 30 == 29 {
            if month == 5 {
                // Version 9 mid-way, with both writers' rows in place.
                runner.up(None).await.unwrap();
            }
            if month == 11 {
                // Key rotation: B current, A previous; every key moves to B.
                let key_b = SecretCipher::generate_key();
                let rotated = SecretCipher::from_base64(&key_b)
                    .unwrap()
                    .with_previous([key_a.as_str()])
                    .unwrap();
                db = stockdb_of(rotated);
                let plan = db.llm_configs().reencrypt_plan().await.unwrap();
                let report = db.llm_configs().reencrypt(&plan).await.unwrap();
                assert_eq!((report.reencrypted, report.already_current), (2, 0));
                db = stockdb_of(SecretCipher::from_base64(&key_b).unwrap());
                let configs = db.llm_configs().list().await.unwrap();
                assert!(configs.iter().all(|c| c.api_key.is_ok()), "{configs:?}");
            }
            // Monthly retention, but for four months nobody ran it (after version 9).
            if !(12..16).contains(&month) {
                let done = db.retention().apply(policy).await.unwrap();
                let moved = done
                    .maintenance
                    .as_ref()
                    .map_or(0, |m| m.moved_from_default);
                if moved > 0 {
                    eprintln!(
                        "month {month}: maintenance moved {moved} rows out of the default partitions"
                    );
                }
                for partition in done.with_action(PartitionAction::Drop) {
                    *dropped.get_mut(partition.table).unwrap() += partition.rows;
                }
            }
        }
    }
    let end = clock.now();
    assert_eq!(imported_days, 730);
    let bars: i64 = sqlx::query_scalar("SELECT count(*) FROM stock_daily")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(bars, 3 * 730);

    // Every row written is stored or reported dropped, none twice.
    let stored_llm: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM llm_call_logs")
        .fetch_all(&pool)
        .await
        .unwrap();
    let stored_api: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM external_api_call_logs")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(stored_llm.iter().all(|id| llm_written.contains_key(id)));
    assert!(stored_api.iter().all(|id| api_written.contains(id)));
    assert_eq!(
        stored_llm.len() as u64 + dropped["llm_call_logs"],
        llm_written.len() as u64
    );
    assert_eq!(
        stored_api.len() as u64 + dropped["external_api_call_logs"],
        api_written.len() as u64
    );
    assert_eq!(
        stored_llm.iter().collect::<HashSet<_>>().len(),
        stored_llm.len()
    );
    assert!(
        dropped["llm_call_logs"] > 0,
        "two years past a 90-day horizon drop something"
    );
    eprintln!(
        "two years: {} LLM calls written, {} stored, {} dropped by retention; {} API calls \
         written, {} stored, {} dropped; {} bars imported",
        llm_written.len(),
        stored_llm.len(),
        dropped["llm_call_logs"],
        api_written.len(),
        stored_api.len(),
        dropped["external_api_call_logs"],
        bars
    );

    // Every row from the horizon on is stored, and statistics and costs over that window
    // equal what the rows written say.
    let horizon = db
        .retention()
        .horizon()
        .await
        .unwrap()
        .expect("history was dropped");
    assert!(horizon >= end - Duration::days(125) && horizon <= end - Duration::days(90));
    let window = TimeWindow::new(horizon, end + Duration::days(1)).unwrap();
    let in_window: Vec<(&Uuid, &Written)> = llm_written
        .iter()
        .filter(|(_, w)| w.created_at >= horizon)
        .collect();
    let stored: HashSet<&Uuid> = stored_llm.iter().collect();
    assert!(in_window.iter().all(|(id, _)| stored.contains(id)));
    let stats = db.llm_calls().stats(window).await.unwrap();
    for model in ["deepseek/deepseek-chat", "llm_platform/routed"] {
        let rows: Vec<&Written> = in_window
            .iter()
            .map(|(_, w)| *w)
            .filter(|w| w.model == model)
            .collect();
        let shown = stats.iter().find(|s| s.group == model).unwrap();
        assert_eq!(shown.calls, rows.len() as i64, "{model}");
        assert_eq!(
            shown.errors,
            rows.iter().filter(|w| w.failed).count() as i64
        );
        assert_eq!(
            shown.prompt_tokens,
            rows.iter().map(|w| w.prompt).sum::<i64>()
        );
        assert_eq!(
            shown.completion_tokens,
            rows.iter().map(|w| w.completion).sum::<i64>()
        );
    }
    let costs = db
        .prices()
        .costs(CostScope::Window(window), CostBy::Total)
        .await
        .unwrap();
    let priced = costs.iter().find(|c| c.currency.is_some()).unwrap();
    let unpriced = costs.iter().find(|c| c.currency.is_none()).unwrap();
    let expected: f64 = in_window
        .iter()
        .map(|(_, w)| *w)
        .filter(|w| w.model == "deepseek/deepseek-chat")
        .map(|w| {
            let (input, output) = price_at(w.created_at, start);
            (w.prompt as f64 * input + w.completion as f64 * output) / 1e6
        })
        .sum();
    assert!(
        (priced.cost.unwrap() - expected).abs() < 1e-9,
        "{priced:?} vs {expected}"
    );
    assert_eq!(
        unpriced.calls,
        in_window
            .iter()
            .filter(|(_, w)| w.model == "llm_platform/routed")
            .count() as i64
    );
    // Text older than 30 days is blanked, numbers kept; the newest calls keep their text.
    let newest = db
        .llm_calls()
        .list(&LlmCallFilter::default(), Page::first(1).unwrap())
        .await
        .unwrap();
    assert!(!newest[0].prompt_text.is_empty());
    // Nothing waits in a default partition, and the months ahead are ready.
    let status = db.retention().status().await.unwrap();
    for table in &status {
        assert_eq!(table.rows_in_default, 0, "{table:?}");
        assert!(table.ready_until.unwrap() > end, "{table:?}");
        assert!(table.converted.is_none());
    }
    assert_eq!(end.hour(), 9);
    runner.close().await.unwrap();
}
