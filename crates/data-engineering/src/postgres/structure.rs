//! `PgMarketStructureRepository`: the trading calendar, suspensions, price limits, name
//! history, index membership and dividends on PostgreSQL, and the reads that join them
//! with the stock list and the bars.

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::QueryResult;
use shared_db::{Db, InvalidInput, Merge, RepoError, UpsertReport};

use super::check_range;
use super::daily::no_factor;
use super::market::upsert_market;
use super::structure_sql::{
    MEMBERSHIPS, NAME_AS_OF, dividend, factor_steps_sql, name_change, sync_gaps_sql,
};
use crate::domain::{
    Adjust, ClassifiedDay, DIV_PROC_IMPLEMENTED, Dividend, Exchange, FactorCheck, MarketRows,
    Membership, NameChange, NameFlags, PriceLimit, StockDaily, StockDayStatus, SuspendType,
    Suspension, SyncGap, ThirdCode, Universe, classify_days, halt_on, scale,
};
use crate::postgres::PgStockDailyRepository;
use crate::repository::{MarketStructureRepository, StockDailyRepository as _};

/// The most trading days one call of `trading_days_before` returns.
pub const MAX_TRADING_DAYS: u32 = 100_000;

/// The market's structure on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgMarketStructureRepository {
    db: Db,
}

impl PgMarketStructureRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The suspensions of `code` on or before `day`, oldest first.
    async fn suspensions(
        &self,
        code: &ThirdCode,
        day: NaiveDate,
    ) -> Result<Vec<Suspension>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT third_code, trade_date, suspend_type, suspend_timing, reason, source \
                 FROM stock_suspensions WHERE third_code = $1 AND trade_date <= $2 \
                 ORDER BY trade_date, suspend_type",
                vec![code.as_str().into(), day.into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Suspension {
                    third_code: ThirdCode::from_stored(row.try_get_by_index(0)?),
                    trade_date: row.try_get_by_index(1)?,
                    suspend_type: row.try_get_by_index::<String>(2)?.parse()?,
                    suspend_timing: row.try_get_by_index(3)?,
                    reason: row.try_get_by_index(4)?,
                    source: row.try_get_by_index(5)?,
                })
            })
            .collect()
    }

    /// `code`'s listing and delisting dates, if the stock list holds it.
    async fn listing(
        &self,
        code: &ThirdCode,
    ) -> Result<Option<(Option<NaiveDate>, Option<NaiveDate>)>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT list_date, delist_date FROM stock_info WHERE third_code = $1",
                vec![code.as_str().into()],
            )
            .await?;
        rows.first()
            .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
            .transpose()
    }
}

/// The exchange of `code`, or an error naming it.
fn exchange_of(code: &ThirdCode) -> Result<Exchange, InvalidInput> {
    Exchange::of(code).ok_or_else(|| {
        InvalidInput::new(
            "third_code",
            code,
            "has no exchange suffix (.SH, .SZ or .BJ), so no trading calendar",
        )
    })
}

fn dates(rows: &[QueryResult]) -> Result<Vec<NaiveDate>, RepoError> {
    rows.iter()
        .map(|row| Ok(row.try_get_by_index(0)?))
        .collect()
}

fn first_date(rows: &[QueryResult]) -> Result<Option<NaiveDate>, RepoError> {
    Ok(match rows.first() {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    })
}

#[async_trait]
impl MarketStructureRepository for PgMarketStructureRepository {
    async fn save(&self, rows: MarketRows) -> Result<UpsertReport, RepoError> {
        let mut txn = self.db.pool().begin().await?;
        let report = upsert_market(&mut txn, rows, Merge::Overwrite).await?;
        txn.commit().await?;
        Ok(report)
    }

