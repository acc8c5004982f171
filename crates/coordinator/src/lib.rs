//! Research traces: a research session per stock (`research_sessions`), the execution of
//! each node of its workflow (`node_executions`, deleted with their session), and scores
//! on sessions, nodes and calls (`scores`).

mod domain;
mod entity;
mod postgres;
mod repository;
mod scores;

pub use domain::{NodeExecution, NodeStatus, ResearchSession, SessionFilter, SessionStatus};
pub use postgres::PgResearchSessionRepository;
pub use repository::ResearchSessionRepository;
pub use scores::{
    PgScoreRepository, Score, ScoreRepository, ScoreSource, ScoreSummary, ScoreTarget, ScoreValue,
};
