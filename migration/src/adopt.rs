//! Adoption: taking over a database the earlier service's Alembic revisions created.

use sea_orm_migration::sea_orm::{
    ActiveValue, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, Statement,
    TransactionTrait,
};
use sea_orm_migration::{DbErr, MigratorTrait, seaql_migrations};

use crate::error::MigrateError;
use crate::fingerprint::{diff, fingerprint, golden, split_managed, with_tables};
use crate::migrations::Migrator;
use crate::runner::{
    MigrationRunner, STAMPED_COMMENT, alembic_revision, applied_history, unix_now,
};

/// The earlier service's Alembic revisions (its chain: 0001 … 0005, then 0009 … 0013;
/// 0006 was withdrawn) and the stockdb schema version each equals for stockdb's own
/// tables: its later revisions add tables of their own ([`SERVICE_TABLES`]) and change
/// none of stockdb's.
pub const ALEMBIC_REVISIONS: &[(&str, usize)] = &[
    ("c0ff00000001", 1),
    ("c0ff00000002", 2),
    ("c0ff00000003", 3),
    ("c0ff00000004", 4),
    ("c0ff00000005", 4),
    ("c0ff00000006", 4),
    ("c0ff00000009", 4),
    ("c0ff00000010", 4),
    ("c0ff00000011", 4),
    ("c0ff00000012", 4),
    ("c0ff00000013", 4),
];

/// The stockdb version that creates the earlier service's own tables (the 12 its
/// revisions c0ff00000005 … c0ff00000013 make), exactly as those revisions make them.
pub const SERVICE_TABLES_VERSION: usize = 12;

/// The earlier service's own tables, in the order its revisions made them: 0005 the
/// first, 0009 the next four, 0010 two more, 0012 the last five (0011 made one that 0013
/// dropped again, which stays the service's).
pub const SERVICE_TABLES: [&str; 12] = [
    "web_search_cache",
    "concept",
    "concept_stock",
    "mi_concept_heat",
    "mi_limit_up_stock",
    "scheduler_job_config",
    "scheduler_execution_log",
    "de_limit_up_pool",
    "de_broken_board_pool",
    "de_previous_limit_up",
    "de_dragon_tiger",
    "de_sector_capital_flow",
];

/// The revision the earlier service withdrew (its file was deleted and 0009 follows
/// 0005): its concept tables have a shape no later revision has, and no upgrade leads on.
const WITHDRAWN_REVISION: &str = "c0ff00000006";

/// Which of [`SERVICE_TABLES`] a database at the earlier service's `revision` has.
pub fn service_tables_at(revision: &str) -> &'static [&'static str] {
    let count = match revision_number(revision) {
        Some(5..=8) => 1,
        Some(9) => 5,
        Some(10 | 11) => 7,
        Some(12..) => 12,
        _ => 0,
    };
    &SERVICE_TABLES[..count]
}

/// What stockdb's tables of a database at the earlier service's `revision`, which equals
/// stockdb `version`, print: the golden print of that version and the service tables that
/// revision made, as stockdb's version 12 makes them.
fn expected_at(version: usize, revision: &str) -> String {
    with_tables(
        golden(version).unwrap_or_default(),
        golden(SERVICE_TABLES_VERSION).unwrap_or_default(),
        service_tables_at(revision),
    )
}

