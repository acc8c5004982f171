//! `stockdb llm …`: the key goes in through stdin or the environment, never an argument,
//! and never comes out.

use std::io::Write as _;
use std::process::{Output, Stdio};

use test_support::TestDb;

use crate::stockdb;

const KEY: &str = "sk-live-4f9a1c0ffee1234567890";

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `stockdb llm ARGS` with `stdin` piped in.
fn llm(url: &str, args: &[&str], stdin: &str, secret: Option<&str>) -> Output {
    let mut cmd = stockdb(url);
    cmd.arg("llm").args(args);
    if let Some(secret) = secret {
        cmd.env("STOCKDB_SECRET_KEY", secret);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn set_args(alias: &str) -> Vec<&str> {
    vec![
        "set",
        alias,
        "--vendor",
        "deepseek",
        "--model",
        "deepseek-chat",
        "--base-url",
        "https://user:hunter2@api.example.com/v1?api_key=q-secret",
    ]
}

#[tokio::test]
async fn a_key_from_stdin_is_stored_and_never_shown() {
    let test_db = TestDb::new().await;
    let secret = stockdb::llm_platform::SecretCipher::generate_key();
    let url = test_db.url();
    let mut args = set_args("ds");
    args.push("--key-stdin");
    let saved = llm(url, &args, &format!("{KEY}\n"), Some(&secret));
    assert!(saved.status.success(), "{}", text(&saved));
    for listing in [
        llm(url, &["list"], "", Some(&secret)),
        llm(url, &["list", "--json"], "", Some(&secret)),
    ] {
        let shown = text(&listing);
        assert!(listing.status.success(), "{shown}");
        assert!(shown.contains("ds") && shown.contains("***"), "{shown}");
        for secret_part in [KEY, "hunter2", "q-secret"] {
            assert!(!shown.contains(secret_part), "{secret_part} shown: {shown}");
        }
    }
    assert!(!text(&saved).contains(KEY));
    let stored: String = sqlx::query_scalar("SELECT api_key FROM llm_configs WHERE alias = 'ds'")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert!(stored.starts_with("enc:v2:"), "encrypted at rest");
    // No --priority: the earlier service's default, never NULL (its router sorts by it).
    let priority: Option<i32> =
        sqlx::query_scalar("SELECT priority FROM llm_configs WHERE alias = 'ds'")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
    assert_eq!(priority, Some(1));

    // The library reads back exactly the key that went in (no trailing newline).
    let cipher = stockdb::llm_platform::SecretCipher::from_base64(&secret).unwrap();
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), Some(cipher));
    let config = db.llm_configs().get_by_alias("ds").await.unwrap().unwrap();
    assert_eq!(config.api_key.unwrap().expose(), KEY);
}

#[tokio::test]
async fn a_key_is_never_an_argument_and_a_missing_one_saves_nothing() {
    let test_db = TestDb::new().await;
    let url = test_db.url();
    let mut args = set_args("ds");
    args.extend(["--key", KEY]);
    let as_argument = llm(url, &args, "", None);
    assert_eq!(as_argument.status.code(), Some(2), "{}", text(&as_argument));
    assert!(
        !text(&as_argument).contains(KEY),
        "not even in the usage error"
    );
    let mut args = set_args("ds");
    args.extend(["--api-key", KEY]);
    assert_eq!(llm(url, &args, "", None).status.code(), Some(2));

    let no_key = llm(url, &set_args("ds"), "", None);
    assert_eq!(no_key.status.code(), Some(1));
    assert!(text(&no_key).contains("--key-stdin or --key-env"));
    // From the environment instead, named by the operator.
    let mut args = set_args("ds");
    args.extend(["--key-env", "MY_DEEPSEEK_KEY"]);
    let mut cmd = stockdb(url);
    let from_env = cmd
        .arg("llm")
        .args(&args)
        .env("MY_DEEPSEEK_KEY", KEY)
        .output()
        .unwrap();
    assert!(from_env.status.success(), "{}", text(&from_env));
    assert!(!text(&from_env).contains(KEY));
}

