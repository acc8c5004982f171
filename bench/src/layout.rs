//! The layouts of `stock_daily` the history suite compares.

use serde::Serialize;
use shared_db::Db;

use crate::history::sql;

/// How `stock_daily` is laid out for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Layout {
    /// As the migrations make it: a partition a year, closed years at fillfactor 100, the
    /// open one at 40.
    Schema,
    /// Every partition at fillfactor 100, the open year's too.
    Packed,
}

impl Layout {
    /// Lays `stock_daily` of `db` out so, once its years' partitions are made.
    pub(crate) async fn apply(self, db: &Db) -> anyhow::Result<()> {
        match self {
            Self::Schema => Ok(()),
            Self::Packed => {
                let leaves: Vec<String> = sqlx::query_scalar(
                    "SELECT relid::regclass::text FROM pg_partition_tree('stock_daily') \
                     WHERE isleaf",
                )
                .fetch_all(db.pool())
                .await?;
                for leaf in leaves {
                    sql(db, &format!("ALTER TABLE {leaf} SET (fillfactor = 100)")).await?;
                }
                Ok(())
            }
        }
    }
}
