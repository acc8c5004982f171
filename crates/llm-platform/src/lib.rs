//! LLM platform configuration (`llm_configs`): one row per model alias, with its
//! API key encrypted at rest and never shown in `Debug`, logs or errors.

#[allow(
    dead_code,
    reason = "the repositories that use the entities are being written"
)]
mod entity;
