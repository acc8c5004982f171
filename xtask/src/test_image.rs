//! `cargo xtask test-image [--rebuild]`: builds the PostgreSQL image the tests run
//! containers of, with no registry: a Debian root file system made by `debootstrap` from
//! the machine's own package mirror, imported with `docker import`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;

/// The container's entry point: a fresh cluster with settings fit for tests (no fsync,
/// no synchronous commit, no full-page writes: the data is thrown away), reachable from
/// the host with the password `postgres`.
const ENTRYPOINT: &str = r#"#!/bin/sh
# stockdb's test server: a fresh PostgreSQL 15 cluster on every start, tuned for tests.
set -eu
BIN=/usr/lib/postgresql/15/bin
DATA=/var/lib/postgresql/stockdb-test
mkdir -p "$DATA" /run/postgresql
chown postgres:postgres "$DATA" /run/postgresql
echo postgres > /tmp/pwfile
chown postgres /tmp/pwfile
su postgres -s /bin/sh -c "$BIN/initdb -D $DATA -U postgres --pwfile=/tmp/pwfile \
    --auth=scram-sha-256 -E UTF8 --locale=C --no-instructions" > /dev/null
rm /tmp/pwfile
echo "host all all 0.0.0.0/0 scram-sha-256" >> "$DATA/pg_hba.conf"
exec su postgres -s /bin/sh -c "exec $BIN/postgres -D $DATA -c listen_addresses='*' \
    -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
"#;

/// Where the entry point lives in the image.
const ENTRYPOINT_PATH: &str = "usr/local/bin/stockdb-test-postgres";

/// `cargo xtask test-image` options.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TestImageArgs {
    /// Build it again even when the image exists.
    #[arg(long)]
    rebuild: bool,
}

/// Builds the test image unless it exists (or `--rebuild`).
pub(crate) fn run(args: &TestImageArgs) -> anyhow::Result<()> {
    let image = test_support::test_image();
    check_docker()?;
    if !args.rebuild && image_exists(&image) {
        println!("test image {image} exists (--rebuild to build it again)");
        return Ok(());
    }
    build(&image)
}

/// Builds the test image unless it exists.
pub(crate) fn run_default() -> anyhow::Result<()> {
    run(&TestImageArgs { rebuild: false })
}

/// Fails with what to do when Docker is missing or its daemon is down.
pub(crate) fn check_docker() -> anyhow::Result<()> {
    let client = Command::new("docker")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    anyhow::ensure!(
        client.is_ok_and(|s| s.success()),
        "Docker is not installed: install Debian's Docker engine package (`apt install \
         docker.io`), or point the tests at a server with TEST_DATABASE_URL"
    );
    let daemon = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    anyhow::ensure!(
        daemon.is_ok_and(|s| s.success()),
        "the Docker daemon is not running: start it (as root: `dockerd > /var/log/dockerd.log \
         2>&1 &`, or `systemctl start docker`), then try again"
    );
    Ok(())
}

fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn build(image: &str) -> anyhow::Result<()> {
    let debootstrap = Command::new("debootstrap")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    anyhow::ensure!(
        debootstrap.is_ok_and(|s| s.success()),
        "debootstrap is not installed: `apt install debootstrap`"
    );
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .context("running id")?;
    anyhow::ensure!(
        String::from_utf8_lossy(&uid.stdout).trim() == "0",
        "building the test image needs root (debootstrap makes a root file system)"
    );
    let mirror = debian_mirror();
    let root = std::env::temp_dir().join(format!("stockdb-test-image-{}", std::process::id()));
    println!(
        "building {image}: debootstrap bookworm from {mirror} into {}",
        root.display()
    );
    let built = (|| -> anyhow::Result<()> {
        let status = Command::new("debootstrap")
            .args(["--variant=minbase", "--include=postgresql-15", "bookworm"])
            .arg(&root)
            .arg(&mirror)
            .stdout(Stdio::null())
            .status()
            .context("running debootstrap")?;
        anyhow::ensure!(status.success(), "debootstrap failed ({status})");
        write_entrypoint(&root)?;
        import(&root, image)
    })();
    let removed = std::fs::remove_dir_all(&root);
    built?;
    removed.with_context(|| format!("removing {}", root.display()))?;
    println!("built test image {image}");
    Ok(())
}

fn write_entrypoint(root: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = root.join(ENTRYPOINT_PATH);
    std::fs::write(&path, ENTRYPOINT).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

/// `tar -C root -c . | docker import … - image`.
fn import(root: &Path, image: &str) -> anyhow::Result<()> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("running tar")?;
    let tar_out = tar.stdout.take().context("tar's output")?;
    let status = Command::new("docker")
        .args([
            "import",
            "--change",
            &format!(r#"CMD ["/{ENTRYPOINT_PATH}"]"#),
            "--change",
            "EXPOSE 5432",
            "-",
            image,
        ])
        .stdin(tar_out)
        .stdout(Stdio::null())
        .status()
        .context("running docker import")?;
    let tarred = tar.wait().context("waiting for tar")?;
    anyhow::ensure!(tarred.success(), "tar failed ({tarred})");
    anyhow::ensure!(status.success(), "docker import failed ({status})");
    Ok(())
}

/// The Debian mirror the machine's apt sources use (`deb.debian.org` when none is found).
fn debian_mirror() -> String {
    let mut texts: Vec<String> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "sources"))
                .filter_map(|path: PathBuf| std::fs::read_to_string(path).ok())
                .collect()
        })
        .unwrap_or_default();
    texts.extend(std::fs::read_to_string("/etc/apt/sources.list").ok());
    texts
        .iter()
        .flat_map(|text| text.lines())
        .find_map(|line| {
            let line = line.trim();
            let uri = line.strip_prefix("URIs:").or_else(|| {
                line.strip_prefix("deb ")
                    .and_then(|rest| rest.split_whitespace().find(|w| w.starts_with("http")))
            })?;
            let uri = uri.split_whitespace().next()?;
            (uri.ends_with("/debian") || uri.ends_with("/debian/")).then(|| uri.to_owned())
        })
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}
