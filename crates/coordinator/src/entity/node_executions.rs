//! SeaORM entity for `node_executions` (schema v3).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "node_executions")]
pub struct Model {
    /// 记录唯一标识
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// 关联 research_sessions
    pub session_id: Uuid,
    /// 节点类型
    pub node_type: String,
    /// success / failed / skipped
    pub status: String,
    /// 结构化业务结果
    #[sea_orm(column_type = "JsonBinary")]
    pub result_data: Option<Json>,
    /// 文字报告
    #[sea_orm(column_type = "Text")]
    pub narrative_report: Option<String>,
    /// 异常类名
    pub error_type: Option<String>,
    /// 错误详情
    #[sea_orm(column_type = "Text")]
    pub error_message: Option<String>,
    /// 开始时间
    pub started_at: DateTime,
    /// 结束时间
    pub completed_at: Option<DateTime>,
    /// 节点耗时（毫秒）
    pub duration_ms: Option<i32>,
    #[sea_orm(belongs_to, from = "session_id", to = "id", on_delete = "Cascade")]
    pub session: BelongsTo<super::research_sessions::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
