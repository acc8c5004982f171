//! Tests of the app crate against PostgreSQL: the `Stockdb` wiring and the `stockdb` CLI.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod cli;
mod faults;
mod stockdb;
