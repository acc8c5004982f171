//! The run's results, the ratios and targets computed from them, and their printing.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::reads::Reads;
use crate::stats::Timing;
use crate::writes::{DailyWrites, Data, FinanceWrites, Memory};

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) command: String,
    machine: BTreeMap<&'static str, String>,
    rows: Rows,
    daily: DailyWrites,
    finance: FinanceWrites,
    memory: Memory,
    reads: Reads,
    ratios: Ratios,
    targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
struct Rows {
    stock_daily: u64,
    stock_finance: u64,
    stock_info: u64,
}

/// Throughput ratios (rows/s over rows/s at the median run) from the same run.
#[derive(Debug, Serialize)]
struct Ratios {
    daily_new_over_copy_text: f64,
    daily_new_over_copy_binary: f64,
    daily_conflict_over_copy_text: f64,
    daily_conflict_over_copy_binary: f64,
    daily_new_over_naive: f64,
    daily_conflict_over_naive: f64,
    finance_new_over_copy_text: f64,
    finance_conflict_over_copy_text: f64,
    finance_new_over_naive: f64,
}

impl Ratios {
    fn new(daily: &DailyWrites, finance: &FinanceWrites) -> Self {
        let ratio = |a: &Timing, b: &Timing| a.rows_per_s / b.rows_per_s;
        Self {
            daily_new_over_copy_text: ratio(&daily.repository_new, &daily.copy_text),
            daily_new_over_copy_binary: ratio(&daily.repository_new, &daily.copy_binary),
            daily_conflict_over_copy_text: ratio(&daily.repository_conflict, &daily.copy_text),
            daily_conflict_over_copy_binary: ratio(&daily.repository_conflict, &daily.copy_binary),
            daily_new_over_naive: ratio(&daily.repository_new, &daily.naive_new),
            daily_conflict_over_naive: ratio(&daily.repository_conflict, &daily.naive_conflict),
            finance_new_over_copy_text: ratio(&finance.repository_new, &finance.copy_text),
            finance_conflict_over_copy_text: ratio(
                &finance.repository_conflict,
                &finance.copy_text,
            ),
            finance_new_over_naive: ratio(&finance.repository_new, &finance.naive_new),
        }
    }
}

/// A goal and whether this run met it.
#[derive(Debug, Serialize)]
struct Target {
    what: String,
    measured: f64,
    goal: String,
    met: bool,
}

impl Target {
    fn at_least(what: impl Into<String>, measured: f64, goal: f64) -> Self {
        Self {
            what: what.into(),
            measured,
            goal: format!(">= {goal}"),
            met: measured >= goal,
        }
    }

    fn at_most(what: impl Into<String>, measured: f64, goal: f64) -> Self {
        Self {
            what: what.into(),
            measured,
            goal: format!("<= {goal}"),
            met: measured <= goal,
        }
    }
}

impl Report {
    pub(crate) fn new(
        data: &Data,
        daily: DailyWrites,
        finance: FinanceWrites,
        memory: Memory,
        reads: Reads,
    ) -> Self {
        let ratios = Ratios::new(&daily, &finance);
        let mut targets = vec![
            Target::at_least(
                "new-row upsert / COPY text (rows/s)",
                ratios.daily_new_over_copy_text,
                0.8,
            ),
            Target::at_least(
                "new-row upsert / COPY binary (rows/s)",
                ratios.daily_new_over_copy_binary,
                0.8,
            ),
            Target::at_least(
                "all-conflict upsert / COPY text (rows/s)",
                ratios.daily_conflict_over_copy_text,
                0.5,
            ),
            Target::at_least(
                "all-conflict upsert / COPY binary (rows/s)",
                ratios.daily_conflict_over_copy_binary,
                0.5,
            ),
            Target::at_least(
                "repository / naive SeaORM, new rows (rows/s)",
                ratios.daily_new_over_naive,
                1.5,
            ),
        ];
        for (name, read) in reads.paths() {
            targets.push(Target::at_most(
                format!("{name}: p99 / floor p99"),
                read.p99_over_floor,
                2.0,
            ));
        }
        Self {
            command: String::new(),
            machine: machine(),
            rows: Rows {
                stock_daily: data.dailies.len() as u64,
                stock_finance: data.reports.len() as u64,
                stock_info: data.stocks.len() as u64,
            },
            daily,
            finance,
            memory,
            reads,
            ratios,
            targets,
        }
    }

    /// Prints the report as Markdown tables.
    pub(crate) fn print(&self) {
        println!("\n## Writes (median of runs; rows/s at the median)\n");
        println!("| measurement | rows | median s | min s | rows/s |");
        println!("|---|---:|---:|---:|---:|");
        let d = &self.daily;
        let f = &self.finance;
        for (name, t) in [
            ("daily_repository_new", &d.repository_new),
            ("daily_repository_conflict", &d.repository_conflict),
            ("daily_repository_identical", &d.repository_identical),
            ("daily_copy_text", &d.copy_text),
            ("daily_copy_binary", &d.copy_binary),
            ("daily_naive_new", &d.naive_new),
            ("daily_naive_conflict", &d.naive_conflict),
            ("finance_repository_new", &f.repository_new),
            ("finance_repository_conflict", &f.repository_conflict),
            ("finance_copy_text", &f.copy_text),
            ("finance_naive_new", &f.naive_new),
        ] {
            println!(
                "| {name} | {} | {:.3} | {:.3} | {:.0} |",
                t.rows, t.median_s, t.min_s, t.rows_per_s
            );
        }
        println!(
            "\nnaive stock_finance insert_many in {}-row batches: see finance_naive_new; in 1,000-row batches: {}",
            f.naive_batch, f.naive_1000_row_batches
        );
        println!("\n## Reads (ms)\n");
        println!("| path | calls | repo p50 | repo p99 | floor p50 | floor p99 | p99 / floor |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (name, p) in self.reads.paths() {
            println!(
                "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} |",
                p.repository.calls,
                p.repository.p50_ms,
                p.repository.p99_ms,
                p.floor.p50_ms,
                p.floor.p99_ms,
                p.p99_over_floor
            );
        }
        let m = &self.memory;
        println!(
            "\n## Memory\n\nsave_all of {} stock_daily rows: RSS {:.0} MiB before (input rows held), peak {:.0} MiB, +{:.0} MiB during the save",
            m.rows, m.rss_before_mib, m.peak_rss_mib, m.peak_increase_mib
        );
        println!("\n## Targets\n");
        println!("| target | measured | goal | met |");
        println!("|---|---:|---|---|");
        for t in &self.targets {
            println!(
                "| {} | {:.2} | {} | {} |",
                t.what,
                t.measured,
                t.goal,
                if t.met { "yes" } else { "NO" }
            );
        }
    }
}

/// The machine the run measured: CPU, cores, memory, kernel.
fn machine() -> BTreeMap<&'static str, String> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let mem = read("/proc/meminfo")
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    BTreeMap::from([
        ("cpu", cpu),
        (
            "cores",
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ),
        (
            "memory",
            mem.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
        ),
        ("os", read("/proc/sys/kernel/osrelease").trim().to_owned()),
    ])
}
