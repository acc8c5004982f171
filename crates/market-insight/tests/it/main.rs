//! Repository tests of market-insight against PostgreSQL, beside the earlier service's
//! daily report: its `save_all` upserts and its reads (`get_by_date(d, top_n)`,
//! `get_by_date_and_concept`), issued as its SQLAlchemy code sends them; and a property
//! test of the computation.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use market_insight::{
    BoardMembers, ConceptHeat, ConceptRef, DayBar, LimitType, LimitUpEntry,
    MarketInsightRepository, PgMarketInsightRepository, concept_heat, scan_limit_ups,
};
use proptest::prelude::*;
use serde_json::json;
use shared_db::ManualClock;
use test_support::TestDb;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn heat(on: &str, code: &str, avg: f64) -> ConceptHeat {
    ConceptHeat {
        trade_date: day(on),
        concept_code: code.into(),
        concept_name: format!("board {code}"),
        avg_pct_chg: avg,
        stock_count: 10,
        up_count: 6,
        down_count: 3,
        limit_up_count: 1,
        total_amount: 1.25e6,
    }
}

#[tokio::test]
async fn concept_heat_is_read_hottest_first_and_by_board_over_days() {
    let test_db = TestDb::new().await;
    let clock = Arc::new(ManualClock::new("2024-06-03T16:00:00".parse().unwrap()));
    let repo = PgMarketInsightRepository::new(test_db.db().with_clock(clock.clone()));
    let saved = repo
        .save_concept_heat(vec![
            heat("2024-06-03", "BK0001", 1.5),
            heat("2024-06-03", "BK0002", 3.25),
            heat("2024-06-03", "BK0003", -0.5),
            heat("2024-06-04", "BK0002", 0.75),
        ])
        .await
        .unwrap();
    assert_eq!(saved.inserted, 4);
    let top: Vec<String> = repo
        .concept_heat(day("2024-06-03"), Some(2))
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.concept_code)
        .collect();
    assert_eq!(top, ["BK0002", "BK0001"]);
    let history: Vec<f64> = repo
        .concept_heat_history("BK0002", day("2024-06-01"), day("2024-06-30"))
        .await
        .unwrap()
        .iter()
        .map(|h| h.avg_pct_chg)
        .collect();
    assert_eq!(history, [3.25, 0.75], "oldest first");
    assert_eq!(repo.latest_day().await.unwrap(), Some(day("2024-06-04")));
    // The service's get_by_date(d, top_n=1).
    let theirs: Vec<(String, f64)> = sqlx::query_as(
        "SELECT concept_code, avg_pct_chg FROM mi_concept_heat WHERE trade_date = '2024-06-03' \
         ORDER BY avg_pct_chg DESC LIMIT 1",
    )
    .fetch_all(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(theirs, [("BK0002".into(), 3.25)]);
    // Its save_all sets no times: the columns' now() fills them; stockdb reads the row.
    sqlx::query(
        "INSERT INTO mi_concept_heat (trade_date, concept_code, concept_name, avg_pct_chg, \
             stock_count, up_count, down_count, limit_up_count, total_amount) \
         VALUES ('2024-06-05', 'BK0493', '新能源车', 2.5, 40, 30, 8, 3, 9.9e6) \
         ON CONFLICT ON CONSTRAINT uq_mi_concept_heat_date_code DO UPDATE SET \
             avg_pct_chg = EXCLUDED.avg_pct_chg",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let read = repo.concept_heat(day("2024-06-05"), None).await.unwrap();
    assert_eq!(
        (
            read[0].concept_name.as_str(),
            read[0].stock_count,
            read[0].limit_up_count
        ),
        ("新能源车", 40, 3)
    );
    let mut bad = heat("2024-06-03", "BK0009", 1.0);
    bad.up_count = 11;
    let err = repo.save_concept_heat(vec![bad]).await.unwrap_err();
    assert!(err.to_string().contains("up_count"), "{err}");
}

#[tokio::test]
async fn limit_ups_keep_their_concepts_as_the_service_writes_them() {
    let test_db = TestDb::new().await;
    let at: NaiveDateTime = "2024-06-03T16:00:00".parse().unwrap();
    let clock = Arc::new(ManualClock::new(at));
    let repo = PgMarketInsightRepository::new(test_db.db().with_clock(clock));
    let entry = |code: &str, pct: f64, concepts: &[(&str, &str)]| LimitUpEntry {
        trade_date: day("2024-06-03"),
        third_code: code.into(),
        stock_name: format!("name of {code}"),
        pct_chg: pct,
        close: 12.0,
        amount: 3.4e5,
        concepts: concepts
            .iter()
            .map(|(c, n)| ConceptRef {
                code: (*c).into(),
                name: (*n).into(),
            })
            .collect(),
        limit_type: LimitType::of(code, "", pct).unwrap(),
    };
    repo.save_limit_ups(vec![
        entry(
            "600001.SH",
            10.01,
            &[("BK0493", "新能源车"), ("BK1031", "光伏设备")],
        ),
        entry("300002.SZ", 20.0, &[("BK1031", "光伏设备")]),
        entry("600003.SH", 9.98, &[]),
    ])
    .await
    .unwrap();
    let all = repo.limit_ups(day("2024-06-03"), None).await.unwrap();
    let order: Vec<(&str, LimitType)> = all
        .iter()
        .map(|e| (e.third_code.as_str(), e.limit_type))
        .collect();
    assert_eq!(
        order,
        [
            ("300002.SZ", LimitType::Gem),
            ("600001.SH", LimitType::MainBoard),
            ("600003.SH", LimitType::MainBoard)
        ]
    );
    let solar: Vec<String> = repo
        .limit_ups(day("2024-06-03"), Some("BK1031"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.third_code)
        .collect();
    assert_eq!(solar, ["300002.SZ", "600001.SH"]);
    // The JSON as the service's model_dump writes it, and its own filter finds ours.
    let (concepts, stamped): (serde_json::Value, NaiveDateTime) = sqlx::query_as(
        "SELECT concepts, updated_at FROM mi_limit_up_stock WHERE trade_date = '2024-06-03' \
         AND concepts @> '[{\"code\": \"BK0493\"}]' ORDER BY pct_chg DESC",
    )
    .fetch_one(test_db.db().pool())
    .await
    .unwrap();
    assert_eq!(
        concepts,
        json!([{"code": "BK0493", "name": "新能源车"}, {"code": "BK1031", "name": "光伏设备"}])
    );
    assert_eq!(stamped, at);
    // The service's row (limit_type from its enum, concepts defaulted) reads back.
    sqlx::query(
        "INSERT INTO mi_limit_up_stock (trade_date, third_code, stock_name, pct_chg, close, amount, \
             limit_type) VALUES ('2024-06-04', '830799.BJ', '艾融软件', 29.97, 30.1, 5e5, 'BSE')",
    )
    .execute(test_db.db().pool())
    .await
    .unwrap();
    let theirs = repo.limit_ups(day("2024-06-04"), None).await.unwrap();
    assert_eq!(
        (theirs[0].limit_type, theirs[0].concepts.is_empty()),
        (LimitType::Bse, true)
    );
}

fn bars_and_boards() -> impl Strategy<Value = (Vec<DayBar>, Vec<BoardMembers>)> {
    let codes = [
        "600001.SH",
        "000002.SZ",
        "300003.SZ",
        "688004.SH",
        "830005.BJ",
        "600006.SH",
    ];
    let bars = proptest::collection::vec(
        (0..codes.len(), -35.0f64..35.0, any::<bool>(), 0.0f64..1e7),
        0..12,
    )
    .prop_map(move |raw| {
        let mut seen = std::collections::HashSet::new();
        raw.into_iter()
            .filter(|(i, ..)| seen.insert(*i))
            .map(|(i, pct, st, amount)| DayBar {
                third_code: codes[i].into(),
                name: if st {
                    "ST某某".into()
                } else {
                    "某某".into()
                },
                pct_chg: pct,
                close: 10.0,
                amount,
            })
            .collect::<Vec<_>>()
    });
    let boards =
        proptest::collection::vec(proptest::sample::subsequence(codes.to_vec(), 0..6), 0..5)
            .prop_map(|members| {
                members
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| BoardMembers {
                        code: format!("BK{i:04}"),
                        name: format!("板块{i}"),
                        members: m.into_iter().map(str::to_owned).collect(),
                    })
                    .collect::<Vec<_>>()
            });
    (bars, boards)
}

proptest! {
    /// Every computed row passes the table's checks, and a board's limit-ups are exactly
    /// its members the scan finds.
    #[test]
    fn computed_heat_is_valid_and_agrees_with_the_scan((bars, boards) in bars_and_boards()) {
        let on = day("2024-06-03");
        let heat = concept_heat(on, &bars, &boards);
        let ups = scan_limit_ups(on, &bars, &boards);
        for h in &heat {
            prop_assert!(h.validate().is_ok(), "{h:?}");
            let in_board = ups
                .iter()
                .filter(|u| u.concepts.iter().any(|c| c.code == h.concept_code))
                .count();
            prop_assert_eq!(h.limit_up_count as usize, in_board);
        }
        for u in &ups {
            prop_assert!(u.validate().is_ok());
        }
    }
}
