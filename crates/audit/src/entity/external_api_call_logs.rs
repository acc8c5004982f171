//! SeaORM entity for `external_api_call_logs` (schema v3).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "external_api_call_logs")]
pub struct Model {
    /// 记录唯一标识
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// 关联 session
    pub session_id: Option<Uuid>,
    /// 服务名（bochai / tushare / ...）
    pub service_name: String,
    /// 操作（web-search / ...）
    pub operation: String,
    /// 请求参数
    #[sea_orm(column_type = "JsonBinary")]
    pub request_params: Option<Json>,
    /// 完整响应
    #[sea_orm(column_type = "Text")]
    pub response_data: Option<String>,
    /// HTTP 状态码
    pub status_code: Option<i32>,
    /// 调用耗时（毫秒）
    pub latency_ms: i32,
    /// success / failed
    pub status: String,
    /// 错误信息
    #[sea_orm(column_type = "Text")]
    pub error_message: Option<String>,
    /// 记录时间
    pub created_at: DateTime,
}

impl ActiveModelBehavior for ActiveModel {}
