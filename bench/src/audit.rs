//! The audit suite: call statistics for one day out of `log_rows` rows of each log table,
//! on the newest schema against the floor (the same SQL, prepared, on a bare connection)
//! and against an older schema (`--audit-baseline`: version 3 has no `created_at` index,
//! version 7 the same indexes unpartitioned), then with a BRIN index instead of the btree
//! on the older one, on the same rows in the same run. On a partitioned schema (version 8)
//! the rows go into monthly partitions, as a database partitioned for that long has them.

use std::time::{Duration, Instant};

use audit::{
    ExternalApiCallLogRepository as _, LlmCallLogRepository as _, PgExternalApiCallLogRepository,
    PgLlmCallLogRepository, TimeWindow,
};
use chrono::{NaiveDate, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use shared_db::Db;

use crate::stats::{Latency, Ratio};
use crate::{Bench, SEED};

/// Unrecorded calls of each side first.
const WARM_UP: usize = 5;

/// The statistics' latencies.
#[derive(Debug, Serialize)]
pub(crate) struct Audit {
    pub(crate) rows_per_table: u64,
    pub(crate) days: i64,
    /// The newest schema (btree on `created_at`), through the repositories.
    pub(crate) repository: Latency,
    /// The same two statements, prepared, on one bare connection.
    pub(crate) floor: Latency,
    /// The older schema version compared with.
    pub(crate) baseline_schema: usize,
    /// The older schema, same rows, through the repositories.
    pub(crate) baseline: Latency,
    /// The older schema plus a BRIN index on `created_at`.
    pub(crate) brin: Latency,
    pub(crate) p99_over_floor: f64,
    /// The older schema's time over the newest schema's, call by call.
    pub(crate) speedup_over_baseline: Ratio,
    /// The BRIN index's time over the btree's, call by call.
    pub(crate) brin_over_btree: Ratio,
    pub(crate) btree_index_bytes: i64,
    pub(crate) brin_index_bytes: i64,
}

/// The two statements behind `stockdb audit stats`, as the repositories send them.
const LLM_STATS: &str = "SELECT vendor || '/' || model_name AS grp, count(*) AS calls, \
    count(*) FILTER (WHERE status = 'failed') AS errors, \
    coalesce(sum(prompt_tokens), 0)::bigint AS prompt_tokens, \
    coalesce(sum(completion_tokens), 0)::bigint AS completion_tokens, \
    coalesce(sum(total_tokens), 0)::bigint AS total_tokens, \
    avg(latency_ms)::float8 AS mean, count(*) AS sampled, \
    percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, \
    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, \
    percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99 \
    FROM llm_call_logs WHERE created_at >= $1 AND created_at < $2 \
    GROUP BY vendor, model_name ORDER BY grp";
const API_STATS: &str = "SELECT service_name AS grp, count(*) AS calls, \
    count(*) FILTER (WHERE status = 'failed') AS errors, \
    0::bigint AS prompt_tokens, 0::bigint AS completion_tokens, 0::bigint AS total_tokens, \
    avg(latency_ms)::float8 AS mean, count(*) AS sampled, \
    percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50, \
    percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95, \
    percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99 \
    FROM external_api_call_logs WHERE created_at >= $1 AND created_at < $2 \
    GROUP BY service_name ORDER BY grp";

/// Fills both log tables of `db` with `rows` rows each, spread evenly over `days` days,
/// generated server-side so that every database gets the very same rows.
async fn fill(db: &Db, rows: u64, days: i64) -> anyhow::Result<()> {
    monthly_partitions(db, days).await?;
    let step_s = (days * 86_400) as f64 / rows as f64;
    let sql = format!(
        "INSERT INTO llm_call_logs (id, caller_module, model_name, vendor, prompt_text, \
             completion_text, prompt_tokens, completion_tokens, total_tokens, temperature, \
             latency_ms, status, created_at) \
         SELECT md5(i::text)::uuid, 'research', (ARRAY['deepseek-chat', 'qwen-max', 'glm-4'])[1 + i % 3], \
                (ARRAY['deepseek', 'aliyun', 'zhipu'])[1 + i % 3], repeat('分析 600519.SH 的估值', 8), \
                repeat('结论：估值偏高。', 16), 800 + i % 700, 300 + i % 400, 1100 + i % 1100, 0.3, \
                200 + (i * 7919) % 5000, CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'success' END, \
                timestamp '2024-01-01' + i * {step_s} * interval '1 second' \
         FROM generate_series(0::bigint, {rows} - 1) i; \
         INSERT INTO external_api_call_logs (id, service_name, operation, request_params, \
             response_data, status_code, latency_ms, status, created_at) \
         SELECT md5('api' || i)::uuid, (ARRAY['tushare', 'akshare', 'bocha'])[1 + i % 3], 'daily', \
                '{{\"ts_code\": \"600519.SH\"}}'::jsonb, repeat('{{\"close\": 1680.5}}', 10), \
                CASE WHEN i % 40 = 0 THEN 502 ELSE 200 END, 50 + (i * 104729) % 2000, \
                CASE WHEN i % 40 = 0 THEN 'failed' ELSE 'success' END, \
                timestamp '2024-01-01' + i * {step_s} * interval '1 second' \
         FROM generate_series(0::bigint, {rows} - 1) i"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(db.pool())
        .await?;
    // One statement each: VACUUM refuses a multi-statement string (a transaction).
    for table in ["llm_call_logs", "external_api_call_logs"] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("VACUUM ANALYZE {table}")))
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

/// On a partitioned schema: the partitions re-cut to one a month over the rows' days
/// (from 2024-01-01), as stockdb would have made them over that time, and a default one.
pub(crate) async fn monthly_partitions(db: &Db, days: i64) -> anyhow::Result<()> {
    let sql = format!(
        "DO $$ \
         DECLARE t text; p record; m timestamp := '2024-01-01'; \
         BEGIN \
         FOREACH t IN ARRAY ARRAY['llm_call_logs', 'external_api_call_logs'] LOOP \
             IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = t::regclass) THEN \
                 CONTINUE; \
             END IF; \
             FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                      WHERE i.inhparent = t::regclass LOOP \
                 EXECUTE format('DROP TABLE %I', p.relname); \
             END LOOP; \
             EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (MINVALUE) TO (%L)', \
                 t || '_before_2024_01', t, m); \
             WHILE m < timestamp '2024-01-01' + make_interval(days => {days}) LOOP \
                 EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', \
                     t || '_' || to_char(m, 'YYYY_MM'), t, m, m + interval '1 month'); \
                 m := m + interval '1 month'; \
             END LOOP; \
             EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t); \
             m := '2024-01-01'; \
         END LOOP; \
         END $$"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Both repositories' statistics for `window` on `db`.
async fn repository_stats(db: &Db, window: TimeWindow) -> anyhow::Result<()> {
    PgLlmCallLogRepository::new(db.clone())
        .stats(window)
        .await?;
    PgExternalApiCallLogRepository::new(db.clone())
        .stats(window)
        .await?;
    Ok(())
}

async fn index_bytes(db: &Db, kind: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(pg_relation_size(i.indexrelid)), 0)::bigint FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam \
         JOIN pg_class t ON t.oid = i.indrelid \
         WHERE (t.relname IN ('llm_call_logs', 'external_api_call_logs') \
                OR t.relname LIKE 'llm\\_call\\_logs\\_%' \
                OR t.relname LIKE 'external\\_api\\_call\\_logs\\_%') \
           AND am.amname = $1 \
           AND c.relname NOT LIKE '%session_id%'",
    )
    .bind(kind)
    .fetch_one(db.pool())
    .await?)
}

