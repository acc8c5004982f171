//! `cargo xtask ci`: what `.ci/run` runs on a clean clone.

use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;

use crate::db::{ensure_server, server_url};

/// Makes sure PostgreSQL is reachable and has Citus installed, then runs fmt, clippy, the
/// README's test command, the suite on Citus (`STOCKDB_TEST_TARGET=citus`), a quick
/// benchmark and the README's first command; then the README's container test command
/// (the suite again, against one container per test process).
pub(crate) fn run(runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let url = server_url();
    runtime.block_on(ensure_server(&url))?;
    // The Citus tests run throwaway clusters of the machine's server with Citus loaded.
    crate::citus::ensure()?;
    let started = Instant::now();
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
    let servers = std::env::temp_dir().join(format!("stockdb-ci-servers-{}", std::process::id()));
    println!(
        "tests against the machine's server: {}",
        shared_db::redact_url(&url)
    );
    cargo_env(
        &["test", "--workspace"],
        &[("DATABASE_URL", &url)],
        &servers,
    )?;
    report_servers(&servers)?;
    let suite = started.elapsed();
    // The README's Citus test command: the suite on the distributed schema, each test
    // process on a Citus cluster of its own.
    let citus = Instant::now();
    cargo_env(
        &["test", "--workspace"],
        &[("STOCKDB_TEST_TARGET", "citus")],
        &servers,
    )?;
    report_servers(&servers)?;
    let citus = citus.elapsed();
    // Keeps the benchmark from rotting; its figures mean nothing in a debug build.
    cargo(&["xtask", "bench", "--quick"], &url)?;
    cargo(&["xtask", "bench", "--quick", "--citus"], &url)?;
    demo_smoke_test()?;
    let containers = Instant::now();
    container_suite(&servers)?;
    println!(
        "ci: all green (suite against the machine's server {:.0} s, on Citus {:.0} s, against \
         containers {:.0} s, all {:.0} s)",
        suite.as_secs_f64(),
        citus.as_secs_f64(),
        containers.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The README's container test command: the suite again with no server URL, so each test
/// process starts its own container of the test image. Makes sure a Docker daemon runs
/// first (installing and starting Debian's engine when it is absent and this is root).
fn container_suite(servers: &std::path::Path) -> anyhow::Result<()> {
    ensure_docker()?;
    crate::test_image::run_default()?;
    println!("tests against containers of {}", test_support::test_image());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["test", "--workspace"])
        .env_remove("DATABASE_URL")
        .env_remove("TEST_DATABASE_URL")
        .env("STOCKDB_TEST_SERVER_LOG", servers)
        .status()
        .context("running cargo test against containers")?;
    let reported = report_servers(servers);
    anyhow::ensure!(
        status.success(),
        "the suite against containers failed ({status})"
    );
    reported
}

/// Prints which server each test process used (from test-support's log), then clears it.
fn report_servers(log: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    println!(
        "servers the test processes used ({} processes):",
        text.lines().count()
    );
    for line in text.lines() {
        // "<binary path> (pid N): <server>": the binary's name, and the server whole (a
        // Citus node's socket directory is a path too).
        let (binary, server) = line.split_once(" (pid").unwrap_or((line, ""));
        let binary = binary.rsplit('/').next().unwrap_or(binary);
        println!("  {binary} (pid{server}");
    }
    let _ = std::fs::remove_file(log);
    Ok(())
}

/// Makes sure `docker info` answers: as root, installs Debian's engine (and debootstrap,
/// for the image) when missing and starts its daemon.
fn ensure_docker() -> anyhow::Result<()> {
    if crate::test_image::check_docker().is_ok() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    anyhow::ensure!(root, "no Docker daemon, and installing one needs root");
    let installed = |program: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !installed("dockerd") || !installed("debootstrap") {
        println!("installing Debian's Docker engine and debootstrap");
        let status = Command::new("sh")
            .args([
                "-c",
                "apt-get update -q && apt-get install -y -q docker.io debootstrap",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null())
            .status()
            .context("running apt-get")?;
        anyhow::ensure!(status.success(), "installing docker.io failed ({status})");
    }
    println!("starting dockerd");
    let log = std::fs::File::create(std::env::temp_dir().join("stockdb-ci-dockerd.log"))
        .context("creating dockerd's log")?;
    let err_log = log.try_clone().context("dockerd's log")?;
    Command::new("dockerd")
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .spawn()
        .context("starting dockerd")?;
    for _ in 0..60 {
        if crate::test_image::check_docker().is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    crate::test_image::check_docker()
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

/// Runs `cargo args` with `envs`, and `STOCKDB_TEST_SERVER_LOG` set to `servers`.
fn cargo_env(
    args: &[&str],
    envs: &[(&str, &str)],
    servers: &std::path::Path,
) -> anyhow::Result<()> {
    println!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(args)
        .envs(envs.iter().copied())
        .env("STOCKDB_TEST_SERVER_LOG", servers)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    anyhow::ensure!(
        status.success(),
        "cargo {} failed ({status})",
        args.join(" ")
    );
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
