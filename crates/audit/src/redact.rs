//! Redaction of secret-looking request parameters before they are stored.

use serde_json::{Map, Value};

/// What a redacted value becomes.
pub const REDACTED: &str = "***";

/// Words that make a parameter name secret, compared case-insensitively with each word of
/// the name (`api_key` → `api`, `key`; `X-Auth-Token` → `x`, `auth`, `token`; `apiKey` →
/// `api`, `key`). Whole words only, so `keyword` and `max_tokens` stay visible.
const SECRET_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "authorization",
    "auth",
    "credential",
    "credentials",
    "signature",
    "apikey",
    "cookie",
];

/// True when the parameter `name` looks like it holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    words(name).any(|word| {
        SECRET_WORDS
            .iter()
            .any(|secret| word.eq_ignore_ascii_case(secret))
    })
}

/// The words of an identifier: split on non-alphanumerics and lower→upper case changes.
fn words(name: &str) -> impl Iterator<Item = &str> {
    let mut bounds = Vec::new();
    let mut start = None;
    let mut prev_lower = false;
    for (idx, ch) in name.char_indices() {
        if !ch.is_alphanumeric() {
            if let Some(s) = start.take() {
                bounds.push((s, idx));
            }
            prev_lower = false;
            continue;
        }
        match start {
            None => start = Some(idx),
            Some(s) if prev_lower && ch.is_uppercase() => {
                bounds.push((s, idx));
                start = Some(idx);
            }
            Some(_) => {}
        }
        prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
    }
    if let Some(s) = start {
        bounds.push((s, name.len()));
    }
    bounds.into_iter().map(move |(s, e)| &name[s..e])
}

/// `params` with the value of every secret-looking key replaced by `***`, at any depth
/// (objects inside arrays included), and secret-looking `name=value` pairs inside string
/// values (query strings, `Authorization`-style headers in URLs) masked too.
pub fn redact_params(params: &Value) -> Value {
    match params {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(name, value)| {
                    let value = if is_secret_name(name) {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact_params(value)
                    };
                    (name.clone(), value)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_params).collect()),
        Value::String(text) => Value::String(redact_query_string(text)),
        other => other.clone(),
    }
}

/// Masks the values of secret-looking `name=value` pairs in `text` (`?a=1&api_key=x`).
fn redact_query_string(text: &str) -> String {
    if !text.contains('=') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let name_start = rest[..eq]
            .rfind(['?', '&', ';', ' ', ','])
            .map_or(0, |i| i + 1);
        let name = &rest[name_start..eq];
        let value_end = rest[eq + 1..]
            .find(['&', ';', ' ', ',', '#'])
            .map_or(rest.len(), |i| eq + 1 + i);
        out.push_str(&rest[..=eq]);
        if is_secret_name(name) {
            out.push_str(REDACTED);
        } else {
            out.push_str(&rest[eq + 1..value_end]);
        }
        rest = &rest[value_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_whole_words_in_any_case() {
        for name in [
            "token",
            "api_key",
            "apiKey",
            "X-API-KEY",
            "Authorization",
            "client_secret",
            "PASSWORD",
            "access-token",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "keyword",
            "max_tokens",
            "query",
            "ts_code",
            "monkey",
            "passage",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn nested_secrets_are_redacted_and_the_rest_kept() {
        let params = json!({
            "query": "贵州茅台 年报",
            "max_tokens": 512,
            "Token": "t-1",
            "headers": {"Authorization": "Bearer abc", "Accept": "json"},
            "batches": [{"api_key": "k-2", "page": 1}],
            "url": "https://api.example.com/v1?symbol=600519&apikey=k-3&page=2",
        });
        let redacted = redact_params(&params);
        assert_eq!(
            redacted,
            json!({
                "query": "贵州茅台 年报",
                "max_tokens": 512,
                "Token": "***",
                "headers": {"Authorization": "***", "Accept": "json"},
                "batches": [{"api_key": "***", "page": 1}],
                "url": "https://api.example.com/v1?symbol=600519&apikey=***&page=2",
            })
        );
        let text = redacted.to_string();
        for secret in ["t-1", "abc", "k-2", "k-3"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}
