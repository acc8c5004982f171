//! `NewLlmConfig` (what a caller saves) and `LlmConfig` (what is stored).

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared_db::{InvalidInput, check_not_empty, check_text};

use crate::secret::{ApiKey, KeyOrigin, SecretError};

/// A config's key in JSON: `***`, or why it cannot be read.
fn serialize_key<S: serde::Serializer>(
    key: &Result<ApiKey, SecretError>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match key {
        Ok(key) => key.serialize(serializer),
        Err(err) => serializer.serialize_str(&format!("<unreadable: {err}>")),
    }
}

/// An LLM configuration to save, keyed by its `alias`. `Debug` hides the key and what may
/// be a credential in `base_url`.
#[derive(Clone, PartialEq)]
pub struct NewLlmConfig {
    /// Unique name services ask for (`deepseek-chat`, `gpt-4o` …).
    pub alias: String,
    /// The vendor (`openai`, `deepseek` …).
    pub vendor: String,
    /// The client protocol (`openai`, `anthropic`, `ollama` …).
    pub provider_type: String,
    /// The secret key; encrypted at rest when a `SecretCipher` is configured.
    pub api_key: ApiKey,
    /// The model's name at the vendor.
    pub model_name: String,
    /// Endpoint, `http://` or `https://`; `None` for the vendor's default.
    pub base_url: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Lower is tried first. Never stored as `NULL`: the earlier service's router sorts
    /// its configs by it and fails on a missing one. [`NewLlmConfig::DEFAULT_PRIORITY`]
    /// unless set.
    pub priority: i32,
    /// Labels, stored as a JSON array of strings.
    pub tags: Vec<String>,
    /// Whether services may use it.
    pub is_active: bool,
}

impl NewLlmConfig {
    /// The priority of a config nobody gave one: 1, the earlier service's default.
    pub const DEFAULT_PRIORITY: i32 = 1;

    /// An active config with no optional fields.
    pub fn new(
        alias: impl Into<String>,
        vendor: impl Into<String>,
        provider_type: impl Into<String>,
        model_name: impl Into<String>,
        api_key: ApiKey,
    ) -> Self {
        Self {
            alias: alias.into(),
            vendor: vendor.into(),
            provider_type: provider_type.into(),
            api_key,
            model_name: model_name.into(),
            base_url: None,
            description: None,
            priority: Self::DEFAULT_PRIORITY,
            tags: Vec::new(),
            is_active: true,
        }
    }

    /// Checks required fields, the URL's scheme and the tags. Errors never contain the
    /// API key.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("alias", &self.alias)?;
        check_not_empty("vendor", &self.vendor)?;
        check_not_empty("provider_type", &self.provider_type)?;
        check_not_empty("model_name", &self.model_name)?;
        if self.api_key.expose().trim().is_empty() {
            return Err(InvalidInput::secret("api_key", "must not be empty"));
        }
        if let Some(url) = self
            .base_url
            .as_ref()
            .filter(|url| !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Err(InvalidInput::new(
                "base_url",
                shown_url(url),
                "must start with http:// or https://",
            ));
        }
        if self.api_key.expose().contains('\0') {
            return Err(InvalidInput::secret("api_key", "contains a NUL character"));
        }
        if let Some(url) = self.base_url.as_ref().filter(|url| url.contains('\0')) {
            return Err(InvalidInput::new(
                "base_url",
                shown_url(url).escape_debug(),
                "contains a NUL character",
            ));
        }
        check_text("description", self.description.as_deref())?;
        for tag in &self.tags {
            check_text("tags", Some(tag))?;
        }
        if let Some(tag) = self.tags.iter().find(|tag| tag.trim().is_empty()) {
            return Err(InvalidInput::new("tags", tag, "a tag must not be empty"));
        }
        Ok(())
    }
}

/// `url` (a config's `base_url`) fit to be shown: in listings, JSON, `Debug` and error
/// messages. An endpoint may carry a key anywhere: everything before its last `@` (a
/// user name is as likely a key as a password is), its query and fragment
/// (`?api_key=…`), and a path segment that looks like a key (a known key shape, or a
/// long token mixing cases and digits, or long hex) become `***`. A value that is not a
/// URL at all (a key pasted into `--base-url` by mistake) is shown as its length only.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL: shown (without a query) only when it looks like an address, a host
        // or `scheme:…`, and not like a key.
        let head = url.split(['?', '#']).next().unwrap_or_default();
        let shown = shared_db::redact_text(head);
        let address = head.contains(['.', ':']) && !head.contains(['@', ' ']);
        if address && shown == head && !head.split(['.', ':', '/']).any(looks_like_key) {
            return shown;
        }
        return format!(
            "<{} characters, not shown: not a URL, and it may be a key>",
            url.chars().count()
        );
    };
    let rest = match rest.rfind('@') {
        Some(at) => format!("***@{}", &rest[at + 1..]),
        None => rest.to_owned(),
    };
    let location = rest.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = location
        .split('/')
        .map(|segment| {
            if looks_like_key(segment) {
                "***"
            } else {
                segment
            }
        })
        .collect();
    shared_db::redact_text(&format!("{scheme}://{}", segments.join("/")))
}

