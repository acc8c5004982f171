//! The two call logs on PostgreSQL: saves that redact first, listings and statistics.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, DatabaseBackend, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Statement,
};
use shared_db::{Db, InvalidInput, Page, RepoError};
use uuid::Uuid;

use crate::domain::{
    ApiCallFilter, CallStats, CallStatus, ExternalApiCallLog, LlmCallFilter, LlmCallLog,
    PromptStorage, TimeWindow,
};
use crate::entity::{external_api_call_logs as api_logs, llm_call_logs as llm_logs};
use crate::repository::{ExternalApiCallLogRepository, LlmCallLogRepository};
use shared_db::{redact_params, redact_text};

/// Refuses a call id already stored, at any time: the key `(id, created_at)` holds across
/// the monthly partitions only with the month, and the same id at another time would be
/// a second row of one call, counted twice (and `migrate down` to version 7 could not
/// keep both). The check reads every partition by the key's index; two saves of one id
/// at the same instant could still both pass, which only a writer forging ids would do.
async fn check_new_id<E>(db: &Db, id: E::Column, value: Uuid) -> Result<(), RepoError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    // Only the id is selected: the check holds on any schema version the log has had.
    let stored = E::find()
        .select_only()
        .column(id)
        .filter(id.eq(value))
        .count(db.conn())
        .await?;
    if stored == 0 {
        return Ok(());
    }
    Err(RepoError::Conflict {
        entity: E::default().table_name().to_owned(),
        key: format!("id {value} is already stored"),
    })
}

/// `Set` for a value given, `NotSet` (the column left out of the statement) for `None`.
pub(super) fn set_given<T>(value: Option<T>) -> sea_orm::ActiveValue<Option<T>>
where
    Option<T>: Into<sea_orm::Value>,
{
    match value {
        Some(value) => Set(Some(value)),
        None => sea_orm::ActiveValue::NotSet,
    }
}

/// LLM call logs on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgLlmCallLogRepository {
    db: Db,
    prompts: PromptStorage,
}

impl PgLlmCallLogRepository {
    /// A repository on `db`, storing prompts [`PromptStorage::Redacted`].
    pub fn new(db: Db) -> Self {
        Self {
            db,
            prompts: PromptStorage::default(),
        }
    }

    /// This repository, storing prompts, system messages and completions as `prompts`
    /// says.
    #[must_use]
    pub fn with_prompt_storage(mut self, prompts: PromptStorage) -> Self {
        self.prompts = prompts;
        self
    }

    /// `text` as it is stored: masked, unless prompts are kept verbatim.
    fn stored(&self, text: &str) -> String {
        match self.prompts {
            PromptStorage::Redacted => redact_text(text),
            PromptStorage::Verbatim => text.to_owned(),
        }
    }
}

/// External API call logs on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgExternalApiCallLogRepository {
    db: Db,
}

impl PgExternalApiCallLogRepository {
    /// A repository on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// The filters both listings share.
struct Shared {
    since: Option<NaiveDateTime>,
    until: Option<NaiveDateTime>,
    status: Option<CallStatus>,
    session_id: Option<Uuid>,
}

impl Shared {
    /// `query` with these filters, newest first, one page; `columns` are the table's
    /// `created_at`, `status`, `session_id` and `id`.
    fn page<E: EntityTrait>(
        &self,
        mut query: Select<E>,
        columns: [E::Column; 4],
        page: Page,
    ) -> Select<E> {
        let [created_at, status, session_id, id] = columns;
        if let Some(since) = self.since {
            query = query.filter(created_at.gte(since));
        }
        if let Some(until) = self.until {
            query = query.filter(created_at.lt(until));
        }
        if let Some(wanted) = self.status {
            query = query.filter(status.eq(wanted.as_str()));
        }
        if let Some(session) = self.session_id {
            query = query.filter(session_id.eq(session));
        }
        query
            .order_by_desc(created_at)
            .order_by_desc(id)
            .offset(page.skip())
            .limit(page.limit())
    }
}

/// One row of a statistics query.
#[derive(Debug, FromQueryResult)]
struct StatsRow {
    grp: String,
    calls: i64,
    errors: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    total_tokens: i64,
    p50: f64,
    p95: f64,
    p99: f64,
}

impl From<StatsRow> for CallStats {
    fn from(r: StatsRow) -> Self {
        Self {
            error_rate: if r.calls == 0 {
                0.0
            } else {
                r.errors as f64 / r.calls as f64
            },
            group: r.grp,
            calls: r.calls,
            errors: r.errors,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            total_tokens: r.total_tokens,
            latency_p50_ms: r.p50,
            latency_p95_ms: r.p95,
            latency_p99_ms: r.p99,
        }
    }
}

/// The aggregate columns every statistics query shares; `{tokens}` sums per token column.
fn stats_sql(group: &str, group_by: &str, table: &str, tokens: [&str; 3]) -> String {
    let [prompt, completion, total] = tokens;
    format!(
        "SELECT {group} AS grp, count(*) AS calls, \
                count(*) FILTER (WHERE status = 'failed') AS errors, \
                {prompt} AS prompt_tokens, {completion} AS completion_tokens, {total} AS total_tokens, \
                percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, \
                percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99 \
         FROM {table} WHERE created_at >= $1 AND created_at < $2 \
         GROUP BY {group_by} ORDER BY grp"
    )
}

async fn stats(db: &Db, sql: String, window: TimeWindow) -> Result<Vec<CallStats>, RepoError> {
    let statement = &Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        sql,
        [window.from.into(), window.to.into()],
    );
    let rows = db
        .read(|conn| async move {
            Ok(StatsRow::find_by_statement(statement.clone())
                .all(&conn)
                .await?)
        })
        .await?;
    Ok(rows.into_iter().map(CallStats::from).collect())
}

