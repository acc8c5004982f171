//! Who may reach the embedded cluster, and how its paths are written where they go: the
//! server's configuration (quoted), the socket (length-checked before `initdb`) and the
//! URL (percent-encoded).

use std::path::Path;

use super::EmbeddedError;

/// The socket file the server creates in its socket directory (port 5432).
const SOCKET_FILE: &str = ".s.PGSQL.5432";
/// The longest socket path the kernel takes (`sun_path` holds 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The name of the ident map that lets the stockdb account in.
const IDENT_MAP: &str = "stockdb";

/// Checks that `data_dir` can hold a cluster: UTF-8, no control characters, and short
/// enough that the socket path fits the kernel's limit. Errors say why and what to do.
pub(super) fn check_data_dir(data_dir: &Path, run_dir: &Path) -> Result<(), EmbeddedError> {
    let bad = |reason: String| EmbeddedError::BadPath {
        path: data_dir.to_owned(),
        reason,
    };
    let text = data_dir
        .to_str()
        .ok_or_else(|| bad("it is not UTF-8".to_owned()))?;
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(bad(format!("it contains the control character {c:?}")));
    }
    let socket = run_dir.join(SOCKET_FILE);
    let len = socket.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(bad(format!(
            "the server's socket would be {} ({len} bytes), longer than the {MAX_SOCKET_PATH} \
             bytes a Unix socket path may have; choose a shorter --data-dir",
            socket.display()
        )));
    }
    Ok(())
}

/// `value` as a quoted string of `postgresql.conf` (quotes doubled, backslashes escaped).
pub(super) fn conf_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// The settings stockdb adds to `postgresql.conf`: the socket in `run_dir` only, private
/// to its owner, and no TCP.
pub(super) fn server_settings(run_dir: &Path) -> String {
    format!(
        "\n# stockdb embedded cluster: a private Unix socket in its own directory, no TCP.\n\
         listen_addresses = ''\n\
         unix_socket_directories = {}\n\
         unix_socket_permissions = 0700\n\
         port = 5432\n",
        conf_string(&run_dir.display().to_string())
    )
}

/// `pg_hba.conf`: the socket only, by peer authentication through the ident map.
pub(super) fn hba_conf() -> String {
    format!(
        "# stockdb embedded cluster: only the account in pg_ident.conf's {IDENT_MAP} map, over\n\
         # the Unix socket, as the postgres role. Nothing else gets in.\n\
         local all postgres peer map={IDENT_MAP}\n"
    )
}

/// `pg_ident.conf`: `account` (the one that runs stockdb) may be the `postgres` role.
pub(super) fn ident_conf(account: &str) -> String {
    format!("# MAPNAME SYSTEM-USERNAME PG-USERNAME\n{IDENT_MAP} {account} postgres\n")
}

/// The URL of `database` over the socket in `run_dir`, with the path percent-encoded.
pub(super) fn socket_url(run_dir: &Path, database: &str) -> Result<String, EmbeddedError> {
    let mut url = url::Url::parse("postgres://postgres@localhost/").map_err(|err| {
        EmbeddedError::BadPath {
            path: run_dir.to_owned(),
            reason: err.to_string(),
        }
    })?;
    url.set_path(database);
    url.query_pairs_mut()
        .append_pair("host", &run_dir.display().to_string())
        .append_pair("port", "5432");
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn paths_are_quoted_for_the_config_and_encoded_for_the_url() {
        assert_eq!(conf_string("/tmp/it's#1\\x"), r"'/tmp/it''s#1\\x'");
        let url = socket_url(Path::new("/tmp/a b#c'd/run"), "stockdb").unwrap();
        assert_eq!(
            url,
            "postgres://postgres@localhost/stockdb?host=%2Ftmp%2Fa+b%23c%27d%2Frun&port=5432"
        );
        let parsed = url::Url::parse(&url).unwrap();
        let host = parsed.query_pairs().find(|(k, _)| k == "host").unwrap().1;
        assert_eq!(host, "/tmp/a b#c'd/run");
    }

    #[test]
    fn long_or_strange_paths_are_refused_before_anything_is_made() {
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(100)));
        let err = check_data_dir(&long, &long.join("run")).unwrap_err();
        assert!(err.to_string().contains("shorter --data-dir"), "{err}");
        let odd = PathBuf::from("/tmp/a\nb");
        assert!(check_data_dir(&odd, &odd.join("run")).is_err());
        let fine = PathBuf::from("/tmp/it's #1");
        assert!(check_data_dir(&fine, &fine.join("run")).is_ok());
    }

    #[test]
    fn only_peer_authentication_through_the_map() {
        let hba = hba_conf();
        let rules: Vec<&str> = hba
            .lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
            .collect();
        assert_eq!(rules, ["local all postgres peer map=stockdb"]);
        assert!(!hba.contains("trust"));
        assert!(ident_conf("alice").ends_with("stockdb alice postgres\n"));
    }
}
