//! Running the server's binaries (as the service user when stockdb runs as root), and
//! what the machine says about accounts and where the binaries are.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::EmbeddedError;

/// Runs the server binary `program` of `bin_dir` with `args`, as `run_as` when given.
pub(super) fn run_pg(
    bin_dir: &Path,
    run_as: Option<&str>,
    program: &str,
    args: &[&str],
) -> Result<Output, EmbeddedError> {
    let binary = bin_dir.join(program).display().to_string();
    let mut command = match run_as {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--", &binary]);
            c
        }
        None => Command::new(&binary),
    };
    command.args(args);
    // A server started from here must not hold on to our output pipes.
    command.stdin(std::process::Stdio::null());
    command.output().map_err(|source| EmbeddedError::Io {
        what: "running",
        path: PathBuf::from(binary),
        source,
    })
}

/// [`run_pg`], and an error with what it said when it fails.
pub(super) fn checked_pg(
    bin_dir: &Path,
    run_as: Option<&str>,
    program: &str,
    args: &[&str],
) -> Result<Output, EmbeddedError> {
    let output = run_pg(bin_dir, run_as, program, args)?;
    if output.status.success() {
        return Ok(output);
    }
    Err(EmbeddedError::Command {
        command: format!("{program} {}", args.join(" ")),
        detail: describe(&output),
    })
}

fn describe(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    format!("{} {}{}", output.status, stderr.trim(), stdout.trim())
}

/// Runs `command`; an error with what it said when it fails.
pub(super) fn run(command: &mut Command) -> Result<String, EmbeddedError> {
    let output = command.output().map_err(|source| EmbeddedError::Io {
        what: "running",
        path: PathBuf::from(command.get_program()),
        source,
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(EmbeddedError::Command {
            command: format!("{command:?}"),
            detail: describe(&output),
        })
    }
}

/// Sets the permission bits of `path`.
pub(super) fn set_mode(path: &Path, mode: u32) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| {
        EmbeddedError::Io {
            what: "setting permissions of",
            path: path.to_owned(),
            source,
        }
    })
}

/// True when this process runs as root.
pub(super) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The uid of `user`, or of this process's account.
pub(super) fn uid_of(user: Option<&str>) -> Result<u32, EmbeddedError> {
    let mut command = Command::new("id");
    command.arg("-u").args(user);
    let uid = run(&mut command)?;
    uid.parse().map_err(|_| EmbeddedError::Command {
        command: format!("id -u {}", user.unwrap_or_default()),
        detail: format!("printed {uid:?}, not a uid"),
    })
}

/// The name of the account this process runs as: the one the cluster lets in.
pub(super) fn account_name() -> Result<String, EmbeddedError> {
    run(Command::new("id").arg("-un"))
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else a few usual places.
pub fn find_server_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|dir| has_both(dir)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                    Some((version, e.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    if let Some((_, dir)) = versions.into_iter().rev().find(|(_, dir)| has_both(dir)) {
        return Some(dir);
    }
    [
        "/usr/local/pgsql/bin",
        "/opt/homebrew/bin",
        "/usr/local/bin",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|dir| has_both(dir))
}
