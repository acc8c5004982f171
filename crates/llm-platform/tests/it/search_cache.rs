//! `PgWebSearchCacheRepository`: keys and lifetimes as the earlier service computes them
//! (the expected keys below are Python's `hashlib.sha256(...).hexdigest()` of the same
//! text), entries served until they expire by the handle's clock, expired ones cleaned up,
//! and the service's rows and ours read both ways.

use std::sync::Arc;

use chrono::NaiveDateTime;
use llm_platform::{
    PgWebSearchCacheRepository, SearchCacheEntry, SearchRequest, WebSearchCacheRepository,
};
use shared_db::ManualClock;
use test_support::TestDb;

fn request(query: &str, freshness: Option<&str>, summary: bool, count: u32) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        freshness: freshness.map(str::to_owned),
        summary,
        count,
    }
}

#[test]
fn keys_and_lifetimes_are_the_services() {
    let with = request("贵州茅台 2024 年报", Some("oneWeek"), true, 10);
    assert_eq!(
        with.cache_key(),
        "a5018c711d4f59f897967867953cab56f913b6d3bea30ff5c3e974239422710e"
    );
    let without = request("宁德时代", None, false, 5);
    assert_eq!(
        without.cache_key(),
        "aff4a462aae30768f80157c8ccde065ecaeefd0eb3d3070ebbd97eab550f14c6"
    );
    let hours = |f: Option<&str>| request("q", f, false, 1).ttl().as_secs() / 3600;
    assert_eq!(
        [
            Some("oneDay"),
            Some("oneWeek"),
            Some("oneMonth"),
            Some("oneYear"),
            Some("noLimit"),
            None
        ]
        .map(hours),
        [4, 12, 24, 48, 24, 24]
    );
}

#[tokio::test]
async fn an_entry_is_served_until_it_expires_and_then_cleaned_up() {
    let test_db = TestDb::new().await;
    let start: NaiveDateTime = "2024-06-03T09:00:00".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let repo = PgWebSearchCacheRepository::new(test_db.db().with_clock(clock.clone()));
    let day = request("茅台 分红", Some("oneDay"), true, 10);
    let entry = SearchCacheEntry::new(&day, r#"{"results": []}"#, start);
    repo.put(&entry).await.unwrap();
    assert_eq!(
        repo.get(&day.cache_key()).await.unwrap(),
        Some(entry.clone())
    );
    clock.advance(chrono::Duration::hours(4));
    assert_eq!(
        repo.get(&day.cache_key()).await.unwrap(),
        None,
        "expired at 4 h"
    );
    // A newer response replaces it under the same key.
    let fresh = SearchCacheEntry::new(
        &day,
        r#"{"results": [1]}"#,
        start + chrono::Duration::hours(4),
    );
    repo.put(&fresh).await.unwrap();
    assert_eq!(repo.get(&day.cache_key()).await.unwrap(), Some(fresh));
    let year = request("光伏 行业 周期", Some("oneYear"), false, 20);
    repo.put(&SearchCacheEntry::new(&year, "{}", start))
        .await
        .unwrap();
    clock.advance(chrono::Duration::hours(20));
    assert_eq!(
        repo.cleanup_expired().await.unwrap(),
        1,
        "the day's entry, not the year's"
    );
    assert!(repo.get(&year.cache_key()).await.unwrap().is_some());
    let mut bad = SearchCacheEntry::new(&year, "{}", start);
    bad.expires_at = bad.created_at;
    let err = repo.put(&bad).await.unwrap_err();
    assert!(err.to_string().contains("expires_at"), "{err}");
}

#[tokio::test]
async fn the_services_entries_and_ours_read_both_ways() {
    let test_db = TestDb::new().await;
    let now: NaiveDateTime = "2024-06-03T09:00:00".parse().unwrap();
    let repo =
        PgWebSearchCacheRepository::new(test_db.db().with_clock(Arc::new(ManualClock::new(now))));
    let pool = test_db.db().pool();
    // The service's PgWebSearchCacheRepository.put for request 宁德时代 (no freshness).
    sqlx::query(
        "INSERT INTO web_search_cache (cache_key, request_params, response_data, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (cache_key) DO UPDATE SET request_params = $2, response_data = $3, \
             created_at = $4, expires_at = $5",
    )
    .bind("aff4a462aae30768f80157c8ccde065ecaeefd0eb3d3070ebbd97eab550f14c6")
    .bind(serde_json::json!({"query": "宁德时代", "freshness": null, "summary": false, "count": 5}))
    .bind(r#"{"query": "宁德时代", "results": []}"#)
    .bind(now)
    .bind(now + chrono::Duration::hours(24))
    .execute(pool)
    .await
    .unwrap();
    let theirs = repo
        .get(&request("宁德时代", None, false, 5).cache_key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(theirs.request_params["count"], 5);
    // Ours, found by its get (a key lookup among the unexpired).
    let ours = request("贵州茅台 2024 年报", Some("oneWeek"), true, 10);
    repo.put(&SearchCacheEntry::new(&ours, "{}", now))
        .await
        .unwrap();
    let found: Option<String> = sqlx::query_scalar(
        "SELECT response_data FROM web_search_cache WHERE cache_key = $1 AND expires_at > $2",
    )
    .bind("a5018c711d4f59f897967867953cab56f913b6d3bea30ff5c3e974239422710e")
    .bind(now + chrono::Duration::hours(11))
    .fetch_optional(pool)
    .await
    .unwrap();
    assert_eq!(found.as_deref(), Some("{}"));
}
