//! Concurrency: overlapping bulk writers never deadlock and the last committer wins;
//! concurrent sync claims never share a task.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use data_engineering::{
    PgStockDailyRepository, PgSyncRepository, StockDaily, StockDailyRepository, SyncJobType,
    SyncRepository, SyncTask, ThirdCode,
};
use shared_db::{Db, utc_now};
use test_support::TestDb;

const WRITERS: usize = 8;
const ROUNDS: usize = 20;
const STOCKS: usize = 40;
const DAYS: usize = 25;

/// The key `(stock, day)` as a bar whose `close` records who wrote it in which round.
fn bar(stock: usize, day: usize, writer: usize, round: usize) -> StockDaily {
    let code = ThirdCode::parse(&format!("{stock:06}.SZ")).unwrap();
    let date = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(day as i64);
    let mut bar = StockDaily::new(code, date);
    bar.close = Some(version(writer, round));
    bar
}

fn version(writer: usize, round: usize) -> f64 {
    (round * 100 + writer) as f64
}

/// The stocks writer `w` covers: a window of half the stocks, overlapping its neighbours'.
fn window(writer: usize) -> Vec<usize> {
    (0..STOCKS / 2)
        .map(|i| (writer * STOCKS / WRITERS + i) % STOCKS)
        .collect()
}

async fn stored_versions(db: &Db) -> HashMap<(String, NaiveDate), f64> {
    sqlx::query_as::<_, (String, NaiveDate, f64)>(
        "SELECT third_code, trade_date, close FROM stock_daily",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(code, date, close)| ((code, date), close))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_overlapping_writers_for_twenty_rounds_never_deadlock_and_the_last_committer_wins() {
    let test_db = TestDb::new().await;
    let repo = Arc::new(PgStockDailyRepository::new(test_db.db().clone()));
    for round in 0..ROUNDS {
        // Even rounds: every writer also writes stock 0, the first key in lock order, so
        // writers commit one after another and the order they return in is the commit
        // order: an exact oracle. Odd rounds: windows only, overlapping pairwise.
        let shared_first_key = round % 2 == 0;
        let finished = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for writer in 0..WRITERS {
            let mut stocks = window(writer);
            if shared_first_key && !stocks.contains(&0) {
                stocks.push(0);
            }
            let mut rows: Vec<StockDaily> = stocks
                .iter()
                .flat_map(|&s| (0..DAYS).map(move |d| bar(s, d, writer, round)))
                .collect();
            // Different orders: reversed, rotated, interleaved.
            match writer % 3 {
                0 => rows.reverse(),
                1 => {
                    let third = rows.len() / 3;
                    rows.rotate_left(third);
                }
                _ => rows.sort_by_key(|b| (b.trade_date, std::cmp::Reverse(b.third_code.clone()))),
            }
            let (repo, finished) = (Arc::clone(&repo), Arc::clone(&finished));
            handles.push(tokio::spawn(async move {
                let result = repo.save_all(rows).await;
                (
                    writer,
                    stocks,
                    finished.fetch_add(1, Ordering::SeqCst),
                    result,
                )
            }));
        }
        let mut outcomes = Vec::new();
        for handle in handles {
            let (writer, stocks, order, result) = handle.await.unwrap();
            result.unwrap_or_else(|err| panic!("round {round}, writer {writer}: {err:?}"));
            outcomes.push((order, writer, stocks));
        }
        let stored = stored_versions(test_db.db()).await;
        if shared_first_key {
            outcomes.sort_by_key(|(order, ..)| *order);
            let mut expected: HashMap<usize, f64> = HashMap::new();
            for (_, writer, stocks) in &outcomes {
                for stock in stocks {
                    expected.insert(*stock, version(*writer, round));
                }
            }
            for (stock, version) in expected {
                for day in 0..DAYS {
                    let key = (format!("{stock:06}.SZ"), bar(stock, day, 0, 0).trade_date);
                    assert_eq!(
                        stored[&key], version,
                        "round {round}: stock {stock} day {day}"
                    );
                }
            }
        } else {
            // Two writers that share keys serialise on the first shared key, so every
            // shared key carries the same winner: no batch is ever torn.
            for a in 0..WRITERS {
                for b in a + 1..WRITERS {
                    let shared: Vec<usize> = window(a)
                        .into_iter()
                        .filter(|s| window(b).contains(s))
                        .collect();
                    let winners: HashSet<u64> = shared
                        .iter()
                        .flat_map(|&s| (0..DAYS).map(move |d| (s, d)))
                        .map(|(s, d)| {
                            stored[&(format!("{s:06}.SZ"), bar(s, d, 0, 0).trade_date)].to_bits()
                        })
                        .filter(|v| {
                            [version(a, round), version(b, round)].contains(&f64::from_bits(*v))
                        })
                        .collect();
                    assert!(
                        winners.len() <= 1,
                        "round {round}: writers {a} and {b} interleaved on shared keys"
                    );
                }
            }
            for ((_, _), close) in &stored {
                assert_eq!(
                    (*close as usize) / 100,
                    round,
                    "every key was rewritten this round"
                );
            }
        }
    }
    assert_eq!(test_db.count("stock_daily").await, (STOCKS * DAYS) as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_on_separate_pools_never_claim_the_same_task() {
    let test_db = TestDb::new().await;
    let setup = PgSyncRepository::new(test_db.db().clone());
    let mut created = HashSet::new();
    for _ in 0..200 {
        let task = SyncTask::new(SyncJobType::DailyIncremental, 50, None, utc_now()).unwrap();
        setup.create(&task).await.unwrap();
        created.insert(task.id);
    }
    let mut workers = Vec::new();
    for _ in 0..8 {
        // Each worker its own pool: as separate processes would be.
        let db = Db::connect(&test_db.config().with_max_connections(1))
            .await
            .unwrap();
        workers.push(tokio::spawn(async move {
            let repo = PgSyncRepository::new(db);
            let mut mine = Vec::new();
            while let Some(lease) = repo
                .claim_next(SyncJobType::DailyIncremental, utc_now())
                .await
                .unwrap()
            {
                mine.push(lease.task_id());
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    assert_eq!(claimed.len(), 200, "each task claimed once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), created);
}
