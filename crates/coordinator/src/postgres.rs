//! `PgResearchSessionRepository`: research traces on PostgreSQL.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::extension::postgres::PgBinOper;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, ConnectionTrait as _, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde_json::Value;
use shared_db::{
    Db, InvalidInput, Page, RepoError, check_not_negative, redact_params, redact_text,
};
use uuid::Uuid;

use crate::domain::{NodeExecution, ResearchSession, SessionFilter, SessionStatus};
use crate::entity::{node_executions as nodes, research_sessions as sessions};
use crate::repository::ResearchSessionRepository;

/// Research sessions and node executions on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgResearchSessionRepository {
    db: Db,
}

impl PgResearchSessionRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn session_from(m: sessions::Model) -> Result<ResearchSession, InvalidInput> {
    let selected_experts = match m.selected_experts {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .map(|item| match item {
                    Value::String(name) => Ok(name),
                    other => Err(InvalidInput::new(
                        "selected_experts",
                        other,
                        "a stored expert is not a name",
                    )),
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(other) => {
            return Err(InvalidInput::new(
                "selected_experts",
                other,
                "stored value is not a list of names",
            ));
        }
    };
    Ok(ResearchSession {
        id: m.id,
        symbol: m.symbol,
        status: m.status.parse()?,
        selected_experts,
        options: m.options,
        trigger_source: m.trigger_source,
        created_at: m.created_at,
        completed_at: m.completed_at,
        duration_ms: m.duration_ms,
        retry_count: m.retry_count,
        parent_session_id: m.parent_session_id,
    })
}

fn session_active(s: &ResearchSession) -> sessions::ActiveModel {
    sessions::ActiveModel {
        id: Set(s.id),
        symbol: Set(s.symbol.clone()),
        status: Set(s.status.as_str().to_owned()),
        selected_experts: Set(s.selected_experts.clone().map(Value::from)),
        options: Set(s.options.clone()),
        trigger_source: Set(s.trigger_source.clone()),
        created_at: Set(s.created_at),
        completed_at: Set(s.completed_at),
        duration_ms: Set(s.duration_ms),
        retry_count: Set(s.retry_count),
        parent_session_id: Set(s.parent_session_id),
    }
}

fn node_from(m: nodes::Model) -> Result<NodeExecution, InvalidInput> {
    Ok(NodeExecution {
        id: m.id,
        session_id: m.session_id,
        node_type: m.node_type,
        status: m.status.parse()?,
        // Redacted on the way out too: rows another writer stored were never redacted.
        result_data: m.result_data.as_ref().map(redact_params),
        narrative_report: m.narrative_report.as_deref().map(redact_text),
        error_type: m.error_type,
        error_message: m.error_message.as_deref().map(redact_text),
        started_at: m.started_at,
        completed_at: m.completed_at,
        duration_ms: m.duration_ms,
    })
}

fn node_active(n: &NodeExecution) -> nodes::ActiveModel {
    nodes::ActiveModel {
        id: Set(n.id),
        session_id: Set(n.session_id),
        node_type: Set(n.node_type.clone()),
        status: Set(n.status.as_str().to_owned()),
        // A node's result, report and error may quote a key it was given or refused.
        result_data: Set(n.result_data.as_ref().map(redact_params)),
        narrative_report: Set(n.narrative_report.as_deref().map(redact_text)),
        error_type: Set(n.error_type.clone()),
        error_message: Set(n.error_message.as_deref().map(redact_text)),
        started_at: Set(n.started_at),
        completed_at: Set(n.completed_at),
        duration_ms: Set(n.duration_ms),
    }
}

#[async_trait]
impl ResearchSessionRepository for PgResearchSessionRepository {
    async fn save_session(&self, session: &ResearchSession) -> Result<(), RepoError> {
        session.validate()?;
        let inserted = sessions::Entity::insert(session_active(session))
            .exec_without_returning(self.db.conn())
            .await;
        match inserted.map_err(RepoError::from) {
            Ok(_) => Ok(()),
            // The foreign key names the missing parent.
            Err(RepoError::NotFound { .. }) => Err(RepoError::NotFound {
                entity: "research session (the parent of a retry)",
                key: session
                    .parent_session_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
            }),
            Err(err) => Err(err),
        }
    }

    async fn list_retries(&self, parent: Uuid) -> Result<Vec<ResearchSession>, RepoError> {
        self.db
            .read(|conn| async move {
                Ok(sessions::Entity::find()
                    .filter(sessions::Column::ParentSessionId.eq(parent))
                    .order_by_asc(sessions::Column::CreatedAt)
                    .order_by_asc(sessions::Column::Id)
                    .all(&conn)
                    .await?)
            })
            .await?
            .into_iter()
            .map(|m| Ok(session_from(m)?))
            .collect()
    }

    async fn update_session(
        &self,
        id: Uuid,
        status: SessionStatus,
        completed_at: Option<NaiveDateTime>,
        duration_ms: Option<i32>,
    ) -> Result<ResearchSession, RepoError> {
        if !status.is_finished() {
            return Err(InvalidInput::new(
                "status",
                status,
                "a session can only be finished: completed, partial or failed",
            )
            .into());
        }
        check_not_negative("duration_ms", duration_ms)?;
        let updated = sessions::Entity::update_many()
            .col_expr(sessions::Column::Status, Expr::value(status.as_str()))
            .col_expr(sessions::Column::CompletedAt, Expr::value(completed_at))
            .col_expr(sessions::Column::DurationMs, Expr::value(duration_ms))
            .filter(sessions::Column::Id.eq(id))
            .filter(sessions::Column::Status.eq(SessionStatus::Running.as_str()))
            .exec_with_returning(self.db.conn())
            .await?;
        match updated.into_iter().next() {
            Some(model) => Ok(session_from(model)?),
            // On the primary: a replica may not have seen the session yet, or its finish.
            None => match sessions::Entity::find_by_id(id)
                .one(self.db.conn())
                .await?
                .map(session_from)
                .transpose()?
            {
                Some(stored) => Err(RepoError::StateConflict {
                    entity: "research session",
                    key: id.to_string(),
                    state: stored.status.to_string(),
                    wanted: status.to_string(),
                }),
                None => Err(RepoError::NotFound {
                    entity: "research session",
                    key: id.to_string(),
                }),
            },
        }
    }

    async fn save_node_execution(&self, execution: &NodeExecution) -> Result<(), RepoError> {
        execution.validate()?;
        let inserted = nodes::Entity::insert(node_active(execution))
            .exec_without_returning(self.db.conn())
            .await;
        match inserted.map_err(RepoError::from) {
            Ok(_) => Ok(()),
            // The foreign key names the missing session.
            Err(RepoError::NotFound { .. }) => Err(RepoError::NotFound {
                entity: "research session",
                key: execution.session_id.to_string(),
            }),
            Err(err) => Err(err),
        }
    }

    async fn get_session_by_id(&self, id: Uuid) -> Result<Option<ResearchSession>, RepoError> {
        Ok(self
            .db
            .read(|conn| async move { Ok(sessions::Entity::find_by_id(id).one(&conn).await?) })
            .await?
            .map(session_from)
            .transpose()?)
    }

    async fn list_sessions(
        &self,
        filter: &SessionFilter,
        page: Page,
    ) -> Result<Vec<ResearchSession>, RepoError> {
        let mut query = sessions::Entity::find();
        if let Some(symbol) = &filter.symbol {
            query = query.filter(sessions::Column::Symbol.eq(symbol.as_str()));
        }
        if let Some(after) = filter.created_after {
            query = query.filter(sessions::Column::CreatedAt.gte(after));
        }
        if let Some(before) = filter.created_before {
            query = query.filter(sessions::Column::CreatedAt.lte(before));
        }
        if filter.first_runs_only {
            query = query.filter(sessions::Column::ParentSessionId.is_null());
        }
        if let Some(expert) = &filter.expert {
            // `@>` on jsonb is what the GIN (jsonb_path_ops) index serves.
            query = query.filter(Expr::col(sessions::Column::SelectedExperts).binary(
                PgBinOper::Contains,
                Expr::val(Value::from(vec![expert.as_str()])),
            ));
        }
        let query = &query
            .order_by_desc(sessions::Column::CreatedAt)
            .order_by_desc(sessions::Column::Id)
            .offset(page.skip())
            .limit(page.limit());
        self.db
            .read(|conn| async move { Ok(query.clone().all(&conn).await?) })
            .await?
            .into_iter()
            .map(|m| Ok(session_from(m)?))
            .collect()
    }

    async fn get_node_executions_by_session(
        &self,
        id: Uuid,
    ) -> Result<Vec<NodeExecution>, RepoError> {
        self.db
            .read(|conn| async move {
                Ok(nodes::Entity::find()
                    .filter(nodes::Column::SessionId.eq(id))
                    .order_by_asc(nodes::Column::StartedAt)
                    .order_by_asc(nodes::Column::Id)
                    .all(&conn)
                    .await?)
            })
            .await?
            .into_iter()
            .map(|m| Ok(node_from(m)?))
            .collect()
    }

    async fn stored_session_ids(&self, ids: &[Uuid]) -> Result<HashSet<Uuid>, RepoError> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        // One array parameter, not one bind per id: any number of ids in one statement.
        let ids = ids.to_vec();
        let ids = &ids;
        self.db
            .read(|conn| async move {
                let rows = conn
                    .query_all_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        "SELECT id FROM research_sessions WHERE id = ANY($1)",
                        [ids.clone().into()],
                    ))
                    .await?;
                rows.iter()
                    .map(|row| Ok(row.try_get_by_index::<Uuid>(0)?))
                    .collect()
            })
            .await
    }

    async fn delete_session(&self, id: Uuid) -> Result<bool, RepoError> {
        let deleted = sessions::Entity::delete_many()
            .filter(sessions::Column::Id.eq(id))
            .exec(self.db.conn())
            .await;
        match deleted.map_err(RepoError::from) {
            Ok(result) => Ok(result.rows_affected > 0),
            // Retries point at it (their foreign key has no cascade): keep them all.
            Err(RepoError::Conflict { .. }) => Err(RepoError::Conflict {
                entity: "research_sessions".to_owned(),
                key: format!("session {id} has retries; delete them first"),
            }),
            Err(err) => Err(err),
        }
    }
}
