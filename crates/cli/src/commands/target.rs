//! Where the database is: a URL, or the embedded cluster stockdb runs itself.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use shared_db::{Db, DbConfig, redact_url};
use stockdb::Stockdb;
use stockdb::llm_platform::SecretCipher;

use crate::embedded::EmbeddedCluster;

/// Where the database is: a URL, or the embedded cluster.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
}

impl Target {
    /// `database_url` when given, else the embedded cluster in `data_dir` (or its
    /// default).
    pub(crate) fn new(database_url: Option<String>, data_dir: Option<PathBuf>) -> Self {
        Self {
            database_url,
            data_dir,
        }
    }

    /// The URL given on the command line or in `DATABASE_URL`, if any.
    pub(crate) fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    pub(crate) fn cluster(&self) -> anyhow::Result<EmbeddedCluster> {
        let dir = self
            .data_dir
            .clone()
            .unwrap_or_else(EmbeddedCluster::default_data_dir);
        Ok(EmbeddedCluster::new(dir)?)
    }

    /// True when stockdb manages the database itself.
    pub(crate) fn is_embedded(&self) -> bool {
        self.database_url.is_none()
    }

    /// The database URL, starting the embedded cluster when that is the target. Never
    /// migrates: `stockdb migrate …` must see the schema as it is.
    pub(crate) async fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                let cluster = self.cluster()?;
                let url = cluster.ensure_started().await.with_context(|| {
                    format!(
                        "starting the embedded cluster in {}",
                        cluster.data_dir().display()
                    )
                })?;
                Ok(url)
            }
        }
    }

    /// [`Target::url`], and for the embedded cluster (stockdb's own database) the schema
    /// brought to the latest version first.
    pub(crate) async fn migrated_url(&self) -> anyhow::Result<String> {
        let url = self.url().await?;
        let runner = migration::MigrationRunner::connect(&url).await?;
        let checked = if self.is_embedded() {
            runner.up(None).await.map(drop).map_err(anyhow::Error::from)
        } else {
            check_schema(&runner).await
        };
        runner.close().await?;
        checked?;
        Ok(url)
    }

    /// Connects, with `STOCKDB_SECRET_KEY` for LLM API keys when it is set.
    ///
    /// The command line's defaults: a 5-minute `statement_timeout` and 60-second TCP
    /// keepalives (so the server notices a killed command and frees what it held); the
    /// `STOCKDB_DB_*` variables override them (see `DbConfig::from_env`).
    pub(crate) async fn open(&self) -> anyhow::Result<Stockdb> {
        self.connect(&self.migrated_url().await?).await
    }

    /// Connects to the database as it is: neither migrated nor checked, and the embedded
    /// cluster not started (`stockdb db health` reports on what it finds).
    pub(crate) async fn open_as_is(&self) -> anyhow::Result<Stockdb> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => {
                let cluster = self.cluster()?;
                anyhow::ensure!(
                    matches!(cluster.state(), crate::embedded::ClusterState::Running),
                    "the embedded cluster in {} is not running: `stockdb db start`",
                    cluster.data_dir().display()
                );
                cluster.url()?
            }
        };
        self.connect(&url).await
    }

    async fn connect(&self, url: &str) -> anyhow::Result<Stockdb> {
        let config = DbConfig::new(url)
            .with_application_name("stockdb-cli")
            .with_statement_timeout(Some(STATEMENT_TIMEOUT))
            .with_overrides(|key| std::env::var(key).ok())?;
        let db = Db::connect(&config)
            .await
            .with_context(|| format!("connecting to {}", redact_url(url)))?;
        Ok(Stockdb::from_db(db, SecretCipher::from_env()?))
    }
}

/// The command line's default `statement_timeout`: no command of it runs a statement
/// nearly this long, and a stuck one is not left holding locks for ever.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

/// Refuses a database without stockdb's schema (saying how to make it), and warns when
/// migrations are pending: a command on an older schema may miss what it reads.
async fn check_schema(runner: &migration::MigrationRunner) -> anyhow::Result<()> {
    let status = runner.status().await?;
    if let (true, Some(revision)) = (status.needs_adopt(), &status.alembic_revision) {
        anyhow::bail!(
            "this database was made by the earlier service (alembic revision {revision}); \
             run `stockdb migrate adopt` first"
        );
    }
    anyhow::ensure!(
        status.version() > 0,
        "this database has no stockdb schema yet; run `stockdb migrate up` first"
    );
    if !status.pending.is_empty() {
        tracing::warn!(
            "the database is at schema version {} of {}; run `stockdb migrate up`",
            status.version(),
            migration::MigrationRunner::LATEST
        );
    }
    Ok(())
}
