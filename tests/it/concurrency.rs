//! Concurrency: overlapping bulk writers never deadlock and the last committer wins;
//! concurrent sync claims never share a task.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

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

/// True when the "must precede" edges over `nodes` writers have no cycle (Kahn's
/// algorithm: a serial order of the writers exists).
fn has_serial_order(nodes: usize, edges: &HashSet<(usize, usize)>) -> bool {
    let mut incoming = vec![0usize; nodes];
    for &(_, to) in edges {
        incoming[to] += 1;
    }
    let mut ready: Vec<usize> = (0..nodes).filter(|&n| incoming[n] == 0).collect();
    let mut ordered = 0;
    while let Some(node) = ready.pop() {
        ordered += 1;
        for &(from, to) in edges {
            if from == node {
                incoming[to] -= 1;
                if incoming[to] == 0 {
                    ready.push(to);
                }
            }
        }
    }
    ordered == nodes
}

#[test]
fn the_serial_order_check_finds_cycles() {
    let chain = HashSet::from([(0, 1), (1, 2)]);
    assert!(has_serial_order(3, &chain));
    let cycle = HashSet::from([(0, 1), (1, 2), (2, 0)]);
    assert!(!has_serial_order(3, &cycle));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_overlapping_writers_for_twenty_rounds_never_deadlock_or_tear_and_serialise() {
    let test_db = TestDb::new().await;
    let repo = Arc::new(PgStockDailyRepository::new(test_db.db().clone()));
    for round in 0..ROUNDS {
        // Even rounds: every writer also writes stock 0, the first key in lock order, so
        // the writers overlap all at once. Odd rounds: windows only, overlapping pairwise.
        let shared_first_key = round % 2 == 0;
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
            let repo = Arc::clone(&repo);
            handles.push(tokio::spawn(async move {
                (writer, stocks, repo.save_all(rows).await)
            }));
        }
        let mut wrote: HashMap<usize, Vec<usize>> = HashMap::new();
        for handle in handles {
            let (writer, stocks, result) = handle.await.unwrap();
            result.unwrap_or_else(|err| panic!("round {round}, writer {writer}: {err:?}"));
            for stock in stocks {
                wrote.entry(stock).or_default().push(writer);
            }
        }
        let stored = stored_versions(test_db.db()).await;
        // No clock is needed: each stock's days carry one writer's value (no batch is
        // torn), and the winners fit one serial order of the writers: the winner of a
        // stock comes after every other writer of it, and those "must precede" edges
        // have no cycle.
        let mut edges = HashSet::new();
        for (stock, writers) in &wrote {
            let values: HashSet<u64> = (0..DAYS)
                .map(|d| {
                    stored[&(format!("{stock:06}.SZ"), bar(*stock, d, 0, 0).trade_date)].to_bits()
                })
                .collect();
            assert_eq!(
                values.len(),
                1,
                "round {round}: stock {stock}'s days were torn"
            );
            let value = f64::from_bits(values.into_iter().next().unwrap_or_default());
            let winner = writers
                .iter()
                .copied()
                .find(|&w| version(w, round) == value)
                .unwrap_or_else(|| {
                    panic!("round {round}: stock {stock} holds {value}, no writer of this round")
                });
            for &other in writers {
                if other != winner {
                    edges.insert((other, winner));
                }
            }
        }
        assert!(
            has_serial_order(WRITERS, &edges),
            "round {round}: the winners fit no serial order of the writers: {edges:?}"
        );
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
