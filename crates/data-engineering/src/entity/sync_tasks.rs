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

impl TryFrom<Model> for crate::domain::SyncTask {
    type Error = shared_db::InvalidInput;

    fn try_from(m: Model) -> Result<Self, Self::Error> {
        Ok(Self {
            id: m.id,
            job_type: m.job_type.parse()?,
            status: m.status.parse()?,
            current_offset: m.current_offset,
            batch_size: m.batch_size,
            total_processed: m.total_processed,
            started_at: m.started_at,
            updated_at: m.updated_at,
            completed_at: m.completed_at,
            config: m.config,
        })
    }
}

impl From<&crate::domain::SyncTask> for ActiveModel {
    fn from(task: &crate::domain::SyncTask) -> Self {
        use sea_orm::ActiveValue::Set;
        Self {
            id: Set(task.id),
            job_type: Set(task.job_type.as_str().to_owned()),
            status: Set(task.status.as_str().to_owned()),
            current_offset: Set(task.current_offset),
            batch_size: Set(task.batch_size),
            total_processed: Set(task.total_processed),
            started_at: Set(task.started_at),
            updated_at: Set(task.updated_at),
            completed_at: Set(task.completed_at),
            config: Set(task.config.clone()),
        }
    }
}
