//! Cross-context integration tests, one binary: each test gets its own database.
//!
//! Every test in this binary logs into one global TRACE subscriber (see [`logs`]), so the
//! secrets checks see what every scenario logged.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod bad_input;
mod citus;
mod concurrency;
mod faults;
mod legacy;
mod migrations;
mod online;
mod replicas;
mod secrets;
mod split;
mod two_years;
mod years;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything logged, at TRACE, by every test of this binary since the first call.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs the global capturing subscriber once and returns its buffer.
pub(crate) fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing::subscriber::set_global_default(
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
        )
        .expect("the only global subscriber");
        logs
    })
}
