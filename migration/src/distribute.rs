//! Distribution on a Citus coordinator: the market data spread over the workers by stock,
//! the stock list copied to every node. [`distribution`] says what is placed where and what is
//! left; [`distribute`] does what is left, online (`Stockdb::distribute`, `stockdb db
//! distribute`, and the test harness's Citus target all run it).
//!
//! The plan: `stock_daily` and `stock_finance` distributed by `third_code` and co-located
//! (a stock's bars and reports on one shard group, so per-stock reads and joins stay on one
//! worker); `stock_info` a reference table (small, joined by every market read). Everything
//! else stays on the coordinator: the sync bookkeeping and the market structure are small,
//! and the audit logs keep their monthly partitions and retention, which Citus does not
//! carry over to distributed tables' partition maintenance as stockdb runs it.

use serde::Serialize;
use shared_db::RepoError;
use sqlx::PgPool;

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

/// The comments of relation `$1` as the statements that set them on table `$2`. Reads no
/// `pg_class`, which Citus filters its shards out of.
const COMMENTS: &str = "SELECT format('COMMENT ON TABLE %I IS %L', $2::text, \
         obj_description($1::regclass, 'pg_class')) \
     WHERE obj_description($1::regclass, 'pg_class') IS NOT NULL \
     UNION ALL \
     SELECT format('COMMENT ON COLUMN %I.%I IS %L', $2::text, a.attname, \
         col_description(a.attrelid, a.attnum)) \
     FROM pg_attribute a \
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
       AND col_description(a.attrelid, a.attnum) IS NOT NULL";

/// Where table `$1`'s comments are: on its shard when it is a Citus local table (Citus
/// moves them there: what a distribution cut short leaves), else on the table.
const COMMENTED: &str = "SELECT COALESCE((SELECT p.logicalrelid::text || '_' || s.shardid \
         FROM pg_dist_partition p JOIN pg_dist_shard s USING (logicalrelid) \
         WHERE p.logicalrelid = $1::regclass AND p.partmethod = 'n' AND p.repmodel = 's'), $1)";

/// How often the cleanup of left-behind copies is tried (200 ms apart).
const CLEANUP_TRIES: usize = 25;

/// The message of a server without Citus.
const NOT_CITUS: &str = "this server has no Citus (no `citus` extension in this database): \
     `stockdb db distribute` runs on a Citus coordinator (docs/scaling.md)";

/// The coordinator's view of the plan. Errors: `Internal` naming the missing extension on
/// a server without Citus.
pub async fn distribution(pool: &PgPool) -> Result<Distribution, RepoError> {
    if_citus(pool).await?.ok_or_else(|| RepoError::Internal {
        component: "distribute",
        detail: NOT_CITUS.to_owned(),
    })
}

/// [`distribution`] on a Citus coordinator, `None` on a server without Citus.
pub async fn if_citus(pool: &PgPool) -> Result<Option<Distribution>, RepoError> {
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
        // Method and replication model: 'n' 't', a reference table; 'h', hash-distributed;
        // 'n' 's', a Citus local table (the coordinator's own, in Citus's metadata: what a
        // table with a foreign key to a reference table becomes, and what a distribution
        // cut short leaves), still to be distributed.
        let method: Option<(String, String)> = sqlx::query_as(
            "SELECT partmethod::text, repmodel::text FROM pg_dist_partition \
             WHERE logicalrelid = $1::regclass",
        )
        .bind(table)
        .fetch_optional(pool)
        .await?;
        let done = match (
            placement,
            method.as_ref().map(|(m, r)| (m.as_str(), r.as_str())),
        ) {
            (Placement::Reference, Some(("n", "t")))
            | (Placement::Distributed { .. }, Some(("h", _))) => true,
            (_, None | Some(("n", "s"))) => false,
            (_, Some(other)) => {
                return Err(RepoError::Internal {
                    component: "distribute",
                    detail: format!(
                        "{table} is placed another way (Citus partition method and \
                         replication model {other:?}) than the plan's {placement:?}: undo \
                         that by hand first"
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
pub async fn distribute(pool: &PgPool) -> Result<Distribution, RepoError> {
    let before = distribution(pool).await?;
    if before.workers.is_empty() {
        return Err(RepoError::Internal {
            component: "distribute",
            detail: "the coordinator has no active worker node: add them first \
                     (SELECT citus_add_node(host, port))"
                .to_owned(),
        });
    }
    for step in before.pending() {
        // `create_distributed_table_concurrently` makes the table anew without its
        // comments (the schema's documentation, and part of its golden print): kept here,
        // put back after.
        let commented: String = sqlx::query_scalar(COMMENTED)
            .bind(step.table)
            .fetch_one(pool)
            .await?;
        let comments: Vec<String> = sqlx::query_scalar(COMMENTS)
            .bind(commented)
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
    distribution(pool).await
}
