//! `PgLlmConfigRepository`: LLM configurations on PostgreSQL.

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, NullOrdering, OnConflict, Order};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement, TransactionTrait,
};
use serde_json::Value;
use shared_db::{Db, InvalidInput, RepoError, utc_now_tz};

use crate::domain::{KeyUpgrade, LlmConfig, NewLlmConfig, ReencryptPlan, ReencryptReport};
use crate::entity::llm_configs::{ActiveModel, Column, Entity, Model, StoredApiKey};
use crate::repository::LlmConfigRepository;
use crate::secret::{
    ApiKey, KeyBinding, KeyOrigin, SecretCipher, SecretError, V1_PREFIX, read_stored,
    read_stored_with, to_stored,
};

/// Whether `llm_configs`' primary key carries the record that `enc:v1:` values are
/// refused (NULL when the table has no primary key).
const FIRST_SCHEME_REFUSED: &str = "SELECT coalesce(obj_description(c.oid, 'pg_constraint'), '') \
     LIKE 'stockdb: enc:v1 keys refused%' AS refused FROM pg_constraint c \
     WHERE c.conrelid = 'llm_configs'::regclass AND c.contype = 'p'";

/// Records that `enc:v1:` values are refused: a comment on `llm_configs`' primary key,
/// which only the table's owner may change (a writer of rows may not) and which the
/// schema print leaves out (no drift). Not `COMMENT ON TABLE`: that one is printed.
const REFUSE_FIRST_SCHEME: &str = "DO $$ DECLARE pk name; BEGIN \
     SELECT conname INTO STRICT pk FROM pg_constraint \
     WHERE conrelid = 'llm_configs'::regclass AND contype = 'p'; \
     EXECUTE format('COMMENT ON CONSTRAINT %I ON llm_configs IS %L', pk, \
         'stockdb: enc:v1 keys refused since ' || now()::text \
         || ' (every key was re-encrypted; see stockdb llm reencrypt)'); END $$";

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

    fn cipher(&self) -> Result<&SecretCipher, RepoError> {
        self.cipher
            .as_ref()
            .ok_or_else(|| secret_error(SecretError::NoCipher))
    }

    /// Whether the database refuses `enc:v1:` values, asked only when `rows` hold one.
    async fn refuses_first_scheme(&self, rows: &[Model]) -> Result<bool, RepoError> {
        if !rows.iter().any(|m| m.api_key.0.starts_with(V1_PREFIX)) {
            return Ok(false);
        }
        let row = self
            .db
            .conn()
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                FIRST_SCHEME_REFUSED,
            ))
            .await?;
        Ok(match row {
            Some(row) => row.try_get("", "refused")?,
            None => false,
        })
    }

    /// Records that `enc:v1:` values are refused from now on.
    async fn refuse_first_scheme(&self) -> Result<(), RepoError> {
        self.db
            .conn()
            .execute_unprepared(REFUSE_FIRST_SCHEME)
            .await?;
        Ok(())
    }

    /// The stored rows as configs; a key that cannot be read is kept as its error, so
    /// one bad row never hides the others.
    async fn to_domain_all(&self, rows: Vec<Model>) -> Result<Vec<LlmConfig>, RepoError> {
        let refuse_v1 = self.refuses_first_scheme(&rows).await?;
        rows.into_iter()
            .map(|m| self.to_domain(m, refuse_v1))
            .collect()
    }

    /// The stored row as a config; a key that cannot be read is kept as its error.
    fn to_domain(&self, m: Model, refuse_v1: bool) -> Result<LlmConfig, RepoError> {
        let api_key = if refuse_v1 && m.api_key.0.starts_with(V1_PREFIX) {
            Err(SecretError::RetiredScheme {
                alias: m.alias.clone(),
            })
        } else {
            read_stored(self.cipher.as_ref(), binding_of(&m), &m.api_key.0)
        };
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
        let rows = query
            .order_by_with_nulls(Column::Priority, Order::Asc, NullOrdering::Last)
            .order_by_asc(Column::Alias)
            .all(self.db.conn())
            .await?;
        let configs = self.to_domain_all(rows).await?;
        for config in &configs {
            if let Err(err) = &config.api_key {
                tracing::warn!(alias = %config.alias, "listing an llm config whose key cannot be read: {err}");
            }
        }
        Ok(configs)
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
        readable(self.to_domain(model, false)?)
    }

    async fn get_by_alias(&self, alias: &str) -> Result<Option<LlmConfig>, RepoError> {
        let rows: Vec<Model> = Entity::find()
            .filter(Column::Alias.eq(alias))
            .one(self.db.conn())
            .await?
            .into_iter()
            .collect();
        self.to_domain_all(rows)
            .await?
            .pop()
            .map(readable)
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
            Some(model) => Ok(self.to_domain_all(vec![model]).await?.remove(0)),
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

    async fn reencrypt_plan(&self) -> Result<ReencryptPlan, RepoError> {
        let cipher = self.cipher()?;
        let rows = Entity::find()
            .order_by_asc(Column::Id)
            .all(self.db.conn())
            .await?;
        let refuse_v1 = self.refuses_first_scheme(&rows).await?;
        Ok(plan_of(cipher, &rows, refuse_v1)?.0)
    }

    async fn reencrypt(&self, confirmed: &ReencryptPlan) -> Result<ReencryptReport, RepoError> {
        let cipher = self.cipher()?;
        let txn = self.db.conn().begin().await?;
        // Every row, locked, read before anything is written: the plan made now is the
        // one carried out, and a key that cannot read them all changes nothing.
        let rows = Entity::find()
            .order_by_asc(Column::Id)
            .lock_exclusive()
            .all(&txn)
            .await?;
        let refuse_v1 = self.refuses_first_scheme(&rows).await?;
        let (plan, keys) = plan_of(cipher, &rows, refuse_v1)?;
        if plan.upgrades != confirmed.upgrades {
            // Dropping the transaction rolls it back: nothing was written.
            return Err(RepoError::StateConflict {
                entity: "llm configs",
                key: "keys to re-encrypt".to_owned(),
                state: "changed since the plan was shown (an endpoint, or the rows)".to_owned(),
                wanted: "re-encrypted as confirmed; nothing was changed: look again".to_owned(),
            });
        }
        for (model, key) in &keys {
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
        let first_scheme_refused = match self.refuse_first_scheme().await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(
                    "every key is in the current scheme, but refusing enc:v1 values from now on \
                     could not be recorded (it needs the owner of llm_configs): {err}"
                );
                false
            }
        };
        let report = ReencryptReport {
            reencrypted: keys.len() as u64,
            already_current: plan.already_current,
            first_scheme_refused,
        };
        tracing::info!(
            ?report,
            "re-encrypted LLM api keys with the current key and scheme"
        );
        Ok(report)
    }
}

