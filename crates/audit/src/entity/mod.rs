//! SeaORM entities of this context, one file per table (crate-private: they never
//! appear in a public signature).

#![allow(
    unreachable_pub,
    reason = "the entity macros generate pub items; the module itself is crate-private"
)]

pub(crate) mod external_api_call_logs;
pub(crate) mod llm_call_logs;
pub(crate) mod llm_model_prices;
