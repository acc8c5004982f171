//! `LlmConfigRepository`: the contract of LLM configurations.

use async_trait::async_trait;
use shared_db::RepoError;

use crate::domain::{LlmConfig, NewLlmConfig, ReencryptPlan, ReencryptReport};

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

    /// What [`LlmConfigRepository::reencrypt`] would do, changing nothing: every key
    /// stored in plaintext (rows of the earlier service, or saved before a cipher was
    /// configured), with the first scheme (`enc:v1:`, bound to the alias only) or with a
    /// previous key (after a rotation: `SecretCipher::with_previous`), with the endpoint
    /// each would be bound to. Needs a cipher (`RepoError::Secret` without one). When the
    /// cipher cannot read a row (it is not the key that row was encrypted with) it is
    /// `RepoError::Secret` saying how many.
    async fn reencrypt_plan(&self) -> Result<ReencryptPlan, RepoError>;

    /// Encrypts the keys of `confirmed` (a plan the operator looked at) with the current
    /// key and scheme, in one transaction, after making the plan again with every row
    /// locked: when it differs (a row's endpoint changed, a row came or went) it is
    /// `RepoError::StateConflict` and nothing changes, so a key is never bound to an
    /// endpoint nobody saw. A key that cannot read every row changes nothing (as in
    /// [`LlmConfigRepository::reencrypt_plan`]). Afterwards every key is in the current
    /// scheme, and the database records that `enc:v1:` values are refused from then on
    /// (a comment on `llm_configs`' primary key, which only the table's owner can change):
    /// an old value written back no longer reads.
    async fn reencrypt(&self, confirmed: &ReencryptPlan) -> Result<ReencryptReport, RepoError>;
}
