//! `cargo xtask db start|clean-tests`: the local development server and leftover test databases.

use anyhow::Context as _;
use clap::Subcommand;
use sqlx::{Connection as _, PgConnection};

use crate::LOCAL_SERVER_URL;

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Start the machine's PostgreSQL cluster if it is installed but down.
    Start,
    /// Drop leftover per-test databases and templates of older migrations.
    /// Do not run while tests are running.
    CleanTests,
}

impl DbCommand {
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        let url = server_url();
        match self {
            Self::Start => ensure_server(&url).await,
            Self::CleanTests => clean_tests(&url).await,
        }
    }
}

/// `TEST_DATABASE_URL`, else `DATABASE_URL`, else the local server.
pub(crate) fn server_url() -> String {
    test_support::server_url_from_env().unwrap_or_else(|| LOCAL_SERVER_URL.to_owned())
}

/// Makes sure a server answers at `url`, starting the local cluster when it is installed
/// but down (the state a fresh CI machine may be in).
pub(crate) async fn ensure_server(url: &str) -> anyhow::Result<()> {
    if PgConnection::connect(url).await.is_ok() {
        println!("PostgreSQL is up at {}", redact(url));
        return Ok(());
    }
    let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    anyhow::ensure!(
        !versions.is_empty(),
        "no PostgreSQL server answers at {} and no local cluster is installed \
         (/etc/postgresql is empty); set DATABASE_URL to a reachable server",
        redact(url)
    );
    for version in &versions {
        println!("starting the local PostgreSQL {version} cluster");
        let status = std::process::Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", version, "main", "start"])
            .status()
            .context("running pg_ctlcluster")?;
        if !status.success() {
            eprintln!("pg_ctlcluster {version} main start exited with {status}");
        }
    }
    for _ in 0..60 {
        if PgConnection::connect(url).await.is_ok() {
            println!("PostgreSQL is up at {}", redact(url));
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    anyhow::bail!("PostgreSQL did not come up at {} within 30 s", redact(url))
}

async fn clean_tests(url: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect(url)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    let current_template = test_support::template_name();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE (starts_with(datname, $1) OR starts_with(datname, $2)) \
         AND datname <> $3 ORDER BY datname",
    )
    .bind(test_support::TEST_DB_PREFIX)
    .bind(test_support::TEMPLATE_PREFIX)
    .bind(&current_template)
    .fetch_all(&mut admin)
    .await?;
    for name in &names {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
        )))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping {name}"))?;
    }
    println!("dropped {} leftover test database(s)", names.len());
    Ok(())
}

fn redact(url: &str) -> String {
    shared_db::redact_url(url)
}
