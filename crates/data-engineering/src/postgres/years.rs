//! `stock_daily`'s yearly partitions on PostgreSQL (schema version 14): a year's partition
//! made before a batch brings its first bars, and the maintenance a scheduler runs —
//! the partition the conversion made split into years, this year's and next year's made,
//! what the default partition caught moved into its years, closed years packed.

use std::collections::BTreeSet;

use chrono::{Datelike as _, NaiveDate, NaiveDateTime};
#[cfg(doc)]
use shared_db::Destination;
use shared_db::ranges::{Bound, Partition, Period, RangeTable};
use shared_db::{Db, RepoError, ShortLocks};

use crate::domain::{BatchRows, CLOSED_FILLFACTOR, YearMaintenance, YearPartition, fillfactor_of};

/// `stock_daily` as a table of yearly partitions.
pub(crate) const DAILY_YEARS: RangeTable = RangeTable {
    table: "stock_daily",
    key: "trade_date",
    period: Period::Year,
    // The rewrite walks `ix_stock_daily_trade_date`, a day's bars sorted by code.
    order: &["trade_date", "third_code"],
    locks: ShortLocks {
        tries: 20,
        ..ShortLocks::DEFAULT
    },
};

/// The name's start of the partition schema version 14 made of the table it converted.
const CONVERTED: &str = "stock_daily_before_";

/// Makes the partitions of the years of `days` that no partition covers yet (each at its
/// year's fill factor on the handle's clock), so that a batch's bars go to their year and
/// not to the default partition. One catalog read, which takes no lock, when every year
/// has its partition; nothing on a schema older than version 14.
///
/// Returns the partition of the batch's one year when all of `days` are of one year that
/// has a partition of its own (`stock_daily_YYYY`): the batch is written straight into it
/// ([`Destination::Partition`]). `None` for days of several years, a year still in the
/// partition the conversion made, or a schema older than version 14.
pub(crate) async fn ensure_years(
    db: &Db,
    days: impl Iterator<Item = NaiveDate>,
) -> Result<Option<String>, RepoError> {
    years_of(db, days, true).await
}

/// The partition a sync batch is written into: for new bars, [`ensure_years`]; for
/// updates of stored bars, the same without making any partition; `None` for other rows.
pub(crate) async fn batch_year(db: &Db, rows: &BatchRows) -> Result<Option<String>, RepoError> {
    match rows {
        BatchRows::Dailies(rows) => ensure_years(db, rows.iter().map(|d| d.trade_date)).await,
        BatchRows::DailyUpdates { rows, .. } => {
            year_partition(db, rows.iter().map(|d| d.trade_date)).await
        }
        _ => Ok(None),
    }
}

/// The partition of the one year of `days`, as [`ensure_years`] returns it, without
/// making any: for updates of bars already stored.
async fn year_partition(
    db: &Db,
    days: impl Iterator<Item = NaiveDate>,
) -> Result<Option<String>, RepoError> {
    years_of(db, days, false).await
}

async fn years_of(
    db: &Db,
    days: impl Iterator<Item = NaiveDate>,
    make: bool,
) -> Result<Option<String>, RepoError> {
    let years: BTreeSet<i32> = days.map(|day| day.year()).collect();
    if years.is_empty() {
        return Ok(None);
    }
    let names = DAILY_YEARS.names(db).await?;
    if names.is_empty() {
        // A schema older than version 14: one plain table takes every year.
        return Ok(None);
    }
    // By name, which takes no lock: `stock_daily_YYYY`, or the converted partition of
    // every year before its name's.
    let converted_until: Option<i32> = names
        .iter()
        .filter_map(|name| name.strip_prefix(CONVERTED)?.parse().ok())
        .max();
    // The start of a year that has (or gets) a partition of its own.
    let own = |year: i32| {
        converted_until
            .is_none_or(|until| year >= until)
            .then(|| NaiveDate::from_ymd_opt(year, 1, 1))
            .flatten()
            .map(|day| DAILY_YEARS.period.start_of(day))
    };
    let missing: Vec<NaiveDateTime> = years
        .iter()
        .filter_map(|&year| own(year))
        .filter(|&start| !names.contains(&DAILY_YEARS.name_of(start)))
        .collect();
    // Found before the missing years are made: a year made below is the batch's too.
    let partition = match (years.first(), years.len()) {
        (Some(&year), 1) => own(year)
            .filter(|start| make || !missing.contains(start))
            .map(|start| DAILY_YEARS.name_of(start)),
        _ => None,
    };
    if make && !missing.is_empty() {
        let today = db.now().date();
        DAILY_YEARS
            .keep_periods(db, missing, |start| {
                Some(fillfactor_of(start.year(), today))
            })
            .await?;
    }
    Ok(partition)
}

