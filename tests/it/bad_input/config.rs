//! Bad connection configuration.

use super::*;

/// Connection settings from the environment.
#[tokio::test]
async fn database_configuration() {
    crate::logs();
    let mut cases = Cases::default();
    for (what, lookup, field) in [
        ("no DATABASE_URL", vec![], "DATABASE_URL"),
        (
            "mysql URL",
            vec![("DATABASE_URL", "mysql://root@localhost/x")],
            "url",
        ),
        (
            "max connections ten",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_MAX_CONNECTIONS", "ten"),
            ],
            "STOCKDB_DB_MAX_CONNECTIONS",
        ),
        (
            "max connections 0",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_MAX_CONNECTIONS", "0"),
            ],
            "STOCKDB_DB_MAX_CONNECTIONS",
        ),
        (
            "timeout -1",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_ACQUIRE_TIMEOUT_MS", "-1"),
            ],
            "STOCKDB_DB_ACQUIRE_TIMEOUT_MS",
        ),
        (
            "min over max",
            vec![
                ("DATABASE_URL", "postgres://x@y/z"),
                ("STOCKDB_DB_MIN_CONNECTIONS", "50"),
            ],
            "min_connections",
        ),
    ] {
        let result = DbConfig::from_lookup(|key| {
            lookup
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        });
        cases.check_input(format!("config {what}"), field, "", result);
    }

    cases.judge();
}
