//! Generated database passwords, in the URL's user info, query and fragment, percent-
//! encoded or not: no output of `db url`, of `db health --json` (a refused primary and
//! a refused replica: `problems`, `primary.error`, the replica's line), nor the logs on
//! stderr, contains one. A fixed seed and 1,000 cases, so CI runs the same cases.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::stockdb;

/// A password as a URL may carry it: as written, or percent-encoded.
fn encoded(password: &str, encode: bool) -> String {
    if !encode {
        return password.to_owned();
    }
    password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A URL of a server that refuses connections (port 1 of this machine) carrying
/// `shown` in the place `place` picks.
fn url_with(shown: &str, place: u8) -> String {
    match place % 4 {
        0 => format!("postgres://app:{shown}@127.0.0.1:1/stock?connect_timeout=2"),
        1 => format!("postgres://app@127.0.0.1:1/stock?sslmode=disable&password={shown}"),
        2 => format!("postgres://app@127.0.0.1:1/stock?sslpassword={shown}&application_name=x"),
        _ => format!("postgres://app:{shown}@127.0.0.1:1/stock#{shown}"),
    }
}

#[test]
fn generated_passwords_never_reach_the_output_of_db_url_or_health() {
    let seed = *b"stockdb cli password properties!";
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 1_000,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    // Printable ASCII but spaces, at least 8 characters: it cannot be part of the rest of
    // the output by chance.
    runner
        .run(
            &("[!-~]{8,24}", any::<bool>(), any::<u8>(), any::<u8>()),
            |(password, encode, place, replica_place)| {
                let shown = encoded(&password, encode);
                let url = url_with(&shown, place);
                let replica = url_with(&shown, replica_place);
                let url_out = stockdb(&url).args(["db", "url"]).output().unwrap();
                let health = stockdb(&url)
                    .env("STOCKDB_DB_REPLICA_URLS", &replica)
                    .env("STOCKDB_DB_CONNECT_TIMEOUT_MS", "2000")
                    .args(["db", "health", "--json"])
                    .output()
                    .unwrap();
                prop_assert_eq!(health.status.code(), Some(1), "the primary refuses");
                for (what, bytes) in [
                    ("db url stdout", &url_out.stdout),
                    ("db url stderr", &url_out.stderr),
                    ("db health stdout", &health.stdout),
                    ("db health stderr", &health.stderr),
                ] {
                    let text = String::from_utf8_lossy(bytes);
                    prop_assert!(
                        !text.contains(&password) && !text.contains(&shown),
                        "{what} shows {password:?} (URL {url:?}): {text}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}