/// The partitions of `stock_daily`, oldest first, the default one last.
pub(crate) async fn status(db: &Db) -> Result<Vec<YearPartition>, RepoError> {
    Ok(DAILY_YEARS
        .partitions(db)
        .await?
        .into_iter()
        .map(|p| {
            let (from, to) = match p.bound {
                Bound::Range { from, to } => (from.map(|f| f.date()), Some(to.date())),
                Bound::Default => (None, None),
            };
            YearPartition {
                name: p.name,
                from,
                to,
                fillfactor: p.fillfactor,
                rows: p.estimate,
                bytes: p.bytes,
            }
        })
        .collect())
}

/// One run of the maintenance (see the module's documentation), on the handle's clock.
pub(crate) async fn maintain(db: &Db) -> Result<YearMaintenance, RepoError> {
    let today = db.now().date();
    let citus = db.is_citus().await?;
    let mut report = YearMaintenance::default();
    let fillfactor = |start: NaiveDateTime| Some(fillfactor_of(start.year(), today));
    let partitions = DAILY_YEARS.partitions(db).await?;
    if let Some(converted) = partitions.iter().find(|p| is_converted(p)) {
        let starts = DAILY_YEARS.periods_in(db, &converted.name).await?;
        if citus && !starts.is_empty() {
            report.left_on_citus.push(converted.name.clone());
        } else if !starts.is_empty() {
            let targets = starts
                .iter()
                .enumerate()
                .map(|(idx, &start)| DAILY_YEARS.target(start, idx == 0, fillfactor(start)))
                .collect::<Result<Vec<_>, _>>()?;
            report.rows_copied += DAILY_YEARS.rewrite(db, &converted.name, &targets).await?;
            report.split = Some(converted.name.clone());
            report.split_into = targets.into_iter().map(|t| t.name).collect();
        }
    }
    let this_year = DAILY_YEARS.period.start_of(today);
    let next_year = DAILY_YEARS.period.next(this_year)?;
    let (created, moved) = DAILY_YEARS
        .keep_periods(db, vec![this_year, next_year], fillfactor)
        .await?;
    report.created = created;
    report.moved_from_default = moved;
    for partition in DAILY_YEARS.partitions(db).await? {
        let Bound::Range {
            from: Some(start), ..
        } = partition.bound
        else {
            continue;
        };
        if partition.fillfactor == fillfactor(start) || fillfactor(start) != Some(CLOSED_FILLFACTOR)
        {
            continue;
        }
        if citus {
            report.left_on_citus.push(partition.name);
            continue;
        }
        let target = DAILY_YEARS.target(start, false, Some(CLOSED_FILLFACTOR))?;
        report.rows_copied += DAILY_YEARS.rewrite(db, &partition.name, &[target]).await?;
        report.packed.push(partition.name);
    }
    Ok(report)
}

/// Whether `partition` is the one schema version 14 made of the table it converted.
fn is_converted(partition: &Partition) -> bool {
    matches!(partition.bound, Bound::Range { from: None, .. })
        && partition.name.starts_with(CONVERTED)
}

/// `stock_daily`'s yearly partitions: where they stand and their maintenance, always on
/// the primary.
#[derive(Debug, Clone)]
pub struct PgDailyPartitions {
    db: Db,
}

impl PgDailyPartitions {
    /// The partitions of `db`'s primary.
    pub fn new(db: Db) -> Self {
        Self { db: db.primary() }
    }

    /// The partitions, oldest first, the default one last. Errors: `Internal` on a schema
    /// older than version 14.
    pub async fn status(&self) -> Result<Vec<YearPartition>, RepoError> {
        status(&self.db).await
    }

