//! Scores and feedback on research sessions, their nodes and their LLM calls (`scores`):
//! many per target, each a number or a category, from a human, a model or a rule, as
//! Langfuse keeps them; listed by target and summarised by name and agent over a window.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait as _, DatabaseBackend, Statement};
use serde::{Deserialize, Serialize};
use shared_db::{
    Db, InvalidInput, RepoError, check_finite, check_len, check_not_empty, check_text, redact_text,
};
use uuid::Uuid;

shared_db::string_enum! {
    /// What a score is about, stored as `session` / `node` / `call`.
    pub enum ScoreTarget, field "target_kind" {
        /// A research session.
        Session = "session",
        /// A node execution of a session.
        Node = "node",
        /// An LLM call (of the audit log).
        Call = "call",
    }
}

shared_db::string_enum! {
    /// Who gave a score, stored as `human` / `model` / `rule`.
    pub enum ScoreSource, field "source" {
        /// A person (an analyst's feedback).
        Human = "human",
        /// A model judging another's output.
        Model = "model",
        /// A rule evaluated in code.
        Rule = "rule",
    }
}

/// A score's value: a number, or one category of a set the name implies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScoreValue {
    /// A number (finite).
    Numeric(f64),
    /// A category (1 to 100 characters: `correct`, `hallucinated` …).
    Categorical(String),
}

/// One score of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Chosen by the application.
    pub id: Uuid,
    /// What it is about.
    pub target_kind: ScoreTarget,
    /// The session's, node's or call's id.
    pub target_id: Uuid,
    /// The session the target belongs to. For a session it is the target; for a node,
    /// `None` is filled in from the node when saved; for a call, the caller says.
    pub session_id: Option<Uuid>,
    /// The agent it judges, for summaries by agent (at most 50 characters). For a node,
    /// `None` is filled in with its `node_type` when saved; for a call, its
    /// `caller_agent`, which the caller says.
    pub agent: Option<String>,
    /// What is scored (`accuracy`, `user_feedback`; 1 to 100 characters).
    pub name: String,
    /// The value.
    pub value: ScoreValue,
    /// Why, in words; secrets in it are masked before storing.
    pub comment: Option<String>,
    /// Who gave it.
    pub source: ScoreSource,
    /// When it was given (UTC).
    pub created_at: NaiveDateTime,
}

impl Score {
    /// A score of `target_id` with a new id and no session, agent or comment.
    pub fn new(
        target_kind: ScoreTarget,
        target_id: Uuid,
        name: impl Into<String>,
        value: ScoreValue,
        source: ScoreSource,
        created_at: NaiveDateTime,
    ) -> Self {
        Self {
            id: Uuid::new_v4(),
            target_kind,
            target_id,
            session_id: (target_kind == ScoreTarget::Session).then_some(target_id),
            agent: None,
            name: name.into(),
            value,
            comment: None,
            source,
            created_at,
        }
    }

    /// Checks the name, agent, value and comment.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        check_not_empty("name", &self.name)?;
        check_len("name", Some(&self.name), 100)?;
        check_len("agent", self.agent.as_deref(), 50)?;
        check_text("comment", self.comment.as_deref())?;
        match &self.value {
            ScoreValue::Numeric(value) => check_finite("value", Some(*value)),
            ScoreValue::Categorical(category) => {
                check_not_empty("value", category)?;
                check_len("value", Some(category), 100)
            }
        }
    }
}

/// The scores of one name and agent within a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSummary {
    /// The score's name.
    pub name: String,
    /// The agent (`-` for scores without one).
    pub agent: String,
    /// Scores counted.
    pub scores: i64,
    /// Mean of the numeric ones (`None` when there are none).
    pub mean: Option<f64>,
    /// Least numeric value.
    pub min: Option<f64>,
    /// Greatest numeric value.
    pub max: Option<f64>,
    /// How many of each category.
    pub categories: BTreeMap<String, i64>,
}

/// Scores (`scores`).
#[async_trait]
pub trait ScoreRepository: Send + Sync {
    /// Stores one score (its comment masked). A node's session and agent are filled in
    /// from the node when not given; a node that does not exist is `NotFound`. An id
    /// already stored is `Conflict`.
    async fn save(&self, score: &Score) -> Result<(), RepoError>;

    /// The scores of one target, oldest first (then by id).
    async fn list_by_target(
        &self,
        kind: ScoreTarget,
        target_id: Uuid,
    ) -> Result<Vec<Score>, RepoError>;

    /// The scores of one session and of its nodes and calls, oldest first.
    async fn list_by_session(&self, session_id: Uuid) -> Result<Vec<Score>, RepoError>;

    /// Scores given within `[from, to)`, of one name or all, summarised per name and
    /// agent, ordered by name then agent; computed in SQL.
    async fn summarize(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        name: Option<&str>,
    ) -> Result<Vec<ScoreSummary>, RepoError>;
}

/// Scores on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgScoreRepository {
    db: Db,
}

