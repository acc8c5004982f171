//! Where the database is: a URL, or the embedded cluster stockdb runs itself.

use std::path::PathBuf;

use anyhow::Context as _;
use app::Stockdb;
use app::llm_platform::SecretCipher;
use shared_db::{Db, DbConfig, redact_url};

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

    /// The database URL, starting (and migrating) the embedded cluster when that is the
    /// target.
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
                // The embedded database is stockdb's own: keep it at the latest schema.
                let runner = migration::MigrationRunner::connect(&url).await?;
                let applied = runner.up(None).await;
                runner.close().await?;
                applied?;
                Ok(url)
            }
        }
    }

    /// Connects, with `STOCKDB_SECRET_KEY` for LLM API keys when it is set.
    pub(crate) async fn open(&self) -> anyhow::Result<Stockdb> {
        let url = self.url().await?;
        let config = DbConfig::new(&url).with_application_name("stockdb-cli");
        let db = Db::connect(&config)
            .await
            .with_context(|| format!("connecting to {}", redact_url(&url)))?;
        Ok(Stockdb::from_db(db, SecretCipher::from_env()?))
    }
}
