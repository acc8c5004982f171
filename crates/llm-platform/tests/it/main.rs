//! Repository tests of llm-platform against PostgreSQL: upserts, ordering, activation,
//! encryption at rest, and secrets kept out of `Debug`, errors and logs.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod search_cache;

use std::io::Write;
use std::sync::{Arc, Mutex};

use llm_platform::{
    ApiKey, LlmConfigRepository, NewLlmConfig, PgLlmConfigRepository, SecretCipher,
};
use shared_db::RepoError;
use test_support::TestDb;

const KEY: &str = "sk-live-4f9a2c81d0e7b3";

fn config(alias: &str, priority: i32) -> NewLlmConfig {
    let mut config = NewLlmConfig::new(
        alias,
        "deepseek",
        "openai",
        "deepseek-chat",
        ApiKey::new(KEY),
    );
    config.priority = priority;
    config.base_url = Some("https://api.deepseek.com/v1".into());
    config.tags = vec!["fast".into(), "中文".into()];
    config
}

fn cipher() -> SecretCipher {
    SecretCipher::from_base64(&SecretCipher::generate_key()).unwrap()
}

async fn stored_key(test_db: &TestDb, alias: &str) -> String {
    sqlx::query_scalar("SELECT api_key FROM llm_configs WHERE alias = $1")
        .bind(alias)
        .fetch_one(test_db.db().pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn upsert_by_alias_keeps_id_and_created_at_and_moves_updated_at() {
    let test_db = TestDb::new().await;
    let repo = PgLlmConfigRepository::new(test_db.db().clone(), None);
    let first = repo.upsert(config("deepseek", 2)).await.unwrap();
    assert_eq!(first.tags, ["fast", "中文"], "tags round-trip as JSONB");
    assert_eq!(first.api_key.as_ref().unwrap().expose(), KEY);
    let mut changed = config("deepseek", 1);
    changed.model_name = "deepseek-reasoner".into();
    changed.tags = vec![];
    let second = repo.upsert(changed).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.created_at, first.created_at);
    assert!(second.updated_at > first.updated_at);
    assert_eq!(
        (second.model_name.as_str(), second.priority),
        ("deepseek-reasoner", Some(1))
    );
    assert!(second.tags.is_empty());
    assert_eq!(
        repo.get_by_alias("deepseek").await.unwrap().unwrap(),
        second
    );
    assert!(repo.get_by_alias("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn lists_order_by_priority_and_filter_active() {
    let test_db = TestDb::new().await;
    let repo = PgLlmConfigRepository::new(test_db.db().clone(), None);
    repo.upsert(config("c", 9)).await.unwrap();
    // Another writer left a config without a priority: it lists after every number.
    sqlx::query("UPDATE llm_configs SET priority = NULL WHERE alias = 'c'")
        .execute(test_db.db().pool())
        .await
        .unwrap();
    repo.upsert(config("b", 5)).await.unwrap();
    repo.upsert(config("a", 1)).await.unwrap();
    repo.upsert(config("d", 1)).await.unwrap();
    let aliases = |configs: Vec<llm_platform::LlmConfig>| {
        configs.into_iter().map(|c| c.alias).collect::<Vec<_>>()
    };
    assert_eq!(aliases(repo.list().await.unwrap()), ["a", "d", "b", "c"]);
    let deactivated = repo.set_active("d", false).await.unwrap();
    assert!(!deactivated.is_active);
    assert_eq!(aliases(repo.list_active().await.unwrap()), ["a", "b", "c"]);
    repo.set_active("d", true).await.unwrap();
    assert_eq!(repo.list_active().await.unwrap().len(), 4);
    assert!(matches!(
        repo.set_active("zz", true).await,
        Err(RepoError::NotFound { .. })
    ));
    assert!(repo.delete("b").await.unwrap());
    assert!(!repo.delete("b").await.unwrap());
    assert_eq!(aliases(repo.list().await.unwrap()), ["a", "d", "c"]);
}

#[tokio::test]
async fn keys_are_encrypted_at_rest_with_a_cipher() {
    let test_db = TestDb::new().await;
    let cipher = cipher();
    let repo = PgLlmConfigRepository::new(test_db.db().clone(), Some(cipher.clone()));
    let saved = repo.upsert(config("gpt", 1)).await.unwrap();
    assert_eq!(saved.api_key.as_ref().unwrap().expose(), KEY);
    let stored = stored_key(&test_db, "gpt").await;
    assert!(stored.starts_with("enc:v2:"), "{stored}");
    assert!(!stored.contains(KEY));

    let no_key = PgLlmConfigRepository::new(test_db.db().clone(), None);
    let err = no_key.get_by_alias("gpt").await.unwrap_err();
    assert!(
        matches!(err, RepoError::Secret { ref key, .. } if key == "gpt")
            && cause(&err).contains("STOCKDB_SECRET_KEY"),
        "{err:?}"
    );
    let wrong_key = PgLlmConfigRepository::new(test_db.db().clone(), Some(self::cipher()));
    let err = wrong_key.get_by_alias("gpt").await.unwrap_err();
    assert!(
        matches!(err, RepoError::Secret { .. }) && cause(&err).contains("cannot decrypt"),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains(KEY));
}

/// The plan, confirmed as it is.
async fn reencrypt_all(
    repo: &PgLlmConfigRepository,
) -> Result<llm_platform::ReencryptReport, RepoError> {
    let plan = repo.reencrypt_plan().await?;
    repo.reencrypt(&plan).await
}

#[tokio::test]
async fn plaintext_rows_read_and_are_upgraded_by_reencrypt() {
    let test_db = TestDb::new().await;
    // Rows as the earlier service wrote them: plaintext keys, no cipher.
    let legacy = PgLlmConfigRepository::new(test_db.db().clone(), None);
    legacy.upsert(config("old-1", 1)).await.unwrap();
    legacy.upsert(config("old-2", 2)).await.unwrap();
    assert_eq!(stored_key(&test_db, "old-1").await, KEY);

    let repo = PgLlmConfigRepository::new(test_db.db().clone(), Some(cipher()));
    assert_eq!(
        repo.get_by_alias("old-1")
            .await
            .unwrap()
            .unwrap()
            .api_key
            .as_ref()
            .unwrap()
            .expose(),
        KEY,
        "plaintext still reads"
    );
    assert_eq!(reencrypt_all(&repo).await.unwrap().reencrypted, 2);
    assert_eq!(
        reencrypt_all(&repo).await.unwrap().reencrypted,
        0,
        "nothing left to upgrade"
    );
    for alias in ["old-1", "old-2"] {
        assert!(stored_key(&test_db, alias).await.starts_with("enc:v2:"));
        assert_eq!(
            repo.get_by_alias(alias)
                .await
                .unwrap()
                .unwrap()
                .api_key
                .as_ref()
                .unwrap()
                .expose(),
            KEY
        );
    }
    let err = reencrypt_all(&legacy).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Secret { .. }) && cause(&err).contains("STOCKDB_SECRET_KEY"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_key_is_never_read_for_an_endpoint_it_was_not_saved_for() {
    let test_db = TestDb::new().await;
    let repo = PgLlmConfigRepository::new(test_db.db().clone(), Some(cipher()));
    repo.upsert(config("good", 1)).await.unwrap();
    repo.upsert(config("moved", 2)).await.unwrap();
    // Whoever can write the table points the config at their own host.
    sqlx::query(
        "UPDATE llm_configs SET base_url = 'https://attacker.example' WHERE alias = 'moved'",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let err = repo.get_by_alias("moved").await.unwrap_err();
    assert!(matches!(err, RepoError::Secret { .. }), "{err:?}");
    // One unreadable row does not hide the others.
    let listed = repo.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].api_key.as_ref().unwrap().expose(), KEY);
    assert!(listed[1].api_key.is_err());
    let json = serde_json::to_string(&listed).unwrap();
    assert!(
        json.contains("<unreadable") && !json.contains(KEY),
        "{json}"
    );
    // Saving it again (as its owner does when the endpoint really moves) binds it anew.
    let mut moved = config("moved", 2);
    moved.base_url = Some("https://api.deepseek.com/v2".into());
    repo.upsert(moved).await.unwrap();
    assert!(
        repo.get_by_alias("moved")
            .await
            .unwrap()
            .unwrap()
            .api_key
            .is_ok()
    );
}

#[tokio::test]
async fn first_scheme_keys_read_and_are_upgraded_by_reencrypt() {
    use base64::Engine as _;
    use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
    let test_db = TestDb::new().await;
    let key = SecretCipher::generate_key();
    let repo = PgLlmConfigRepository::new(
        test_db.db().clone(),
        Some(SecretCipher::from_base64(&key).unwrap()),
    );
    repo.upsert(config("old", 1)).await.unwrap();
    // A key as the first scheme stored it: the alias as the only associated data.
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&key)
        .unwrap();
    let aead = chacha20poly1305::XChaCha20Poly1305::new_from_slice(&raw).unwrap();
    let nonce = chacha20poly1305::XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = aead
        .encrypt(
            &nonce,
            Payload {
                msg: KEY.as_bytes(),
                aad: b"old",
            },
        )
        .unwrap();
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&sealed);
    let v1 = format!(
        "enc:v1:{}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    );
    sqlx::query("UPDATE llm_configs SET api_key = $1 WHERE alias = 'old'")
        .bind(&v1)
        .execute(test_db.db().pool())
        .await
        .unwrap();
    let read = repo.get_by_alias("old").await.unwrap().unwrap();
    assert_eq!(
        read.api_key.as_ref().unwrap().expose(),
        KEY,
        "v1 still reads"
    );
    // The plan shows the endpoint the key will be bound to, as binding newly.
    let plan = repo.reencrypt_plan().await.unwrap();
    assert_eq!(plan.upgrades.len(), 1);
    assert_eq!(
        plan.upgrades[0].origin,
        llm_platform::KeyOrigin::FirstScheme
    );
    assert_eq!(plan.binding_newly().count(), 1);
    assert_eq!(
        plan.upgrades[0].base_url.as_deref(),
        Some("https://api.deepseek.com/v1")
    );
    // A writer of rows points the endpoint elsewhere after the operator looked: the
    // confirmed plan no longer holds, and nothing changes.
    test_db
        .execute("UPDATE llm_configs SET base_url = 'https://evil.example/v1' WHERE alias = 'old'")
        .await;
    let err = repo.reencrypt(&plan).await.unwrap_err();
    assert!(matches!(err, RepoError::StateConflict { .. }), "{err:?}");
    assert_eq!(stored_key(&test_db, "old").await, v1, "nothing changed");
    test_db
        .execute(
            "UPDATE llm_configs SET base_url = 'https://api.deepseek.com/v1' WHERE alias = 'old'",
        )
        .await;
    let report = reencrypt_all(&repo).await.unwrap();
    assert_eq!((report.reencrypted, report.first_scheme_refused), (1, true));
    assert!(stored_key(&test_db, "old").await.starts_with("enc:v2:"));
    assert_eq!(
        repo.get_by_alias("old")
            .await
            .unwrap()
            .unwrap()
            .api_key
            .as_ref()
            .unwrap()
            .expose(),
        KEY
    );
    // The saved v1 value written back (perhaps with the endpoint changed): refused now.
    test_db
        .execute(&format!(
            "UPDATE llm_configs SET api_key = '{v1}', base_url = 'https://evil.example/v1' \
             WHERE alias = 'old'"
        ))
        .await;
    let err = repo.get_by_alias("old").await.unwrap_err();
    assert!(
        matches!(err, RepoError::Secret { .. }) && cause(&err).contains("first encryption scheme"),
        "{err:?}"
    );
    let listed = repo.list().await.unwrap();
    assert!(matches!(
        listed[0].api_key,
        Err(llm_platform::SecretError::RetiredScheme { .. })
    ));
    // And reencrypt will not take it up again.
    assert!(matches!(
        repo.reencrypt_plan().await.unwrap_err(),
        RepoError::Secret { .. }
    ));
    // The record is not schema drift.
    assert_eq!(
        migration::fingerprint(test_db.db().conn()).await.unwrap(),
        migration::golden(migration::MigrationRunner::LATEST).unwrap()
    );
}

#[tokio::test]
async fn invalid_configs_name_the_field_and_never_the_key() {
    let test_db = TestDb::new().await;
    let repo = PgLlmConfigRepository::new(test_db.db().clone(), None);
    let mut bad = config("x", 1);
    bad.base_url = Some(format!("ftp://host/{KEY}"));
    let err = repo.upsert(bad).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(ref i) if i.field == "base_url"));
    let mut bad = config("x", 1);
    bad.api_key = ApiKey::new("");
    let err = repo.upsert(bad).await.unwrap_err();
    assert!(matches!(err, RepoError::Invalid(ref i) if i.field == "api_key" && i.value == "***"));
    assert!(repo.list().await.unwrap().is_empty());
}

