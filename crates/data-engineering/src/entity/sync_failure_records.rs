//! SeaORM entity for `sync_failure_records` (schema v2).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_failure_records")]
pub struct Model {
    /// 失败记录 ID
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// 任务类型（DAILY_HISTORY/FINANCE_HISTORY/DAILY_INCREMENTAL/FINANCE_INCREMENTAL）
    pub job_type: String,
    /// 失败的股票代码（Tushare ts_code 格式）
    pub third_code: String,
    /// 错误信息
    pub error_message: Option<String>,
    /// 当前重试次数
    pub retry_count: i32,
    /// 最大重试次数
    pub max_retries: i32,
    /// 最后一次尝试时间
    pub last_attempt_at: Option<DateTime>,
    /// 解决时间（重试成功或人工标记）
    pub resolved_at: Option<DateTime>,
}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for crate::domain::SyncFailureRecord {
    type Error = shared_db::InvalidInput;

    fn try_from(m: Model) -> Result<Self, Self::Error> {
        Ok(Self {
            id: m.id,
            job_type: m.job_type.parse()?,
            third_code: m.third_code,
            error_message: m.error_message,
            retry_count: m.retry_count,
            max_retries: m.max_retries,
            last_attempt_at: m.last_attempt_at,
            resolved_at: m.resolved_at,
        })
    }
}

impl From<&crate::domain::SyncFailureRecord> for ActiveModel {
    fn from(f: &crate::domain::SyncFailureRecord) -> Self {
        use sea_orm::ActiveValue::Set;
        Self {
            id: Set(f.id),
            job_type: Set(f.job_type.as_str().to_owned()),
            third_code: Set(f.third_code.clone()),
            error_message: Set(f.stored_error()),
            retry_count: Set(f.retry_count),
            max_retries: Set(f.max_retries),
            last_attempt_at: Set(f.last_attempt_at),
            resolved_at: Set(f.resolved_at),
        }
    }
}