/// The number of one of the earlier service's revisions (`c0ff00000013` → 13); `None`
/// for a revision not of that form.
pub fn revision_number(revision: &str) -> Option<u32> {
    revision
        .strip_prefix("c0ff")
        .filter(|digits| digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
}

/// Whether `revision` is one of the earlier service's, newer than any stockdb knows (the
/// service moved on after stockdb was built).
pub fn is_newer_revision(revision: &str) -> bool {
    let newest = ALEMBIC_REVISIONS
        .iter()
        .filter_map(|(known, _)| revision_number(known))
        .max()
        .unwrap_or(0);
    revision_number(revision).is_some_and(|n| n > newest)
}

/// The stockdb version the earlier service's `revision` equals, if stockdb knows it.
pub fn version_of_revision(revision: &str) -> Option<usize> {
    ALEMBIC_REVISIONS
        .iter()
        .find(|(known, _)| *known == revision)
        .map(|(_, version)| *version)
}

/// The earlier service's revision to record for a database at stockdb `version`: the
/// newest of its revisions that equals it, counting only stockdb's own (versions 5 … 11
/// are stockdb's own changes, which that service does not know; its revision stays
/// `c0ff00000004`, and its `alembic upgrade head` then adds its own tables); from
/// [`SERVICE_TABLES_VERSION`] on, stockdb has made those tables too: `c0ff00000013`.
pub fn revision_for_version(version: usize) -> Option<&'static str> {
    if version >= SERVICE_TABLES_VERSION {
        return Some("c0ff00000013");
    }
    let version = version.min(4);
    (version > 0).then(|| {
        ALEMBIC_REVISIONS
            .iter()
            .find(|(_, v)| *v == version)
            .map_or("c0ff00000004", |(revision, _)| *revision)
    })
}

impl MigrationRunner {
    /// Takes over a database created by the earlier service's Alembic revisions, at any
    /// revision up to its newest (`c0ff00000013`).
    ///
    /// Reads the revision in `alembic_version`, checks that the tables stockdb manages
    /// equal the golden print of the stockdb version that revision equals, then records
    /// the matching migrations as applied, so that later migrations run normally. Tables
    /// of the earlier service that stockdb does not manage (market insight, scheduler,
    /// concepts …) are left alone, never dropped or changed; they are returned by name.
    /// On any difference in stockdb's tables it refuses with a readable diff and changes
    /// nothing. Adopting twice is a no-op. `alembic_version` itself is left in place.
    pub async fn adopt(&self) -> Result<Adoption, MigrateError> {
        self.locked(async || {
            let Some(revision) = alembic_revision(&self.db).await? else {
                return Err(MigrateError::NothingToAdopt(
                    "the database has no alembic_version table; use `migrate up`".to_owned(),
                ));
            };
            if revision == WITHDRAWN_REVISION {
                return Err(MigrateError::AdoptRefused {
                    reason: format!(
                        "alembic revision {revision} was withdrawn from the earlier service's \
                         history (c0ff00000009 follows c0ff00000005): its concept tables have \
                         a shape no later revision has and no upgrade leads on from it; \
                         rebuild those tables at c0ff00000005 first"
                    ),
                    diff: None,
                });
            }
            let Some(version) = version_of_revision(&revision) else {
                return Err(MigrateError::AdoptRefused {
                    reason: format!(
                        "alembic revision {revision:?} is not one of the earlier service's \
                         revisions stockdb knows (c0ff00000001 … c0ff00000013)"
                    ),
                    diff: None,
                });
            };
            let known = Self::names();
            let split = split_managed(&fingerprint(&self.db).await?);
            let adoption = Adoption {
                version,
                revision: revision.clone(),
                left_alone: split.others.clone(),
            };
            let applied = applied_history(&self.db).await?;
            if !applied.is_empty() {
                let names: Vec<&str> = applied.iter().map(|a| a.name.as_str()).collect();
                if names.len() >= version && names[..version] == known[..version] {
                    return Ok(adoption);
                }
                return Err(MigrateError::AdoptRefused {
                    reason: format!(
                        "the database already has a stockdb history ({}) that does not match \
                         alembic revision {revision}",
                        names.join(", ")
                    ),
                    diff: None,
                });
            }
            let expected = expected_at(version, &revision);
            if split.managed != expected {
                return Err(MigrateError::AdoptRefused {
                    reason: format!(
                        "stockdb's tables differ from schema version {version} \
                         (alembic revision {revision})"
                    ),
                    diff: Some(diff(
                        &format!("expected (schema v{version})"),
                        &expected,
                        "live database",
                        &split.managed,
                    )),
                });
            }
            let txn = self.db.begin().await?;
            Migrator::install(&txn).await?;
            let applied_at = unix_now();
            seaql_migrations::Entity::insert_many(known[..version].iter().map(|name| {
                seaql_migrations::ActiveModel {
                    version: ActiveValue::Set((*name).to_owned()),
                    applied_at: ActiveValue::Set(applied_at),
                }
            }))
            .exec_without_returning(&txn)
            .await?;
            txn.commit().await?;
            Ok(adoption)
        })
        .await
    }

