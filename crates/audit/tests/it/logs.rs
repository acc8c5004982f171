//! The call logs: saving, per-session history, statistics on a known data set, listings,
//! redaction of what is stored and of what another writer stored.

use audit::{
    ApiCallFilter, CallStatus, ExternalApiCallLog, ExternalApiCallLogRepository, LlmCallFilter,
    LlmCallLog, LlmCallLogRepository, PgExternalApiCallLogRepository, PgLlmCallLogRepository,
    TimeWindow,
};

use serde_json::json;
use shared_db::RepoError;
use test_support::TestDb;
use uuid::Uuid;

use super::{api_call, at, llm_call};

#[tokio::test]
async fn calls_of_a_session_come_oldest_first() {
    let test_db = TestDb::new().await;
    let llm = PgLlmCallLogRepository::new(test_db.db().clone());
    let api = PgExternalApiCallLogRepository::new(test_db.db().clone());
    let session = Uuid::new_v4();
    let calls = [
        llm_call(Some(session), "deepseek-chat", 900, CallStatus::Success, 30),
        llm_call(Some(session), "deepseek-chat", 800, CallStatus::Failed, 10),
        llm_call(None, "deepseek-chat", 700, CallStatus::Success, 20),
        llm_call(
            Some(Uuid::new_v4()),
            "deepseek-chat",
            600,
            CallStatus::Success,
            0,
        ),
    ];
    for call in &calls {
        llm.save(call).await.unwrap();
    }
    let history = llm.get_by_session_id(session).await.unwrap();
    assert_eq!(
        history,
        [calls[1].clone(), calls[0].clone()],
        "every field round-trips"
    );
    assert!(matches!(
        llm.save(&calls[0]).await,
        Err(RepoError::Conflict { .. })
    ));
    // The same id at another time (another month's partition): still one call, refused.
    let mut again = calls[0].clone();
    again.created_at -= chrono::Duration::days(62);
    assert!(matches!(
        llm.save(&again).await,
        Err(RepoError::Conflict { .. })
    ));
    assert_eq!(test_db.count("llm_call_logs").await, 4);

    let api_calls = [
        api_call(Some(session), "tushare", 120, CallStatus::Success, 5),
        api_call(Some(session), "bochai", 450, CallStatus::Success, 1),
    ];
    for call in &api_calls {
        api.save(call).await.unwrap();
    }
    let history = api.get_by_session_id(session).await.unwrap();
    assert_eq!(
        history,
        [api_calls[1].clone(), api_calls[0].clone()],
        "request_params (JSONB) round-trip"
    );
    let mut again = api_calls[0].clone();
    again.created_at -= chrono::Duration::days(62);
    assert!(matches!(
        api.save(&again).await,
        Err(RepoError::Conflict { .. })
    ));
    assert_eq!(test_db.count("external_api_call_logs").await, 2);
}

