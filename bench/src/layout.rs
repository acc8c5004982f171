//! The layouts of `stock_daily` the history suite compares.
//!
//! Not among them yet: partitions by year. The bulk engine tells inserted rows from
//! updated ones by `xmax` in `RETURNING`, which PostgreSQL refuses on a partitioned table
//! ("cannot retrieve a system column in this context"): that count has to change first.

use serde::Serialize;
use shared_db::Db;

use crate::history::sql;

/// How `stock_daily` is laid out for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Layout {
    /// As the migrations make it.
    Schema,
    /// One table at fillfactor 100.
    Packed,
}

impl Layout {
    /// Lays `stock_daily` of `db` (empty) out so.
    pub(crate) async fn apply(self, db: &Db) -> anyhow::Result<()> {
        match self {
            Self::Schema => Ok(()),
            Self::Packed => sql(db, "ALTER TABLE stock_daily SET (fillfactor = 100)").await,
        }
    }
}
