//! Research traces: `ResearchSession`, its `NodeExecution`s and their statuses.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared_db::{
    InvalidInput, check_json, check_len, check_not_empty, check_not_negative, check_text,
};
use uuid::Uuid;

shared_db::string_enum! {
    /// Where a research session stands, stored lower-case.
    pub enum SessionStatus, field "status" {
        /// Nodes are still running.
        Running = "running",
        /// Every node succeeded.
        Completed = "completed",
        /// Finished with some nodes failed or skipped.
        Partial = "partial",
        /// Finished without a usable result.
        Failed = "failed",
    }
}

shared_db::string_enum! {
    /// How one node of a session's workflow ended, stored lower-case.
    pub enum NodeStatus, field "status" {
        /// It produced its result.
        Success = "success",
        /// It raised an error.
        Failed = "failed",
        /// It did not run.
        Skipped = "skipped",
    }
}

impl SessionStatus {
    /// True once the session has finished.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Running)
    }
}

/// One research run on one stock (`research_sessions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResearchSession {
    /// 会话唯一标识, chosen by the application.
    pub id: Uuid,
    /// 股票代码 (at most 20 characters).
    pub symbol: String,
    /// 状态.
    pub status: SessionStatus,
    /// 选中的专家列表, stored as a JSON array.
    pub selected_experts: Option<Vec<String>>,
    /// 执行选项: a JSON object.
    pub options: Option<Value>,
    /// 触发来源 (`api`, `scheduler`; at most 50 characters).
    pub trigger_source: Option<String>,
    /// 创建时间 (UTC).
    pub created_at: NaiveDateTime,
    /// 完成时间 (UTC).
    pub completed_at: Option<NaiveDateTime>,
    /// 总耗时（毫秒）.
    pub duration_ms: Option<i32>,
    /// 重试计数: 0 for a first run, one more than its parent's for a retry.
    #[serde(default)]
    pub retry_count: i32,
    /// 父会话标识: the session this one retries, if it is a retry.
    #[serde(default)]
    pub parent_session_id: Option<Uuid>,
}

impl ResearchSession {
    /// A `running` session on `symbol` with a new id, created `now`.
    pub fn start(symbol: impl Into<String>, now: NaiveDateTime) -> Self {
        Self {
            id: Uuid::new_v4(),
            symbol: symbol.into(),
            status: SessionStatus::Running,
            selected_experts: None,
            options: None,
            trigger_source: None,
            created_at: now,
            completed_at: None,
            duration_ms: None,
            retry_count: 0,
            parent_session_id: None,
        }
    }

    /// A `running` retry of `parent` (same symbol, experts and options) with a new id,
    /// created `now`: it points at `parent` and counts one more retry than it.
    pub fn retry_of(parent: &ResearchSession, now: NaiveDateTime) -> Self {
        Self {
            selected_experts: parent.selected_experts.clone(),
            options: parent.options.clone(),
            trigger_source: parent.trigger_source.clone(),
            retry_count: parent.retry_count.saturating_add(1),
            parent_session_id: Some(parent.id),
            ..Self::start(parent.symbol.clone(), now)
        }
    }

    /// Checks lengths, that `options` is a JSON object and that durations are not negative.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("symbol", &self.symbol)?;
        check_len("symbol", Some(&self.symbol), 20)?;
        check_len("trigger_source", self.trigger_source.as_deref(), 50)?;
        check_object("options", self.options.as_ref())?;
        check_json("options", self.options.as_ref())?;
        for expert in self.selected_experts.iter().flatten() {
            check_text("selected_experts", Some(expert))?;
        }
        check_not_negative("duration_ms", self.duration_ms)?;
        check_not_negative("retry_count", Some(self.retry_count))?;
        if self.parent_session_id == Some(self.id) {
            return Err(InvalidInput::new(
                "parent_session_id",
                self.id,
                "a session cannot be a retry of itself",
            ));
        }
        check_completion(self.created_at, self.completed_at)
    }
}