#[tokio::test]
async fn llm_statistics_on_a_known_data_set() {
    let test_db = TestDb::new().await;
    let repo = PgLlmCallLogRepository::new(test_db.db().clone());
    // deepseek/deepseek-chat: latencies 100, 200, …, 1000 ms; 2 of 10 failed.
    for (idx, latency) in (1..=10).map(|i| i * 100).enumerate() {
        let status = if idx < 2 {
            CallStatus::Failed
        } else {
            CallStatus::Success
        };
        repo.save(&llm_call(
            None,
            "deepseek-chat",
            latency,
            status,
            idx as i64,
        ))
        .await
        .unwrap();
    }
    // deepseek/deepseek-reasoner: two calls inside, one outside the window.
    repo.save(&llm_call(
        None,
        "deepseek-reasoner",
        3_000,
        CallStatus::Success,
        50,
    ))
    .await
    .unwrap();
    repo.save(&llm_call(
        None,
        "deepseek-reasoner",
        5_000,
        CallStatus::Success,
        59,
    ))
    .await
    .unwrap();
    repo.save(&llm_call(
        None,
        "deepseek-reasoner",
        9_999,
        CallStatus::Failed,
        60,
    ))
    .await
    .unwrap();

    let stats = repo
        .stats(TimeWindow::new(at(0), at(60)).unwrap())
        .await
        .unwrap();
    assert_eq!(stats.len(), 2);
    let chat = &stats[0];
    assert_eq!(chat.group, "deepseek/deepseek-chat");
    assert_eq!((chat.calls, chat.errors), (10, 2));
    assert!((chat.error_rate - 0.2).abs() < 1e-12);
    assert_eq!(chat.prompt_tokens, 1_000);
    assert_eq!(chat.completion_tokens, 550);
    assert_eq!(chat.total_tokens, 1_550);
    // percentile_cont over 100..=1000: p50 = 550, p95 = 955, p99 = 991.
    assert!(
        (chat.latency_p50_ms.unwrap() - 550.0).abs() < 1e-9,
        "{chat:?}"
    );
    assert!(
        (chat.latency_p95_ms.unwrap() - 955.0).abs() < 1e-9,
        "{chat:?}"
    );
    assert!(
        (chat.latency_p99_ms.unwrap() - 991.0).abs() < 1e-9,
        "{chat:?}"
    );
    assert!((chat.latency_mean_ms - 550.0).abs() < 1e-9 && chat.latency_sampled == 10);
    let reasoner = &stats[1];
    assert_eq!(
        (reasoner.group.as_str(), reasoner.calls, reasoner.errors),
        ("deepseek/deepseek-reasoner", 2, 0)
    );
    assert!((reasoner.latency_p50_ms.unwrap() - 4_000.0).abs() < 1e-9);
    assert!(
        repo.stats(TimeWindow::new(at(100), at(200)).unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(TimeWindow::new(at(10), at(0)).is_err());
}

#[tokio::test]
async fn external_api_statistics_group_by_service() {
    let test_db = TestDb::new().await;
    let repo = PgExternalApiCallLogRepository::new(test_db.db().clone());
    for (idx, latency) in [50, 70, 90, 110].into_iter().enumerate() {
        let status = if idx == 3 {
            CallStatus::Failed
        } else {
            CallStatus::Success
        };
        repo.save(&api_call(None, "tushare", latency, status, idx as i64))
            .await
            .unwrap();
    }
    repo.save(&api_call(None, "bochai", 400, CallStatus::Success, 1))
        .await
        .unwrap();
    let stats = repo
        .stats(TimeWindow::new(at(0), at(10)).unwrap())
        .await
        .unwrap();
    let view: Vec<(&str, i64, i64, Option<f64>, i64)> = stats
        .iter()
        .map(|s| {
            (
                s.group.as_str(),
                s.calls,
                s.errors,
                s.latency_p50_ms,
                s.total_tokens,
            )
        })
        .collect();
    assert_eq!(
        view,
        [
            ("bochai", 1, 0, Some(400.0), 0),
            ("tushare", 4, 1, Some(80.0), 0)
        ]
    );
    assert!((stats[1].error_rate - 0.25).abs() < 1e-12);
}

#[tokio::test]
async fn secret_request_params_are_redacted_before_storing() {
    let test_db = TestDb::new().await;
    let repo = PgExternalApiCallLogRepository::new(test_db.db().clone());
    let session = Uuid::new_v4();
    let mut call = api_call(Some(session), "tushare", 100, CallStatus::Success, 0);
    call.request_params = Some(json!({
        "api_name": "daily",
        "TOKEN": "tushare-token-8c1d",
        "params": {"ts_code": "600519.SH", "Api-Key": "k-55"},
        "headers": [{"Authorization": "Bearer zz-77"}],
        "url": "https://api.example.com/q?symbol=600519&access_token=at-99",
    }));
    repo.save(&call).await.unwrap();
    let stored: serde_json::Value =
        sqlx::query_scalar("SELECT request_params FROM external_api_call_logs WHERE id = $1")
            .bind(call.id)
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
    let text = stored.to_string();
    for secret in ["tushare-token-8c1d", "k-55", "zz-77", "at-99"] {
        assert!(!text.contains(secret), "{secret} was stored: {text}");
    }
    assert_eq!(stored["params"]["ts_code"], "600519.SH");
    assert_eq!(stored["TOKEN"], "***");
    let err = repo
        .save(&ExternalApiCallLog {
            request_params: Some(json!(["token", "k-55"])),
            ..api_call(None, "tushare", 1, CallStatus::Success, 0)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Invalid(ref i) if i.field == "request_params"));
}

#[tokio::test]
async fn bad_logs_name_the_field() {
    let test_db = TestDb::new().await;
    let repo = PgLlmCallLogRepository::new(test_db.db().clone());
    let mut call = llm_call(None, "m", 10, CallStatus::Success, 0);
    call.temperature = f64::NAN;
    assert!(
        matches!(repo.save(&call).await, Err(RepoError::Invalid(ref i)) if i.field == "temperature")
    );
    call.temperature = 0.2;
    call.latency_ms = -1;
    assert!(
        matches!(repo.save(&call).await, Err(RepoError::Invalid(ref i)) if i.field == "latency_ms")
    );
    call.latency_ms = 1;
    call.model_name = "m".repeat(101);
    assert!(
        matches!(repo.save(&call).await, Err(RepoError::Invalid(ref i)) if i.field == "model_name")
    );
}

#[tokio::test]
async fn listings_filter_page_and_come_newest_first() {
    let test_db = TestDb::new().await;
    let llm = PgLlmCallLogRepository::new(test_db.db().clone());
    let api = PgExternalApiCallLogRepository::new(test_db.db().clone());
    let session = Uuid::new_v4();
    // 30 LLM calls a minute apart: every third failed, odd ones to qwen, the first ten in
    // the session.
    for i in 0..30 {
        let status = if i % 3 == 0 {
            CallStatus::Failed
        } else {
            CallStatus::Success
        };
        let model = if i % 2 == 1 {
            "qwen-max"
        } else {
            "deepseek-chat"
        };
        let call = llm_call(
            (i < 10).then_some(session),
            model,
            100 + i,
            status,
            i64::from(i) * 60,
        );
        llm.save(&call).await.unwrap();
        let service = if i % 2 == 1 { "akshare" } else { "tushare" };
        api.save(&api_call(None, service, 50, status, i64::from(i) * 60))
            .await
            .unwrap();
    }
    let minutes = |calls: &[LlmCallLog]| -> Vec<i64> {
        calls
            .iter()
            .map(|c| (c.created_at - at(0)).num_minutes())
            .collect()
    };
    let page = |skip, limit| shared_db::Page::new(skip, limit).unwrap();

    let all = llm
        .list(&LlmCallFilter::default(), page(0, 5))
        .await
        .unwrap();
    assert_eq!(minutes(&all), [29, 28, 27, 26, 25], "newest first");
    let next = llm
        .list(&LlmCallFilter::default(), page(5, 5))
        .await
        .unwrap();
    assert_eq!(minutes(&next), [24, 23, 22, 21, 20]);

    let failed_qwen = LlmCallFilter {
        status: Some(CallStatus::Failed),
        model: Some("qwen-max".into()),
        ..LlmCallFilter::default()
    };
    assert_eq!(
        minutes(&llm.list(&failed_qwen, page(0, 50)).await.unwrap()),
        [27, 21, 15, 9, 3]
    );
    let window = LlmCallFilter {
        since: Some(at(10 * 60)),
        until: Some(at(13 * 60)),
        ..LlmCallFilter::default()
    };
    assert_eq!(
        minutes(&llm.list(&window, page(0, 50)).await.unwrap()),
        [12, 11, 10],
        "since inclusive, until exclusive"
    );
    let of_session = LlmCallFilter {
        session_id: Some(session),
        vendor: Some("deepseek".into()),
        ..LlmCallFilter::default()
    };
    assert_eq!(llm.list(&of_session, page(0, 50)).await.unwrap().len(), 10);

    let akshare_failed = ApiCallFilter {
        status: Some(CallStatus::Failed),
        service: Some("akshare".into()),
        ..ApiCallFilter::default()
    };
    let listed = api.list(&akshare_failed, page(0, 50)).await.unwrap();
    assert_eq!(listed.len(), 5);
    assert!(listed.windows(2).all(|w| w[0].created_at > w[1].created_at));
}

#[tokio::test]
async fn rows_another_writer_stored_unredacted_are_redacted_on_the_way_out() {
    let test_db = TestDb::new().await;
    // As the earlier service wrote them: no redaction.
    sqlx::query(
        "INSERT INTO external_api_call_logs (id, service_name, operation, request_params, \
             response_data, latency_ms, status, error_message, created_at) \
         VALUES (gen_random_uuid(), 'tushare', 'daily', '{\"token\": \"tk-live-123456\"}', \
             'echo token=tk-live-123456', 5, 'failed', 'refused: token=tk-live-123456', now())",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO llm_call_logs (id, caller_module, model_name, vendor, prompt_text, \
             temperature, latency_ms, status, error_message, created_at) \
         VALUES (gen_random_uuid(), 'research', 'gpt-4o', 'openai', 'hi', 0.5, 5, 'failed', \
             'Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwx', now())",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let page = shared_db::Page::first(10).unwrap();
    let api = PgExternalApiCallLogRepository::new(test_db.db().clone())
        .list(&ApiCallFilter::default(), page)
        .await
        .unwrap();
    let llm = PgLlmCallLogRepository::new(test_db.db().clone())
        .list(&LlmCallFilter::default(), page)
        .await
        .unwrap();
    let shown = format!("{api:?} {llm:?} {}", serde_json::to_string(&api).unwrap());
    for secret in ["tk-live-123456", "sk-proj-abcdefghijklmnopqrstuvwx"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test]
async fn what_another_writer_stored_is_read_back_as_it_was_stored() {
    let test_db = TestDb::new().await;
    // JSON as the earlier service stored it: keys in its order, a trailing zero, an integer
    // past 64 bits, a duplicate key and spacing in the response text.
    let response = r#"{"b": 2, "a": 1.50, "b": 3, "n": 123456789012345678901234}"#;
    sqlx::query(
        "INSERT INTO external_api_call_logs (id, service_name, operation, request_params, \
             response_data, latency_ms, status, created_at) \
         VALUES (gen_random_uuid(), 'bochai', 'web-search', \
             '{\"zeta\": 0.70, \"alpha\": 12345678901234567890123, \"q\": \"茅台\"}', $1, 5, \
             'success', now())",
    )
    .bind(response)
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let stored_params: String =
        sqlx::query_scalar("SELECT request_params::text FROM external_api_call_logs")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
    let api = PgExternalApiCallLogRepository::new(test_db.db().clone())
        .list(
            &ApiCallFilter::default(),
            shared_db::Page::first(10).unwrap(),
        )
        .await
        .unwrap();
    // The response text, byte for byte; the parameters as the database holds them (jsonb
    // orders keys by length: `q`, `zeta`, `alpha`), numbers as written.
    assert_eq!(api[0].response_data.as_deref(), Some(response));
    let params = api[0].request_params.as_ref().unwrap();
    assert_eq!(
        serde_json::to_string(params).unwrap(),
        stored_params.replace(": ", ":").replace(", ", ",")
    );
    assert_eq!(
        serde_json::to_string(params).unwrap(),
        r#"{"q":"茅台","zeta":0.70,"alpha":12345678901234567890123}"#
    );
}

#[tokio::test]
async fn prompts_are_stored_with_secrets_masked_unless_kept_verbatim() {
    let test_db = TestDb::new().await;
    let key = "sk-live-4f9a8b7c6d5e4f3a2b1c";
    let session = Uuid::new_v4();
    let mut call = llm_call(Some(session), "deepseek-chat", 900, CallStatus::Success, 0);
    call.prompt_text = format!("用 api_key={key} 查 600519.SH\r\n  缩进  保留\t{{\"a\": 0.70}}");
    call.system_message = Some(format!("Authorization: Bearer {key}"));
    call.completion_text = Some(format!("你的密钥 {key} 已收到"));
    let stored = async |id: Uuid| -> String {
        sqlx::query_scalar(
            "SELECT concat_ws('|', prompt_text, system_message, completion_text) \
             FROM llm_call_logs WHERE id = $1",
        )
        .bind(id)
        .fetch_one(test_db.db().pool())
        .await
        .unwrap()
    };

    // By default: masked before storing, every other byte as given.
    PgLlmCallLogRepository::new(test_db.db().clone())
        .save(&call)
        .await
        .unwrap();
    assert_eq!(
        stored(call.id).await,
        "用 api_key=*** 查 600519.SH\r\n  缩进  保留\t{\"a\": 0.70}\
         |Authorization: ***|你的密钥 sk-*** 已收到"
    );

    // Kept verbatim on request: stored as sent, still masked when read through stockdb.
    let verbatim = PgLlmCallLogRepository::new(test_db.db().clone())
        .with_prompt_storage(audit::PromptStorage::Verbatim);
    let mut raw = call.clone();
    raw.id = Uuid::new_v4();
    verbatim.save(&raw).await.unwrap();
    assert!(stored(raw.id).await.contains(key));
    let read = verbatim.get_by_session_id(session).await.unwrap();
    assert!(!format!("{read:?}").contains(key));
}
