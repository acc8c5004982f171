//! Distribution on a Citus coordinator: the market data spread over the workers by stock,
//! the stock list copied to every node. `Stockdb::distribution` says what is placed where
//! and what is left; `Stockdb::distribute` does what is left, online.
//!
//! The plan: `stock_daily` and `stock_finance` distributed by `third_code` and co-located
//! (a stock's bars and reports on one shard group, so per-stock reads and joins stay on one
//! worker); `stock_info` a reference table (small, joined by every market read). Everything
//! else stays on the coordinator: the sync bookkeeping and the market structure are small,
//! and the audit logs keep their monthly partitions and retention, which Citus does not
//! carry over to distributed tables' partition maintenance as stockdb runs it.

use serde::Serialize;
use shared_db::{Db, RepoError};

/// How a table is placed on the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// A copy on every node.
    Reference,
    /// Sharded by `column`, co-located with `colocate_with` when given.
    Distributed {
        /// The distribution column.
        column: &'static str,
        /// The table whose shards it shares.
        colocate_with: Option<&'static str>,
    },
}

/// One table of the plan and whether it is placed so already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistributionStep {
    /// The table.
    pub table: &'static str,
    /// Where the plan puts it.
    pub placement: Placement,
    /// Whether it is placed so.
    pub done: bool,
}

/// The cluster and the plan's progress on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distribution {
    /// Citus's version on the coordinator.
    pub citus_version: String,
    /// The active worker nodes (`host:port`), by name.
    pub workers: Vec<String>,
    /// The plan, in the order it is carried out.
    pub steps: Vec<DistributionStep>,
}

impl Distribution {
    /// The steps not done yet.
    pub fn pending(&self) -> impl Iterator<Item = &DistributionStep> {
        self.steps.iter().filter(|s| !s.done)
    }
}

/// The plan, in order: the reference table first (distributed tables may then refer to
/// it), then the tables co-located with the first distributed one.
const PLAN: [(&str, Placement); 3] = [
    ("stock_info", Placement::Reference),
    (
        "stock_daily",
        Placement::Distributed {
            column: "third_code",
            colocate_with: None,
        },
    ),
    (
        "stock_finance",
        Placement::Distributed {
            column: "third_code",
            colocate_with: Some("stock_daily"),
        },
    ),
];

/// A table's comments as the statements that set them.
const COMMENTS: &str = "SELECT format('COMMENT ON TABLE %I IS %L', c.relname, \
         obj_description(c.oid, 'pg_class')) \
     FROM pg_class c WHERE c.oid = $1::regclass AND obj_description(c.oid, 'pg_class') IS NOT NULL \
     UNION ALL \
     SELECT format('COMMENT ON COLUMN %I.%I IS %L', c.relname, a.attname, \
         col_description(c.oid, a.attnum)) \
     FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
     WHERE c.oid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
       AND col_description(c.oid, a.attnum) IS NOT NULL";

/// How often the cleanup of left-behind copies is tried (200 ms apart).
const CLEANUP_TRIES: usize = 25;

/// The message of a server without Citus.
const NOT_CITUS: &str = "this server has no Citus (no `citus` extension in this database): \
     `stockdb db distribute` runs on a Citus coordinator (docs/scaling.md)";

/// The coordinator's view of the plan. Errors: `Internal` naming the missing extension on
/// a server without Citus.
pub(crate) async fn distribution(db: &Db) -> Result<Distribution, RepoError> {
    if_citus(db).await?.ok_or_else(|| RepoError::Internal {
        component: "distribute",
        detail: NOT_CITUS.to_owned(),
    })
}

/// [`distribution`] on a Citus coordinator, `None` on a server without Citus.
pub(crate) async fn if_citus(db: &Db) -> Result<Option<Distribution>, RepoError> {
    let pool = db.primary();
    let pool = pool.pool();
    let version: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
            .fetch_optional(pool)
            .await?;
    let Some(citus_version) = version else {
        return Ok(None);
    };
    let workers: Vec<String> = sqlx::query_scalar(
        "SELECT nodename || ':' || nodeport FROM pg_dist_node \
         WHERE noderole = 'primary' AND isactive AND groupid <> 0 ORDER BY nodename, nodeport",
    )
    .fetch_all(pool)
    .await?;
    let mut steps = Vec::with_capacity(PLAN.len());
    for (table, placement) in PLAN {
        // 'n': a reference table; 'h': hash-distributed.
        let method: Option<String> = sqlx::query_scalar(
            "SELECT partmethod::text FROM pg_dist_partition WHERE logicalrelid = $1::regclass",
        )
        .bind(table)
        .fetch_optional(pool)
        .await?;
        let done = match (placement, method.as_deref()) {
            (Placement::Reference, Some("n")) | (Placement::Distributed { .. }, Some("h")) => true,
            (_, None) => false,
            (_, Some(other)) => {
                return Err(RepoError::Internal {
                    component: "distribute",
                    detail: format!(
                        "{table} is placed another way (Citus partition method {other:?}) than \
                         the plan's {placement:?}: undo that by hand first"
                    ),
                });
            }
        };
        steps.push(DistributionStep {
            table,
            placement,
            done,
        });
    }
    Ok(Some(Distribution {
        citus_version,
        workers,
        steps,
    }))
}

/// Carries out the pending steps, one table at a time, each its own statement outside a
/// transaction: `create_reference_table` (it holds writes to the table while its rows are
/// copied: the stock list is a few thousand rows) and `create_distributed_table_concurrently`
/// (rows copied while writes go on, a short lock at the switch). Idempotent: a step done is
/// skipped, so a run cut short is finished by running it again. Returns the plan as it
/// stands after.
pub(crate) async fn distribute(db: &Db) -> Result<Distribution, RepoError> {
    let before = distribution(db).await?;
    if before.workers.is_empty() {
        return Err(RepoError::Internal {
            component: "distribute",
            detail: "the coordinator has no active worker node: add them first \
                     (SELECT citus_add_node(host, port))"
                .to_owned(),
        });
    }
    let primary = db.primary();
    let pool = primary.pool();
    for step in before.pending() {
        // `create_distributed_table_concurrently` makes the table anew without its
        // comments (the schema's documentation, and part of its golden print): kept here,
        // put back after.
        let comments: Vec<String> = sqlx::query_scalar(COMMENTS)
            .bind(step.table)
            .fetch_all(pool)
            .await?;
        let sql = match step.placement {
            Placement::Reference => format!("SELECT create_reference_table('{}')", step.table),
            Placement::Distributed {
                column,
                colocate_with,
            } => format!(
                "SELECT create_distributed_table_concurrently('{}', '{column}', \
                 colocate_with => '{}')",
                step.table,
                colocate_with.unwrap_or("default")
            ),
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await?;
        for comment in comments {
            sqlx::raw_sql(sqlx::AssertSqlSafe(comment))
                .execute(pool)
                .await?;
        }
    }
    // The tables' local copies left behind are dropped now rather than by Citus's
    // background cleanup, so the coordinator's catalog (and its print) is the schema's. A
    // copy an operation still holds is dropped on a later try.
    for _ in 0..CLEANUP_TRIES {
        sqlx::raw_sql("CALL citus_cleanup_orphaned_resources()")
            .execute(pool)
            .await?;
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_dist_cleanup")
            .fetch_one(pool)
            .await?;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    distribution(db).await
}
