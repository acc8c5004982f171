//! [`RetentionRepository`] on PostgreSQL: plans made from the catalog and the rows,
//! partitions dropped and blanked under short lock waits, maintenance (`partitions`,
//! `split`) first, one run at a time, every date by the handle's clock.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, DatabaseBackend, IsolationLevel, Statement, TransactionTrait};
use shared_db::{Db, LockKey, RepoError, SessionLock, retry_on_lock_timeout};
use uuid::Uuid;

use super::partitions::{
    Bound, LOCKS, Partition, TABLES, internal, literal, months, next_month, quote_ident,
};
use super::rollup;
use crate::domain::{
    MaintenanceReport, PartitionAction, PartitionStatus, PlannedPartition, RetentionPlan,
    RetentionPolicy, RollupReport, SessionCalls,
};
use crate::repository::RetentionRepository;

/// [`RetentionRepository`] on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgRetentionRepository {
    pub(super) db: Db,
}

impl PgRetentionRepository {
    /// A repository on `db` (whose clock says when "now" is).
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The horizons of a plan.
struct Horizons {
    drop_before: NaiveDateTime,
    blank_before: Option<NaiveDateTime>,
}

impl Horizons {
    /// What happens to rows that all lie before `to`.
    fn action(&self, to: NaiveDateTime) -> PartitionAction {
        if to <= self.drop_before {
            PartitionAction::Drop
        } else if self.blank_before.is_some_and(|before| to <= before) {
            PartitionAction::Blank
        } else {
            PartitionAction::Keep
        }
    }
}

/// The blanking of `table`: its entry in [`TABLES`].
fn blanking(table: &str) -> Result<(&'static str, &'static str, &'static str), RepoError> {
    TABLES
        .into_iter()
        .find(|(name, _, _)| *name == table)
        .ok_or_else(|| internal(format!("{table} is not a partitioned audit log")))
}

impl PgRetentionRepository {
    /// Runs `sql`, which returns one row of one count.
    async fn count(&self, sql: String) -> Result<u64, RepoError> {
        let row = self
            .db
            .conn()
            .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
            .await?
            .ok_or_else(|| internal("a count returned no row".to_owned()))?;
        Ok(u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0))
    }

