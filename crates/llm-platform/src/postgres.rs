//! `PgLlmConfigRepository`: LLM configurations on PostgreSQL.

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, NullOrdering, OnConflict, Order};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::Value;
use shared_db::{Db, InvalidInput, RepoError, utc_now_tz};

use crate::domain::{LlmConfig, NewLlmConfig, ReencryptReport};
use crate::entity::llm_configs::{ActiveModel, Column, Entity, Model, StoredApiKey};
use crate::repository::LlmConfigRepository;
use crate::secret::{
    KeyBinding, ReadWith, SecretCipher, SecretError, read_stored, read_stored_with, to_stored,
};

/// A key that cannot be read, as the repository error naming its config.
fn secret_error(err: SecretError) -> RepoError {
    RepoError::Secret {
        entity: "llm config",
        key: err.alias().to_owned(),
        source: Box::new(err),
    }
}

/// LLM configurations on PostgreSQL.
///
/// With a [`SecretCipher`], keys are written encrypted; without one they are written in
/// plaintext (as the earlier service did) and a warning is logged. Reading handles both.
#[derive(Debug, Clone)]
pub struct PgLlmConfigRepository {
    db: Db,
    cipher: Option<SecretCipher>,
}

impl PgLlmConfigRepository {
    /// A repository on `db`, encrypting keys with `cipher` when given.
    pub fn new(db: Db, cipher: Option<SecretCipher>) -> Self {
        Self { db, cipher }
    }

    /// The stored row as a config; a key that cannot be read is kept as its error, so
    /// one bad row never hides the others.
    fn to_domain(&self, m: Model) -> Result<LlmConfig, RepoError> {
        let api_key = read_stored(self.cipher.as_ref(), binding_of(&m), &m.api_key.0);
        let tags = match m.tags {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(tag) => Ok(tag),
                    other => Err(InvalidInput::new(
                        "tags",
                        other,
                        "a stored tag is not a string",
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(
                    InvalidInput::new("tags", other, "stored tags are not a JSON array").into(),
                );
            }
        };
        Ok(LlmConfig {
            id: m.id,
            alias: m.alias,
            vendor: m.vendor,
            provider_type: m.provider_type,
            api_key,
            model_name: m.model_name,
            base_url: m.base_url,
            description: m.description,
            priority: m.priority,
            tags,
            is_active: m.is_active.unwrap_or(false),
            created_at: m.created_at.map(|t| t.with_timezone(&Utc)),
            updated_at: m.updated_at.map(|t| t.with_timezone(&Utc)),
        })
    }

    /// Every config (or the active ones), in list order; unreadable keys are logged.
    async fn find(&self, active_only: bool) -> Result<Vec<LlmConfig>, RepoError> {
        let mut query = Entity::find();
        if active_only {
            query = query.filter(Column::IsActive.eq(true));
        }
        query
            .order_by_with_nulls(Column::Priority, Order::Asc, NullOrdering::Last)
            .order_by_asc(Column::Alias)
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|m| {
                let config = self.to_domain(m)?;
                if let Err(err) = &config.api_key {
                    tracing::warn!(alias = %config.alias, "listing an llm config whose key cannot be read: {err}");
                }
                Ok(config)
            })
            .collect()
    }
}

/// The fields a stored row's key is bound to.
fn binding_of(m: &Model) -> KeyBinding<'_> {
    KeyBinding {
        alias: &m.alias,
        vendor: &m.vendor,
        provider_type: &m.provider_type,
        base_url: m.base_url.as_deref(),
    }
}

#[async_trait]
impl LlmConfigRepository for PgLlmConfigRepository {
    async fn upsert(&self, config: NewLlmConfig) -> Result<LlmConfig, RepoError> {
        config.validate()?;
        if self.cipher.is_none() {
            tracing::warn!(
                alias = %config.alias,
                "storing an LLM api_key in plaintext: set {} to encrypt keys at rest",
                SecretCipher::ENV
            );
        }
        let binding = KeyBinding {
            alias: &config.alias,
            vendor: &config.vendor,
            provider_type: &config.provider_type,
            base_url: config.base_url.as_deref(),
        };
        let stored =
            to_stored(self.cipher.as_ref(), binding, &config.api_key).map_err(secret_error)?;
        let active = ActiveModel {
            id: NotSet,
            alias: Set(config.alias),
            vendor: Set(config.vendor),
            provider_type: Set(config.provider_type),
            api_key: Set(StoredApiKey(stored)),
            base_url: Set(config.base_url),
            model_name: Set(config.model_name),
            description: Set(config.description),
            priority: Set(Some(config.priority)),
            tags: Set(Some(Value::from(config.tags))),
            is_active: Set(Some(config.is_active)),
            created_at: NotSet,
            updated_at: Set(Some(utc_now_tz().into())),
        };
        let on_conflict = OnConflict::column(Column::Alias)
            .update_columns([
                Column::Vendor,
                Column::ProviderType,
                Column::ApiKey,
                Column::BaseUrl,
                Column::ModelName,
                Column::Description,
                Column::Priority,
                Column::Tags,
                Column::IsActive,
                Column::UpdatedAt,
            ])
            .to_owned();
        let model = Entity::insert(active)
            .on_conflict(on_conflict)
            .exec_with_returning(self.db.conn())
            .await?;
        readable(self.to_domain(model)?)
    }

