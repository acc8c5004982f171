//! SeaORM entity for `sync_tasks` (schema v2).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_tasks")]
pub struct Model {
    /// 任务 ID
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// 任务类型（DAILY_HISTORY/FINANCE_HISTORY/DAILY_INCREMENTAL/FINANCE_INCREMENTAL）
    pub job_type: String,
    /// 任务状态（PENDING/RUNNING/COMPLETED/FAILED/PAUSED）
    pub status: String,
    /// 当前同步偏移量（用于分批处理）
    pub current_offset: i32,
    /// 每批处理的股票数量
    pub batch_size: i32,
    /// 已处理总条数
    pub total_processed: i32,
    /// 任务启动时间
    pub started_at: Option<DateTime>,
    /// 最后更新时间
    pub updated_at: Option<DateTime>,
    /// 任务完成时间
    pub completed_at: Option<DateTime>,
    /// 任务特定配置（start_date、end_date 等）
    #[sea_orm(column_type = "Json")]
    pub config: Option<Json>,
}

impl ActiveModelBehavior for ActiveModel {}
