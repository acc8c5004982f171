//! Secrets never reach logs or error strings: LLM API keys (plaintext or encrypted) and
//! secret-looking request parameters, through saves, failures and re-encryption, with
//! everything logged at TRACE.

use audit::{ExternalApiCallLog, ExternalApiCallLogRepository};
use llm_platform::{
    ApiKey, LlmConfigRepository, NewLlmConfig, PgLlmConfigRepository, SecretCipher,
};
use serde_json::json;
use shared_db::{Db, RepoError, utc_now};
use test_support::TestDb;

const KEY: &str = "sk-live-suite-7c1e9a";
const TOKEN: &str = "tushare-token-suite-5d2b";

#[tokio::test]
async fn secrets_never_reach_logs_or_errors() {
    let logs = crate::logs();
    let test_db = TestDb::new().await;
    let mut errors: Vec<String> = Vec::new();
    let mut note = |result: Result<(), RepoError>| {
        if let Err(err) = result {
            errors.push(format!("{err} | {err:?}"));
        }
    };

    // Keys through every configs path: plaintext, encrypted, upgraded, read with a wrong key.
    let plain = PgLlmConfigRepository::new(test_db.db().clone(), None);
    let mut config = NewLlmConfig::new(
        "deepseek",
        "deepseek",
        "openai",
        "deepseek-chat",
        ApiKey::new(KEY),
    );
    plain.upsert(config.clone()).await.unwrap();
    let cipher = SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap();
    let encrypted = PgLlmConfigRepository::new(test_db.db().clone(), Some(cipher));
    let plan = encrypted.reencrypt_plan().await.unwrap();
    assert_eq!(encrypted.reencrypt(&plan).await.unwrap().reencrypted, 1);
    tracing::debug!(configs = ?encrypted.list().await.unwrap(), "listed");
    let wrong = PgLlmConfigRepository::new(
        test_db.db().clone(),
        Some(SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap()),
    );
    note(wrong.get_by_alias("deepseek").await.map(drop));
    note(plain.get_by_alias("deepseek").await.map(drop));
    config.base_url = Some(format!("ftp://user:{KEY}@host/v1?api_key={KEY}"));
    note(encrypted.upsert(config.clone()).await.map(drop));

    // Request parameters, stored and rejected.
    let repo = audit::PgExternalApiCallLogRepository::new(test_db.db().clone());
    let mut call = ExternalApiCallLog::new("tushare", "daily", utc_now());
    call.request_params =
        Some(json!({"api_name": "daily", "token": TOKEN, "params": {"ts_code": "600519.SH"}}));
    call.status_code = Some(200);
    call.latency_ms = 40;
    repo.save(&call).await.unwrap();
    tracing::debug!(calls = ?repo.get_by_session_id(uuid::Uuid::nil()).await.unwrap(), "listed");
    call.id = uuid::Uuid::new_v4();
    call.request_params = Some(json!([{"token": TOKEN}]));
    note(repo.save(&call).await);
    call.request_params = Some(json!(format!("https://api.tushare.pro?token={TOKEN}")));
    note(repo.save(&call).await);

    // A connection string with a password, refused.
    let bad_url = format!("postgres://app:{KEY}@127.0.0.1:1/stock");
    note(
        Db::connect(
            &shared_db::DbConfig::new(&bad_url)
                .with_connect_timeout(std::time::Duration::from_secs(2)),
        )
        .await
        .map(drop),
    );
    errors.push(format!("{:?}", shared_db::DbConfig::new(&bad_url)));

    assert!(
        errors.len() >= 6,
        "every failing path was exercised: {errors:#?}"
    );
    let stored: serde_json::Value =
        sqlx::query_scalar("SELECT request_params FROM external_api_call_logs")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
    let logged = logs.text();
    assert!(
        logged.contains("INSERT INTO"),
        "statements were captured at TRACE"
    );
    for secret in [KEY, TOKEN] {
        assert!(!logged.contains(secret), "{secret} reached the logs");
        assert!(!stored.to_string().contains(secret), "{secret} was stored");
        for error in &errors {
            assert!(
                !error.contains(secret),
                "{secret} reached an error: {error}"
            );
        }
    }
}