    /// Records in `alembic_version` the earlier service's revision this database equals,
    /// so that the service, run on the same database, finds a revision it knows and its
    /// `alembic upgrade head` adds only its own later tables. Creates the table (as
    /// Alembic does, with a comment saying stockdb made it) when it is missing; moves a
    /// revision that is behind forward; leaves one that is already there or ahead as it
    /// is, also one newer than any stockdb knows (the service moved on): a deploy script
    /// may stamp every time. Refuses only a value that is no revision of that service.
    pub async fn alembic_stamp(&self) -> Result<Stamp, MigrateError> {
        self.locked(async || {
            let version = self.status().await?.version();
            let Some(equal) = revision_for_version(version) else {
                return Err(MigrateError::Target {
                    to: version,
                    reason: "an empty schema has no revision of the earlier service; run \
                             `migrate up` first"
                        .to_owned(),
                });
            };
            let current = alembic_revision(&self.db).await?;
            let txn = self.db.begin().await?;
            let recorded = match current.as_deref() {
                None => {
                    txn.execute_unprepared(
                        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, \
                         CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
                    )
                    .await?;
                    txn.execute_unprepared(&format!(
                        "COMMENT ON TABLE alembic_version IS '{STAMPED_COMMENT}'"
                    ))
                    .await?;
                    insert_revision(&txn, equal).await?;
                    Stamp::Recorded(equal.to_owned())
                }
                Some(revision) => match version_of_revision(revision) {
                    Some(_) if revision_number(revision) >= revision_number(equal) => {
                        Stamp::Kept(revision.to_owned())
                    }
                    Some(_) => {
                        txn.execute_unprepared("DELETE FROM alembic_version")
                            .await?;
                        insert_revision(&txn, equal).await?;
                        Stamp::Recorded(equal.to_owned())
                    }
                    None if is_newer_revision(revision) => Stamp::Newer(revision.to_owned()),
                    None => {
                        return Err(MigrateError::AdoptRefused {
                            reason: format!(
                                "alembic_version holds {revision:?}, not a revision of the \
                                 earlier service stockdb knows; not changing it"
                            ),
                            diff: None,
                        });
                    }
                },
            };
            txn.commit().await?;
            Ok(recorded)
        })
        .await
    }
}

/// What `alembic-stamp` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    /// Recorded this revision (the table made, or a revision behind moved forward).
    Recorded(String),
    /// Found this revision already there, or ahead of what stockdb records: kept.
    Kept(String),
    /// Found a revision of the earlier service newer than any stockdb knows: kept.
    Newer(String),
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Recorded(revision) => write!(f, "alembic_version: {revision} (recorded)"),
            Self::Kept(revision) => write!(f, "alembic_version: {revision} (already there; kept)"),
            Self::Newer(revision) => write!(
                f,
                "alembic_version: {revision} (a revision of the earlier service newer than any \
                 this stockdb knows: kept as it is)"
            ),
        }
    }
}

/// What `adopt` did: the stockdb version recorded, the revision it was adopted from, and
/// what it left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// The stockdb schema version recorded as applied.
    pub version: usize,
    /// The earlier service's revision found.
    pub revision: String,
    /// Objects of the schema stockdb does not manage, left as they are.
    pub left_alone: Vec<String>,
}

async fn insert_revision(txn: &DatabaseTransaction, revision: &str) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "INSERT INTO alembic_version (version_num) VALUES ($1)",
        [revision.into()],
    ))
    .await
    .map(drop)
}
