//! `cargo xtask citus`: installs Citus into the machine's PostgreSQL 15 when it is
//! missing, from the vendored release beside the project (`../shared/vendor/citus`, whose
//! `build` script does the work: root, about 1.5 minutes on two cores, idempotent). The
//! Citus tests need it; CI runs this first.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

/// Where the PostgreSQL 15 server looks for extension libraries.
fn citus_library() -> PathBuf {
    let lib = Command::new("pg_config")
        .arg("--pkglibdir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/lib"));
    lib.join("citus.so")
}

/// The vendored build script, beside the project.
fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vendor/citus/build")
}

/// Installs Citus unless the server already has it.
pub(crate) fn ensure() -> anyhow::Result<()> {
    let library = citus_library();
    if library.is_file() {
        println!("citus: installed ({})", library.display());
        return Ok(());
    }
    let script = build_script();
    anyhow::ensure!(
        script.is_file(),
        "Citus is not installed ({} missing) and its vendored source is not beside the \
         project ({}): the Citus tests cannot run",
        library.display(),
        script.display()
    );
    println!("citus: building and installing from {}", script.display());
    let status = Command::new("bash")
        .arg(&script)
        .status()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(status.success(), "{} failed ({status})", script.display());
    Ok(())
}
