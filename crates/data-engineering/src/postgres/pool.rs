//! `PgLimitUpPoolRepository`: the limit-up pool on PostgreSQL, upserted on its natural key
//! as the earlier service does, with a row rewritten only when a value changed.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait as _, DatabaseBackend, QueryResult, Statement};
use shared_db::{Db, RepoError, UpsertReport};

use crate::domain::{LimitUpStock, ThirdCode};
use crate::repository::LimitUpPoolRepository;

/// The limit-up pool on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgLimitUpPoolRepository {
    db: Db,
}

impl PgLimitUpPoolRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The value columns, in the order the statement sends them.
const VALUES: &str = "stock_name, pct_chg, close, amount, turnover_rate, consecutive_boards, \
     first_limit_up_time, last_limit_up_time, industry";

fn stock(row: &QueryResult) -> Result<LimitUpStock, RepoError> {
    Ok(LimitUpStock {
        trade_date: row.try_get_by_index(0)?,
        third_code: ThirdCode::from_stored(row.try_get_by_index(1)?),
        stock_name: row.try_get_by_index(2)?,
        pct_chg: row.try_get_by_index(3)?,
        close: row.try_get_by_index(4)?,
        amount: row.try_get_by_index(5)?,
        turnover_rate: row.try_get_by_index(6)?,
        consecutive_boards: row.try_get_by_index(7)?,
        first_limit_up_time: row.try_get_by_index(8)?,
        last_limit_up_time: row.try_get_by_index(9)?,
        industry: row.try_get_by_index(10)?,
    })
}

#[async_trait]
impl LimitUpPoolRepository for PgLimitUpPoolRepository {
    async fn save_all(&self, rows: Vec<LimitUpStock>) -> Result<UpsertReport, RepoError> {
        let received = rows.len() as u64;
        let mut unique: BTreeMap<(NaiveDate, ThirdCode), LimitUpStock> = BTreeMap::new();
        for (idx, row) in rows.into_iter().enumerate() {
            row.validate().map_err(|err| err.at_row(idx))?;
            unique.insert((row.trade_date, row.third_code.clone()), row);
        }
        let rows: Vec<&LimitUpStock> = unique.values().collect();
        let column = |f: fn(&LimitUpStock) -> f64| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
        let text = |f: fn(&LimitUpStock) -> Option<&str>| {
            rows.iter()
                .map(|r| f(r).map(str::to_owned))
                .collect::<Vec<_>>()
        };
        // Sorted by key, so concurrent writers lock rows in one order; a row equal to the
        // stored one is left alone (no new version, its updated_at kept).
        let changed: Vec<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO de_limit_up_pool AS p (trade_date, third_code, {VALUES}, created_at, updated_at) \
             SELECT d, c, n, pc, cl, am, tr, cb, ft, lt, ind, $12, $12 \
             FROM UNNEST($1::date[], $2::varchar[], $3::varchar[], $4::float8[], $5::float8[], \
                         $6::float8[], $7::float8[], $8::int4[], $9::varchar[], $10::varchar[], \
                         $11::varchar[]) AS u(d, c, n, pc, cl, am, tr, cb, ft, lt, ind) \
             ON CONFLICT (trade_date, third_code) DO UPDATE SET \
                 (stock_name, pct_chg, close, amount, turnover_rate, consecutive_boards, \
                  first_limit_up_time, last_limit_up_time, industry, updated_at) = \
                 (EXCLUDED.stock_name, EXCLUDED.pct_chg, EXCLUDED.close, EXCLUDED.amount, \
                  EXCLUDED.turnover_rate, EXCLUDED.consecutive_boards, EXCLUDED.first_limit_up_time, \
                  EXCLUDED.last_limit_up_time, EXCLUDED.industry, EXCLUDED.updated_at) \
             WHERE ({VALUES_P}) IS DISTINCT FROM ({VALUES_X}) \
             RETURNING xmax = 0",
            VALUES_P = prefixed("p."),
            VALUES_X = prefixed("EXCLUDED."),
        )))
        .bind(rows.iter().map(|r| r.trade_date).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.third_code.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stock_name.as_str()).collect::<Vec<_>>())
        .bind(column(|r| r.pct_chg))
        .bind(column(|r| r.close))
        .bind(column(|r| r.amount))
        .bind(column(|r| r.turnover_rate))
        .bind(rows.iter().map(|r| r.consecutive_boards).collect::<Vec<_>>())
        .bind(text(|r| r.first_limit_up_time.as_deref()))
        .bind(text(|r| r.last_limit_up_time.as_deref()))
        .bind(rows.iter().map(|r| r.industry.as_str()).collect::<Vec<_>>())
        .bind(self.db.now())
        .fetch_all(self.db.pool())
        .await?;
        let inserted = changed.iter().filter(|new| **new).count() as u64;
        let updated = changed.len() as u64 - inserted;
        let deduplicated = rows.len() as u64;
        Ok(UpsertReport {
            received,
            deduplicated,
            inserted,
            updated,
            unchanged: deduplicated - inserted - updated,
        })
    }

    async fn by_date(&self, day: NaiveDate) -> Result<Vec<LimitUpStock>, RepoError> {
        let sql = format!(
            "SELECT trade_date, third_code, {VALUES} FROM de_limit_up_pool WHERE trade_date = $1 \
             ORDER BY consecutive_boards DESC, first_limit_up_time NULLS LAST, third_code"
        );
        let rows = self.db.read_all(&sql, vec![day.into()]).await?;
        rows.iter().map(stock).collect()
    }

    async fn latest_day(&self) -> Result<Option<NaiveDate>, RepoError> {
        let day = self
            .db
            .read(|conn| async move {
                let row = conn
                    .query_one_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        "SELECT max(trade_date) FROM de_limit_up_pool",
                    ))
                    .await?;
                Ok(match row {
                    Some(row) => row.try_get_by_index::<Option<NaiveDate>>(0)?,
                    None => None,
                })
            })
            .await?;
        Ok(day)
    }
}

/// The value columns, each with `prefix`.
fn prefixed(prefix: &str) -> String {
    VALUES
        .split(", ")
        .map(|c| format!("{prefix}{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
