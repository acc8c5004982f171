//! The `migrate` subcommand, shared by `cargo xtask migrate` and `stockdb migrate`.

use std::fmt;
use std::io::{IsTerminal as _, Write};
use std::time::Duration;

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
        /// How long to wait for another process's migration.
        #[command(flatten)]
        wait: LockWait,
    },
    /// Revert migrations (one step, or down to version N; 0 empties the schema). Drops
    /// tables with their rows: asks first (or --yes).
    Down {
        /// Revert down to this schema version.
        #[arg(long, value_name = "N")]
        to: Option<usize>,
        /// Do it without asking.
        #[arg(long)]
        yes: bool,
        /// Revert below version 4 although the earlier service's recorded revision needs
        /// it (its session reads then fail): only once that service is stopped for good.
        #[arg(long)]
        break_earlier_service: bool,
        /// How long to wait for another process's migration.
        #[command(flatten)]
        wait: LockWait,
    },
    /// Show applied and pending migrations, whether the schema matches its golden print,
    /// and any Alembic revision waiting to be adopted.
    Status,
    /// Drop stockdb's own tables with their rows and apply every migration (development
    /// only; tables that are not stockdb's are left alone). Asks first (or --yes).
    Fresh {
        /// Do it without asking.
        #[arg(long)]
        yes: bool,
        /// How long to wait for another process's migration.
        #[command(flatten)]
        wait: LockWait,
    },
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
    /// Take over a database created by the earlier Python service (at any of its Alembic
    /// revisions c0ff00000001..13): check stockdb's tables, then record the matching
    /// migrations as applied. Its other tables are left alone.
    Adopt {
        /// How long to wait for another process's migration.
        #[command(flatten)]
        wait: LockWait,
    },
    /// Record in `alembic_version` the earlier service's revision this database equals,
    /// so that service can run on it beside stockdb (its `alembic upgrade head` then adds
    /// only its own tables).
    AlembicStamp {
        /// How long to wait for another process's migration.
        #[command(flatten)]
        wait: LockWait,
    },
}

/// How long a change waits for another process's migration.
#[derive(Debug, Clone, clap::Args)]
pub struct LockWait {
    /// Give up when another process holds the migration lock this long (e.g. 90s, 10m,
    /// 1h; 0 waits as long as it takes). Who holds it is logged every 10 s.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    lock_timeout: Duration,
}

impl LockWait {
    fn timeout(&self) -> Option<Duration> {
        (!self.lock_timeout.is_zero()).then_some(self.lock_timeout)
    }
}

/// `90`, `90s`, `10m` or `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(idx) => text.split_at(idx),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 10m, 1h)"))?;
    let secs = match unit {
        "s" => Some(number),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3_600),
        _ => None,
    }
    .ok_or_else(|| format!("{text:?} is not a duration (e.g. 90s, 10m, 1h)"))?;
    Ok(Duration::from_secs(secs))
}

impl MigrateCommand {
    /// True when the command needs a database (all but `sql`).
    pub fn needs_database(&self) -> bool {
        !matches!(self, Self::Sql { .. })
    }

