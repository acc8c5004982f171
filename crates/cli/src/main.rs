//! `stockdb`: the operator's command line. Run `stockdb --help`.
//!
//! Exit status: 0 done, 1 failed, 2 usage error (from clap).

fn main() -> std::process::ExitCode {
    stockdb_cli::main()
}
