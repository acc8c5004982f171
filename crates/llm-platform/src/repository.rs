//! `LlmConfigRepository`: the contract of LLM configurations.

use async_trait::async_trait;
use shared_db::RepoError;

use crate::domain::{LlmConfig, NewLlmConfig, ReencryptReport};

/// LLM configurations (`llm_configs`), keyed by alias.
#[async_trait]
pub trait LlmConfigRepository: Send + Sync {
    /// Inserts `config`, or overwrites every field of the config with the same alias,
    /// setting `updated_at` to now (`created_at` and `id` are kept). Returns it as stored.
    async fn upsert(&self, config: NewLlmConfig) -> Result<LlmConfig, RepoError>;

    /// The config `alias`, if any. An encrypted key that cannot be decrypted (no or
    /// wrong `STOCKDB_SECRET_KEY`, or the row's vendor, provider type or base URL changed
    /// since the key was saved) is `RepoError::Secret`, never garbage.
    async fn get_by_alias(&self, alias: &str) -> Result<Option<LlmConfig>, RepoError>;

    /// Every config, lowest `priority` first (`NULL` last), then by alias. A config whose
    /// key cannot be read is listed with the reason in its `api_key` (an `Err`), so one
    /// bad row never hides the others.
    async fn list(&self) -> Result<Vec<LlmConfig>, RepoError>;

    /// The active configs, in the same order as [`LlmConfigRepository::list`].
    async fn list_active(&self) -> Result<Vec<LlmConfig>, RepoError>;

    /// Sets `is_active` and `updated_at`; `NotFound` for an unknown alias.
    async fn set_active(&self, alias: &str, active: bool) -> Result<LlmConfig, RepoError>;

    /// Deletes the config `alias`; false when there was none.
    async fn delete(&self, alias: &str) -> Result<bool, RepoError>;

    /// Encrypts, with the current key and scheme, every key stored in plaintext (rows of
    /// the earlier service, or saved before a cipher was configured), with the first scheme
    /// (`enc:v1:`, bound to the alias only) or with a previous key (after a rotation:
    /// `SecretCipher::with_previous`), in one transaction. Needs a cipher
    /// (`RepoError::Secret` without one). Every row is read first: when the cipher cannot
    /// read one (it is not the key that row was encrypted with), the call is
    /// `RepoError::Secret` saying how many, and nothing changes — a wrong key never
    /// encrypts anything the right one could then not read.
    async fn reencrypt(&self) -> Result<ReencryptReport, RepoError>;
}
