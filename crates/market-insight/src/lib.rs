//! The market-insight context: how each concept board did on a day (`mi_concept_heat`:
//! equal-weighted change, risers, fallers, limit-ups, turnover) and the day's limit-up
//! stocks with the boards they belong to (`mi_limit_up_stock`), in the tables and shapes
//! the earlier service's daily report writes, so each side reads what the other wrote.
//!
//! The computation ([`concept_heat`], [`scan_limit_ups`]) is pure: it takes the day's bars
//! and the boards' members as plain values, so this context names no other context's
//! table; `stockdb::Stockdb::compute_insight` feeds it from data-engineering. Services
//! hold [`MarketInsightRepository`]; [`PgMarketInsightRepository`] implements it on a
//! [`shared_db::Db`], whose clock stamps every write.

mod compute;
mod domain;
mod postgres;
mod repository;

pub use compute::{BoardMembers, DayBar, concept_heat, scan_limit_ups};
pub use domain::{ConceptHeat, ConceptRef, LimitType, LimitUpEntry};
pub use postgres::PgMarketInsightRepository;
pub use repository::MarketInsightRepository;