/// The plan for `rows` (in id order), and the keys to encrypt anew with their rows; an
/// error naming the rows `cipher` cannot read, or whose `enc:v1:` value the database
/// refuses (`refuse_v1`), when there are any: those are never taken up again.
#[allow(
    clippy::type_complexity,
    reason = "a private pairing of rows and their keys"
)]
fn plan_of<'m>(
    cipher: &SecretCipher,
    rows: &'m [Model],
    refuse_v1: bool,
) -> Result<(ReencryptPlan, Vec<(&'m Model, ApiKey)>), RepoError> {
    let mut plan = ReencryptPlan {
        upgrades: Vec::new(),
        already_current: 0,
    };
    let mut keys = Vec::new();
    let mut unreadable = Vec::new();
    let mut refused = Vec::new();
    for model in rows {
        if refuse_v1 && model.api_key.0.starts_with(V1_PREFIX) {
            refused.push(model.alias.as_str());
            continue;
        }
        match read_stored_with(Some(cipher), binding_of(model), &model.api_key.0) {
            Ok((_, KeyOrigin::Current)) => plan.already_current += 1,
            Ok((key, origin)) => {
                plan.upgrades.push(KeyUpgrade {
                    alias: model.alias.clone(),
                    vendor: model.vendor.clone(),
                    provider_type: model.provider_type.clone(),
                    base_url: model.base_url.clone(),
                    origin,
                });
                keys.push((model, key));
            }
            Err(_) => unreadable.push(model.alias.as_str()),
        }
    }
    if !refused.is_empty() {
        return Err(RepoError::Secret {
            entity: "llm configs",
            key: format!("{} of {}", refused.len(), rows.len()),
            source: format!(
                "the keys of {} are enc:v1 values written back after every key was \
                 re-encrypted, which this database refuses: set them again with `stockdb llm \
                 set`; nothing was re-encrypted",
                refused.join(", ")
            )
            .into(),
        });
    }
    if !unreadable.is_empty() {
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
    Ok((plan, keys))
}

/// `config` when its key can be read, else the key's error: what single-config reads
/// return.
fn readable(config: LlmConfig) -> Result<LlmConfig, RepoError> {
    match &config.api_key {
        Ok(_) => Ok(config),
        Err(err) => Err(secret_error(err.clone())),
    }
}
