//! Deterministic sample data in Tushare's shapes: a stock list, daily bars that follow a
//! random walk within the daily price limits, the market's structure around them (calendar,
//! halts, ST episodes, an index, dividends), quarterly financial indicators, research
//! traces with their LLM and data-API calls (the `tushare` crate writes them as CSV files).
//!
//! Used by `stockdb demo`, the benchmark and tests; the same seed gives the same data.

mod concepts;
mod market;
mod pools;
mod stocks;
mod structure;
mod traces;

pub use concepts::concepts;
pub use market::{daily_bars, finance_reports, last_quarter_end};
pub use pools::{SampleBoards, boards};
pub use stocks::{stocks, trading_days};
pub use structure::{
    MarketStructure, SAMPLE_INDEX, apply_structure, market_structure, price_limits,
};
pub use traces::{SampleTrace, traces};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A seeded random source with the few distributions the samples need.
#[derive(Debug)]
pub(crate) struct Sampler {
    pub(crate) rng: StdRng,
}

impl Sampler {
    /// A sampler whose output depends only on `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn uniform(&mut self, low: f64, high: f64) -> f64 {
        self.rng.random_range(low..high)
    }

    pub(crate) fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        // Box-Muller; one of the pair is enough here.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random_range(0.0..1.0);
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub(crate) fn log_uniform(&mut self, low: f64, high: f64) -> f64 {
        self.uniform(low.ln(), high.ln()).exp()
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    pub(crate) fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'A' + self.rng.random_range(0..26u8)))
            .collect()
    }
}

pub(crate) fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}
