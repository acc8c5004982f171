//! SeaORM entity for `llm_configs` (schema v1).

use sea_orm::entity::prelude::*;

/// The stored `api_key` text: plaintext (rows of the earlier service) or `enc:v1:…`.
/// Its `Debug` never shows it, so neither does the model's.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct StoredApiKey(pub String);

impl std::fmt::Debug for StoredApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredApiKey(***)")
    }
}

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "llm_configs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub alias: String,
    pub vendor: String,
    pub provider_type: String,
    pub api_key: StoredApiKey,
    pub base_url: Option<String>,
    pub model_name: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub priority: Option<i32>,
    #[sea_orm(column_type = "JsonBinary")]
    pub tags: Option<Json>,
    pub is_active: Option<bool>,
    pub created_at: Option<DateTimeWithTimeZone>,
    pub updated_at: Option<DateTimeWithTimeZone>,
}

impl ActiveModelBehavior for ActiveModel {}