impl Bench {
    /// The audit suite; `v3` is a database at the baseline schema on the same server.
    pub(crate) async fn audit(&self, v3: &Db) -> anyhow::Result<Audit> {
        let (rows, days) = (self.settings.log_rows, self.settings.log_days);
        let baseline_schema = self.settings.audit_baseline;
        eprintln!(
            "audit statistics: {rows} rows over {days} days in each log table, on the newest \
             schema and on v{baseline_schema}"
        );
        fill(&self.db, rows, days).await?;
        fill(v3, rows, days).await?;
        let calls = (self.settings.calls / 5).max(10);
        let mut rng = StdRng::seed_from_u64(SEED);
        let windows: Vec<TimeWindow> = (0..calls + WARM_UP)
            .map(|_| {
                let from = day(rng.random_range(0..days));
                TimeWindow::new(from, from + chrono::Duration::days(1))
            })
            .collect::<Result<_, _>>()?;
        // Every window read once on both databases before anything is timed: they were
        // filled one after the other, and beyond RAM the one filled first has been pushed
        // out of the OS cache by the other, so whichever side touched a window first would
        // pay its disk reads for the others (10,000,000 rows a table: 169 ms p99 for the
        // first side, 61 ms for the floor right after it on the same pages).
        for window in &windows {
            repository_stats(&self.db, *window).await?;
            repository_stats(v3, *window).await?;
        }
        let mut conn = self.db.pool().acquire().await?;
        let mut samples: [Vec<Duration>; 3] = Default::default();
        for (i, window) in windows.iter().enumerate() {
            let started = Instant::now();
            repository_stats(&self.db, *window).await?;
            let repo = started.elapsed();
            let started = Instant::now();
            for sql in [LLM_STATS, API_STATS] {
                sqlx::query(sql)
                    .bind(window.from)
                    .bind(window.to)
                    .fetch_all(&mut *conn)
                    .await?;
            }
            let bare = started.elapsed();
            let started = Instant::now();
            repository_stats(v3, *window).await?;
            let old = started.elapsed();
            if i >= WARM_UP {
                for (side, elapsed) in [repo, bare, old].into_iter().enumerate() {
                    samples[side].push(elapsed);
                }
            }
        }
        drop(conn);
        eprintln!("  BRIN on created_at, on the v{baseline_schema} rows");
        sqlx::raw_sql(
            "CREATE INDEX ix_llm_call_logs_brin_created_at ON llm_call_logs USING brin (created_at); \
             CREATE INDEX ix_external_api_call_logs_brin_created_at ON external_api_call_logs \
                 USING brin (created_at); \
             ANALYZE llm_call_logs; ANALYZE external_api_call_logs",
        )
        .execute(v3.pool())
        .await?;
        let (mut btree, mut brin) = (Vec::new(), Vec::new());
        for (i, window) in windows.iter().enumerate() {
            let started = Instant::now();
            repository_stats(&self.db, *window).await?;
            let with_btree = started.elapsed();
            let started = Instant::now();
            repository_stats(v3, *window).await?;
            if i >= WARM_UP {
                btree.push(with_btree.as_secs_f64());
                brin.push(started.elapsed().as_secs_f64());
            }
        }
        let secs = |samples: &[Duration]| {
            samples
                .iter()
                .map(Duration::as_secs_f64)
                .collect::<Vec<_>>()
        };
        let [repository, floor, baseline] = samples.each_ref().map(|s| Latency::new(s));
        Ok(Audit {
            rows_per_table: rows,
            days,
            p99_over_floor: repository.p99_ms / floor.p99_ms,
            speedup_over_baseline: Ratio::speedup(&secs(&samples[0]), &secs(&samples[2])),
            brin_over_btree: Ratio::speedup(&btree, &brin),
            brin: Latency::new(
                &brin
                    .iter()
                    .map(|s| Duration::from_secs_f64(*s))
                    .collect::<Vec<_>>(),
            ),
            btree_index_bytes: index_bytes(&self.db, "btree").await?,
            brin_index_bytes: index_bytes(v3, "brin").await?,
            repository,
            floor,
            baseline_schema,
            baseline,
        })
    }
}

pub(crate) fn day(offset: i64) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
        + chrono::Duration::days(offset)
}
