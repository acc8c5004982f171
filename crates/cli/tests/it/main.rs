//! Tests of the `stockdb` command line against PostgreSQL: imports, resume, JSON output,
//! exit codes, faults and the embedded cluster's lifecycle.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod cli;
mod docs;
mod faults;
mod imports;
mod llm;
mod operator;
mod retention;
mod secrets;

/// The `stockdb` binary, pointed at `url`, with no secret key and quiet logs.
pub(crate) fn stockdb(url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stockdb"));
    cmd.env("DATABASE_URL", url)
        .env_remove("STOCKDB_SECRET_KEY")
        .env("RUST_LOG", "warn");
    cmd
}
