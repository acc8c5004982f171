//! The web-search cache (`web_search_cache`), shared with the earlier service: a search's
//! response kept under the SHA-256 of its request until a time that depends on how fresh
//! the results must be, keyed and timed exactly as that service does, so each side hits
//! what the other cached.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use shared_db::{Db, InvalidInput, RepoError, check_json, check_not_empty, check_text};

/// A web search, as the earlier service's `WebSearchRequest` has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// What is searched for.
    pub query: String,
    /// `oneDay`, `oneWeek`, `oneMonth`, `oneYear`, `noLimit`, or none.
    pub freshness: Option<String>,
    /// Whether the provider summarises the results.
    pub summary: bool,
    /// How many results.
    pub count: u32,
}

impl SearchRequest {
    /// The cache key: the hex SHA-256 of `query|freshness|summary|count`, with an empty
    /// freshness for none and the summary as `True`/`False` (as Python prints it).
    pub fn cache_key(&self) -> String {
        let summary = if self.summary { "True" } else { "False" };
        let text = format!(
            "{}|{}|{summary}|{}",
            self.query,
            self.freshness.as_deref().unwrap_or_default(),
            self.count
        );
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// How long a response stays cached: 4 hours for `oneDay`, 12 for `oneWeek`, 24 for
    /// `oneMonth`, 48 for `oneYear`, 24 otherwise.
    pub fn ttl(&self) -> Duration {
        let hours = match self.freshness.as_deref() {
            Some("oneDay") => 4,
            Some("oneWeek") => 12,
            Some("oneYear") => 48,
            _ => 24,
        };
        Duration::from_secs(hours * 3600)
    }
}

/// A cached response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchCacheEntry {
    /// [`SearchRequest::cache_key`] of the request (at most 64 characters).
    pub cache_key: String,
    /// The request, as JSON (`query`, `freshness`, `summary`, `count`).
    pub request_params: serde_json::Value,
    /// The response, as the provider's JSON text.
    pub response_data: String,
    /// When it was cached (UTC).
    pub created_at: NaiveDateTime,
    /// When it stops being served (UTC).
    pub expires_at: NaiveDateTime,
}

impl SearchCacheEntry {
    /// `response` to `request`, cached at `now` for the request's [`SearchRequest::ttl`].
    pub fn new(request: &SearchRequest, response: impl Into<String>, now: NaiveDateTime) -> Self {
        let ttl = chrono::Duration::from_std(request.ttl()).unwrap_or(chrono::Duration::hours(24));
        Self {
            cache_key: request.cache_key(),
            request_params: serde_json::json!({
                "query": request.query,
                "freshness": request.freshness,
                "summary": request.summary,
                "count": request.count,
            }),
            response_data: response.into(),
            created_at: now,
            expires_at: now + ttl,
        }
    }

    fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("cache_key", &self.cache_key)?;
        shared_db::check_len("cache_key", Some(&self.cache_key), 64)?;
        check_json("request_params", Some(&self.request_params))?;
        check_text("response_data", Some(&self.response_data))?;
        if self.expires_at <= self.created_at {
            return Err(InvalidInput::new(
                "expires_at",
                self.expires_at,
                format!("not after created_at {}", self.created_at),
            ));
        }
        Ok(())
    }
}

/// The web-search cache (`web_search_cache`).
#[async_trait]
pub trait WebSearchCacheRepository: Send + Sync {
    /// The entry under `cache_key` unless it expired by the handle's clock.
    async fn get(&self, cache_key: &str) -> Result<Option<SearchCacheEntry>, RepoError>;

    /// Stores `entry` under its key, replacing what was cached there.
    async fn put(&self, entry: &SearchCacheEntry) -> Result<(), RepoError>;

    /// Deletes the entries expired by the handle's clock; returns how many.
    async fn cleanup_expired(&self) -> Result<u64, RepoError>;
}

/// The web-search cache on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgWebSearchCacheRepository {
    db: Db,
}

impl PgWebSearchCacheRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl WebSearchCacheRepository for PgWebSearchCacheRepository {
    async fn get(&self, cache_key: &str) -> Result<Option<SearchCacheEntry>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT cache_key, request_params, response_data, created_at, expires_at \
                 FROM web_search_cache WHERE cache_key = $1 AND expires_at > $2",
                vec![cache_key.into(), self.db.now().into()],
            )
            .await?;
        rows.first()
            .map(|row| {
                Ok(SearchCacheEntry {
                    cache_key: row.try_get_by_index(0)?,
                    request_params: row.try_get_by_index(1)?,
                    response_data: row.try_get_by_index(2)?,
                    created_at: row.try_get_by_index(3)?,
                    expires_at: row.try_get_by_index(4)?,
                })
            })
            .transpose()
    }

    async fn put(&self, entry: &SearchCacheEntry) -> Result<(), RepoError> {
        entry.validate()?;
        sqlx::query(
            "INSERT INTO web_search_cache (cache_key, request_params, response_data, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (cache_key) DO UPDATE SET request_params = EXCLUDED.request_params, \
                 response_data = EXCLUDED.response_data, created_at = EXCLUDED.created_at, \
                 expires_at = EXCLUDED.expires_at",
        )
        .bind(&entry.cache_key)
        .bind(&entry.request_params)
        .bind(&entry.response_data)
        .bind(entry.created_at)
        .bind(entry.expires_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    async fn cleanup_expired(&self) -> Result<u64, RepoError> {
        Ok(
            sqlx::query("DELETE FROM web_search_cache WHERE expires_at <= $1")
                .bind(self.db.now())
                .execute(self.db.pool())
                .await?
                .rows_affected(),
        )
    }
}
