//! The day-boards suite: a day's limit-up pool (100 stocks) saved through
//! `PgDayBoardRepository` beside one hand-written `INSERT … SELECT FROM UNNEST` of the same
//! rows into a twin table (the floor: what the repository did by hand before the engine
//! served the boards), a day read back beside its bare `SELECT`, and the floor statement
//! into a twin with the `ix_de_limit_up_pool_id` index schema v13 dropped beside one
//! without it (what the drop saves on every insert). Calls interleaved (`reads::compare`).

use chrono::NaiveDate;
use data_engineering::{DayBoardRepository as _, LimitUpStock, PgDayBoardRepository, ThirdCode};
use serde::Serialize;

use crate::Bench;
use crate::reads::{ReadPath, compare};

/// Stocks in a day's pool.
const ROWS_PER_DAY: usize = 100;
/// The first day saved.
const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2020, 1, 1).expect("a valid date");

/// What the suite measured.
#[derive(Debug, Serialize)]
pub(crate) struct Boards {
    pub(crate) rows_per_day: usize,
    pub(crate) save_a_day: ReadPath,
    pub(crate) read_a_day: ReadPath,
    pub(crate) insert_with_id_index: ReadPath,
}

impl Boards {
    /// Each path with its name, for the report.
    pub(crate) fn paths(&self) -> [(&'static str, &ReadPath); 3] {
        [
            (
                "save a day's pool (repository / hand-written UNNEST)",
                &self.save_a_day,
            ),
            (
                "read a day's pool (repository / bare SELECT)",
                &self.read_a_day,
            ),
            (
                "insert a day with the v12 id index / without (v13)",
                &self.insert_with_id_index,
            ),
        ]
    }
}

/// The twin tables: one as v13 leaves the pool, one with v12's extra index.
const TWINS: &str = "
CREATE TABLE bench_pool (LIKE de_limit_up_pool INCLUDING ALL);
CREATE TABLE bench_pool_v12 (LIKE de_limit_up_pool INCLUDING ALL);
CREATE INDEX ix_bench_pool_v12_id ON bench_pool_v12 (id);
";

/// The floor's statement into `table`: the rows as arrays, stamped once.
fn insert_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} (trade_date, third_code, stock_name, pct_chg, close, amount, \
             turnover_rate, consecutive_boards, first_limit_up_time, last_limit_up_time, \
             industry, created_at, updated_at) \
         SELECT d, c, n, pc, cl, am, tr, cb, ft, lt, ind, $12, $12 \
         FROM UNNEST($1::date[], $2::varchar[], $3::varchar[], $4::float8[], $5::float8[], \
                     $6::float8[], $7::float8[], $8::int4[], $9::varchar[], $10::varchar[], \
                     $11::varchar[]) AS u(d, c, n, pc, cl, am, tr, cb, ft, lt, ind) \
         ON CONFLICT (trade_date, third_code) DO NOTHING"
    )
}

/// Day `i`'s pool.
fn pool(i: usize) -> anyhow::Result<Vec<LimitUpStock>> {
    let day = FIRST_DAY + chrono::Duration::days(i64::try_from(i)?);
    (0..ROWS_PER_DAY)
        .map(|n| {
            Ok(LimitUpStock {
                trade_date: day,
                third_code: ThirdCode::parse(&format!("{:06}.SZ", n + 1))?,
                stock_name: format!("股票{n}"),
                pct_chg: 10.01,
                close: 12.34 + n as f64,
                amount: 1.5e8,
                turnover_rate: 6.2,
                consecutive_boards: 1 + (n % 4) as i32,
                first_limit_up_time: Some(format!("09{:02}00", 30 + n % 30)),
                last_limit_up_time: Some("145700".to_owned()),
                industry: "汽车零部件".to_owned(),
            })
        })
        .collect()
}

/// Sends the floor's statement for `rows` into `table`.
async fn insert(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    rows: &[LimitUpStock],
    at: chrono::NaiveDateTime,
) -> anyhow::Result<()> {
    let texts = |f: fn(&LimitUpStock) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let floats = |f: fn(&LimitUpStock) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(rows.iter().map(|r| r.trade_date).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.third_code.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .bind(texts(|r| Some(r.stock_name.clone())))
        .bind(floats(|r| r.pct_chg))
        .bind(floats(|r| r.close))
        .bind(floats(|r| r.amount))
        .bind(floats(|r| r.turnover_rate))
        .bind(
            rows.iter()
                .map(|r| r.consecutive_boards)
                .collect::<Vec<_>>(),
        )
        .bind(texts(|r| r.first_limit_up_time.clone()))
        .bind(texts(|r| r.last_limit_up_time.clone()))
        .bind(texts(|r| Some(r.industry.clone())))
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

impl Bench {
    pub(crate) async fn boards(&self) -> anyhow::Result<Boards> {
        let calls = self.settings.calls;
        eprintln!("day boards: {calls} days of {ROWS_PER_DAY}-stock limit-up pools");
        self.sql(TWINS).await?;
        let repo = PgDayBoardRepository::<LimitUpStock>::new(self.db.clone());
        let at = self.db.now();
        // Every day's rows made before timing, so the sides time only their writes.
        let days: Vec<Vec<LimitUpStock>> = (0..calls + 20).map(pool).collect::<Result<_, _>>()?;
        let mut conn = self.db.pool().acquire().await?;
        let into_twin = insert_sql("bench_pool");
        let save_a_day = compare(
            calls,
            async |i| {
                let saved = repo.save_all(days[i].clone()).await?;
                anyhow::ensure!(saved.inserted == ROWS_PER_DAY as u64, "{saved:?}");
                Ok(())
            },
            async |i| insert(&mut conn, &into_twin, &days[i], at).await,
        )
        .await?;
        let read_a_day = compare(
            calls,
            async |i| {
                let read = repo.by_date(days[i][0].trade_date).await?;
                anyhow::ensure!(read.len() == ROWS_PER_DAY, "{} rows", read.len());
                Ok(())
            },
            async |i| {
                let rows = sqlx::query(
                    "SELECT trade_date, third_code, stock_name, pct_chg, close, amount, \
                     turnover_rate, consecutive_boards, first_limit_up_time, last_limit_up_time, \
                     industry FROM de_limit_up_pool WHERE trade_date = $1 \
                     ORDER BY consecutive_boards DESC, first_limit_up_time NULLS LAST, third_code",
                )
                .bind(days[i][0].trade_date)
                .fetch_all(&mut *conn)
                .await?;
                anyhow::ensure!(rows.len() == ROWS_PER_DAY, "{} rows", rows.len());
                Ok(())
            },
        )
        .await?;
        self.sql("TRUNCATE bench_pool").await?;
        let into_v12 = insert_sql("bench_pool_v12");
        let mut other = self.db.pool().acquire().await?;
        let insert_with_id_index = compare(
            calls,
            async |i| insert(&mut other, &into_v12, &days[i], at).await,
            async |i| insert(&mut conn, &into_twin, &days[i], at).await,
        )
        .await?;
        self.sql("DROP TABLE bench_pool, bench_pool_v12").await?;
        Ok(Boards {
            rows_per_day: ROWS_PER_DAY,
            save_a_day,
            read_a_day,
            insert_with_id_index,
        })
    }
}

pub(crate) fn print(b: &Boards) {
    println!("\n## Day boards ({} rows a day; ms)\n", b.rows_per_day);
    crate::report::print_paths(&b.paths());
}
