//! Research traces: a research session per stock (`research_sessions`) and the
//! execution of each node of its workflow (`node_executions`).

#[allow(
    dead_code,
    reason = "the repositories that use the entities are being written"
)]
mod entity;
