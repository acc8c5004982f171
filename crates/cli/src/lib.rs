//! The `stockdb` command line, as a library its binary and tests share: the commands
//! (`commands`, imports through the `tushare` crate) and the embedded PostgreSQL cluster
//! ([`embedded`]).
//!
//! It sits on top of `stockdb` (the composition root) and never runs SQL of its own on data:
//! every read and write goes through the repositories. `anyhow` is used only at this edge.

mod commands;
pub mod embedded;

use std::process::ExitCode;

/// Runs `stockdb` with the process's arguments and returns its exit status: 0 done, 1
/// failed (the error chain on stderr), 2 usage error (from clap).
pub fn main() -> ExitCode {
    commands::main()
}