impl PgScoreRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    async fn list(&self, condition: &str, id: Uuid) -> Result<Vec<Score>, RepoError> {
        let rows = self
            .db
            .read(|conn| async move {
                Ok(conn
                    .query_all_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Postgres,
                        format!(
                            "SELECT id, target_kind, target_id, session_id, agent, name, \
                                    value_numeric, value_text, comment, source, created_at \
                             FROM scores WHERE {condition} ORDER BY created_at, id"
                        ),
                        [id.into()],
                    ))
                    .await?)
            })
            .await?;
        rows.iter()
            .map(|row| {
                let numeric: Option<f64> = row.try_get_by_index(6)?;
                let text: Option<String> = row.try_get_by_index(7)?;
                Ok(Score {
                    id: row.try_get_by_index(0)?,
                    target_kind: row.try_get_by_index::<String>(1)?.parse()?,
                    target_id: row.try_get_by_index(2)?,
                    session_id: row.try_get_by_index(3)?,
                    agent: row.try_get_by_index(4)?,
                    name: row.try_get_by_index(5)?,
                    value: match numeric {
                        Some(value) => ScoreValue::Numeric(value),
                        None => ScoreValue::Categorical(text.unwrap_or_default()),
                    },
                    comment: row.try_get_by_index(8)?,
                    source: row.try_get_by_index::<String>(9)?.parse()?,
                    created_at: row.try_get_by_index(10)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl ScoreRepository for PgScoreRepository {
    async fn save(&self, score: &Score) -> Result<(), RepoError> {
        score.validate()?;
        let (numeric, text) = match &score.value {
            ScoreValue::Numeric(value) => (Some(*value), None),
            ScoreValue::Categorical(category) => (None, Some(category.clone())),
        };
        // A node's session and type are this context's: filled in by the same statement,
        // which inserts nothing when the node does not exist.
        let inserted = self
            .db
            .conn()
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "INSERT INTO scores (id, target_kind, target_id, session_id, agent, name, \
                     value_numeric, value_text, comment, source, created_at) \
                 SELECT $1, $2, $3, coalesce($4, n.session_id), coalesce($5, n.node_type), \
                        $6, $7, $8, $9, $10, $11 \
                 FROM (SELECT 1) one \
                 LEFT JOIN node_executions n ON $2 = 'node' AND n.id = $3 \
                 WHERE $2 <> 'node' OR n.id IS NOT NULL",
                [
                    score.id.into(),
                    score.target_kind.as_str().into(),
                    score.target_id.into(),
                    score.session_id.into(),
                    score.agent.clone().into(),
                    score.name.clone().into(),
                    numeric.into(),
                    text.into(),
                    score.comment.as_deref().map(redact_text).into(),
                    score.source.as_str().into(),
                    score.created_at.into(),
                ],
            ))
            .await?;
        if inserted.rows_affected() == 0 {
            return Err(RepoError::NotFound {
                entity: "node execution",
                key: score.target_id.to_string(),
            });
        }
        Ok(())
    }

    async fn list_by_target(
        &self,
        kind: ScoreTarget,
        target_id: Uuid,
    ) -> Result<Vec<Score>, RepoError> {
        let condition = format!("target_kind = '{}' AND target_id = $1", kind.as_str());
        self.list(&condition, target_id).await
    }

    async fn list_by_session(&self, session_id: Uuid) -> Result<Vec<Score>, RepoError> {
        self.list("session_id = $1", session_id).await
    }

    async fn summarize(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        name: Option<&str>,
    ) -> Result<Vec<ScoreSummary>, RepoError> {
        let name = name.map(str::to_owned);
        let rows = self
            .db
            .read(|conn| {
                let name = name.clone();
                async move {
                    Ok(conn
                        .query_all_raw(Statement::from_sql_and_values(
                            DatabaseBackend::Postgres,
                            "SELECT name, coalesce(agent, '-') AS agent, count(*), \
                                    avg(value_numeric), min(value_numeric), max(value_numeric), \
                                    coalesce(jsonb_object_agg(value_text, n) \
                                        FILTER (WHERE value_text IS NOT NULL), '{}') \
                             FROM (SELECT name, agent, value_numeric, value_text, \
                                          count(*) OVER (PARTITION BY name, agent, value_text) AS n \
                                   FROM scores WHERE created_at >= $1 AND created_at < $2 \
                                     AND ($3::text IS NULL OR name = $3)) s \
                             GROUP BY name, coalesce(agent, '-') ORDER BY 1, 2",
                            [from.into(), to.into(), name.into()],
                        ))
                        .await?)
                }
            })
            .await?;
        rows.iter()
            .map(|row| {
                let categories: serde_json::Value = row.try_get_by_index(6)?;
                Ok(ScoreSummary {
                    name: row.try_get_by_index(0)?,
                    agent: row.try_get_by_index(1)?,
                    scores: row.try_get_by_index(2)?,
                    mean: row.try_get_by_index(3)?,
                    min: row.try_get_by_index(4)?,
                    max: row.try_get_by_index(5)?,
                    categories: categories
                        .as_object()
                        .map(|map| {
                            map.iter()
                                .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect()
    }
}
