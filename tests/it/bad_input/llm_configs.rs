//! Bad LLM configurations; the key is a secret and never shown.

use super::*;

/// LLM configurations.
#[tokio::test]
async fn llm_configurations() {
    crate::logs();
    let test_db = TestDb::new().await;
    let db = stockdb::Stockdb::from_db(test_db.db().clone(), None);
    let mut cases = Cases::default();
    let config_with = |edit: &dyn Fn(&mut NewLlmConfig)| {
        let mut config = NewLlmConfig::new(
            "deepseek",
            "deepseek",
            "openai",
            "deepseek-chat",
            ApiKey::new("sk-bad-input-0001"),
        );
        edit(&mut config);
        config
    };
    for (field, value, config) in [
        ("alias", "", config_with(&|c| c.alias = String::new())),
        ("vendor", "", config_with(&|c| c.vendor = "  ".into())),
        (
            "provider_type",
            "",
            config_with(&|c| c.provider_type = String::new()),
        ),
        (
            "model_name",
            "",
            config_with(&|c| c.model_name = String::new()),
        ),
        (
            "api_key",
            "***",
            config_with(&|c| c.api_key = ApiKey::new("")),
        ),
        (
            "api_key",
            "***",
            config_with(&|c| c.api_key = ApiKey::new("   ")),
        ),
        (
            "base_url",
            "ftp://api.example.com",
            config_with(&|c| c.base_url = Some("ftp://api.example.com".into())),
        ),
        (
            "base_url",
            "javascript:alert(1)",
            config_with(&|c| c.base_url = Some("javascript:alert(1)".into())),
        ),
        (
            "base_url",
            "api.example.com",
            config_with(&|c| c.base_url = Some("api.example.com?key=sk-bad-input-0001".into())),
        ),
        (
            "tags",
            "",
            config_with(&|c| c.tags = vec!["ok".into(), " ".into()]),
        ),
    ] {
        cases.check(
            format!("llm config bad {field}"),
            field,
            value,
            db.llm_configs().upsert(config).await.map(drop),
        );
    }
    cases.check_input(
        "cipher key not base64",
        "STOCKDB_SECRET_KEY",
        "***",
        SecretCipher::from_base64("not base64!"),
    );
    cases.check_input(
        "cipher key 16 bytes",
        "STOCKDB_SECRET_KEY",
        "***",
        SecretCipher::from_base64("AAAAAAAAAAAAAAAAAAAAAA=="),
    );

    cases.judge();
    untouched(&test_db, 0).await;
}