/// True for a word (a URL path segment, a variable name) that looks like a key rather
/// than a name: at least 20 characters of a token alphabet mixing upper case, lower case
/// and digits, or at least 32 hex digits. Deployment and model names
/// (`gpt-4o-2024-08-06`) and variable names (`DEEPSEEK_API_KEY`) are of one case.
pub fn looks_like_key(segment: &str) -> bool {
    let token = segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~'));
    let has = |f: fn(&char) -> bool| segment.chars().any(|c| f(&c));
    let mixed =
        has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase) && has(char::is_ascii_digit);
    let hex = segment.len() >= 32 && segment.chars().all(|c| c.is_ascii_hexdigit());
    token && ((segment.len() >= 20 && mixed) || hex)
}

/// A config's endpoint in JSON: without a password or query string, which may carry
/// credentials (`https://user:key@host`, `?api_key=…`).
fn serialize_url<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serializer.serialize_some(&shown_url(url)),
        None => serializer.serialize_none(),
    }
}

/// A stored LLM configuration. `Debug` and `Serialize` show neither the key (`***`) nor
/// what may be a credential in `base_url` (its password and query string); the fields
/// themselves hold the real values for the services that call the endpoint.
#[derive(Clone, PartialEq, Serialize)]
pub struct LlmConfig {
    /// `llm_configs.id`.
    pub id: i32,
    /// Unique name.
    pub alias: String,
    /// The vendor.
    pub vendor: String,
    /// The client protocol.
    pub provider_type: String,
    /// The decrypted key (`Debug`/`Serialize` print `***`), or why it cannot be read (no
    /// or the wrong `STOCKDB_SECRET_KEY`, or the row's endpoint changed since the key was
    /// saved): only listings return an `Err` here; single reads fail instead.
    #[serde(serialize_with = "serialize_key")]
    pub api_key: Result<ApiKey, SecretError>,
    /// The model's name at the vendor.
    pub model_name: String,
    /// Endpoint.
    #[serde(serialize_with = "serialize_url")]
    pub base_url: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Lower is tried first.
    pub priority: Option<i32>,
    /// Labels.
    pub tags: Vec<String>,
    /// Whether services may use it (`NULL` in old rows reads as false).
    pub is_active: bool,
    /// When it was first saved.
    pub created_at: Option<DateTime<Utc>>,
    /// When it was last saved or (de)activated.
    pub updated_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for NewLlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewLlmConfig")
            .field("alias", &self.alias)
            .field("vendor", &self.vendor)
            .field("provider_type", &self.provider_type)
            .field("api_key", &self.api_key)
            .field("model_name", &self.model_name)
            .field("base_url", &self.base_url.as_deref().map(shown_url))
            .field("description", &self.description)
            .field("priority", &self.priority)
            .field("tags", &self.tags)
            .field("is_active", &self.is_active)
            .finish()
    }
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("id", &self.id)
            .field("alias", &self.alias)
            .field("vendor", &self.vendor)
            .field("provider_type", &self.provider_type)
            .field("api_key", &self.api_key)
            .field("model_name", &self.model_name)
            .field("base_url", &self.base_url.as_deref().map(shown_url))
            .field("description", &self.description)
            .field("priority", &self.priority)
            .field("tags", &self.tags)
            .field("is_active", &self.is_active)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A key `LlmConfigRepository::reencrypt` will encrypt with the current key and scheme,
/// bound to its row's endpoint as the row names it now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyUpgrade {
    /// The config.
    pub alias: String,
    /// Its vendor.
    pub vendor: String,
    /// Its client protocol.
    pub provider_type: String,
    /// Its endpoint (shown without credentials in `Serialize`).
    #[serde(serialize_with = "serialize_url")]
    pub base_url: Option<String>,
    /// How the key is kept now.
    pub origin: KeyOrigin,
}

/// What `LlmConfigRepository::reencrypt_plan` found: the keys to upgrade, in id order,
/// and how many need nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReencryptPlan {
    /// Keys to encrypt anew.
    pub upgrades: Vec<KeyUpgrade>,
    /// Keys already encrypted with the current key and scheme.
    pub already_current: u64,
}

