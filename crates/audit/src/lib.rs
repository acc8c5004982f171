//! Audit logs: every LLM call (`llm_call_logs`) and every external data-API call
//! (`external_api_call_logs`), and statistics over them.

#[allow(
    dead_code,
    reason = "the repositories that use the entities are being written"
)]
mod entity;
