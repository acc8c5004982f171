//! The composition root: connects once and hands out every repository of stockdb.

pub use shared_db::{Db, DbConfig, RepoError};
