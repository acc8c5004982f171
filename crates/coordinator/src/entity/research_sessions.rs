//! SeaORM entity for `research_sessions` (schema v4: v3 and the retry columns).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "research_sessions")]
pub struct Model {
    /// 会话唯一标识
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// 股票代码
    pub symbol: String,
    /// running / completed / partial / failed
    pub status: String,
    /// 选中的专家列表
    #[sea_orm(column_type = "JsonBinary")]
    pub selected_experts: Option<Json>,
    /// 执行选项
    #[sea_orm(column_type = "JsonBinary")]
    pub options: Option<Json>,
    /// 触发来源（api / scheduler）
    pub trigger_source: Option<String>,
    /// 创建时间
    pub created_at: DateTime,
    /// 完成时间
    pub completed_at: Option<DateTime>,
    /// 总耗时（毫秒）
    pub duration_ms: Option<i32>,
    /// 重试计数，首次执行为 0
    pub retry_count: i32,
    /// 父会话标识，重试时指向源 session
    pub parent_session_id: Option<Uuid>,
    #[sea_orm(has_many)]
    pub node_executions: HasMany<super::node_executions::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