    /// The rows of `relation` within `window` (an SQL condition), and its calls per
    /// research session, in one scan.
    async fn calls_by_session(
        &self,
        relation: &str,
        window: &str,
    ) -> Result<(u64, Vec<SessionCalls>), RepoError> {
        let rows = self
            .db
            .conn()
            .query_all_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT session_id, count(*) FROM {relation} WHERE {window} GROUP BY session_id"
                ),
            ))
            .await?;
        let mut total = 0;
        let mut by_session = Vec::new();
        for row in rows {
            let calls = u64::try_from(row.try_get_by_index::<i64>(1)?).unwrap_or(0);
            total += calls;
            if let Some(session_id) = row.try_get_by_index::<Option<Uuid>>(0)? {
                by_session.push(SessionCalls { session_id, calls });
            }
        }
        Ok((total, by_session))
    }

    /// What happens to the rows of `relation` within `window`, lying before `to`: the
    /// action, the rows it concerns and, for a drop, the calls per session.
    async fn planned(
        &self,
        table: &str,
        relation: &str,
        window: &str,
        to: NaiveDateTime,
        estimate: u64,
        horizons: &Horizons,
    ) -> Result<(PartitionAction, u64, Vec<SessionCalls>), RepoError> {
        Ok(match horizons.action(to) {
            PartitionAction::Drop => {
                // Which of those sessions are still stored is the coordinator's to say,
                // not this context's SQL (`stockdb` composes the two).
                let (rows, calls) = self.calls_by_session(relation, window).await?;
                (PartitionAction::Drop, rows, calls)
            }
            PartitionAction::Blank => {
                // Only the rows that still hold text: a partition blanked by an earlier run
                // has nothing left to do.
                let (_, _, condition) = blanking(table)?;
                let rows = self
                    .count(format!(
                        "SELECT count(*) FROM {relation} WHERE {window} AND ({condition})"
                    ))
                    .await?;
                if rows == 0 {
                    (PartitionAction::Keep, estimate, Vec::new())
                } else {
                    (PartitionAction::Blank, rows, Vec::new())
                }
            }
            action => (action, estimate, Vec::new()),
        })
    }

    /// The plan of one partition; for a converted one, also the months its split makes.
    async fn plan_partition(
        &self,
        partition: Partition,
        horizons: &Horizons,
        planned: &mut Vec<PlannedPartition>,
    ) -> Result<(), RepoError> {
        let quoted = quote_ident(&partition.name);
        let entry = |action, rows, calls_by_session, from, to, name, pending| PlannedPartition {
            table: partition.table,
            partition: name,
            from,
            to,
            action,
            pending,
            rows,
            bytes: if pending { 0 } else { partition.bytes },
            calls_by_session,
            calls_of_stored_sessions: 0,
            stored_sessions: 0,
        };
        match partition.bound {
            Bound::Default => {
                planned.push(entry(
                    PartitionAction::Keep,
                    self.count(format!("SELECT count(*) FROM {quoted}")).await?,
                    Vec::new(),
                    None,
                    None,
                    partition.name.clone(),
                    false,
                ));
            }
            Bound::Range { from, to } if partition.is_converted() => {
                let starts = self.months_of(partition.table, &partition.name).await?;
                planned.push(entry(
                    // An empty one stays as it is (see `split`).
                    if starts.is_empty() {
                        PartitionAction::Keep
                    } else {
                        PartitionAction::Split
                    },
                    partition.estimate,
                    Vec::new(),
                    from,
                    Some(to),
                    partition.name.clone(),
                    false,
                ));
                for (idx, &start) in starts.iter().enumerate() {
                    let lower = (idx > 0).then_some(start);
                    let next = next_month(start)?;
                    let window = format!(
                        "created_at >= {} AND created_at < {}",
                        lower.map_or_else(|| "'-infinity'::timestamp".to_owned(), literal),
                        literal(next)
                    );
                    let (action, rows, calls) = self
                        .planned(partition.table, &quoted, &window, next, 0, horizons)
                        .await?;
                    let rows = if action == PartitionAction::Keep {
                        self.count(format!("SELECT count(*) FROM {quoted} WHERE {window}"))
                            .await?
                    } else {
                        rows
                    };
                    planned.push(entry(
                        action,
                        rows,
                        calls,
                        lower,
                        Some(next),
                        months(partition.table).name_of(start),
                        true,
                    ));
                }
            }
            Bound::Range { from, to } => {
                let (action, rows, calls) = self
                    .planned(
                        partition.table,
                        &quoted,
                        "true",
                        to,
                        partition.estimate,
                        horizons,
                    )
                    .await?;
                planned.push(entry(
                    action,
                    rows,
                    calls,
                    from,
                    Some(to),
                    partition.name.clone(),
                    false,
                ));
            }
        }
        Ok(())
    }

    async fn make_plan(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        policy.validate()?;
        let now = self.db.now();
        let days = |n: u32| chrono::Duration::days(i64::from(n));
        let horizons = Horizons {
            drop_before: now - days(policy.keep_days),
            blank_before: policy.blank_after_days.map(|n| now - days(n)),
        };
        let mut planned = Vec::new();
        for (table, _, _) in TABLES {
            for partition in self.partitions_of(table).await? {
                self.plan_partition(partition, &horizons, &mut planned)
                    .await?;
            }
        }
        Ok(RetentionPlan {
            now,
            drop_before: horizons.drop_before,
            blank_before: horizons.blank_before,
            partitions: planned,
            maintenance: None,
        })
    }

    /// Maintenance, the retention lock already held.
    async fn maintain_locked(&self) -> Result<MaintenanceReport, RepoError> {
        let mut report = MaintenanceReport::default();
        let now = self.db.now();
        for (table, _, _) in TABLES {
            let converted = self
                .partitions_of(table)
                .await?
                .into_iter()
                .find(Partition::is_converted);
            if let Some(converted) = converted
                && let Some(split) = self.split(&converted).await?
            {
                report.created.extend(split.months.iter().cloned());
                report.split.push(split);
            }
            self.keep_months(table, now, &mut report).await?;
        }
        report.rolled_up = self.roll_up_locked().await?;
        Ok(report)
    }

    /// The rollup catch-up of every closed day (before today by the handle's clock), the
    /// retention lock already held: one `REPEATABLE READ` transaction, so each day's
    /// rollup and the count it records come from one snapshot of its rows.
    async fn roll_up_locked(&self) -> Result<RollupReport, RepoError> {
        let today = self.db.now().date().and_time(chrono::NaiveTime::MIN);
        let txn = self
            .db
            .conn()
            .begin_with_config(Some(IsolationLevel::RepeatableRead), None)
            .await?;
        let report = rollup::catch_up(&txn, None, today).await?;
        txn.commit().await?;
        if report != RollupReport::default() {
            tracing::info!(?report, "audit rollup: days rolled up");
        }
        Ok(report)
    }

    /// Drops `partition` after rolling up whatever of its days is not yet, in one
    /// transaction that first locks it: no call can land in it between the two, so the
    /// rollup holds every call the partition held. Locks are waited for briefly and tried
    /// again, as every retention step.
    async fn drop_rolled_up(
        &self,
        what: &str,
        partition: &PlannedPartition,
    ) -> Result<RollupReport, RepoError> {
        let quoted = quote_ident(&partition.partition);
        let to = partition
            .to
            .ok_or_else(|| internal(format!("{} has no upper bound", partition.partition)))?;
        let attempt = || async {
            let txn = self.db.conn().begin().await?;
            txn.execute_unprepared(&LOCKS.set_local()).await?;
            txn.execute_unprepared(&format!("LOCK TABLE {quoted} IN ACCESS EXCLUSIVE MODE"))
                .await?;
            let report = rollup::catch_up(&txn, partition.from, to).await?;
            txn.execute_unprepared(&format!("DROP TABLE {quoted}"))
                .await?;
            txn.commit().await?;
            Ok(report)
        };
        Ok(retry_on_lock_timeout(what, LOCKS, attempt).await?)
    }
}

