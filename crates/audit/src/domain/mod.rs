//! The audit context's domain: call records and their statistics (`logs`), model prices and
//! costs (`prices`), and the retention of the partitioned logs (`retention`).

mod budgets;
mod logs;
mod prices;
mod retention;

pub use budgets::{Budget, BudgetPeriod, BudgetScope, BudgetSpend, BudgetState, NEAR_SHARE};
pub use logs::{
    ApiCallFilter, CallStats, CallStatus, ExternalApiCallLog, LlmCallFilter, LlmCallLog,
    PromptStorage, TimeWindow,
};
pub use prices::{CostBy, CostRow, CostScope, ModelPrice};
pub use retention::{
    MONTHS_AHEAD, MaintenanceReport, PartitionAction, PartitionStatus, PlannedPartition,
    RetentionPlan, RetentionPolicy, RollupReport, SessionCalls, SplitReport,
};