    /// Runs the command against `url` (ignored by `sql`), writing a report to `out`.
    ///
    /// `down` and `fresh` first print what they would drop; without `--yes` they go on
    /// only when stdin is a terminal and the operator types the database's name, and
    /// otherwise change nothing (`NotConfirmed`).
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
        let wait = match self {
            Self::Up { wait, .. }
            | Self::Down { wait, .. }
            | Self::Fresh { wait, .. }
            | Self::Adopt { wait }
            | Self::AlembicStamp { wait } => wait.timeout(),
            Self::Status | Self::Sql { .. } => None,
        };
        let breaking = matches!(
            self,
            Self::Down {
                break_earlier_service: true,
                ..
            }
        );
        let runner = MigrationRunner::connect(url)
            .await?
            .with_lock_timeout(wait)
            .breaking_earlier_service(breaking);
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
            Self::Up { to, .. } => list("applied", &runner.up(to).await?, "nothing to apply"),
            Self::Down { to, yes, .. } => {
                let (reverted, dropped) = runner.down_plan(to).await?;
                if !reverted.is_empty() {
                    let what = format!(
                        "reverting {} drops {}",
                        reverted.join(", "),
                        tables(&dropped)
                    );
                    confirm(runner, yes, &what, out).await?;
                }
                list("reverted", &runner.down(to).await?, "nothing to revert")
            }
            Self::Fresh { yes, .. } => {
                let (dropped, kept) = runner.fresh_plan().await?;
                let mut what = format!("fresh drops {}", tables(&dropped));
                if !kept.is_empty() {
                    what.push_str(&format!(" (and leaves alone {})", kept.join(", ")));
                }
                confirm(runner, yes, &what, out).await?;
                list("applied", &runner.fresh().await?, "nothing to apply")
            }
            Self::Adopt { .. } => {
                let adoption = runner.adopt().await?;
                let mut report = format!(
                    "adopted alembic revision {}: recorded migrations 1..={} as applied\n",
                    adoption.revision, adoption.version
                );
                if !adoption.left_alone.is_empty() {
                    report.push_str(&format!(
                        "left alone (not stockdb's): {}\n",
                        adoption.left_alone.join(", ")
                    ));
                }
                report
            }
            Self::AlembicStamp { .. } => format!("{}\n", runner.alembic_stamp().await?),
            Self::Status | Self::Sql { .. } => String::new(),
        };
        write_out(out, &report)?;
        write_out(out, &StatusReport(&runner.status().await?).to_string())
    }
}

/// `tables` for a sentence: "no table", or "the tables a, b with every row".
fn tables(tables: &[String]) -> String {
    if tables.is_empty() {
        "no table".to_owned()
    } else {
        format!("the tables {} with every row", tables.join(", "))
    }
}

/// Says `what` will happen, then goes on when `yes`, or when the operator types the
/// database's name on a terminal; otherwise `NotConfirmed`.
async fn confirm(
    runner: &MigrationRunner,
    yes: bool,
    what: &str,
    out: &mut dyn Write,
) -> Result<(), MigrateError> {
    let database = runner.database_name().await?;
    write_out(out, &format!("database {database}: {what}\n"))?;
    if yes {
        return Ok(());
    }
    let not_confirmed = || MigrateError::NotConfirmed {
        what: format!("database {database}: {what}"),
    };
    if !std::io::stdin().is_terminal() {
        return Err(not_confirmed());
    }
    write_out(
        out,
        &format!("type the database's name ({database}) to go on: "),
    )?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() == database {
        Ok(())
    } else {
        Err(not_confirmed())
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
        if !status.others.is_empty() {
            writeln!(
                f,
                "not stockdb's (left alone, not checked): {}",
                status.others.join(", ")
            )?;
        }
        if let Some(citus) = &status.citus {
            writeln!(
                f,
                "citus: {} worker(s); {}",
                citus.workers,
                if citus.tables.is_empty() {
                    "no table placed yet (stockdb db distribute)".to_owned()
                } else {
                    citus.tables.join(", ")
                }
            )?;
        }
        match status.matches_golden {
            Some(true) => writeln!(
                f,
                "schema: matches the golden print of version {}",
                status.version()
            )?,
            Some(false) => writeln!(
                f,
                "schema: DIFFERS from the golden print of version {}:\n{}",
                status.version(),
                status.drift.as_deref().unwrap_or_default()
            )?,
            None => {}
        }
        if let Some(revision) = &status.alembic_revision {
            // Whatever another writer left in alembic_version: printed, never obeyed by
            // the terminal.
            let revision = revision.escape_debug();
            if status.needs_adopt() {
                writeln!(
                    f,
                    "alembic revision: {revision} (created by the earlier service; run `migrate adopt`)"
                )?;
            } else if status.alembic_stamped {
                writeln!(f, "alembic revision: {revision} (stamped)")?;
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
    fn lock_timeouts_read_as_durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3_600)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn formats_epoch_seconds_as_utc() {
        assert_eq!(format_epoch(0), "1970-01-01 00:00:00");
        assert_eq!(format_epoch(1_795_000_000), "2026-11-18 11:06:40");
    }
}
