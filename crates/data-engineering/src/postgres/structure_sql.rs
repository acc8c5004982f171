//! The SQL of `PgMarketStructureRepository`'s longer reads, and its row mappers.

use chrono::NaiveDate;
use sea_orm::QueryResult;
use shared_db::RepoError;

use crate::domain::{Dividend, NameChange, ThirdCode};

/// The point-in-time name rule in SQL: started by the day and announced by then.
pub(super) const NAME_AS_OF: &str = "SELECT third_code, name, start_date, end_date, ann_date, change_reason, \
     source FROM stock_names WHERE third_code = $1 AND start_date <= $2 \
     AND GREATEST(ann_date, start_date) <= $2 \
     ORDER BY start_date DESC, ann_date DESC NULLS LAST, name LIMIT 1";

/// Each stock's exchange, from its code's suffix, as `Exchange::of` reads it.
const EXCHANGE_OF_CODE: &str = "CASE upper(split_part(s.third_code, '.', 2)) \
     WHEN 'SH' THEN 'SSE' WHEN 'SZ' THEN 'SZSE' WHEN 'BJ' THEN 'BSE' END";

/// Per listed stock, its open days in `$1..=$2` with no bar and no halt (the halt rule of
/// `halt_on`: the last whole-day `S` or `R` decides, an `R` winning a tie).
///
/// On Citus (`citus`), which plans no correlated subquery over a distributed table beside
/// a reference table, the range's bars are read first (an intermediate result) and the
/// rest runs on the coordinator; a single server probes the bars' index per day instead.
pub(super) fn sync_gaps_sql(citus: bool) -> String {
    let (bars_cte, bars) = if citus {
        (
            "bars AS MATERIALIZED (SELECT third_code, trade_date FROM stock_daily \
             WHERE trade_date BETWEEN $1 AND $2), ",
            "bars",
        )
    } else {
        ("", "stock_daily")
    };
    format!(
        "WITH {bars_cte}missing AS ( \
           SELECT s.third_code, c.cal_date FROM stock_info s \
           JOIN trade_calendar c ON c.exchange = {EXCHANGE_OF_CODE} AND c.is_open \
             AND c.cal_date BETWEEN $1 AND $2 \
             AND (s.list_date IS NULL OR c.cal_date >= s.list_date) \
             AND (s.delist_date IS NULL OR c.cal_date < s.delist_date) \
           WHERE NOT EXISTS (SELECT 1 FROM {bars} b \
                             WHERE b.third_code = s.third_code AND b.trade_date = c.cal_date)) \
         SELECT m.third_code, count(*)::int8, min(m.cal_date), max(m.cal_date) FROM missing m \
         WHERE (SELECT x.suspend_type FROM stock_suspensions x \
                WHERE x.third_code = m.third_code AND x.trade_date <= m.cal_date \
                  AND (x.suspend_type = 'R' OR x.suspend_timing IS NULL) \
                ORDER BY x.trade_date DESC, x.suspend_type = 'R' DESC LIMIT 1) \
               IS DISTINCT FROM 'S' \
         GROUP BY m.third_code ORDER BY m.third_code"
    )
}

/// The membership stretches of index `$1`. Gaps and islands: a stretch is a run of
/// consecutive snapshots that list the stock; it ends at the next snapshot.
pub(super) const MEMBERSHIPS: &str = "WITH snaps AS (SELECT trade_date, row_number() OVER (ORDER BY trade_date) AS n \
     FROM (SELECT DISTINCT trade_date FROM index_weights \
     WHERE index_code = $1) s), \
     m AS (SELECT w.con_code, s.trade_date, s.n, \
     s.n - row_number() OVER (PARTITION BY w.con_code ORDER BY s.n) AS island \
     FROM index_weights w JOIN snaps s USING (trade_date) \
     WHERE w.index_code = $1), \
     runs AS (SELECT con_code, min(trade_date) AS in_date, max(n) AS last_n \
     FROM m GROUP BY con_code, island) \
     SELECT r.con_code, r.in_date, s.trade_date FROM runs r \
     LEFT JOIN snaps s ON s.n = r.last_n + 1 ORDER BY r.con_code, r.in_date";

