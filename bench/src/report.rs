//! The run's results, the ratios and targets computed from them, and their printing.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audit::Audit;
use crate::boards::{self, Boards};
use crate::history::History;
use crate::imports::Imports;
use crate::ledger::{self, Ledger};
use crate::reads::{ReadPath, Reads};
use crate::stats::{Ratio, Timing};
use crate::structure::{self, Structure};
use crate::writes::{DailyWrites, Data, FinanceWrites, Memory};

/// What the suites measured; a suite left out of the run (`--only`) is `None`.
pub(crate) struct Results {
    pub(crate) fillfactor: String,
    pub(crate) stock_daily_bytes: i64,
    pub(crate) writes: Option<(DailyWrites, FinanceWrites, Memory)>,
    pub(crate) imports: Option<Imports>,
    pub(crate) reads: Option<Reads>,
    pub(crate) audit: Option<Audit>,
    pub(crate) ledger: Option<Ledger>,
    pub(crate) structure: Option<Structure>,
    pub(crate) boards: Option<Boards>,
    pub(crate) history: Option<History>,
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) command: String,
    pub(crate) machine: BTreeMap<&'static str, String>,
    rows: Rows,
    fillfactor: String,
    /// `stock_daily` with its indexes, after the run (every bar once).
    stock_daily_bytes: i64,
    writes: Option<Writes>,
    imports: Option<Imports>,
    reads: Option<Reads>,
    audit: Option<Audit>,
    ledger: Option<Ledger>,
    structure: Option<Structure>,
    boards: Option<Boards>,
    history: Option<History>,
    targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
struct Rows {
    stock_daily: u64,
    stock_finance: u64,
    stock_info: u64,
}

#[derive(Debug, Serialize)]
struct Writes {
    daily: DailyWrites,
    finance: FinanceWrites,
    memory: Memory,
    ratios: Ratios,
}

/// Throughput ratios (rows/s over rows/s), pair by pair within an interleaved group:
/// the median and the spread of the pairs.
#[derive(Debug, Serialize)]
struct Ratios {
    daily_new_over_copy_text: Ratio,
    daily_new_over_copy_binary: Ratio,
    daily_conflict_over_copy_text: Ratio,
    daily_identical_over_copy_text: Ratio,
    daily_new_over_naive: f64,
    daily_conflict_over_naive: f64,
    finance_new_over_copy_text: Ratio,
    finance_conflict_over_copy_text: Ratio,
    finance_new_over_naive: f64,
}

impl Ratios {
    fn new(daily: &DailyWrites, finance: &FinanceWrites) -> Self {
        // The naive paths are not interleaved with the repository: medians only.
        let medians = |a: &Timing, b: &Timing| a.rows_per_s / b.rows_per_s;
        Self {
            daily_new_over_copy_text: Ratio::throughput(&daily.repository_new, &daily.copy_text),
            daily_new_over_copy_binary: Ratio::throughput(
                &daily.repository_new,
                &daily.copy_binary,
            ),
            daily_conflict_over_copy_text: Ratio::throughput(
                &daily.repository_conflict,
                &daily.copy_text_beside_conflict,
            ),
            daily_identical_over_copy_text: Ratio::throughput(
                &daily.repository_identical,
                &daily.copy_text_beside_conflict,
            ),
            daily_new_over_naive: medians(&daily.repository_new, &daily.naive_new),
            daily_conflict_over_naive: medians(&daily.repository_conflict, &daily.naive_conflict),
            finance_new_over_copy_text: Ratio::throughput(
                &finance.repository_new,
                &finance.copy_text,
            ),
            finance_conflict_over_copy_text: Ratio::throughput(
                &finance.repository_conflict,
                &finance.copy_text_beside_conflict,
            ),
            finance_new_over_naive: medians(&finance.repository_new, &finance.naive_new),
        }
    }
}

/// A goal and whether this run met it (on the median of the pairs).
#[derive(Debug, Serialize)]
pub(crate) struct Target {
    what: String,
    measured: String,
    goal: String,
    met: bool,
}

impl Target {
    pub(crate) fn at_least(what: impl Into<String>, measured: &Ratio, goal: f64) -> Self {
        Self {
            what: what.into(),
            measured: measured.to_string(),
            goal: format!(">= {goal}"),
            met: measured.median >= goal,
        }
    }

    /// A single ratio (not a median of pairs) that must reach `goal`.
    pub(crate) fn value_at_least(what: impl Into<String>, measured: f64, goal: f64) -> Self {
        Self {
            what: what.into(),
            measured: format!("{measured:.1}"),
            goal: format!(">= {goal}"),
            met: measured >= goal,
        }
    }