fn llm_from(m: llm_logs::Model) -> Result<LlmCallLog, InvalidInput> {
    Ok(LlmCallLog {
        id: m.id,
        session_id: m.session_id,
        caller_module: m.caller_module,
        caller_agent: m.caller_agent,
        model_name: m.model_name,
        vendor: m.vendor,
        prompt_text: redact_text(&m.prompt_text),
        system_message: m.system_message.as_deref().map(redact_text),
        completion_text: m.completion_text.as_deref().map(redact_text),
        prompt_tokens: m.prompt_tokens,
        completion_tokens: m.completion_tokens,
        total_tokens: m.total_tokens,
        cached_prompt_tokens: m.cached_prompt_tokens,
        reasoning_tokens: m.reasoning_tokens,
        config_alias: m.config_alias,
        temperature: m.temperature,
        latency_ms: m.latency_ms,
        status: m.status.parse()?,
        error_message: m.error_message.as_deref().map(redact_text),
        created_at: m.created_at,
    })
}

fn api_from(m: api_logs::Model) -> Result<ExternalApiCallLog, InvalidInput> {
    Ok(ExternalApiCallLog {
        id: m.id,
        session_id: m.session_id,
        service_name: m.service_name,
        operation: m.operation,
        request_params: m.request_params.as_ref().map(redact_params),
        response_data: m.response_data.as_deref().map(redact_text),
        status_code: m.status_code,
        latency_ms: m.latency_ms,
        status: m.status.parse()?,
        error_message: m.error_message.as_deref().map(redact_text),
        created_at: m.created_at,
    })
}

#[async_trait]
impl LlmCallLogRepository for PgLlmCallLogRepository {
    async fn save(&self, log: &LlmCallLog) -> Result<(), RepoError> {
        log.validate()?;
        let active = llm_logs::ActiveModel {
            id: Set(log.id),
            session_id: Set(log.session_id),
            caller_module: Set(log.caller_module.clone()),
            caller_agent: Set(log.caller_agent.clone()),
            model_name: Set(log.model_name.clone()),
            vendor: Set(log.vendor.clone()),
            prompt_text: Set(self.stored(&log.prompt_text)),
            system_message: Set(log.system_message.as_deref().map(|t| self.stored(t))),
            completion_text: Set(log.completion_text.as_deref().map(|t| self.stored(t))),
            prompt_tokens: Set(log.prompt_tokens),
            completion_tokens: Set(log.completion_tokens),
            total_tokens: Set(log.total_tokens),
            // Named only when given: a call without them saves on a schema before version
            // 10 too, as when stockdb is deployed before its migration has run.
            cached_prompt_tokens: set_given(log.cached_prompt_tokens),
            reasoning_tokens: set_given(log.reasoning_tokens),
            config_alias: set_given(log.config_alias.clone()),
            temperature: Set(log.temperature),
            latency_ms: Set(log.latency_ms),
            status: Set(log.status.as_str().to_owned()),
            error_message: Set(log.error_message.as_deref().map(redact_text)),
            created_at: Set(log.created_at),
        };
        check_new_id::<llm_logs::Entity>(&self.db, llm_logs::Column::Id, log.id).await?;
        // A month without a partition of its own lands in the default partition.
        llm_logs::Entity::insert(active)
            .exec_without_returning(self.db.conn())
            .await?;
        Ok(())
    }

