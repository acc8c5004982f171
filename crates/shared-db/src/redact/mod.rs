//! Redaction of secrets in what is stored and shown: request parameters (JSON) and free
//! text (responses, error messages, node reports) that may quote a request or a key.
//! Every context that stores text from outside redacts with it.
//!
//! What counts as a secret: the value of a parameter, header or field whose name has a
//! secret word in it (`token`, `key`, `secret`, `password`, `authorization` …, compared
//! word by word, so `keyword` and `max_tokens` stay visible, and compounds such as
//! `accesstoken`, `privatekey` and `passphrase` count); a URL's password; a `Bearer` or
//! `Basic` credential; a key in a well-known shape (`sk-…`). JSON held in a string is
//! parsed and redacted as JSON.

use std::sync::LazyLock;

use regex::{Captures, Regex};

mod json;
#[cfg(test)]
mod properties;

use json::redact_json_in_place;
use serde_json::{Map, Value};

/// What a redacted value becomes.
pub const REDACTED: &str = "***";

/// Words that make a name secret when a word of the name is exactly one of them.
const SECRET_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "authorization",
    "auth",
    "credential",
    "credentials",
    "signature",
    "apikey",
    "cookie",
    "pass",
    "pw",
];

/// Endings that make a word secret when names run words together (`accesstoken`,
/// `clientsecret`, `privatekey`, `dbpassword`); `tokens`, `keyword` or `monkey` do not end
/// in one.
const SECRET_ENDINGS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "signingkey",
    "authkey",
    "credential",
    "credentials",
];

/// True when the parameter `name` looks like it holds a secret (a percent-encoded name,
/// `api%5Fkey`, is read decoded).
pub fn is_secret_name(name: &str) -> bool {
    let decoded;
    let name = if name.contains('%') {
        decoded = crate::dburl::percent_decode(name);
        decoded.as_str()
    } else {
        name
    };
    words(name).any(|word| {
        let word = word.to_ascii_lowercase();
        SECRET_WORDS.contains(&word.as_str())
            || SECRET_ENDINGS.iter().any(|ending| word.ends_with(ending))
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
/// (objects inside arrays included), and every string redacted as text
/// ([`redact_text`]).
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
        Value::String(text) => Value::String(redact_text(text)),
        other => other.clone(),
    }
}

/// A URL's password: `scheme://user:password@`.
// The patterns are constants; the tests compile every one of them.
/// The password runs to the last `@` of the address: it may hold `/`, `?`, `#` or `@`.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]*:)\S*@").expect("a valid pattern")
});

/// `name = value`, `name: value`, `"name": "value"`, in query strings, headers, lines,
/// `|`-separated pairs and JSON fragments; the name must hold a secret-ish stem (the
/// precise test is [`is_secret_name`]).
static SECRET_PAIR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(?P<name>['"]?[A-Za-z0-9_.%\-]*(?:token|key|secret|pass|pw|passphrase|auth|credential|signature|cookie)[A-Za-z0-9_.%\-]*['"]?)(?P<sep>[ \t]*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|(?:(?:bearer|basic|token|digest|apikey)[ \t]+)?[^\s&;,|"'}\]]+)"#,
    )
    .expect("a valid pattern")
});

/// A `Bearer` or `Basic` credential anywhere in text (`Bearer: …` too, and with its
/// spaces percent-encoded, as in a URL). `Token …` counts only after a secret name (an
/// `Authorization` header), where [`SECRET_PAIR`] finds it: "the token expired" is prose.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)((?:\b|%20)(?:bearer|basic))(?:[ \t:]|%20)+[A-Za-z0-9._~+/\-]{6,}=*")
        .expect("a valid pattern")
});

/// An `Authorization` header whose scheme takes a list of `name=value` fields (Digest,
/// AWS4, OAuth): the whole list, and nothing after it. A scheme with one credential
/// (`Bearer x`, `Token x`) is a secret pair ([`SECRET_PAIR`]).
static AUTHORIZATION_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    let field = r#"[A-Za-z0-9_\-]+[ \t]*=[ \t]*(?:\\?"[^"\r\n]*?\\?"|[^\s,"]*)"#;
    Regex::new(&format!(
        r"(?i)((?:proxy-)?authorization[ \t]*:[ \t]*)[A-Za-z][A-Za-z0-9_\-]*[ \t]+{field}(?:[ \t]*,[ \t]*{field})*"
    ))
    .expect("a valid pattern")
});

/// A Digest `response=` anywhere (a header quoted in a line, a JSON string or, spaces
/// percent-encoded, a URL: hence no word boundary before it).
static DIGEST_RESPONSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(response[ \t]*=[ \t]*)(\\?"?)[0-9a-f]{16,}(\\?"?)"#)
        .expect("a valid pattern")
});

