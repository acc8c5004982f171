//! `Stockdb::health`: can the database be reached, is it at the schema this build expects,
//! does it match that schema's golden print, how busy is the pool.

use std::time::Instant;

use audit::{
    BudgetRepository as _, BudgetSpend, BudgetState, PartitionStatus, PgBudgetRepository,
    PgRetentionRepository, RetentionRepository as _,
};
use chrono::{Months, NaiveDateTime};
use serde::Serialize;
use shared_db::{Db, ReplicaStatus, error_chain as chain};

/// What [`crate::Stockdb::health`] found. `healthy` is false when any `problems` were.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// True when nothing is wrong.
    pub healthy: bool,
    /// What is wrong, one sentence each (none when healthy).
    pub problems: Vec<String>,
    /// What is degraded but served: a replica that is down or lags (its reads go to the
    /// primary). Warnings do not make `healthy` false.
    pub warnings: Vec<String>,
    /// The primary server.
    pub primary: ServerHealth,
    /// Where the schema stands (`None` when the server could not be reached).
    pub schema: Option<SchemaHealth>,
    /// The connection pool (`None` when there is none: the first connection failed).
    pub pool: Option<PoolHealth>,
    /// Each configured replica, checked now.
    pub replicas: Vec<ReplicaStatus>,
    /// Where each audit log's partitions stand (empty before schema version 8).
    pub partitions: Vec<PartitionStatus>,
    /// Every LLM budget with its current period's spend (empty before schema version 10).
    pub budgets: Vec<BudgetSpend>,
    /// On a Citus coordinator: its workers and where the market data is placed (`None`
    /// on a server without Citus).
    pub citus: Option<crate::Distribution>,
}

/// Months of partitions ahead below which health warns: maintenance should have made more.
const MONTHS_READY_WARNING: u32 = 1;

/// One server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerHealth {
    /// Whether a statement went through.
    pub reachable: bool,
    /// That statement's round trip, in milliseconds.
    pub round_trip_ms: Option<f64>,
    /// `server_version`, when reachable.
    pub server_version: Option<String>,
    /// Why not, when unreachable (a URL in it has no password).
    pub error: Option<String>,
}

/// The schema against this build.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaHealth {
    /// Migrations applied.
    pub version: usize,
    /// The version this build expects (its newest migration).
    pub expected: usize,
    /// Migrations of this build not applied yet.
    pub pending: Vec<String>,
    /// Whether stockdb's tables equal the golden print of `version` (`None`: no print to
    /// compare with, as for a database the earlier service made and stockdb has not
    /// adopted).
    pub matches_golden: Option<bool>,
    /// The earlier service's revision, when it shares the database.
    pub alembic_revision: Option<String>,
}

/// The pool's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolHealth {
    /// Open now.
    pub open: u32,
    /// Open and idle.
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

impl Health {
    /// The health of a database that could not be connected to at all; `error` says why.
    pub fn unreachable(error: impl std::fmt::Display) -> Self {
        let error = error.to_string();
        Self {
            healthy: false,
            problems: vec![format!("the primary cannot be reached: {error}")],
            primary: ServerHealth {
                reachable: false,
                round_trip_ms: None,
                server_version: None,
                error: Some(error),
            },
            schema: None,
            pool: None,
            warnings: Vec::new(),
            replicas: Vec::new(),
            partitions: Vec::new(),
            budgets: Vec::new(),
            citus: None,
        }
    }

