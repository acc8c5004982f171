//! The partitions of a range-partitioned table, as the catalog describes them.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::{RangeTable, internal};
use crate::{Db, RepoError};

/// A partition's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bound {
    /// `FROM (from or MINVALUE) TO (to)`.
    Range {
        /// `None`: `MINVALUE`, every older row.
        from: Option<NaiveDateTime>,
        /// The first value past it.
        to: NaiveDateTime,
    },
    /// The default partition: every row no other partition takes.
    Default,
}

/// One partition as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Its table's name.
    pub name: String,
    /// Its bound.
    pub bound: Bound,
    /// The planner's row estimate (0 before the first `ANALYZE`).
    pub estimate: u64,
    /// Its size with indexes and TOAST.
    pub bytes: u64,
    /// Its fill factor, when one is set.
    pub fillfactor: Option<u32>,
}

impl Partition {
    /// Whether `[from, to)` overlaps this partition's range (never the default's).
    pub fn covers_any_of(&self, from: NaiveDateTime, to: NaiveDateTime) -> bool {
        match self.bound {
            Bound::Range {
                from: lower,
                to: upper,
            } => lower.is_none_or(|lower| lower < to) && upper > from,
            Bound::Default => false,
        }
    }
}

/// The partitions of one partitioned table (`$1`, schema-qualified), with the bound as the
/// catalog prints it, the planner's estimate (-1 before the first ANALYZE: shown as 0), the
/// size with indexes and TOAST, and the fill factor.
const PARTITIONS: &str = "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid), \
         greatest(c.reltuples, 0)::float8, pg_total_relation_size(c.oid), \
         (SELECT substring(o FROM 12)::int FROM unnest(c.reloptions) AS o \
          WHERE o LIKE 'fillfactor=%') \
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
     WHERE i.inhparent = to_regclass($1)";

/// A row of [`PARTITIONS`]: name, bound (`None` once dropped), estimate,
/// bytes, fill factor.
type CatalogRow = (String, Option<String>, f64, i64, Option<i32>);

/// The names of the partitions of `$1` (schema-qualified): a catalog read that takes no
/// lock (`pg_get_expr`, which prints a bound, locks each partition, so waits behind
/// whoever holds one exclusively: a writer must not).
const NAMES: &str = "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
     WHERE i.inhparent = to_regclass($1)";

impl RangeTable {
    /// The partitions, oldest first, the default partition last. Errors: `Internal` when
    /// the table is not partitioned, or a partition has a bound stockdb does not make.
    pub async fn partitions(&self, db: &Db) -> Result<Vec<Partition>, RepoError> {
        let rows: Vec<CatalogRow> = sqlx::query_as(PARTITIONS)
            .bind(format!("public.{}", self.table))
            .fetch_all(db.pool())
            .await?;
        let mut partitions = rows
            .into_iter()
            // `pg_get_expr` reads the catalog as it is now, not as the query's snapshot
            // saw it: a partition dropped since (a rewrite's swap) has no bound left.
            .filter_map(|(name, bound, estimate, bytes, fillfactor)| {
                Some((name, bound?, estimate, bytes, fillfactor))
            })
            .map(|(name, bound, estimate, bytes, fillfactor)| {
                let bound = parse_bound(&bound).ok_or_else(|| {
                    internal(format!(
                        "partition {name} of {} has a bound stockdb does not make: {bound}",
                        self.table
                    ))
                })?;
                Ok(Partition {
                    name,
                    bound,
                    // Whole rows: an estimate has no fractions worth showing.
                    estimate: estimate.round().max(0.0) as u64,
                    bytes: u64::try_from(bytes).unwrap_or(0),
                    fillfactor: fillfactor.and_then(|f| u32::try_from(f).ok()),
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        if partitions.is_empty() {
            return Err(internal(format!(
                "{} is not partitioned: the schema is older than this build's; run `stockdb \
                 migrate up`",
                self.table
            )));
        }
        partitions.sort_by_key(|p| p.bound);
        Ok(partitions)
    }

    /// The partitions' names, without their bounds: empty when the table is not
    /// partitioned (a schema older than the layout, which writers still serve). Takes no
    /// lock, so a writer can ask it while partitions are being attached or distributed.
    pub async fn names(&self, db: &Db) -> Result<Vec<String>, RepoError> {
        Ok(sqlx::query_scalar(NAMES)
            .bind(format!("public.{}", self.table))
            .fetch_all(db.pool())
            .await?)
    }
}

/// `FOR VALUES FROM ('2027-01-01 00:00:00') TO ('2027-02-01 00:00:00')`, `FROM (MINVALUE)
/// TO (…)` (a date column prints `'2027-01-01'`) or `DEFAULT`, as a bound.
pub fn parse_bound(bound: &str) -> Option<Bound> {
    if bound == "DEFAULT" {
        return Some(Bound::Default);
    }
    let rest = bound.strip_prefix("FOR VALUES FROM (")?;
    let (from, rest) = rest.split_once(") TO (")?;
    let to = rest.strip_suffix(')')?;
    let at = |text: &str| {
        let text = text.trim_matches('\'');
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .ok()
                    .map(|day| day.and_time(NaiveTime::MIN))
            })
    };
    let from = if from == "MINVALUE" {
        None
    } else {
        Some(at(from)?)
    };
    Some(Bound::Range { from, to: at(to)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn bounds_parse_as_the_catalog_prints_them_for_timestamps_and_dates() {
        assert_eq!(
            parse_bound("FOR VALUES FROM ('2027-01-01 00:00:00') TO ('2027-02-01 00:00:00')"),
            Some(Bound::Range {
                from: Some(ts("2027-01-01 00:00:00")),
                to: ts("2027-02-01 00:00:00")
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO ('2028-01-01')"),
            Some(Bound::Range {
                from: None,
                to: ts("2028-01-01 00:00:00")
            })
        );
        assert_eq!(parse_bound("DEFAULT"), Some(Bound::Default));
        assert_eq!(parse_bound("FOR VALUES IN (1)"), None);
        let mut bounds = [
            Bound::Default,
            Bound::Range {
                from: Some(ts("2027-01-01 00:00:00")),
                to: ts("2028-01-01 00:00:00"),
            },
            Bound::Range {
                from: None,
                to: ts("2027-01-01 00:00:00"),
            },
        ];
        bounds.sort();
        assert_eq!(bounds[2], Bound::Default);
        assert!(matches!(bounds[0], Bound::Range { from: None, .. }));
    }
}