/// API keys in well-known shapes: `sk-…` (OpenAI, DeepSeek, Anthropic `sk-ant-…`).
static KEY_SHAPED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{8,}").expect("a valid pattern"));

/// Tokens whose shape says what they are, masked whole: AWS access key ids, Google API
/// keys, GitHub tokens, Slack tokens.
static TOKEN_SHAPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}|xox[baprs]-[A-Za-z0-9\-]{10,})",
    )
    .expect("a valid pattern")
});

/// A bot token in a URL path (`/bot123456:AAH…/sendMessage`).
static BOT_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/bot[0-9]{5,}:[A-Za-z0-9_\-]{20,}").expect("a valid pattern"));

/// `text` with its secrets masked, and every other byte as it was: JSON in the string
/// redacted as JSON, in place (its keys' order, its numbers as written, its spacing kept), URL passwords,
/// secret `name=value` / `name: value` pairs (query strings, headers, lines, `|`-separated
/// lists), `Bearer`/`Basic` credentials and `sk-…` keys. What is not a secret is kept.
pub fn redact_text(text: &str) -> String {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Some(redacted) = redact_json_in_place(text)
    {
        return redacted;
    }
    let text = AUTHORIZATION_HEADER.replace_all(text, format!("${{1}}{REDACTED}"));
    let text = URL_PASSWORD.replace_all(&text, format!("${{1}}{REDACTED}@"));
    let text = SECRET_PAIR.replace_all(&text, |caps: &Captures<'_>| {
        let name = &caps["name"];
        if !is_secret_name(name.trim_matches(['"', '\''])) {
            return caps[0].to_owned();
        }
        let value = &caps["value"];
        let masked = match value.chars().next() {
            Some(quote @ ('"' | '\'')) => format!("{quote}{REDACTED}{quote}"),
            _ => REDACTED.to_owned(),
        };
        format!("{name}{}{masked}", &caps["sep"])
    });
    let text = DIGEST_RESPONSE.replace_all(&text, format!("${{1}}${{2}}{REDACTED}${{3}}"));
    let text = BEARER.replace_all(&text, format!("${{1}} {REDACTED}"));
    let text = KEY_SHAPED.replace_all(&text, format!("${{1}}-{REDACTED}"));
    let text = TOKEN_SHAPED.replace_all(&text, REDACTED);
    let text = BOT_PATH.replace_all(&text, format!("/bot{REDACTED}"));
    text.into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_whole_words_or_secret_compounds() {
        for name in [
            "token",
            "api_key",
            "apiKey",
            "X-API-KEY",
            "Authorization",
            "client_secret",
            "PASSWORD",
            "access-token",
            "accesstoken",
            "privatekey",
            "passphrase",
            "refreshToken",
            "db_password",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "keyword",
            "max_tokens",
            "maxtokens",
            "query",
            "ts_code",
            "monkey",
            "passage",
            "author",
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
    }

    /// One case: the text, a secret that must go, a neighbour that must stay.
    const CASES: &[(&str, &str, &str)] = &[
        // Query strings.
        (
            "https://api.x.com/v1?symbol=600519&apikey=K1secret&page=2",
            "K1secret",
            "symbol=600519",
        ),
        ("?token=T2secret&limit=5", "T2secret", "limit=5"),
        ("a=1;password=P3secret;b=2", "P3secret", "b=2"),
        (
            "user=bob, passwd=P4secret, role=admin",
            "P4secret",
            "role=admin",
        ),
        (
            "GET /data?access_token=A5secret HTTP/1.1",
            "A5secret",
            "HTTP/1.1",
        ),
        ("/v1?sig=1&signature=S6secret#frag", "S6secret", "sig=1"),
        // Pairs on lines and between bars.
        (
            "user=alice\npassword=P7secret\nhost=db",
            "P7secret",
            "host=db",
        ),
        (
            "user=alice|password=P8secret|host=db",
            "P8secret",
            "host=db",
        ),
        ("api_key=K9secret\r\nregion=cn", "K9secret", "region=cn"),
        (
            "client_secret = C10secret | scope = read",
            "C10secret",
            "scope = read",
        ),
        // Headers.
        (
            "Authorization: Bearer B11secretvalue\nAccept: json",
            "B11secretvalue",
            "Accept: json",
        ),
        (
            "authorization: Basic dXNlcjpC12secret=",
            "dXNlcjpC12secret",
            "authorization",
        ),
        (
            "x-api-key: X13secret\nx-request-id: 42",
            "X13secret",
            "x-request-id: 42",
        ),
        ("X-Auth-Token: T14secret", "T14secret", "X-Auth-Token"),
        ("Cookie: session=C15secret", "C15secret", "Cookie"),
        (
            "Proxy-Authorization: Bearer P16secretvalue",
            "P16secretvalue",
            "Proxy",
        ),
        // JSON held in a string, whole or in a fragment.
        (
            r#"{"api_key": "sk-17secretvalue", "model": "deepseek-chat"}"#,
            "17secretvalue",
            "deepseek-chat",
        ),
        (
            r#"[{"token": "T18secret"}, {"page": 3}]"#,
            "T18secret",
            "\"page\": 3",
        ),
        (
            r#"error: {"password": "P19secret", "user": "bob"} refused"#,
            "P19secret",
            "refused",
        ),
        (
            r#"payload 'secret': 'S20secret', 'id': 7"#,
            "S20secret",
            "'id': 7",
        ),
        (
            r#"{"nested": {"accessToken": "A21secret"}, "ok": true}"#,
            "A21secret",
            "\"ok\": true",
        ),
        // URL passwords.
        (
            "postgres://app:P22secret@db:5432/stock",
            "P22secret",
            "db:5432/stock",
        ),
        (
            "fetching https://user:P23secret@api.example.com/x failed",
            "P23secret",
            "failed",
        ),
        ("redis://:P24secret@cache:6379/0", "P24secret", "cache:6379"),
        // Compound names.
        ("accesstoken=A25secret&x=1", "A25secret", "x=1"),
        ("privatekey: K26secret", "K26secret", "privatekey"),
        ("passphrase=P27secret", "P27secret", "passphrase"),
        ("refreshToken=R28secret;lang=zh", "R28secret", "lang=zh"),
        ("DB_PASSWORD=P29secret MODE=prod", "P29secret", "MODE=prod"),
        ("clientSecret: C30secret", "C30secret", "clientSecret"),
        // Keys in well-known shapes, wherever they appear.
        (
            "Incorrect API key provided: sk-31secretvalue123. See docs.",
            "31secretvalue123",
            "See docs.",
        ),
        ("key sk-ant-32secretvalue used", "32secretvalue", "used"),
        (
            "Bearer B33secretvalue was rejected",
            "B33secretvalue",
            "was rejected",
        ),
        // Harmless text stays as it is.
        (
            "keyword=茅台&max_tokens=512",
            "",
            "keyword=茅台&max_tokens=512",
        ),
        ("monkey=1&passage=2", "", "monkey=1&passage=2"),
        (
            "the token expired; log in again",
            "",
            "the token expired; log in again",
        ),
        (
            "ts_code=600519.SH&start_date=20240101",
            "",
            "ts_code=600519.SH&start_date=20240101",
        ),
        ("author: 张三", "", "author: 张三"),
        (
            "HTTP 502 upstream gateway error",
            "",
            "HTTP 502 upstream gateway error",
        ),
        (r#"{"items": [1, 2, 3]}"#, "", "\"items\": [1, 2, 3]"),
        ("tokens used: 1530", "", "tokens used: 1530"),
        (
            "https://api.example.com/v1/daily?ts_code=000001.SZ",
            "",
            "ts_code=000001.SZ",
        ),
    ];

    #[test]
    fn text_secrets_are_masked_and_their_neighbours_kept() {
        assert!(CASES.len() >= 40);
        for (text, secret, neighbour) in CASES {
            let redacted = redact_text(text);
            if !secret.is_empty() {
                assert!(
                    !redacted.contains(secret),
                    "{text:?} → {redacted:?} kept {secret:?}"
                );
                assert!(redacted.contains(REDACTED), "{text:?} → {redacted:?}");
            }
            assert!(
                redacted.contains(neighbour),
                "{text:?} → {redacted:?} lost {neighbour:?}"
            );
        }
    }

    #[test]
    fn json_text_is_masked_in_place_and_every_other_byte_kept() {
        // Keys out of order, a duplicate key, a trailing zero, a 23-digit integer, spacing
        // and escapes: what the earlier service stored, shown as stored.
        let stored = r#"{ "zeta": 0.70, "alpha": 12345678901234567890123, "alpha": "\u4e2d",
  "api_key" : {"nested": [1, 2]}, "note": "token=T30secret&x=1", "list": [ "sk-31secretvalue" ] }"#;
        let shown = redact_text(stored);
        assert_eq!(
            shown,
            r#"{ "zeta": 0.70, "alpha": 12345678901234567890123, "alpha": "\u4e2d",
  "api_key" : "***", "note": "token=***&x=1", "list": [ "sk-***" ] }"#
        );
        // Nothing secret: not a byte changes.
        let plain = r#"{"b":1.50,"a":[true,null,-0.0e0],"b":"x"}"#;
        assert_eq!(redact_text(plain), plain);
        // Not JSON after all: redacted as text.
        assert_eq!(redact_text("{ token=T32secret"), "{ token=***");
    }
}
