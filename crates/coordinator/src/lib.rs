//! Research traces: a research session per stock (`research_sessions`) and the
//! execution of each node of its workflow (`node_executions`, deleted with their session).

mod domain;
mod entity;
mod postgres;
mod repository;

pub use domain::{NodeExecution, NodeStatus, ResearchSession, SessionFilter, SessionStatus};
pub use postgres::PgResearchSessionRepository;
pub use repository::ResearchSessionRepository;