    /// Makes the partitions of the years `first..=last` that none covers yet (each at its
    /// year's fill factor on the handle's clock): before bars are loaded by another tool
    /// (`psql \copy`), which would put them all in the default partition. stockdb's own
    /// writes make their years themselves. Nothing on a schema older than version 14.
    pub async fn prepare(&self, first: NaiveDate, last: NaiveDate) -> Result<(), RepoError> {
        let years = (first.year()..=last.year()).filter_map(|y| NaiveDate::from_ymd_opt(y, 1, 1));
        ensure_years(&self.db, years).await.map(drop)
    }

    /// What an operator should hear of the partitions now (by the handle's clock): no
    /// partition for next year yet, bars waiting in the default partition, the converted
    /// partition not split yet. None loses a write; each says to run `stockdb db
    /// partitions`.
    pub async fn warnings(&self) -> Result<Vec<String>, RepoError> {
        let status = status(&self.db).await?;
        let in_default: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            DAILY_YEARS.default_name()
        )))
        .fetch_one(self.db.pool())
        .await?;
        Ok(year_warnings(
            &status,
            in_default.unsigned_abs(),
            self.db.now().date(),
        ))
    }

    /// One run of the maintenance, on the handle's clock: the partition schema version 14
    /// made of the table it converted split into years online (closed years at fill factor
    /// 100, the open one at 40), this year's and next year's partitions made, the rows the
    /// default partition caught moved into their years, closed years still at the open
    /// fill factor packed online. Run it daily from a scheduler; one run at a time (a
    /// second waits for nothing: it finds the same work and its statements are
    /// idempotent). A run killed half way is finished by the next. On Citus the split
    /// and the packing are left (`left_on_citus`).
    pub async fn maintain(&self) -> Result<YearMaintenance, RepoError> {
        maintain(&self.db).await
    }
}

/// [`PgDailyPartitions::warnings`] of `status`, with `in_default` bars in the default
/// partition, on `today`.
fn year_warnings(status: &[YearPartition], in_default: u64, today: NaiveDate) -> Vec<String> {
    let mut warnings = Vec::new();
    let next_year = NaiveDate::from_ymd_opt(today.year().saturating_add(1), 1, 1);
    let ready = status
        .iter()
        .any(|p| p.from.is_some_and(|from| Some(from) == next_year));
    if !ready {
        warnings.push(format!(
            "stock_daily has no partition for {} yet: run `stockdb db partitions` (its bars \
             would go to the default partition)",
            today.year().saturating_add(1)
        ));
    }
    if in_default > 0 {
        warnings.push(format!(
            "{in_default} bars of stock_daily wait in its default partition: run `stockdb db \
             partitions` to move them into their years"
        ));
    }
    if let Some(converted) = status.iter().find(|p| p.name.starts_with(CONVERTED)) {
        warnings.push(format!(
            "{} (the whole history schema version 14 converted) is not split into years yet: \
             run `stockdb db partitions`",
            converted.name
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(name: &str, from: Option<(i32, u32, u32)>) -> YearPartition {
        let day = |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        YearPartition {
            name: name.to_owned(),
            from: from.map(day),
            to: None,
            fillfactor: None,
            rows: 0,
            bytes: 0,
        }
    }

    #[test]
    fn warnings_name_a_missing_next_year_bars_in_default_and_an_unsplit_history() {
        let today = NaiveDate::from_ymd_opt(2027, 12, 20).unwrap();
        let ready = [
            partition("stock_daily_2027", Some((2027, 1, 1))),
            partition("stock_daily_2028", Some((2028, 1, 1))),
            partition("stock_daily_default", None),
        ];
        assert!(year_warnings(&ready, 0, today).is_empty());
        let late = [
            partition("stock_daily_before_2027", None),
            partition("stock_daily_2027", Some((2027, 1, 1))),
            partition("stock_daily_default", None),
        ];
        let warnings = year_warnings(&late, 3, today);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].contains("no partition for 2028"),
            "{warnings:?}"
        );
        assert!(warnings[1].starts_with("3 bars"), "{warnings:?}");
        assert!(
            warnings[2].starts_with("stock_daily_before_2027"),
            "{warnings:?}"
        );
    }
}
