//! What every stockdb context shares: the connection pool ([`Db`], [`DbConfig`]),
//! transactions, the [`RepoError`] type, pagination and UTC time helpers.
//!
//! Context crates (`data-engineering`, `llm-platform`, `coordinator`, `audit`) depend on
//! this crate and on nothing else of the workspace.

mod config;
mod db;
mod error;
mod page;
mod time;

pub use config::{DbConfig, redact_url};
pub use db::Db;
pub use error::{BoxError, InvalidInput, RepoError};
pub use page::Page;
pub use time::{utc_now, utc_now_tz};
