//! Cross-context integration tests, one binary: each test gets its own database.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod migrations;