#[async_trait]
impl RetentionRepository for PgRetentionRepository {
    async fn plan(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        self.make_plan(policy).await
    }

    async fn apply(&self, policy: RetentionPolicy) -> Result<RetentionPlan, RepoError> {
        policy.validate()?;
        // A session lock on a connection of its own: it goes away with the process. The
        // plan is made under it, so a second run cannot act on a plan the first outdated.
        let lock = SessionLock::try_take(&self.db, LockKey::Retention).await?;
        let maintenance = self.maintain_locked().await?;
        let mut plan = self.make_plan(policy).await?;
        plan.maintenance = Some(maintenance);
        for partition in &plan.partitions {
            let quoted = quote_ident(&partition.partition);
            let what = format!("retention of {}", partition.partition);
            match partition.action {
                PartitionAction::Keep | PartitionAction::Split => {}
                PartitionAction::Blank => {
                    let (_, set, condition) = blanking(partition.table)?;
                    let blanked = self
                        .under_short_locks(
                            &what,
                            &[format!("UPDATE {quoted} SET {set} WHERE {condition}")],
                        )
                        .await?;
                    tracing::info!(partition = %partition.partition, ?blanked, "retention: text blanked");
                }
                PartitionAction::Drop => {
                    let rolled_up = self.drop_rolled_up(&what, partition).await?;
                    tracing::info!(
                        partition = %partition.partition,
                        rows = partition.rows,
                        ?rolled_up,
                        "retention: partition dropped"
                    );
                }
            }
        }
        // Closing the connection ends the session and its lock.
        drop(lock);
        Ok(plan)
    }

    async fn roll_up(&self) -> Result<RollupReport, RepoError> {
        let lock = SessionLock::try_take(&self.db, LockKey::Retention).await?;
        let report = self.roll_up_locked().await?;
        drop(lock);
        Ok(report)
    }

    async fn maintain(&self) -> Result<MaintenanceReport, RepoError> {
        let lock = SessionLock::try_take(&self.db, LockKey::Retention).await?;
        let report = self.maintain_locked().await?;
        drop(lock);
        Ok(report)
    }

    async fn status(&self) -> Result<Vec<PartitionStatus>, RepoError> {
        let mut status = Vec::with_capacity(TABLES.len());
        for (table, _, _) in TABLES {
            status.push(self.status_of(table).await?);
        }
        Ok(status)
    }

    async fn horizon(&self) -> Result<Option<NaiveDateTime>, RepoError> {
        let mut horizon: Option<NaiveDateTime> = None;
        for (table, _, _) in TABLES {
            let partitions = self.partitions_of(table).await?;
            // The oldest partition's lower bound; the default partition holds rows of any
            // date, so it says nothing of what was dropped.
            if let Some(Bound::Range {
                from: Some(from), ..
            }) = partitions.first().map(|p| p.bound)
            {
                horizon = Some(horizon.map_or(from, |h| h.max(from)));
            }
        }
        Ok(horizon)
    }
}
