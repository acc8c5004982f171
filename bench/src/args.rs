//! The benchmark's command line and the sizes it sets.

use std::path::PathBuf;

use clap::Parser;

use crate::{DAYS, QUARTERS, history};

/// The benchmark's options.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench",
    about = "stockdb's write and read paths against their baselines"
)]
pub(crate) struct BenchArgs {
    /// `stock_daily` rows (stocks × 200 trading days); default 1,000,000 (50,000 with --quick).
    #[arg(long)]
    pub(crate) rows: Option<usize>,
    /// `stock_finance` rows (stocks × 4 quarters); default 20,000 (2,000 with --quick).
    #[arg(long)]
    pub(crate) finance_rows: Option<usize>,
    /// Repetitions of each write measurement (default 3; 1 with --quick).
    #[arg(long)]
    pub(crate) repeat: Option<usize>,
    /// Calls per read path (default 500; 50 with --quick); the audit statistics make a
    /// fifth of that.
    #[arg(long)]
    pub(crate) calls: Option<usize>,
    /// Rows of each audit log table (default 1,000,000; 20,000 with --quick).
    #[arg(long)]
    pub(crate) log_rows: Option<u64>,
    /// Migrate the benchmark's database to this schema version instead of the newest, to
    /// compare schema versions with the same code (the audit suite needs version 5 or
    /// later).
    #[arg(long, value_name = "N")]
    pub(crate) schema: Option<usize>,
    /// The schema version the audit suite compares the newest one with (default 3: no
    /// index on `created_at`; 7: the same indexes, not partitioned).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub(crate) audit_baseline: usize,
    /// Days the audit log rows span (default 365: a year of calls).
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub(crate) log_days: i64,
    /// Set this `fillfactor` on `stock_daily` and `stock_finance` before measuring (the
    /// schema's own when absent): how the value in the migration was chosen.
    #[arg(long, value_parser = clap::value_parser!(u8).range(10..=100))]
    pub(crate) fillfactor: Option<u8>,
    /// A small, fast run (CI keeps the benchmark from rotting with it).
    #[arg(long)]
    pub(crate) quick: bool,
    /// `full`: the history suite alone, at the whole market's size (5,300 stocks × 22
    /// years ≈ 30 M bars; about 60 GB of disk at its peak, see docs/performance.md).
    #[arg(long, value_enum)]
    pub(crate) scale: Option<Scale>,
    /// Stocks of the history suite (default 1,000; 5,300 at full scale; 60 with --quick).
    #[arg(long)]
    pub(crate) history_stocks: Option<usize>,
    /// Years of the history suite, one file each (default 4; 22 at full scale; 2 with
    /// --quick).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=35))]
    pub(crate) history_years: Option<i32>,
    /// How the history suite lays `stock_daily` out (default: as the migrations make it).
    #[arg(long, value_enum, default_value_t = crate::layout::Layout::Schema)]
    pub(crate) history_layout: crate::layout::Layout,
    /// Run only these suites (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub(crate) only: Vec<Suite>,
    /// Measure on a Citus cluster of its own (a coordinator and two workers on this
    /// machine, `cargo xtask citus` installs Citus) with the tables distributed as `stockdb
    /// db distribute` places them; the baselines run on the same distributed tables.
    /// Suites: writes, imports and reads unless `--only` says otherwise.
    #[arg(long, conflicts_with = "schema")]
    pub(crate) citus: bool,
    /// Also write every figure and ratio as JSON here.
    #[arg(long, value_name = "PATH")]
    pub(crate) json: Option<PathBuf>,
}

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scale {
    /// The history suite at the whole market's size.
    Full,
}

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Suite {
    /// `stock_daily` and `stock_finance` writes.
    Writes,
    /// `stockdb import daily` against `psql \copy`, and the merge workflow.
    Imports,
    /// The read paths.
    Reads,
    /// Audit statistics on the newest schema and on an older one (`--audit-baseline`).
    Audit,
    /// A year's LLM cost from the rows and from the daily rollup, and the catch-up.
    Ledger,
    /// The day boards: a day's limit-up pool saved and read beside hand-written SQL, and
    /// what schema v13's dropped id index saves on an insert.
    Boards,
    /// The market-structure reads: index members as of a day, the calendar, a stock's
    /// ten years of open days classified.
    Structure,
    /// Years of the whole market's history on a server of its own: the backfill against
    /// `psql \copy`, the disk, the daily increment and the reads warm and cold.
    History,
}

/// How much work the run does.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) stocks: usize,
    pub(crate) finance_stocks: usize,
    pub(crate) repeat: usize,
    pub(crate) calls: usize,
    pub(crate) log_rows: u64,
    pub(crate) log_days: i64,
    pub(crate) audit_baseline: usize,
    pub(crate) fillfactor: Option<u8>,
    pub(crate) history: history::Scale,
    pub(crate) suites: Vec<Suite>,
}

impl Settings {
    pub(crate) fn new(args: &BenchArgs) -> Self {
        let quick = args.quick;
        let full = args.scale == Some(Scale::Full);
        let suites = if args.only.is_empty() && full {
            vec![Suite::History]
        } else if args.only.is_empty() && args.citus {
            vec![Suite::Writes, Suite::Imports, Suite::Reads]
        } else if args.only.is_empty() {
            vec![
                Suite::Writes,
                Suite::Imports,
                Suite::Reads,
                Suite::Audit,
                Suite::Ledger,
                Suite::Structure,
                Suite::Boards,
                Suite::History,
            ]
        } else {
            args.only.clone()
        };
        // The history suite makes its own data: alone, the shared data is one stock's.
        let rows = args.rows.unwrap_or(if suites == [Suite::History] {
            DAYS
        } else if quick {
            50_000
        } else {
            1_000_000
        });
        let calls = args.calls.unwrap_or(if quick { 50 } else { 500 }).max(1);
        let finance_rows = args
            .finance_rows
            .unwrap_or(if quick { 2_000 } else { 20_000 });
        Self {
            stocks: (rows / DAYS).max(1),
            finance_stocks: (finance_rows / QUARTERS as usize).max(1),
            repeat: args.repeat.unwrap_or(if quick { 1 } else { 3 }).max(1),
            calls,
            log_rows: args
                .log_rows
                .unwrap_or(if quick { 20_000 } else { 1_000_000 })
                .max(1),
            log_days: args.log_days,
            audit_baseline: args.audit_baseline,
            fillfactor: args.fillfactor,
            history: history::Scale {
                stocks: args.history_stocks.unwrap_or(if full {
                    5_300
                } else if quick {
                    60
                } else {
                    1_000
                }),
                years: args.history_years.unwrap_or(if full {
                    22
                } else if quick {
                    2
                } else {
                    4
                }),
                days: if quick { 3 } else { 20 },
                calls: if full { calls.min(200) } else { calls },
                cold_calls: if full {
                    10
                } else if quick {
                    2
                } else {
                    5
                },
                layout: args.history_layout,
            },
            suites,
        }
    }
}
