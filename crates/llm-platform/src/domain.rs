//! `NewLlmConfig` (what a caller saves) and `LlmConfig` (what is stored).

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared_db::{InvalidInput, check_not_empty, check_text};

use crate::secret::{ApiKey, SecretError};

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

/// `url` fit for an error message: a URL may carry credentials (`https://user:key@host`,
/// `?api_key=…`), so its password and query string are left out.
fn shown_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    if without_query.contains('@') {
        shared_db::redact_url(without_query)
    } else {
        // No user-info, no query: nothing secret left to hide.
        without_query.to_owned()
    }
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

/// What `LlmConfigRepository::reencrypt` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReencryptReport {
    /// Keys re-encrypted: stored in plaintext, with the first scheme, or with a previous
    /// key.
    pub reencrypted: u64,
    /// Keys already encrypted with the current key and scheme.
    pub already_current: u64,
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
        assert_eq!(err.value, "ftp://user:***@host/v1");
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", config()).contains("sk-123"));
    }
}