    /// Checks the database behind `db`. Reads only; never fails: what fails is reported.
    pub(crate) async fn of(db: &Db) -> Self {
        let started = Instant::now();
        let version = sqlx::query_scalar::<_, String>("SHOW server_version")
            .fetch_one(db.pool())
            .await;
        let pool = Some(PoolHealth {
            open: db.pool().size(),
            idle: u32::try_from(db.pool().num_idle()).unwrap_or(u32::MAX),
            max: db.pool().options().get_max_connections(),
        });
        let server_version = match version {
            Ok(version) => version,
            Err(err) => {
                return Self {
                    pool,
                    ..Self::unreachable(chain(&shared_db::RepoError::from(err)))
                };
            }
        };
        let primary = ServerHealth {
            reachable: true,
            round_trip_ms: Some(started.elapsed().as_secs_f64() * 1e3),
            server_version: Some(server_version),
            error: None,
        };
        let mut problems = Vec::new();
        let schema = match migration::status_of(db.conn()).await {
            Ok(status) => {
                let schema = SchemaHealth {
                    version: status.version(),
                    expected: migration::MigrationRunner::LATEST,
                    pending: status
                        .pending
                        .iter()
                        .map(|name| (*name).to_owned())
                        .collect(),
                    matches_golden: status.matches_golden,
                    alembic_revision: status.alembic_revision.clone(),
                };
                if status.needs_adopt() {
                    problems.push(
                        "the database was made by the earlier service and is not adopted: run \
                         `stockdb migrate adopt`"
                            .to_owned(),
                    );
                } else if !schema.pending.is_empty() {
                    problems.push(format!(
                        "the schema is at version {} of {}: run `stockdb migrate up`",
                        schema.version, schema.expected
                    ));
                }
                if schema.matches_golden == Some(false) {
                    problems.push(format!(
                        "stockdb's tables differ from the golden print of version {}: see \
                         `stockdb migrate status`",
                        schema.version
                    ));
                }
                Some(schema)
            }
            Err(err) => {
                problems.push(format!("the schema cannot be read: {}", chain(&err)));
                None
            }
        };
        let replicas = db.check_replicas().await;
        let mut warnings: Vec<String> = replicas
            .iter()
            .filter_map(|replica| {
                let problem = replica.problem.as_ref()?;
                Some(format!(
                    "replica {} is not used (reads go to the primary): {problem}",
                    replica.url
                ))
            })
            .collect();
        let partitioned = schema.as_ref().is_some_and(|s| s.version >= 8);
        let partitions = if partitioned {
            match PgRetentionRepository::new(db.primary()).status().await {
                Ok(partitions) => partitions,
                Err(err) => {
                    warnings.push(format!(
                        "the audit logs' partitions cannot be read: {}",
                        chain(&err)
                    ));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        warnings.extend(partition_warnings(&partitions, db.now()));
        if schema.as_ref().is_some_and(|s| s.version >= 14) {
            match data_engineering::PgDailyPartitions::new(db.clone())
                .warnings()
                .await
            {
                Ok(years) => warnings.extend(years),
                Err(err) => warnings.push(format!(
                    "stock_daily's partitions cannot be read: {}",
                    chain(&err)
                )),
            }
        }
        let budgets = if schema.as_ref().is_some_and(|s| s.version >= 10) {
            match PgBudgetRepository::new(db.primary()).spend().await {
                Ok(budgets) => budgets,
                Err(err) => {
                    warnings.push(format!("the LLM budgets cannot be read: {}", chain(&err)));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        warnings.extend(budgets.iter().filter_map(budget_warning));
        let citus = match migration::if_citus(db.primary().pool()).await {
            Ok(citus) => citus,
            Err(err) => {
                warnings.push(format!(
                    "the Citus placement cannot be read: {}",
                    chain(&err)
                ));
                None
            }
        };
        Self {
            healthy: problems.is_empty(),
            problems,
            warnings,
            primary,
            schema,
            pool,
            replicas,
            partitions,
            budgets,
            citus,
        }
    }
}

/// A warning for a budget near or past its amount; spending on does not fail, so it is
/// not a problem of the database's.
fn budget_warning(spend: &BudgetSpend) -> Option<String> {
    let b = &spend.budget;
    let what = match spend.state {
        BudgetState::Within => return None,
        BudgetState::Near => "is near",
        BudgetState::Exceeded => "is past",
    };
    Some(format!(
        "LLM spend on {} {} {what} its {} budget: {:.2} of {:.2} {} ({:.0}%) since {}",
        b.scope,
        b.target,
        b.period,
        spend.spent,
        b.amount,
        b.currency,
        spend.share * 100.0,
        spend.period_start.format("%Y-%m-%d")
    ))
}

/// What health says of the partitions at `now`: months not made far enough ahead, rows
/// waiting in a default partition. Neither loses a write (the default partition takes
/// every row), so both are warnings: maintenance is due.
fn partition_warnings(partitions: &[PartitionStatus], now: NaiveDateTime) -> Vec<String> {
    let mut warnings = Vec::new();
    let soon = now
        .checked_add_months(Months::new(MONTHS_READY_WARNING))
        .unwrap_or(now);
    for status in partitions {
        match status.ready_until {
            Some(until) if until > soon => {}
            Some(until) => warnings.push(format!(
                "{} has monthly partitions only until {}: run `stockdb retention partitions` \
                 (rows dated later go to its default partition until then)",
                status.table,
                until.format("%Y-%m-%d")
            )),
            None => warnings.push(format!(
                "{} has no monthly partition: run `stockdb retention partitions`",
                status.table
            )),
        }
        if status.rows_in_default > 0 {
            warnings.push(format!(
                "{} rows of {} wait in its default partition: run `stockdb retention \
                 partitions` to move them into their months (retention reaches them there)",
                status.rows_in_default, status.table
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_warns_before_the_months_ahead_run_out() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let status = |until: Option<&str>, rows_in_default| PartitionStatus {
            table: "llm_call_logs",
            ready_until: until.map(at),
            rows_in_default,
            converted: None,
        };
        let now = at("2027-06-15 12:00:00");
        assert!(partition_warnings(&[status(Some("2027-09-01 00:00:00"), 0)], now).is_empty());
        let near = partition_warnings(&[status(Some("2027-07-01 00:00:00"), 0)], now);
        assert_eq!(near.len(), 1);
        assert!(near[0].contains("only until 2027-07-01"), "{near:?}");
        let past = partition_warnings(&[status(Some("2027-03-01 00:00:00"), 12)], now);
        assert_eq!(past.len(), 2);
        assert!(past[1].starts_with("12 rows of llm_call_logs"), "{past:?}");
    }
}
