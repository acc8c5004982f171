//! The split of a converted partition into months, online.
//!
//! Schema version 8 turned each audit log into a partitioned table by attaching the whole
//! existing table as one partition from the beginning of time (`<table>_before_YYYY_MM`).
//! Retention drops whole partitions, so that history could go only all at once. The split
//! gives it one partition a month while writers go on: shared-db's
//! [`RangeTable::rewrite`](shared_db::ranges::RangeTable::rewrite) (month tables, a trigger
//! that keeps up with writers, batched copies checked by count, one short swap; a killed
//! run resumes), the oldest month taking every older row too.
//!
//! It runs under the retention lock (which `maintain` and `apply` hold), so nothing else
//! of stockdb's updates these rows meanwhile; the earlier service never updates its logs.

use shared_db::RepoError;

use super::partitions::{Partition, months};
use super::retention::PgRetentionRepository;
use crate::domain::SplitReport;

impl PgRetentionRepository {
    /// Splits the converted partition `converted` of its log into months; returns what it
    /// made, or `None` when it holds no row: an empty one stays, since the oldest
    /// partition's lower bound is what tells readers that history before it was dropped,
    /// and none was.
    pub(super) async fn split(
        &self,
        converted: &Partition,
    ) -> Result<Option<SplitReport>, RepoError> {
        let log = months(converted.table);
        let starts = self.months_of(converted.table, &converted.name).await?;
        if starts.is_empty() {
            return Ok(None);
        }
        let targets = starts
            .iter()
            .enumerate()
            .map(|(idx, &start)| log.target(start, idx == 0, None))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = log.rewrite(&self.db, &converted.name, &targets).await?;
        tracing::info!(partition = %converted.name, months = targets.len(), rows, "audit partitions: split");
        Ok(Some(SplitReport {
            partition: converted.name.clone(),
            months: targets.into_iter().map(|t| t.name).collect(),
            rows,
        }))
    }
}