    async fn get_by_alias(&self, alias: &str) -> Result<Option<LlmConfig>, RepoError> {
        Entity::find()
            .filter(Column::Alias.eq(alias))
            .one(self.db.conn())
            .await?
            .map(|m| readable(self.to_domain(m)?))
            .transpose()
    }

    async fn list(&self) -> Result<Vec<LlmConfig>, RepoError> {
        self.find(false).await
    }

    async fn list_active(&self) -> Result<Vec<LlmConfig>, RepoError> {
        self.find(true).await
    }

    async fn set_active(&self, alias: &str, active: bool) -> Result<LlmConfig, RepoError> {
        let updated = Entity::update_many()
            .col_expr(Column::IsActive, Expr::value(active))
            .col_expr(Column::UpdatedAt, Expr::value(utc_now_tz()))
            .filter(Column::Alias.eq(alias))
            .exec_with_returning(self.db.conn())
            .await?;
        match updated.into_iter().next() {
            Some(model) => self.to_domain(model),
            None => Err(RepoError::NotFound {
                entity: "llm config",
                key: alias.to_owned(),
            }),
        }
    }

    async fn delete(&self, alias: &str) -> Result<bool, RepoError> {
        let result = Entity::delete_many()
            .filter(Column::Alias.eq(alias))
            .exec(self.db.conn())
            .await?;
        Ok(result.rows_affected > 0)
    }

    async fn reencrypt(&self) -> Result<ReencryptReport, RepoError> {
        let Some(cipher) = &self.cipher else {
            return Err(secret_error(SecretError::NoCipher));
        };
        let txn = self.db.conn().begin().await?;
        // Every row, locked: each is read before anything is written, so that a key which
        // cannot read them all changes nothing.
        let rows = Entity::find()
            .order_by_asc(Column::Id)
            .lock_exclusive()
            .all(&txn)
            .await?;
        let mut outdated = Vec::new();
        let mut unreadable = Vec::new();
        let mut current = 0;
        for model in &rows {
            match read_stored_with(Some(cipher), binding_of(model), &model.api_key.0) {
                Ok((_, ReadWith::Current)) => current += 1,
                Ok((key, _)) => outdated.push((model, key)),
                Err(_) => unreadable.push(model.alias.as_str()),
            }
        }
        if !unreadable.is_empty() {
            // Dropping the transaction rolls it back: nothing was written.
            return Err(RepoError::Secret {
                entity: "llm configs",
                key: format!("{} of {}", unreadable.len(), rows.len()),
                source: format!(
                    "STOCKDB_SECRET_KEY (and STOCKDB_SECRET_KEY_PREVIOUS) cannot read the keys of \
                     {}: it is not the key they were encrypted with; nothing was re-encrypted \
                     (a wrong key would make every key unreadable by the right one)",
                    unreadable.join(", ")
                )
                .into(),
            });
        }
        for (model, key) in &outdated {
            let stored = cipher
                .encrypt(binding_of(model), key)
                .map_err(secret_error)?;
            Entity::update_many()
                .col_expr(Column::ApiKey, Expr::value(StoredApiKey(stored)))
                .filter(Column::Id.eq(model.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let report = ReencryptReport {
            reencrypted: outdated.len() as u64,
            already_current: current,
        };
        tracing::info!(
            ?report,
            "re-encrypted LLM api keys with the current key and scheme"
        );
        Ok(report)
    }
}

/// `config` when its key can be read, else the key's error: what single-config reads
/// return.
fn readable(config: LlmConfig) -> Result<LlmConfig, RepoError> {
    match &config.api_key {
        Ok(_) => Ok(config),
        Err(err) => Err(secret_error(err.clone())),
    }
}
