//! Tests of the `stockdb` crate against PostgreSQL: the `Stockdb` wiring.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod stockdb;
mod trace;
mod unit_of_work;