    pub(crate) fn at_most(what: impl Into<String>, measured: f64, goal: f64) -> Self {
        Self {
            what: what.into(),
            measured: format!("{measured:.2}"),
            goal: format!("<= {goal}"),
            met: measured <= goal,
        }
    }
}

impl Report {
    pub(crate) fn new(data: &Data, results: Results) -> Self {
        let writes = results.writes.map(|(daily, finance, memory)| Writes {
            ratios: Ratios::new(&daily, &finance),
            daily,
            finance,
            memory,
        });
        let mut targets = Vec::new();
        if let Some(Writes { ratios, .. }) = &writes {
            targets.extend([
                Target::at_least(
                    "new-row upsert / COPY text (rows/s)",
                    &ratios.daily_new_over_copy_text,
                    1.0,
                ),
                Target::at_least(
                    "new-row upsert / COPY binary (rows/s)",
                    &ratios.daily_new_over_copy_binary,
                    0.8,
                ),
                Target::at_least(
                    "all-conflict upsert / COPY text (rows/s)",
                    &ratios.daily_conflict_over_copy_text,
                    0.6,
                ),
                Target {
                    what: "repository / naive SeaORM, new rows (rows/s)".to_owned(),
                    measured: format!("{:.2}", ratios.daily_new_over_naive),
                    goal: ">= 1.5".to_owned(),
                    met: ratios.daily_new_over_naive >= 1.5,
                },
            ]);
        }
        if let Some(imports) = &results.imports {
            targets.extend([
                Target::at_least(
                    "merge workflow: second file / first file (lines/s)",
                    &imports.second_over_first,
                    0.5,
                ),
                Target::at_least(
                    "stockdb import daily / psql \\copy (lines/s)",
                    &imports.import_over_psql,
                    1.0,
                ),
            ]);
        }
        if let Some(audit) = &results.audit {
            targets.extend([
                // Against version 3 (no index on created_at) the index must pay tenfold;
                // against version 7 (same indexes, one table) partitioning must not cost.
                Target::at_least(
                    format!(
                        "audit statistics: v{} time / newest schema time",
                        audit.baseline_schema
                    ),
                    &audit.speedup_over_baseline,
                    if audit.baseline_schema < 5 { 10.0 } else { 0.9 },
                ),
                Target::at_most(
                    "audit statistics: p99 / floor p99",
                    audit.p99_over_floor,
                    2.0,
                ),
            ]);
        }
        if let Some(l) = &results.ledger {
            targets.extend([
                Target::value_at_least(
                    "ledger: a year's cost by model, rows p99 / rollup p99",
                    l.by_model_rows_over_rollup_p99,
                    10.0,
                ),
                Target::at_most(
                    "ledger: a year's cost by model from the rollup, p99 / floor p99",
                    l.rollup_p99_over_floor,
                    2.0,
                ),
            ]);
        }
        for (name, read) in results.structure.iter().flat_map(Structure::paths) {
            targets.push(Target::at_most(
                format!("{name}: p99 / floor p99"),
                read.p99_over_floor,
                1.5,
            ));
        }
        if let Some(b) = &results.boards {
            for (name, read) in [
                ("day boards: save a day's pool", &b.save_a_day),
                ("day boards: read a day's pool", &b.read_a_day),
            ] {
                targets.push(Target::at_most(
                    format!("{name}: p99 / floor p99"),
                    read.p99_over_floor,
                    1.5,
                ));
            }
        }
        targets.extend(results.history.iter().flat_map(History::targets));
        for (name, read) in results.reads.iter().flat_map(Reads::paths) {
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
            fillfactor: results.fillfactor,
            stock_daily_bytes: results.stock_daily_bytes,
            writes,
            imports: results.imports,
            reads: results.reads,
            audit: results.audit,
            ledger: results.ledger,
            structure: results.structure,
            boards: results.boards,
            history: results.history,
            targets,
        }
    }

    /// Prints the report as Markdown tables.
    pub(crate) fn print(&self) {
        println!(
            "\n`stock_daily` {}; {:.0} MiB with its indexes after the run",
            self.fillfactor,
            self.stock_daily_bytes as f64 / (1024.0 * 1024.0)
        );
        if let Some(writes) = &self.writes {
            print_writes(writes);
        }
        if let Some(imports) = &self.imports {
            print_imports(imports);
        }
        if let Some(reads) = &self.reads {
            print_reads(reads);
        }
        if let Some(audit) = &self.audit {
            print_audit(audit);
        }
        if let Some(l) = &self.ledger {
            ledger::print(l);
        }
        if let Some(s) = &self.structure {
            structure::print(s);
        }
        if let Some(b) = &self.boards {
            boards::print(b);
        }
        if let Some(h) = &self.history {
            h.print();
        }
        println!("\n## Targets\n");
        println!("| target | measured | goal | met |");
        println!("|---|---:|---|---|");
        for t in &self.targets {
            println!(
                "| {} | {} | {} | {} |",
                t.what,
                t.measured,
                t.goal,
                if t.met { "yes" } else { "NO" }
            );
        }
    }
}