/// A `tracing` writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything every test of this binary logs from the first call on, at TRACE: one
/// global subscriber, because a thread-local one misses events whose callsites other test
/// threads registered first.
fn capture_logs() -> &'static Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        captured
    })
}

#[tokio::test]
async fn secrets_never_reach_debug_or_trace_logs() {
    let captured = capture_logs();
    let test_db = TestDb::new().await;
    for cipher in [None, Some(cipher())] {
        let repo = PgLlmConfigRepository::new(test_db.db().clone(), cipher);
        let saved = repo.upsert(config("gpt", 1)).await.unwrap();
        tracing::info!(config = ?saved, "saved");
        let listed = repo.list().await.unwrap();
        assert!(!format!("{listed:?}").contains(KEY));
        assert!(!serde_json::to_string(&listed).unwrap().contains(KEY));
        repo.set_active("gpt", false).await.unwrap();
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("saved"), "the capture works");
    assert!(
        logs.contains("INSERT INTO"),
        "statements were logged at TRACE/DEBUG: {logs}"
    );
    assert!(!logs.contains(KEY), "the api key leaked into the logs");
}

/// What the error's source says.
fn cause(err: &RepoError) -> String {
    std::error::Error::source(err)
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_rotated_key_reads_old_rows_and_reencrypt_moves_them_to_the_new_key() {
    let test_db = TestDb::new().await;
    let old_key = SecretCipher::generate_key();
    let new_key = SecretCipher::generate_key();
    let old = PgLlmConfigRepository::new(
        test_db.db().clone(),
        Some(SecretCipher::from_base64(&old_key).unwrap()),
    );
    old.upsert(config("a", 1)).await.unwrap();
    old.upsert(config("b", 2)).await.unwrap();
    let stored_before = stored_key(&test_db, "a").await;

    // A wrong key, valid as a key, with a plaintext row to "upgrade": refused, nothing
    // changes, and it says how many keys it cannot read.
    sqlx::query("INSERT INTO llm_configs (alias, vendor, provider_type, api_key, model_name, priority, is_active) VALUES ('plain', 'deepseek', 'openai', 'sk-plain-key', 'deepseek-chat', 1, true)")
        .execute(test_db.db().pool())
        .await
        .unwrap();
    let wrong = PgLlmConfigRepository::new(test_db.db().clone(), Some(cipher()));
    let err = reencrypt_all(&wrong).await.unwrap_err();
    assert!(
        matches!(err, RepoError::Secret { ref key, .. } if key == "2 of 3"),
        "{err:?}"
    );
    assert!(cause(&err).contains("nothing was re-encrypted"), "{err}");
    assert_eq!(stored_key(&test_db, "plain").await, "sk-plain-key");
    assert_eq!(stored_key(&test_db, "a").await, stored_before);

    // The rotation: the new key current, the old one previous. Old rows read at once.
    let rotated = SecretCipher::from_base64(&new_key)
        .unwrap()
        .with_previous([old_key.as_str()])
        .unwrap();
    let repo = PgLlmConfigRepository::new(test_db.db().clone(), Some(rotated));
    assert_eq!(
        repo.get_by_alias("a")
            .await
            .unwrap()
            .unwrap()
            .api_key
            .unwrap()
            .expose(),
        KEY
    );
    let report = reencrypt_all(&repo).await.unwrap();
    assert_eq!((report.reencrypted, report.already_current), (3, 0));
    // Now the new key alone reads every row; the old one none.
    let new_only = PgLlmConfigRepository::new(
        test_db.db().clone(),
        Some(SecretCipher::from_base64(&new_key).unwrap()),
    );
    assert!(
        new_only
            .list()
            .await
            .unwrap()
            .iter()
            .all(|c| c.api_key.is_ok())
    );
    assert!(matches!(
        old.get_by_alias("a").await.unwrap_err(),
        RepoError::Secret { .. }
    ));
    assert_eq!(reencrypt_all(&new_only).await.unwrap().already_current, 3);
}