impl ReencryptPlan {
    /// The upgrades that bind a key to an endpoint for the first time (plaintext and
    /// `enc:v1:` rows): nothing vouched for those endpoints, so an operator should look
    /// at them before confirming (a database writer may have pointed one elsewhere).
    pub fn binding_newly(&self) -> impl Iterator<Item = &KeyUpgrade> {
        self.upgrades.iter().filter(|u| u.origin.binds_newly())
    }
}

/// What `LlmConfigRepository::reencrypt` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReencryptReport {
    /// Keys re-encrypted: stored in plaintext, with the first scheme, or with a previous
    /// key.
    pub reencrypted: u64,
    /// Keys already encrypted with the current key and scheme.
    pub already_current: u64,
    /// Whether the database now refuses `enc:v1:` values (recorded once every key is in
    /// the current scheme; false when the role may not record it: see the log).
    pub first_scheme_refused: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NewLlmConfig {
        NewLlmConfig::new(
            "deepseek",
            "deepseek",
            "openai",
            "deepseek-chat",
            ApiKey::new("sk-123"),
        )
    }

    #[test]
    fn debug_and_json_hide_the_key_and_the_urls_credentials() {
        let mut new = config();
        new.base_url = Some("https://user:hunter2@api.example.com/v1?api_key=q-secret".into());
        let stored = LlmConfig {
            id: 1,
            alias: new.alias.clone(),
            vendor: new.vendor.clone(),
            provider_type: new.provider_type.clone(),
            api_key: Ok(new.api_key.clone()),
            model_name: new.model_name.clone(),
            base_url: new.base_url.clone(),
            description: None,
            priority: None,
            tags: Vec::new(),
            is_active: true,
            created_at: None,
            updated_at: None,
        };
        for shown in [
            format!("{new:?}"),
            format!("{stored:?}"),
            serde_json::to_string(&stored).unwrap(),
        ] {
            assert!(shown.contains("api.example.com/v1"), "{shown}");
            for secret in ["sk-123", "hunter2", "q-secret"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
    }

    #[test]
    fn validation_names_the_field_and_never_the_key() {
        let mut bad = config();
        bad.base_url = Some("ftp://x".into());
        assert_eq!(bad.validate().unwrap_err().field, "base_url");
        let mut bad = config();
        bad.api_key = ApiKey::new(" ");
        let err = bad.validate().unwrap_err();
        assert_eq!((err.field, err.value.as_str()), ("api_key", "***"));
        let mut bad = config();
        bad.alias = String::new();
        assert_eq!(bad.validate().unwrap_err().field, "alias");
    }

    #[test]
    fn a_bad_url_is_shown_without_its_credentials() {
        let mut bad = config();
        bad.base_url = Some("ftp://user:sk-secret@host/v1?api_key=sk-other".into());
        let err = bad.validate().unwrap_err();
        assert_eq!(err.value, "ftp://***@host/v1");
        // A key pasted as the base URL: not even part of it is shown.
        bad.base_url = Some("sk-live-4f9a8b7c6d5e4f3a2b1c".into());
        let err = bad.validate().unwrap_err();
        assert!(!err.to_string().contains("4f9a8b7c"), "{err}");
        assert!(
            err.to_string().contains("28 characters, not shown"),
            "{err}"
        );
    }

    #[test]
    fn a_key_anywhere_in_an_endpoint_is_masked() {
        let key = "Xk29fLq7ZpW3nB8vR4tY1mC6";
        for (url, shown) in [
            (
                format!("https://{key}@api.example.com/v1"),
                "https://***@api.example.com/v1",
            ),
            (
                format!("https://{key}:x@api.example.com/v1"),
                "https://***@api.example.com/v1",
            ),
            (
                format!("https://api.example.com/{key}/v1"),
                "https://api.example.com/***/v1",
            ),
            (
                "https://api.example.com/bot123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0/x"
                    .to_owned(),
                "https://api.example.com/bot***/x",
            ),
            (
                "https://api.example.com/0123456789abcdef0123456789abcdef/v1".to_owned(),
                "https://api.example.com/***/v1",
            ),
            (
                "https://x.openai.azure.com/openai/deployments/gpt-4o-2024-08-06/chat".to_owned(),
                "https://x.openai.azure.com/openai/deployments/gpt-4o-2024-08-06/chat",
            ),
            (
                format!("https://api.example.com/v1?key={key}#{key}"),
                "https://api.example.com/v1",
            ),
        ] {
            assert_eq!(shown_url(&url), shown, "{url}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", config()).contains("sk-123"));
    }
}