#[tokio::test]
async fn a_key_given_in_the_wrong_place_is_never_echoed_or_listed() {
    let test_db = TestDb::new().await;
    let url = test_db.url();
    let mixed = "Xk29fLq7ZpW3nB8vR4tY1mC6";
    // Pasted where a variable's name goes, or as the endpoint: refused, not echoed.
    for key in [KEY, mixed] {
        let mut args = set_args("ds");
        args.extend(["--key-env", key]);
        let refused = llm(url, &args, "", None);
        assert_eq!(refused.status.code(), Some(1));
        assert!(text(&refused).contains("not shown"), "{}", text(&refused));
        assert!(!text(&refused).contains(key), "{}", text(&refused));
    }
    let refused = llm(
        url,
        &[
            "set",
            "ds",
            "--vendor",
            "v",
            "--model",
            "m",
            "--base-url",
            KEY,
            "--key-stdin",
        ],
        KEY,
        None,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(!text(&refused).contains(&KEY[3..]), "{}", text(&refused));
    // Endpoints that carry a key as a user name or a path segment: listed masked.
    for (alias, base_url) in [
        ("as-user", format!("https://{mixed}@api.example.com/v1")),
        ("in-path", format!("https://api.example.com/{mixed}/v1")),
    ] {
        let saved = llm(
            url,
            &[
                "set",
                alias,
                "--vendor",
                "v",
                "--model",
                "m",
                "--base-url",
                &base_url,
                "--key-stdin",
            ],
            KEY,
            None,
        );
        assert!(saved.status.success(), "{}", text(&saved));
        assert!(!text(&saved).contains(mixed), "{}", text(&saved));
    }
    for args in [&["list"][..], &["--json", "list"][..]] {
        let listed = llm(url, args, "", None);
        assert!(listed.status.success(), "{}", text(&listed));
        assert!(
            text(&listed).contains("api.example.com"),
            "{}",
            text(&listed)
        );
        assert!(!text(&listed).contains(mixed), "{}", text(&listed));
    }
}

#[tokio::test]
async fn activate_deactivate_and_a_delete_that_asks_first() {
    let test_db = TestDb::new().await;
    let url = test_db.url();
    let mut args = set_args("ds");
    args.extend(["--key-stdin", "--inactive"]);
    assert!(llm(url, &args, KEY, None).status.success());
    let active = async || -> bool {
        sqlx::query_scalar("SELECT is_active FROM llm_configs WHERE alias = 'ds'")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap()
    };
    assert!(!active().await);
    assert!(llm(url, &["activate", "ds"], "", None).status.success());
    assert!(active().await);
    assert!(llm(url, &["deactivate", "ds"], "", None).status.success());
    assert!(!active().await);
    assert_eq!(
        llm(url, &["activate", "nope"], "", None).status.code(),
        Some(1)
    );

    // No terminal and no --yes: refused, the row stays.
    let refused = llm(url, &["delete", "ds"], "ds\n", None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("nothing was changed"));
    assert!(!active().await, "still there");
    assert!(
        llm(url, &["delete", "ds", "--yes"], "", None)
            .status
            .success()
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM llm_configs")
        .fetch_one(test_db.db().pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn reencrypt_upgrades_the_earlier_services_plaintext_keys() {
    let test_db = TestDb::new().await;
    let url = test_db.url();
    sqlx::query(
        "INSERT INTO llm_configs (alias, vendor, provider_type, api_key, model_name, is_active) \
         VALUES ('legacy', 'openai', 'openai', $1, 'gpt-4o', true)",
    )
    .bind(KEY)
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let without_key = llm(url, &["reencrypt"], "", None);
    assert_eq!(without_key.status.code(), Some(1));
    assert!(text(&without_key).contains("STOCKDB_SECRET_KEY"));

    let secret = stockdb::llm_platform::SecretCipher::generate_key();
    // The key would be bound to its row's endpoint: shown, and not done unconfirmed.
    let unconfirmed = llm(url, &["reencrypt"], "", Some(&secret));
    assert_eq!(unconfirmed.status.code(), Some(1), "{}", text(&unconfirmed));
    assert!(
        text(&unconfirmed).contains("legacy"),
        "{}",
        text(&unconfirmed)
    );
    assert!(
        text(&unconfirmed).contains("nothing was changed"),
        "{}",
        text(&unconfirmed)
    );
    let stored: String =
        sqlx::query_scalar("SELECT api_key FROM llm_configs WHERE alias = 'legacy'")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
    assert_eq!(stored, KEY);
    let done = llm(url, &["reencrypt", "--yes"], "", Some(&secret));
    assert!(done.status.success(), "{}", text(&done));
    assert!(
        text(&done).contains("enc:v1) values are refused"),
        "{}",
        text(&done)
    );
    assert!(text(&done).contains("re-encrypted 1 key"));
    assert!(!text(&done).contains(KEY));
    let stored: String =
        sqlx::query_scalar("SELECT api_key FROM llm_configs WHERE alias = 'legacy'")
            .fetch_one(test_db.db().pool())
            .await
            .unwrap();
    assert!(stored.starts_with("enc:v2:"));
    let again = llm(url, &["reencrypt"], "", Some(&secret));
    assert!(text(&again).contains("re-encrypted 0 key"));
}

#[tokio::test]
async fn prices_set_and_list_and_costs_show_in_stats_and_sessions() {
    use stockdb::audit::{LlmCallLog, LlmCallLogRepository as _, PgLlmCallLogRepository};
    let test_db = TestDb::new().await;
    let url = test_db.url();
    let set = llm(
        url,
        &[
            "prices",
            "set",
            "deepseek",
            "deepseek-chat",
            "--input",
            "2",
            "--output",
            "8",
            "--currency",
            "CNY",
            "--from",
            "2024-01-01",
        ],
        "",
        None,
    );
    assert!(set.status.success(), "{}", text(&set));
    let bad = llm(
        url,
        &[
            "prices",
            "set",
            "deepseek",
            "x",
            "--input",
            "2",
            "--output",
            "8",
            "--currency",
            "rmb",
        ],
        "",
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("currency"));
    let listed = llm(url, &["prices", "list"], "", None);
    assert!(text(&listed).contains("deepseek-chat") && text(&listed).contains("1 price(s)"));

    let at = chrono::NaiveDate::from_ymd_opt(2024, 6, 3)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    let research = stockdb::coordinator::ResearchSession::start("600519.SH", at);
    let session = research.id;
    use stockdb::coordinator::ResearchSessionRepository as _;
    stockdb::coordinator::PgResearchSessionRepository::new(test_db.db().clone())
        .save_session(&research)
        .await
        .unwrap();
    for model in ["deepseek-chat", "mystery-model"] {
        let mut call = LlmCallLog::new("research", "deepseek", model, "hi", at);
        call.session_id = Some(session);
        call.prompt_tokens = Some(1_000);
        call.completion_tokens = Some(500);
        PgLlmCallLogRepository::new(test_db.db().clone())
            .save(&call)
            .await
            .unwrap();
    }
    let stats = stockdb(url)
        .args([
            "audit",
            "stats",
            "--since",
            "2024-06-01",
            "--until",
            "2024-06-10",
            "--json",
        ])
        .output()
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let total = &stats["cost"]["total"];
    // (1,000 × 2 + 500 × 8) / 1e6 = 0.006 CNY, and one unpriced call.
    assert_eq!(total[0]["currency"], "CNY");
    assert!((total[0]["cost"].as_f64().unwrap() - 0.006).abs() < 1e-12);
    assert_eq!(total[1]["currency"], serde_json::Value::Null);
    assert_eq!(total[1]["calls"], 1);
    let shown = stockdb(url)
        .args(["sessions", "show", &session.to_string()])
        .output()
        .unwrap();
    let shown = text(&shown);
    assert!(
        shown.contains("LLM cost of the session") && shown.contains("0.0060"),
        "{shown}"
    );
    assert!(shown.contains("unpriced"), "{shown}");
}

#[test]
fn keygen_prints_a_fresh_usable_key_without_a_database() {
    // An address nothing listens on: keygen connects to nothing, so it does not matter.
    let keygen = || {
        let output = crate::stockdb("postgres://nobody@127.0.0.1:1/none")
            .args(["llm", "keygen"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let (first, second) = (keygen(), keygen());
    assert_ne!(first, second);
    assert_eq!(first.len(), 44, "{first}");
    let cipher = stockdb::llm_platform::SecretCipher::from_base64(&first).unwrap();
    drop(cipher);
}
