//! The audit context on PostgreSQL: the call logs (`logs`), prices and costs (`prices`),
//! and the logs' monthly partitions and retention (`retention`). Long statements live in
//! `.sql` files beside the code that runs them.

mod budgets;
mod logs;
mod partitions;
mod prices;
mod retention;
mod rollup;
mod split;

pub use budgets::PgBudgetRepository;
pub use logs::{PgExternalApiCallLogRepository, PgLlmCallLogRepository};
pub use prices::PgModelPriceRepository;
pub use retention::PgRetentionRepository;