/// Per implemented dividend with an ex-date in `$2..=$3` (of stock `$1`, or all when NULL;
/// `$4` the implemented stage), summed per stock and ex-date: the cash and shares, the last
/// bar before the ex-date, and the stored factor step.
///
/// On Citus (`citus`), which plans no lateral `LIMIT` over rows of the coordinator, the
/// last bars are found by `DISTINCT ON` over a join with the ex-dates (pushed to the
/// shards); a single server probes the bars' index once per ex-date instead.
pub(super) fn factor_steps_sql(citus: bool) -> String {
    const EX: &str = "ex AS MATERIALIZED ( \
         SELECT third_code, ex_date, sum(COALESCE(cash_div_tax, 0)) AS cash, \
         sum(COALESCE(stk_div, COALESCE(stk_bo_rate, 0) + COALESCE(stk_co_rate, 0))) AS shares \
         FROM stock_dividends \
         WHERE div_proc = $4 AND ex_date BETWEEN $2 AND $3 \
         AND ($1::varchar IS NULL OR third_code = $1) \
         GROUP BY third_code, ex_date)";
    const SELECT: &str = "SELECT ex.third_code, ex.ex_date, ex.cash, ex.shares, p.trade_date, \
         p.close, x.adj_factor / NULLIF(p.adj_factor, 0) FROM ex";
    if citus {
        format!(
            "WITH {EX}, \
             prev AS MATERIALIZED (SELECT DISTINCT ON (d.third_code, ex.ex_date) \
                 d.third_code, ex.ex_date, d.trade_date, d.close, d.adj_factor \
                 FROM stock_daily d JOIN ex \
                   ON d.third_code = ex.third_code AND d.trade_date < ex.ex_date \
                 ORDER BY d.third_code, ex.ex_date, d.trade_date DESC), \
             at_ex AS MATERIALIZED (SELECT d.third_code, d.trade_date, d.adj_factor \
                 FROM stock_daily d JOIN ex \
                   ON d.third_code = ex.third_code AND d.trade_date = ex.ex_date) \
             {SELECT} \
             LEFT JOIN prev p ON p.third_code = ex.third_code AND p.ex_date = ex.ex_date \
             LEFT JOIN at_ex x ON x.third_code = ex.third_code AND x.trade_date = ex.ex_date \
             ORDER BY ex.third_code, ex.ex_date"
        )
    } else {
        format!(
            "WITH {EX} {SELECT} \
             LEFT JOIN LATERAL (SELECT trade_date, close, adj_factor FROM stock_daily d \
             WHERE d.third_code = ex.third_code AND d.trade_date < ex.ex_date \
             ORDER BY d.trade_date DESC LIMIT 1) p ON true \
             LEFT JOIN stock_daily x ON x.third_code = ex.third_code AND x.trade_date = ex.ex_date \
             ORDER BY ex.third_code, ex.ex_date"
        )
    }
}

/// A `stock_names` row, its columns in table order.
pub(super) fn name_change(row: &QueryResult) -> Result<NameChange, RepoError> {
    Ok(NameChange {
        third_code: ThirdCode::from_stored(row.try_get_by_index(0)?),
        name: row.try_get_by_index(1)?,
        start_date: row.try_get_by_index(2)?,
        end_date: row.try_get_by_index(3)?,
        ann_date: row.try_get_by_index(4)?,
        change_reason: row.try_get_by_index(5)?,
        source: row.try_get_by_index(6)?,
    })
}

/// A `stock_dividends` row, by column name.
pub(super) fn dividend(row: &QueryResult) -> Result<Dividend, RepoError> {
    let get_f = |col| row.try_get::<Option<f64>>("", col);
    let get_d = |col| row.try_get::<Option<NaiveDate>>("", col);
    Ok(Dividend {
        third_code: ThirdCode::from_stored(row.try_get("", "third_code")?),
        end_date: row.try_get("", "end_date")?,
        ann_date: row.try_get("", "ann_date")?,
        div_proc: row.try_get("", "div_proc")?,
        stk_div: get_f("stk_div")?,
        stk_bo_rate: get_f("stk_bo_rate")?,
        stk_co_rate: get_f("stk_co_rate")?,
        cash_div: get_f("cash_div")?,
        cash_div_tax: get_f("cash_div_tax")?,
        record_date: get_d("record_date")?,
        ex_date: get_d("ex_date")?,
        pay_date: get_d("pay_date")?,
        div_listdate: get_d("div_listdate")?,
        imp_ann_date: get_d("imp_ann_date")?,
        base_date: get_d("base_date")?,
        base_share: get_f("base_share")?,
        source: row.try_get("", "source")?,
    })
}
