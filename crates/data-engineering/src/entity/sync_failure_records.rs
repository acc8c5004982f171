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
