//! `stockdb db start|stop|status|url`: the embedded cluster.

use shared_db::redact_url;

use super::target::Target;
use super::{DbCommand, output};
use crate::embedded::ClusterState;

pub(crate) async fn run(target: &Target, command: DbCommand, json: bool) -> anyhow::Result<()> {
    if let (DbCommand::Url, Some(url)) = (&command, target.database_url()) {
        println!("{}", redact_url(url));
        return Ok(());
    }
    anyhow::ensure!(
        target.is_embedded() || matches!(command, DbCommand::Url),
        "`stockdb db {}` manages the embedded cluster; DATABASE_URL is set, so it is not in use",
        format!("{command:?}").to_lowercase()
    );
    let cluster = target.cluster()?;
    match command {
        DbCommand::Start => {
            target.migrated_url().await?;
            println!(
                "embedded cluster running in {}",
                cluster.data_dir().display()
            );
        }
        DbCommand::Stop => {
            cluster.stop()?;
            println!(
                "embedded cluster stopped ({})",
                cluster.data_dir().display()
            );
        }
        DbCommand::Status => {
            let state = match cluster.state() {
                ClusterState::Uninitialized => "not initialized",
                ClusterState::Stopped => "stopped",
                ClusterState::Running => "running",
            };
            if json {
                output::print_json(&serde_json::json!({
                    "state": state,
                    "data_dir": cluster.data_dir(),
                    "url": cluster.url()?,
                    "log": cluster.log_file(),
                }))?;
            } else {
                println!(
                    "state:    {state}\ndata dir: {}\nurl:      {}\nlog:      {}",
                    cluster.data_dir().display(),
                    cluster.url()?,
                    cluster.log_file().display()
                );
            }
        }
        DbCommand::Url => println!("{}", target.url().await?),
    }
    Ok(())
}