fn print_timings(title: &str, timings: &[(&str, &Timing)]) {
    println!("\n## {title} (interleaved; median of runs, rows/s at the median)\n");
    println!("| measurement | rows | median s | min s | rows/s |");
    println!("|---|---:|---:|---:|---:|");
    for (name, t) in timings {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.0} |",
            t.rows, t.median_s, t.min_s, t.rows_per_s
        );
    }
}

fn print_ratios(ratios: &[(&str, &Ratio)]) {
    println!("\nRatios, median of the pairs (spread min–max):\n");
    for (name, ratio) in ratios {
        println!("- {name}: {ratio}");
    }
}

fn print_writes(w: &Writes) {
    let (d, f, r) = (&w.daily, &w.finance, &w.ratios);
    print_timings(
        "Writes",
        &[
            ("daily_repository_new", &d.repository_new),
            ("daily_copy_text", &d.copy_text),
            ("daily_copy_binary", &d.copy_binary),
            ("daily_repository_conflict", &d.repository_conflict),
            ("daily_repository_identical", &d.repository_identical),
            (
                "daily_copy_text_beside_conflict",
                &d.copy_text_beside_conflict,
            ),
            ("daily_naive_new", &d.naive_new),
            ("daily_naive_conflict", &d.naive_conflict),
            ("finance_repository_new", &f.repository_new),
            ("finance_copy_text", &f.copy_text),
            ("finance_repository_conflict", &f.repository_conflict),
            (
                "finance_copy_text_beside_conflict",
                &f.copy_text_beside_conflict,
            ),
            ("finance_naive_new", &f.naive_new),
        ],
    );
    println!(
        "\nnaive stock_finance insert_many in {}-row batches: see finance_naive_new; in 1,000-row batches: {}",
        f.naive_batch, f.naive_1000_row_batches
    );
    print_ratios(&[
        ("daily new / COPY text", &r.daily_new_over_copy_text),
        ("daily new / COPY binary", &r.daily_new_over_copy_binary),
        (
            "daily conflict / COPY text",
            &r.daily_conflict_over_copy_text,
        ),
        (
            "daily identical / COPY text",
            &r.daily_identical_over_copy_text,
        ),
        ("finance new / COPY text", &r.finance_new_over_copy_text),
        (
            "finance conflict / COPY text",
            &r.finance_conflict_over_copy_text,
        ),
    ]);
    let m = &w.memory;
    println!(
        "\nPeak memory: save_all of {} stock_daily rows: RSS {:.0} MiB before (input rows held), peak {:.0} MiB, +{:.0} MiB during the save",
        m.rows, m.rss_before_mib, m.peak_rss_mib, m.peak_increase_mib
    );
}

fn print_imports(i: &Imports) {
    print_timings(
        "Imports",
        &[
            ("import_daily_full_file", &i.import),
            ("psql_copy_full_file", &i.psql_copy),
            ("import_merge_first_daily", &i.merge_first),
            ("import_merge_second_daily_basic", &i.merge_second),
        ],
    );
    print_ratios(&[
        ("import / psql \\copy", &i.import_over_psql),
        ("merge: second file / first file", &i.second_over_first),
    ]);
}

fn print_reads(reads: &Reads) {
    println!("\n## Reads (ms)\n");
    print_paths(&reads.paths());
}

/// A table of read paths: each repository's latencies beside its floor's.
pub(crate) fn print_paths(paths: &[(&str, &ReadPath)]) {
    println!("| path | calls | repo p50 | repo p99 | floor p50 | floor p99 | p99 / floor |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, p) in paths {
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
}

fn print_audit(a: &Audit) {
    println!(
        "\n## Audit statistics, one day of {} days, {} rows in each log table (ms)\n",
        a.days, a.rows_per_table
    );
    println!("| schema | calls | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (name, l) in [
        ("newest (btree created_at), repository", &a.repository),
        ("newest, floor", &a.floor),
        ("baseline schema, repository", &a.baseline),
        ("baseline + BRIN created_at, repository", &a.brin),
    ] {
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} |",
            l.calls, l.p50_ms, l.p99_ms, l.max_ms
        );
    }
    println!(
        "\nv{} / newest: {}; BRIN / btree: {}; index bytes: btree {}, BRIN {}",
        a.baseline_schema,
        a.speedup_over_baseline,
        a.brin_over_btree,
        a.btree_index_bytes,
        a.brin_index_bytes
    );
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
