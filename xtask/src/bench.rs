//! `cargo xtask bench [ARGS]`: builds and runs the `bench` crate, in release unless the
//! run is `--quick` (whose figures only show that every path runs).

use std::process::Command;

use anyhow::Context as _;

/// Runs the benchmark with `args`.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let quick = args.iter().any(|arg| arg == "--quick");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cargo.args(["run", "--quiet", "--package", "bench"]);
    if !quick {
        cargo.arg("--release");
    }
    let status = cargo
        .arg("--")
        .args(args)
        .status()
        .context("running the benchmark")?;
    anyhow::ensure!(status.success(), "the benchmark failed ({status})");
    Ok(())
}
