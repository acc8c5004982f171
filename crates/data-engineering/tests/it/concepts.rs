//! `PgConceptRepository`: concept boards saved with their stocks, read by board and by
//! stock, and beside the earlier service's own statements (its `upsert_concept_with_stocks`
//! and `get_concept_stocks`), each reading what the other wrote.

use data_engineering::{Concept, ConceptRepository, ConceptStock, PgConceptRepository};
use test_support::TestDb;

use crate::code;

fn board(code: &str, name: &str) -> Concept {
    Concept {
        code: code.into(),
        name: name.into(),
        description: None,
    }
}

fn member(third_code: &str, name: &str) -> ConceptStock {
    ConceptStock {
        third_code: code(third_code),
        stock_name: name.into(),
        weight: None,
    }
}

#[tokio::test]
async fn a_board_is_saved_with_its_stocks_and_read_by_board_and_by_stock() {
    let test_db = TestDb::new().await;
    let repo = PgConceptRepository::new(test_db.db().clone());
    let liquor = board("BK0896", "白酒");
    repo.save_with_stocks(
        &liquor,
        vec![
            member("600519.SH", "贵州茅台"),
            member("000858.SZ", "五粮液"),
            member("600519.SH", "贵州茅台"),
        ],
    )
    .await
    .unwrap();
    repo.save_with_stocks(
        &board("BK0477", "酿酒行业"),
        vec![member("600519.SH", "贵州茅台")],
    )
    .await
    .unwrap();
    let (stored, stocks) = repo.concept("BK0896").await.unwrap().unwrap();
    assert_eq!(stored, liquor);
    assert_eq!(
        stocks
            .iter()
            .map(|s| s.third_code.as_str())
            .collect::<Vec<_>>(),
        ["000858.SZ", "600519.SH"],
        "a stock listed twice counts once"
    );
    // Saved again: the board's stocks are replaced, other boards kept.
    let mut renamed = liquor.clone();
    renamed.name = "白酒概念".into();
    repo.save_with_stocks(&renamed, vec![member("000858.SZ", "五粮液")])
        .await
        .unwrap();
    let summaries = repo.concepts().await.unwrap();
    let shown: Vec<(&str, &str, u32)> = summaries
        .iter()
        .map(|s| (s.concept.code.as_str(), s.concept.name.as_str(), s.stocks))
        .collect();
    assert_eq!(
        shown,
        [("BK0477", "酿酒行业", 1), ("BK0896", "白酒概念", 1)]
    );
    let of_moutai: Vec<String> = repo
        .concepts_of(&code("600519.SH"))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.code)
        .collect();
    assert_eq!(of_moutai, ["BK0477"]);
    assert!(repo.concept("BK9999").await.unwrap().is_none());
    let err = repo
        .save_with_stocks(&board("BK1", ""), Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
    let err = repo
        .save_with_stocks(&board("BK1", "x"), vec![member("600000.SH", "")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stock_name"), "{err}");
    assert!(
        repo.concept("BK1").await.unwrap().is_none(),
        "nothing of a refused save"
    );
}

#[tokio::test]
async fn the_services_boards_and_ours_read_both_ways() {
    let test_db = TestDb::new().await;
    let pool = test_db.db().pool();
    // What the service's upsert_concept_with_stocks sends (one transaction).
    sqlx::raw_sql(
        "BEGIN; \
         INSERT INTO concept (code, name, created_at, updated_at) \
             VALUES ('BK0815', '昨日涨停', '2024-06-03 18:30', '2024-06-03 18:30') \
             ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at; \
         DELETE FROM concept_stock WHERE concept_code = 'BK0815'; \
         INSERT INTO concept_stock (concept_code, third_code, stock_name, created_at) \
             VALUES ('BK0815', '300750.SZ', '宁德时代', '2024-06-03 18:30'), \
                    ('BK0815', '002594.SZ', '比亚迪', '2024-06-03 18:30'); \
         COMMIT;",
    )
    .execute(pool)
    .await
    .unwrap();
    let repo = PgConceptRepository::new(test_db.db().clone());
    let (stored, stocks) = repo.concept("BK0815").await.unwrap().unwrap();
    assert_eq!(stored.name, "昨日涨停");
    assert_eq!(
        stocks
            .iter()
            .map(|s| s.stock_name.as_str())
            .collect::<Vec<_>>(),
        ["比亚迪", "宁德时代"]
    );
    // Ours, read by its get_concept_stocks and get_all_concepts.
    repo.save_with_stocks(
        &board("BK0815", "昨日涨停"),
        vec![member("300750.SZ", "宁德时代")],
    )
    .await
    .unwrap();
    let theirs: Vec<(String, String)> = sqlx::query_as(
        "SELECT third_code, stock_name FROM concept_stock WHERE concept_code = 'BK0815'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(theirs, [("300750.SZ".to_owned(), "宁德时代".to_owned())]);
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM concept")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(names, ["昨日涨停"]);
}
