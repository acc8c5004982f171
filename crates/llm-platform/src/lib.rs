//! LLM platform configuration (`llm_configs`): one row per model alias, with its API key
//! encrypted at rest (when `STOCKDB_SECRET_KEY` is set) and never shown in `Debug`,
//! `Serialize`, logs or errors; and the web-search cache (`web_search_cache`) shared with
//! the earlier service ([`WebSearchCacheRepository`]).

mod domain;
mod entity;
mod postgres;
mod repository;
mod search_cache;
mod secret;

pub use domain::{
    KeyUpgrade, LlmConfig, NewLlmConfig, ReencryptPlan, ReencryptReport, looks_like_key, shown_url,
};
pub use postgres::PgLlmConfigRepository;
pub use repository::LlmConfigRepository;
pub use search_cache::{
    PgWebSearchCacheRepository, SearchCacheEntry, SearchRequest, WebSearchCacheRepository,
};
pub use secret::{ApiKey, KeyOrigin, SecretCipher, SecretError};
