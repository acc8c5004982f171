//! `cargo xtask ci`: what `.ci/run` runs on a clean clone.

use std::process::Command;

use anyhow::Context as _;

use crate::db::{ensure_server, server_url};

/// Makes sure PostgreSQL is reachable, then runs fmt, clippy, the README's test command
/// a quick benchmark and the README's first command.
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
    demo_smoke_test()?;
    println!("ci: all green");
    Ok(())
}

/// The README's first command, `stockdb demo`, with no database set up: on its own
/// embedded cluster in a scratch directory, stopped afterwards.
fn demo_smoke_test() -> anyhow::Result<()> {
    let data_dir = std::env::temp_dir().join(format!("stockdb-ci-demo-{}", std::process::id()));
    let dir = data_dir.display().to_string();
    let run = |args: &[&str]| -> anyhow::Result<()> {
        println!("$ stockdb --data-dir {dir} {}", args.join(" "));
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .args([
                "run",
                "--quiet",
                "--bin",
                "stockdb",
                "--",
                "--data-dir",
                &dir,
            ])
            .args(args)
            .env_remove("DATABASE_URL")
            .status()
            .context("running stockdb")?;
        anyhow::ensure!(
            status.success(),
            "stockdb {} failed ({status})",
            args.join(" ")
        );
        Ok(())
    };
    let result = run(&["demo", "--stocks", "60", "--days", "60"]);
    let stopped = run(&["db", "stop"]);
    let _ = std::fs::remove_dir_all(&data_dir);
    result.and(stopped)
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
