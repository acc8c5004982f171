//! Timing helpers: repeated measurements, medians, percentiles, peak memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Repeated timings of one measurement.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Timing {
    pub(crate) rows: u64,
    pub(crate) runs_s: Vec<f64>,
    pub(crate) median_s: f64,
    pub(crate) min_s: f64,
    /// Rows per second at the median run.
    pub(crate) rows_per_s: f64,
}

impl Timing {
    pub(crate) fn new(rows: u64, runs: &[Duration]) -> Self {
        let mut runs_s: Vec<f64> = runs.iter().map(Duration::as_secs_f64).collect();
        let median_s = median(&mut runs_s.clone());
        let min_s = runs_s.iter().copied().fold(f64::INFINITY, f64::min);
        runs_s.shrink_to_fit();
        Self {
            rows,
            runs_s,
            median_s,
            min_s,
            rows_per_s: rows as f64 / median_s,
        }
    }
}

/// A ratio of two interleaved measurements, pair by pair: run `i` of one against run `i`
/// of the other, taken back to back, so that drift on a shared machine hits both alike.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Ratio {
    /// Each pair's ratio, in run order.
    pub(crate) pairs: Vec<f64>,
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Ratio {
    /// `a`'s throughput over `b`'s (rows/s over rows/s), pair by pair.
    pub(crate) fn throughput(a: &Timing, b: &Timing) -> Self {
        let pairs = a
            .runs_s
            .iter()
            .zip(&b.runs_s)
            .map(|(a_s, b_s)| (a.rows as f64 / a_s) / (b.rows as f64 / b_s))
            .collect();
        Self::of(pairs)
    }

    /// `slow`'s time over `fast`'s, pair by pair: how many times faster `fast` is.
    pub(crate) fn speedup(fast: &[f64], slow: &[f64]) -> Self {
        Self::of(fast.iter().zip(slow).map(|(f, s)| s / f).collect())
    }

    fn of(pairs: Vec<f64>) -> Self {
        Self {
            median: median(&mut pairs.clone()),
            min: pairs.iter().copied().fold(f64::INFINITY, f64::min),
            max: pairs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            pairs,
        }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} ({:.2}–{:.2})", self.median, self.min, self.max)
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Latency percentiles of many calls, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Latency {
    pub(crate) calls: usize,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

impl Latency {
    pub(crate) fn new(samples: &[Duration]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
        Self {
            calls: ms.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: ms.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub(crate) fn rss_bytes() -> u64 {
    let pages: u64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse().ok()))
        .unwrap_or(0);
    pages * 4096
}

/// Samples RSS every 5 ms on a thread until dropped; `peak()` is the highest seen.
pub(crate) struct PeakRss {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakRss {
    pub(crate) fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_bytes()));
        let thread = {
            let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Self {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    pub(crate) fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peak.load(Ordering::Relaxed).max(rss_bytes())
    }
}

/// Runs `f` and returns how long it took.
pub(crate) async fn timed<T, E>(f: impl AsyncFnOnce() -> Result<T, E>) -> Result<(Duration, T), E> {
    let start = Instant::now();
    let value = f().await?;
    Ok((start.elapsed(), value))
}
