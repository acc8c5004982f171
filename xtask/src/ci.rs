//! `cargo xtask ci`: what `.ci/run` runs on a clean clone.

use std::process::Command;

use anyhow::Context as _;

use crate::db::{ensure_server, server_url};

/// Makes sure PostgreSQL is reachable, then runs fmt, clippy, the README's test command
/// and a quick benchmark.
pub(crate) fn run(runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let url = server_url();
    runtime.block_on(ensure_server(&url))?;
    cargo(&["fmt", "--all", "--check"], &url)?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &url,
    )?;
    // The README's test command.
    cargo(&["test", "--workspace"], &url)?;
    // Keeps the benchmark from rotting; its figures mean nothing in a debug build.
    cargo(&["xtask", "bench", "--quick"], &url)?;
    println!("ci: all green");
    Ok(())
}

fn cargo(args: &[&str], url: &str) -> anyhow::Result<()> {
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(args)
        .env("DATABASE_URL", url)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    anyhow::ensure!(
        status.success(),
        "cargo {} failed ({status})",
        args.join(" ")
    );
    Ok(())
}