    async fn get_by_session_id(&self, session_id: Uuid) -> Result<Vec<LlmCallLog>, RepoError> {
        self.db
            .read(|conn| async move {
                Ok(llm_logs::Entity::find()
                    .filter(llm_logs::Column::SessionId.eq(session_id))
                    .order_by_asc(llm_logs::Column::CreatedAt)
                    .order_by_asc(llm_logs::Column::Id)
                    .all(&conn)
                    .await?)
            })
            .await?
            .into_iter()
            .map(|m| Ok(llm_from(m)?))
            .collect()
    }

    async fn stats(&self, window: TimeWindow) -> Result<Vec<CallStats>, RepoError> {
        let sum = |column: &str| format!("coalesce(sum({column}), 0)::bigint");
        let sql = stats_sql(
            "vendor || '/' || model_name",
            "vendor, model_name",
            "llm_call_logs",
            [
                &sum("prompt_tokens"),
                &sum("completion_tokens"),
                &sum("total_tokens"),
            ],
        );
        stats(&self.db, sql, window).await
    }

    async fn list(&self, filter: &LlmCallFilter, page: Page) -> Result<Vec<LlmCallLog>, RepoError> {
        use llm_logs::Column as C;
        let mut query = llm_logs::Entity::find();
        if let Some(vendor) = &filter.vendor {
            query = query.filter(C::Vendor.eq(vendor.as_str()));
        }
        if let Some(model) = &filter.model {
            query = query.filter(C::ModelName.eq(model.as_str()));
        }
        let shared = Shared {
            since: filter.since,
            until: filter.until,
            status: filter.status,
            session_id: filter.session_id,
        };
        let columns = [C::CreatedAt, C::Status, C::SessionId, C::Id];
        let query = &shared.page(query, columns, page);
        self.db
            .read(|conn| async move { Ok(query.clone().all(&conn).await?) })
            .await?
            .into_iter()
            .map(|m| Ok(llm_from(m)?))
            .collect()
    }
}

#[async_trait]
impl ExternalApiCallLogRepository for PgExternalApiCallLogRepository {
    async fn save(&self, log: &ExternalApiCallLog) -> Result<(), RepoError> {
        log.validate()?;
        let active = api_logs::ActiveModel {
            id: Set(log.id),
            session_id: Set(log.session_id),
            service_name: Set(log.service_name.clone()),
            operation: Set(log.operation.clone()),
            request_params: Set(log.request_params.as_ref().map(redact_params)),
            response_data: Set(log.response_data.as_deref().map(redact_text)),
            status_code: Set(log.status_code),
            latency_ms: Set(log.latency_ms),
            status: Set(log.status.as_str().to_owned()),
            error_message: Set(log.error_message.as_deref().map(redact_text)),
            created_at: Set(log.created_at),
        };
        check_new_id::<api_logs::Entity>(&self.db, api_logs::Column::Id, log.id).await?;
        api_logs::Entity::insert(active)
            .exec_without_returning(self.db.conn())
            .await?;
        Ok(())
    }

    async fn get_by_session_id(
        &self,
        session_id: Uuid,
    ) -> Result<Vec<ExternalApiCallLog>, RepoError> {
        self.db
            .read(|conn| async move {
                Ok(api_logs::Entity::find()
                    .filter(api_logs::Column::SessionId.eq(session_id))
                    .order_by_asc(api_logs::Column::CreatedAt)
                    .order_by_asc(api_logs::Column::Id)
                    .all(&conn)
                    .await?)
            })
            .await?
            .into_iter()
            .map(|m| Ok(api_from(m)?))
            .collect()
    }

    async fn stats(&self, window: TimeWindow) -> Result<Vec<CallStats>, RepoError> {
        let zero = "0::bigint";
        let sql = stats_sql(
            "service_name",
            "service_name",
            "external_api_call_logs",
            [zero, zero, zero],
        );
        stats(&self.db, sql, window).await
    }

    async fn list(
        &self,
        filter: &ApiCallFilter,
        page: Page,
    ) -> Result<Vec<ExternalApiCallLog>, RepoError> {
        use api_logs::Column as C;
        let mut query = api_logs::Entity::find();
        if let Some(service) = &filter.service {
            query = query.filter(C::ServiceName.eq(service.as_str()));
        }
        let shared = Shared {
            since: filter.since,
            until: filter.until,
            status: filter.status,
            session_id: filter.session_id,
        };
        let columns = [C::CreatedAt, C::Status, C::SessionId, C::Id];
        let query = &shared.page(query, columns, page);
        self.db
            .read(|conn| async move { Ok(query.clone().all(&conn).await?) })
            .await?
            .into_iter()
            .map(|m| Ok(api_from(m)?))
            .collect()
    }
}
