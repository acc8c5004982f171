//! SeaORM entity for `llm_call_logs` (schema v3).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "llm_call_logs")]
pub struct Model {
    /// 记录唯一标识
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// 关联 session（无上下文时为 null）
    pub session_id: Option<Uuid>,
    /// 调用方模块名
    pub caller_module: String,
    /// 调用方 Agent 标识
    pub caller_agent: Option<String>,
    /// 模型名称
    pub model_name: String,
    /// 供应商
    pub vendor: String,
    /// 完整 user prompt
    #[sea_orm(column_type = "Text")]
    pub prompt_text: String,
    /// system prompt
    #[sea_orm(column_type = "Text")]
    pub system_message: Option<String>,
    /// LLM 完整输出
    #[sea_orm(column_type = "Text")]
    pub completion_text: Option<String>,
    /// prompt token 数
    pub prompt_tokens: Option<i32>,
    /// completion token 数
    pub completion_tokens: Option<i32>,
    /// 总 token 数
    pub total_tokens: Option<i32>,
    /// 命中缓存的 prompt token 数（包含在 prompt_tokens 内; schema v10）
    pub cached_prompt_tokens: Option<i32>,
    /// 推理 token 数（包含在 completion_tokens 内; schema v10）
    pub reasoning_tokens: Option<i32>,
    /// 服务本次调用的 LLM 配置别名（schema v10）
    pub config_alias: Option<String>,
    /// 温度参数
    pub temperature: f64,
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