/// The execution of one node of a session's workflow (`node_executions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeExecution {
    /// 记录唯一标识, chosen by the application.
    pub id: Uuid,
    /// The session it belongs to; deleting the session deletes it.
    pub session_id: Uuid,
    /// 节点类型 (at most 50 characters).
    pub node_type: String,
    /// 状态.
    pub status: NodeStatus,
    /// 结构化业务结果: a JSON object.
    pub result_data: Option<Value>,
    /// 文字报告.
    pub narrative_report: Option<String>,
    /// 异常类名 (at most 100 characters).
    pub error_type: Option<String>,
    /// 错误详情.
    pub error_message: Option<String>,
    /// 开始时间 (UTC).
    pub started_at: NaiveDateTime,
    /// 结束时间 (UTC).
    pub completed_at: Option<NaiveDateTime>,
    /// 节点耗时（毫秒）.
    pub duration_ms: Option<i32>,
}

impl NodeExecution {
    /// A node of `session_id` that started `started_at`, with a new id and no result yet.
    pub fn new(
        session_id: Uuid,
        node_type: impl Into<String>,
        status: NodeStatus,
        started_at: NaiveDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            session_id,
            node_type: node_type.into(),
            status,
            result_data: None,
            narrative_report: None,
            error_type: None,
            error_message: None,
            started_at,
            completed_at: None,
            duration_ms: None,
        }
    }

    /// Checks lengths, that `result_data` is a JSON object and that durations are not
    /// negative.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("node_type", &self.node_type)?;
        check_len("node_type", Some(&self.node_type), 50)?;
        check_len("error_type", self.error_type.as_deref(), 100)?;
        check_object("result_data", self.result_data.as_ref())?;
        check_json("result_data", self.result_data.as_ref())?;
        check_text("narrative_report", self.narrative_report.as_deref())?;
        check_text("error_message", self.error_message.as_deref())?;
        check_not_negative("duration_ms", self.duration_ms)?;
        check_completion(self.started_at, self.completed_at)
    }
}

/// Filters of `list_sessions`; every bound is inclusive and `None` means no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only sessions on this symbol.
    pub symbol: Option<String>,
    /// Only sessions created at or after this time (UTC).
    pub created_after: Option<NaiveDateTime>,
    /// Only sessions created at or before this time (UTC).
    pub created_before: Option<NaiveDateTime>,
    /// Only first runs, not retries (list a session's retries with
    /// `ResearchSessionRepository::list_retries`).
    pub first_runs_only: bool,
    /// Only sessions in which this expert took part (one of their `selected_experts`,
    /// compared exactly). Served by a GIN index from schema version 5 on.
    pub expert: Option<String>,
}

fn check_object(field: &'static str, value: Option<&Value>) -> Result<(), InvalidInput> {
    match value {
        Some(value) if !value.is_object() => {
            Err(InvalidInput::new(field, value, "must be a JSON object"))
        }
        _ => Ok(()),
    }
}

fn check_completion(
    started: NaiveDateTime,
    completed: Option<NaiveDateTime>,
) -> Result<(), InvalidInput> {
    match completed {
        Some(done) if done < started => Err(InvalidInput::new(
            "completed_at",
            done,
            format!("before the start ({started})"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for status in SessionStatus::ALL {
            assert_eq!(status.as_str().parse::<SessionStatus>().unwrap(), *status);
        }
        for status in NodeStatus::ALL {
            assert_eq!(status.as_str().parse::<NodeStatus>().unwrap(), *status);
        }
        assert_eq!("done".parse::<SessionStatus>().unwrap_err().field, "status");
    }

    #[test]
    fn options_must_be_an_object() {
        let mut session = ResearchSession::start("000001.SZ", shared_db::utc_now());
        session.options = Some(serde_json::json!(["not", "an", "object"]));
        assert_eq!(session.validate().unwrap_err().field, "options");
        session.options = Some(serde_json::json!({"depth": 2}));
        assert!(session.validate().is_ok());
    }
}
