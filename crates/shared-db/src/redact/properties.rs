//! Property tests of redaction: secrets of every shape stockdb knows, generated and
//! embedded in generated text, JSON held in a string, or a URL, never survive, and a
//! harmless neighbour always does. A fixed seed and 1,000 cases each, so CI runs the same
//! cases every time.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::redact_text;
use crate::dburl::redact_url;

/// A runner of 1,000 cases from a fixed seed.
fn runner() -> TestRunner {
    let seed = *b"stockdb redaction properties 01!";
    TestRunner::new_with_rng(
        Config {
            cases: 1_000,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    )
}

/// A secret as it appears in text, and the part of it that must not survive.
fn secret() -> impl Strategy<Value = (String, String)> {
    let token = "[A-Za-z0-9]{16,32}";
    prop_oneof![
        token.prop_map(|t| (format!("sk-{t}"), t)),
        "[0-9A-Z]{16}".prop_map(|t| (format!("AKIA{t}"), format!("AKIA{t}"))),
        "[0-9A-Za-z_]{35}".prop_map(|t| (format!("AIza{t}"), format!("AIza{t}"))),
        "[A-Za-z0-9]{36}".prop_map(|t| (format!("ghp_{t}"), format!("ghp_{t}"))),
        (
            prop::sample::select(vec![
                "token",
                "api_key",
                "apiKey",
                "api%5Fkey",
                "password",
                "pass",
                "pw",
                "passwd",
                "secret",
                "access_token",
                "x-api-key",
                "client_secret",
            ]),
            prop::sample::select(vec!["=", ": ", ":\n", " = ", ":\t"]),
            token,
        )
            .prop_map(|(name, sep, value)| (format!("{name}{sep}{value}"), value)),
        (
            prop::sample::select(vec![
                "Authorization: Token ",
                "Authorization: Bearer ",
                "authorization: Basic ",
                "Bearer: ",
                "Proxy-Authorization: Bearer ",
            ]),
            token,
        )
            .prop_map(|(header, value)| (format!("{header}{value}"), value)),
        "[0-9a-f]{32}".prop_map(|hex| (
            format!(
                "Authorization: Digest username=\"bob\", realm=\"x\", nonce=\"n1\", \
                 response=\"{hex}\""
            ),
            hex
        )),
        "[A-Za-z0-9/?#!$^*()@]{10,20}".prop_map(|password| (
            format!("https://bob:{password}@api.example.com/v1/x"),
            password
        )),
        "[A-Za-z0-9_-]{35}".prop_map(|t| (
            format!("https://api.telegram.org/bot123456789:{t}/sendMessage"),
            t
        )),
    ]
}

/// Where the secret goes: plain text between words, a JSON document held in a string, or
/// a URL's query.
fn embed(secret: &str, how: u8, before: &str, after: &str) -> String {
    match how % 3 {
        0 => format!("{before} {secret} {after} model=deepseek-chat"),
        1 => serde_json::json!({ "note": format!("{before} {secret} {after}"), "model": "deepseek-chat" })
            .to_string(),
        _ => format!(
            "GET https://api.example.com/q?model=deepseek-chat&x={} failed",
            secret.replace(' ', "%20").replace('\n', "%0A")
        ),
    }
}

#[test]
fn generated_secrets_never_survive_and_their_neighbours_do() {
    let words = "[a-z]{0,8}( [a-z]{1,8}){0,3}";
    runner()
        .run(
            &(secret(), any::<u8>(), words, words),
            |((shown, core), how, before, after)| {
                let text = embed(&shown, how, &before, &after);
                let redacted = redact_text(&text);
                prop_assert!(
                    !redacted.contains(&core),
                    "{core:?} survived in {redacted:?} (from {text:?})"
                );
                prop_assert!(redacted.contains("deepseek-chat"), "{redacted:?}");
                Ok(())
            },
        )
        .unwrap();
}

/// A password as a URL may carry it: as written, or percent-encoded.
fn encoded(password: &str, encode: bool) -> String {
    if !encode {
        return password.to_owned();
    }
    password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn generated_database_passwords_never_survive_in_any_part_of_a_url() {
    // Any printable ASCII but spaces, at least 8 characters, so that it cannot be a part
    // of the rest of the URL by chance.
    let password = "[!-~]{8,24}";
    runner()
        .run(
            &(password, any::<bool>(), 0u8..4),
            |(password, encode, place)| {
                let shown = encoded(&password, encode);
                let url = match place {
                    0 => {
                        format!("postgres://app:{shown}@db.example.com:5432/stock?sslmode=require")
                    }
                    1 => format!(
                        "postgres://app@db.example.com/stock?sslmode=require&password={shown}"
                    ),
                    2 => format!(
                        "postgres://app@db.example.com/stock?sslpassword={shown}&application_name=x"
                    ),
                    _ => format!("postgres://app:{shown}@db.example.com/stock#{shown}"),
                };
                let redacted = redact_url(&url);
                prop_assert!(
                    !redacted.contains(&password) && !redacted.contains(&shown),
                    "{password:?} survived in {redacted:?} (from {url:?})"
                );
                Ok(())
            },
        )
        .unwrap();
}