    async fn trading_days(
        &self,
        exchange: Exchange,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<NaiveDate>, RepoError> {
        check_range(start, end)?;
        let rows = self
            .db
            .read_all(
                "SELECT cal_date FROM trade_calendar WHERE exchange = $1 AND is_open \
                 AND cal_date BETWEEN $2 AND $3 ORDER BY cal_date",
                vec![exchange.as_str().into(), start.into(), end.into()],
            )
            .await?;
        dates(&rows)
    }

    async fn previous_trading_day(
        &self,
        exchange: Exchange,
        day: NaiveDate,
    ) -> Result<Option<NaiveDate>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT max(cal_date) FROM trade_calendar WHERE exchange = $1 AND is_open \
                 AND cal_date < $2",
                vec![exchange.as_str().into(), day.into()],
            )
            .await?;
        first_date(&rows)
    }

    async fn next_trading_day(
        &self,
        exchange: Exchange,
        day: NaiveDate,
    ) -> Result<Option<NaiveDate>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT min(cal_date) FROM trade_calendar WHERE exchange = $1 AND is_open \
                 AND cal_date > $2",
                vec![exchange.as_str().into(), day.into()],
            )
            .await?;
        first_date(&rows)
    }

    async fn trading_days_before(
        &self,
        exchange: Exchange,
        day: NaiveDate,
        count: u32,
    ) -> Result<Vec<NaiveDate>, RepoError> {
        if !(1..=MAX_TRADING_DAYS).contains(&count) {
            return Err(InvalidInput::new(
                "count",
                count,
                format!("must be in 1..={MAX_TRADING_DAYS}"),
            )
            .into());
        }
        let rows = self
            .db
            .read_all(
                "SELECT cal_date FROM (SELECT cal_date FROM trade_calendar \
                   WHERE exchange = $1 AND is_open AND cal_date < $2 \
                   ORDER BY cal_date DESC LIMIT $3) d ORDER BY cal_date",
                vec![
                    exchange.as_str().into(),
                    day.into(),
                    i64::from(count).into(),
                ],
            )
            .await?;
        dates(&rows)
    }

    async fn classify_days(
        &self,
        code: &ThirdCode,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<ClassifiedDay>, RepoError> {
        check_range(start, end)?;
        let exchange = exchange_of(code)?;
        let rows = self
            .db
            .read_all(
                "SELECT c.cal_date, d.trade_date IS NOT NULL FROM trade_calendar c \
                 LEFT JOIN (SELECT trade_date FROM stock_daily WHERE third_code = $2 \
                            AND trade_date BETWEEN $3 AND $4) d ON d.trade_date = c.cal_date \
                 WHERE c.exchange = $1 AND c.is_open AND c.cal_date BETWEEN $3 AND $4 \
                 ORDER BY c.cal_date",
                vec![
                    exchange.as_str().into(),
                    code.as_str().into(),
                    start.into(),
                    end.into(),
                ],
            )
            .await?;
        let days = rows
            .iter()
            .map(|row| Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?)))
            .collect::<Result<Vec<(NaiveDate, bool)>, RepoError>>()?;
        let (list, delist) = self.listing(code).await?.unwrap_or_default();
        let suspensions = self.suspensions(code, end).await?;
        Ok(classify_days(&days, list, delist, &suspensions))
    }

    async fn sync_gaps(&self, start: NaiveDate, end: NaiveDate) -> Result<Vec<SyncGap>, RepoError> {
        check_range(start, end)?;
        let sql = sync_gaps_sql(self.db.is_citus().await?);
        let rows = self
            .db
            .read_all(&sql, vec![start.into(), end.into()])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(SyncGap {
                    third_code: ThirdCode::from_stored(row.try_get_by_index(0)?),
                    days: u32::try_from(row.try_get_by_index::<i64>(1)?).unwrap_or(u32::MAX),
                    first: row.try_get_by_index(2)?,
                    last: row.try_get_by_index(3)?,
                })
            })
            .collect()
    }

    async fn status_on(
        &self,
        code: &ThirdCode,
        day: NaiveDate,
    ) -> Result<StockDayStatus, RepoError> {
        let exchange = Exchange::of(code);
        let open = match exchange {
            Some(exchange) => {
                let rows = self
                    .db
                    .read_all(
                        "SELECT is_open FROM trade_calendar WHERE exchange = $1 AND cal_date = $2",
                        vec![exchange.as_str().into(), day.into()],
                    )
                    .await?;
                rows.first()
                    .map(|row| row.try_get_by_index::<bool>(0))
                    .transpose()?
            }
            None => None,
        };
        let listed = self.listing(code).await?.map(|(list, delist)| {
            list.is_none_or(|list| day >= list) && delist.is_none_or(|delist| day < delist)
        });
        let has_bar = !self
            .db
            .read_all(
                "SELECT 1 FROM stock_daily WHERE third_code = $1 AND trade_date = $2",
                vec![code.as_str().into(), day.into()],
            )
            .await?
            .is_empty();
        let suspensions = self.suspensions(code, day).await?;
        let halt = halt_on(&suspensions, day).cloned();
        let intraday_halt = suspensions
            .iter()
            .find(|s| s.trade_date == day && s.suspend_type == SuspendType::Suspend && !s.halts())
            .cloned();
        let limit = self
            .db
            .read_all(
                "SELECT pre_close, up_limit, down_limit, source FROM stock_limits \
                 WHERE third_code = $1 AND trade_date = $2",
                vec![code.as_str().into(), day.into()],
            )
            .await?
            .first()
            .map(|row| -> Result<PriceLimit, RepoError> {
                Ok(PriceLimit {
                    third_code: code.clone(),
                    trade_date: day,
                    pre_close: row.try_get_by_index(0)?,
                    up_limit: row.try_get_by_index(1)?,
                    down_limit: row.try_get_by_index(2)?,
                    source: row.try_get_by_index(3)?,
                })
            })
            .transpose()?;
        let name = self
            .db
            .read_all(NAME_AS_OF, vec![code.as_str().into(), day.into()])
            .await?
            .first()
            .map(name_change)
            .transpose()?;
        let flags = name
            .as_ref()
            .map_or_else(NameFlags::default, |n| NameFlags::of(&n.name));
        Ok(StockDayStatus {
            third_code: code.clone(),
            day,
            exchange,
            open,
            listed,
            has_bar,
            halt,
            intraday_halt,
            limit,
            name,
            flags,
        })
    }

    async fn names(&self, code: &ThirdCode) -> Result<Vec<NameChange>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT third_code, name, start_date, end_date, ann_date, change_reason, source \
                 FROM stock_names WHERE third_code = $1 ORDER BY start_date, name",
                vec![code.as_str().into()],
            )
            .await?;
        rows.iter().map(name_change).collect()
    }

    async fn universe_as_of(
        &self,
        index: &ThirdCode,
        day: NaiveDate,
    ) -> Result<Universe, RepoError> {
        let rows = self
            .db
            .read_all(
                "WITH snap AS (SELECT max(trade_date) AS day FROM index_weights \
                               WHERE index_code = $1 AND trade_date <= $2) \
                 SELECT snap.day, w.con_code, w.weight FROM snap \
                 LEFT JOIN index_weights w ON w.index_code = $1 AND w.trade_date = snap.day \
                 ORDER BY w.con_code",
                vec![index.as_str().into(), day.into()],
            )
            .await?;
        let snapshot = first_date(&rows)?;
        let members = rows
            .iter()
            .filter_map(|row| match row.try_get_by_index::<Option<String>>(1) {
                Ok(Some(code)) => Some(
                    row.try_get_by_index(2)
                        .map(|weight| (ThirdCode::from_stored(code), weight))
                        .map_err(RepoError::from),
                ),
                Ok(None) => None,
                Err(err) => Some(Err(err.into())),
            })
            .collect::<Result<_, RepoError>>()?;
        Ok(Universe {
            index_code: index.clone(),
            as_of: day,
            snapshot,
            members,
        })
    }

    async fn memberships(&self, index: &ThirdCode) -> Result<Vec<Membership>, RepoError> {
        let rows = self
            .db
            .read_all(MEMBERSHIPS, vec![index.as_str().into()])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Membership {
                    con_code: ThirdCode::from_stored(row.try_get_by_index(0)?),
                    in_date: row.try_get_by_index(1)?,
                    out_date: row.try_get_by_index(2)?,
                })
            })
            .collect()
    }

    async fn dividends(&self, code: &ThirdCode) -> Result<Vec<Dividend>, RepoError> {
        let rows = self
            .db
            .read_all(
                "SELECT * FROM stock_dividends WHERE third_code = $1 \
                 ORDER BY ann_date, end_date, \
                          CASE div_proc WHEN '预案' THEN 0 WHEN '股东大会通过' THEN 1 \
                                        WHEN '实施' THEN 2 ELSE 3 END, div_proc",
                vec![code.as_str().into()],
            )
            .await?;
        rows.iter().map(dividend).collect()
    }

    async fn check_factors(
        &self,
        code: Option<&ThirdCode>,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<FactorCheck>, RepoError> {
        check_range(start, end)?;
        let sql = factor_steps_sql(self.db.is_citus().await?);
        let rows = self
            .db
            .read_all(
                &sql,
                vec![
                    code.map(|c| c.as_str().to_owned()).into(),
                    start.into(),
                    end.into(),
                    DIV_PROC_IMPLEMENTED.into(),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let cash: f64 = row.try_get_by_index(2)?;
                let shares: f64 = row.try_get_by_index(3)?;
                let prev_close: Option<f64> = row.try_get_by_index(5)?;
                Ok(FactorCheck {
                    third_code: ThirdCode::from_stored(row.try_get_by_index(0)?),
                    ex_date: row.try_get_by_index(1)?,
                    prev_date: row.try_get_by_index(4)?,
                    prev_close,
                    cash,
                    shares,
                    derived_step: prev_close.and_then(|p| FactorCheck::derive(p, cash, shares)),
                    stored_step: row.try_get_by_index(6)?,
                })
            })
            .collect()
    }

    async fn get_adjusted_by_dividends(
        &self,
        code: &ThirdCode,
        start: NaiveDate,
        end: NaiveDate,
        adjust: Adjust,
    ) -> Result<Vec<StockDaily>, RepoError> {
        let bars = PgStockDailyRepository::new(self.db.clone());
        let anchor = match adjust {
            Adjust::None => {
                return bars
                    .get_by_third_code_and_date_range(code, start, end)
                    .await;
            }
            Adjust::Backward => None,
            Adjust::Forward { anchor } => Some(anchor.unwrap_or(end)),
        };
        check_range(start, end)?;
        let until = anchor.map_or(end, |anchor| anchor.max(end));
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(start);
        let steps: Vec<(NaiveDate, f64)> = self
            .check_factors(Some(code), earliest.min(start), until)
            .await?
            .into_iter()
            .filter_map(|check| check.derived_step.map(|step| (check.ex_date, step)))
            .collect();
        // The factor on a day: every step whose ex-date has come, 1 before the first.
        let factor_on = |day: NaiveDate| -> f64 {
            steps
                .iter()
                .take_while(|(ex, _)| *ex <= day)
                .map(|(_, step)| step)
                .product()
        };
        let mut series = bars
            .get_by_third_code_and_date_range(code, start, end)
            .await?;
        for bar in &mut series {
            bar.adj_factor = Some(factor_on(bar.trade_date));
        }
        let divisor = anchor.map_or(1.0, factor_on);
        scale(series, None, divisor).map_err(no_factor)
    }
}
