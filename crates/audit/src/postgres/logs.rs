//! The two call logs on PostgreSQL: saves that redact first, listings and statistics.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Statement,
};
use shared_db::{Db, InvalidInput, Page, RepoError};
use uuid::Uuid;

use super::rollup;
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
    mean: f64,
    sampled: i64,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
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
            latency_mean_ms: r.mean,
            latency_sampled: r.sampled,
            latency_p50_ms: r.p50,
            latency_p95_ms: r.p95,
            latency_p99_ms: r.p99,
        }
    }
}

/// How one log's statistics are computed: its group, the token sums of its rows and of
/// its rollup's (`{}` where a rollup has none).
struct StatsShape {
    log: &'static str,
    group: &'static str,
    group_by: &'static str,
    tokens: [&'static str; 3],
    rollup: &'static str,
    rollup_tokens: [&'static str; 3],
}

const LLM_STATS: StatsShape = StatsShape {
    log: "llm_call_logs",
    group: "vendor || '/' || model_name",
    group_by: "vendor, model_name",
    tokens: [
        "coalesce(sum(prompt_tokens), 0)::bigint",
        "coalesce(sum(completion_tokens), 0)::bigint",
        "coalesce(sum(total_tokens), 0)::bigint",
    ],
    rollup: "llm_call_daily",
    rollup_tokens: [
        "sum(prompt_tokens)::bigint",
        "sum(completion_tokens)::bigint",
        "sum(total_tokens)::bigint",
    ],
};

const API_STATS: StatsShape = StatsShape {
    log: "external_api_call_logs",
    group: "service_name",
    group_by: "service_name",
    tokens: ["0::bigint", "0::bigint", "0::bigint"],
    rollup: "external_api_call_daily",
    rollup_tokens: ["0::bigint", "0::bigint", "0::bigint"],
};

impl StatsShape {
    /// Statistics of the stored rows within `$1 .. $2`: what every window without days
    /// retention dropped needs.
    fn rows_sql(&self) -> String {
        let [prompt, completion, total] = self.tokens;
        format!(
            "SELECT {group} AS grp, count(*) AS calls, \
                    count(*) FILTER (WHERE status = 'failed') AS errors, \
                    {prompt} AS prompt_tokens, {completion} AS completion_tokens, {total} AS total_tokens, \
                    avg(latency_ms)::float8 AS mean, count(*) AS sampled, \
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, \
                    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, \
                    percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99 \
             FROM {log} WHERE created_at >= $1 AND created_at < $2 \
             GROUP BY {group_by} ORDER BY grp",
            group = self.group,
            group_by = self.group_by,
            log = self.log,
        )
    }

    /// The stored rows' statistics with, added, the rollup's counts of `rolled` days whose
    /// rows are gone (retention keeps a day's rows whole or drops them whole). Their
    /// latencies count in the mean; percentiles are of the stored rows (`sampled`).
    fn with_dropped_days_sql(&self, rolled: &str) -> String {
        let [prompt, completion, total] = self.rollup_tokens;
        format!(
            "WITH live AS ({rows}), \
             stored_days AS (SELECT DISTINCT created_at::date AS day FROM {log} \
                             WHERE created_at >= $1 AND created_at < $2), \
             gone AS (SELECT {group} AS grp, sum(calls)::bigint AS calls, \
                             sum(errors)::bigint AS errors, {prompt} AS prompt_tokens, \
                             {completion} AS completion_tokens, {total} AS total_tokens, \
                             sum(latency_ms_sum)::float8 AS latency_sum \
                      FROM {rollup} WHERE day = ANY({rolled}) \
                        AND day NOT IN (SELECT day FROM stored_days) GROUP BY 1) \
             SELECT coalesce(l.grp, g.grp) AS grp, \
                    coalesce(l.calls, 0) + coalesce(g.calls, 0) AS calls, \
                    coalesce(l.errors, 0) + coalesce(g.errors, 0) AS errors, \
                    coalesce(l.prompt_tokens, 0) + coalesce(g.prompt_tokens, 0) AS prompt_tokens, \
                    coalesce(l.completion_tokens, 0) + coalesce(g.completion_tokens, 0) AS completion_tokens, \
                    coalesce(l.total_tokens, 0) + coalesce(g.total_tokens, 0) AS total_tokens, \
                    (coalesce(l.mean * l.calls, 0) + coalesce(g.latency_sum, 0)) \
                        / (coalesce(l.calls, 0) + coalesce(g.calls, 0)) AS mean, \
                    coalesce(l.sampled, 0) AS sampled, l.p50, l.p95, l.p99 \
             FROM live l FULL JOIN gone g ON g.grp = l.grp ORDER BY 1",
            rows = self.rows_sql().replace(" ORDER BY grp", ""),
            group = self.group,
            log = self.log,
            rollup = self.rollup,
        )
    }
}

/// The statistics of `shape`'s log within `window`, in one snapshot: the stored rows, and
/// for whole days the rollup covers whose rows retention dropped, the rollup's counts.
async fn stats(
    db: &Db,
    shape: &StatsShape,
    window: TimeWindow,
) -> Result<Vec<CallStats>, RepoError> {
    let rows = db
        .read_snapshot(|db| async move {
            let conn = db.conn();
            let split = rollup::WindowSplit::of(conn, shape.log, window).await?;
            let sql = if split.days.is_empty() {
                shape.rows_sql()
            } else {
                conn.execute_unprepared(rollup::NO_JIT).await?;
                shape.with_dropped_days_sql(&split.days_array())
            };
            let statement = Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                sql,
                [window.from.into(), window.to.into()],
            );
            Ok(StatsRow::find_by_statement(statement).all(conn).await?)
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
        stats(&self.db, &LLM_STATS, window).await
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
        stats(&self.db, &API_STATS, window).await
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
