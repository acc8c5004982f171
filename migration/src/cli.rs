//! The `migrate` subcommand, shared by `cargo xtask migrate` and `stockdb migrate`.

use std::io::Write;

use crate::runner::{Direction, MigrateError, MigrationRunner, sql_script};

/// `migrate up|down|status|fresh|sql|adopt`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum MigrateCommand {
    /// Apply pending migrations (all, or up to version N). Concurrent runs wait for each other.
    Up {
        /// Stop at this schema version.
        #[arg(long, value_name = "N")]
        to: Option<usize>,
    },
    /// Revert migrations (one step, or down to version N; 0 empties the schema).
    Down {
        /// Revert down to this schema version.
        #[arg(long, value_name = "N")]
        to: Option<usize>,
    },
    /// Show applied and pending migrations, whether the schema matches its golden print,
    /// and any Alembic revision waiting to be adopted.
    Status,
    /// Drop every table in the public schema and apply every migration (development only).
    Fresh,
    /// Print the SQL a migration would run, without connecting to a database.
    Sql {
        /// Print the revert scripts instead of the apply scripts.
        #[arg(long, conflicts_with = "up")]
        down: bool,
        /// Print the apply scripts (the default).
        #[arg(long)]
        up: bool,
        /// Start from this version (default: 0 for --up, the latest for --down).
        #[arg(long, value_name = "M")]
        from: Option<usize>,
        /// End at this version (default: the latest for --up, one below --from for --down).
        #[arg(long, value_name = "N")]
        to: Option<usize>,
    },
    /// Take over a database created by the earlier Python service (Alembic revisions
    /// c0ff00000001..3): check its schema, then record the matching migrations as applied.
    Adopt,
}

impl MigrateCommand {
    /// True when the command needs a database (all but `sql`).
    pub fn needs_database(&self) -> bool {
        !matches!(self, Self::Sql { .. })
    }

    /// Runs the command against `url` (ignored by `sql`), writing a report to `out`.
    pub async fn run(&self, url: Option<&str>, out: &mut dyn Write) -> Result<(), MigrateError> {
        if let Self::Sql { down, from, to, .. } = *self {
            let latest = MigrationRunner::LATEST;
            let script = if down {
                let from = from.unwrap_or(latest);
                sql_script(Direction::Down, from, to.unwrap_or(from.saturating_sub(1)))?
            } else {
                sql_script(Direction::Up, from.unwrap_or(0), to.unwrap_or(latest))?
            };
            return write_out(out, &script);
        }
        let url = url.ok_or(MigrateError::NoDatabase)?;
        let runner = MigrationRunner::connect(url).await?;
        let result = self.run_with(&runner, out).await;
        runner.close().await?;
        result
    }

    async fn run_with(
        &self,
        runner: &MigrationRunner,
        out: &mut dyn Write,
    ) -> Result<(), MigrateError> {
        let report = match *self {
            Self::Up { to } => list("applied", &runner.up(to).await?, "nothing to apply"),
            Self::Down { to } => list("reverted", &runner.down(to).await?, "nothing to revert"),
            Self::Fresh => list("applied", &runner.fresh().await?, "nothing to apply"),
            Self::Adopt => {
                let version = runner.adopt().await?;
                format!("adopted: recorded migrations 1..={version} as applied\n")
            }
            Self::Status | Self::Sql { .. } => String::new(),
        };
        write_out(out, &report)?;
        write_out(out, &runner.status().await?.to_string())
    }
}

fn list(verb: &str, names: &[&str], none: &str) -> String {
    if names.is_empty() {
        return format!("{none}\n");
    }
    names
        .iter()
        .map(|name| format!("{verb} {name}\n"))
        .collect()
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<(), MigrateError> {
    Ok(out.write_all(text.as_bytes())?)
}
