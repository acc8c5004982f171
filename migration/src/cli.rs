//! The `migrate` subcommand, shared by `cargo xtask migrate` and `stockdb migrate`.

use std::fmt;
use std::io::Write;

use crate::migrations::MIGRATIONS;
use crate::runner::{MigrateError, MigrationRunner, MigrationStatus};
use crate::script::{Direction, sql_script};

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
        write_out(out, &StatusReport(&runner.status().await?).to_string())
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

/// `status` as `migrate status` prints it.
struct StatusReport<'a>(&'a MigrationStatus);

impl fmt::Display for StatusReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.0;
        writeln!(
            f,
            "schema version: {} of {}",
            status.version(),
            MIGRATIONS.len()
        )?;
        for applied in &status.applied {
            writeln!(
                f,
                "  applied  {} (at {} UTC)",
                applied.name,
                format_epoch(applied.applied_at)
            )?;
        }
        for name in &status.pending {
            writeln!(f, "  pending  {name}")?;
        }
        match status.matches_golden {
            Some(true) => writeln!(
                f,
                "schema: matches the golden print of version {}",
                status.version()
            )?,
            Some(false) => writeln!(
                f,
                "schema: DIFFERS from the golden print of version {} (drift: compare with `schema-fingerprint`)",
                status.version()
            )?,
            None => {}
        }
        if let Some(revision) = &status.alembic_revision {
            if status.needs_adopt() {
                writeln!(
                    f,
                    "alembic revision: {revision} (created by the earlier service; run `migrate adopt`)"
                )?;
            } else {
                writeln!(f, "alembic revision: {revision} (adopted)")?;
            }
        }
        Ok(())
    }
}

fn format_epoch(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_seconds_as_utc() {
        assert_eq!(format_epoch(0), "1970-01-01 00:00:00");
        assert_eq!(format_epoch(1_795_000_000), "2026-11-18 11:06:40");
    }
}
