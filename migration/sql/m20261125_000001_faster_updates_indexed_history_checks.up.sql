-- m20261125_000001_faster_updates_indexed_history_checks (up): schema v4 -> v5, stockdb's
-- own change. Frozen history: never edit; add a new migration instead.
--
-- Online: each step below runs on its own, outside a transaction, with a 1 s lock_timeout
-- and bounded retries (see migration/src/steps.rs); indexes are built and dropped
-- CONCURRENTLY; a constraint is added NOT VALID (a brief exclusive lock, waited for at most
-- 1 s) and then validated (which blocks neither readers nor writers); a new fillfactor
-- rewrites nothing. Every step can run again after a failure.
-- stockdb: steps

-- Indexes a primary key already serves: every query filtering on their column uses the key.
DROP INDEX CONCURRENTLY IF EXISTS ix_stock_daily_third_code;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_stock_finance_third_code;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_stock_info_id;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_llm_configs_id;
-- step
-- Room on every page for updated rows, so that an update stays on its page (HOT: no new
-- index entries). It applies to pages written from now on; nothing is rewritten. Chosen by
-- `cargo xtask bench --fillfactor N` (docs/performance.md): on stock_daily, importing a
-- `daily_basic` file onto the rows of a `daily` file (each row about doubles) runs at 0.39
-- of the first file's speed at 100, 0.46 at 50 and 0.58 at 40, where the merged table also
-- ends up smaller than at 50 (the grown rows fill the room); re-saving every row is HOT
-- from 50 down. Reads of one stock or one day measured the same at every value.
ALTER TABLE stock_daily SET (fillfactor = 40);
-- step
ALTER TABLE stock_finance SET (fillfactor = 50);
-- step
-- History reads by time window, and listings newest first. The columns `audit stats`
-- aggregates ride along, so the statistics of a day read the index alone (an index-only
-- scan: half the time of reading the rows, measured by `cargo xtask bench`).
DROP INDEX CONCURRENTLY IF EXISTS ix_llm_call_logs_created_at;
-- step
CREATE INDEX CONCURRENTLY ix_llm_call_logs_created_at ON llm_call_logs USING btree (created_at)
    INCLUDE (vendor, model_name, status, latency_ms, prompt_tokens, completion_tokens, total_tokens);
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_external_api_call_logs_created_at;
-- step
CREATE INDEX CONCURRENTLY ix_external_api_call_logs_created_at ON external_api_call_logs
    USING btree (created_at) INCLUDE (service_name, status, latency_ms);
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_research_sessions_created_at;
-- step
CREATE INDEX CONCURRENTLY ix_research_sessions_created_at ON research_sessions USING btree (created_at);
-- step
-- Sessions in which an expert took part (`SessionFilter::expert`).
DROP INDEX CONCURRENTLY IF EXISTS ix_research_sessions_selected_experts;
-- step
CREATE INDEX CONCURRENTLY ix_research_sessions_selected_experts ON research_sessions USING gin (selected_experts jsonb_path_ops);
-- step
-- What the code enforces, enforced by the database too. The job types include the earlier
-- service's, which may share the database.
ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_status;
ALTER TABLE sync_tasks ADD CONSTRAINT ck_sync_tasks_status
    CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'PAUSED')) NOT VALID;
-- step
ALTER TABLE sync_tasks VALIDATE CONSTRAINT ck_sync_tasks_status;
-- step
ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_job_type;
ALTER TABLE sync_tasks ADD CONSTRAINT ck_sync_tasks_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE')) NOT VALID;
-- step
ALTER TABLE sync_tasks VALIDATE CONSTRAINT ck_sync_tasks_job_type;
-- step
ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_counts;
ALTER TABLE sync_tasks ADD CONSTRAINT ck_sync_tasks_counts
    CHECK (current_offset >= 0 AND total_processed >= 0 AND batch_size > 0) NOT VALID;
-- step
ALTER TABLE sync_tasks VALIDATE CONSTRAINT ck_sync_tasks_counts;
-- step
ALTER TABLE sync_failure_records DROP CONSTRAINT IF EXISTS ck_sync_failure_records_job_type;
ALTER TABLE sync_failure_records ADD CONSTRAINT ck_sync_failure_records_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE')) NOT VALID;
-- step
ALTER TABLE sync_failure_records VALIDATE CONSTRAINT ck_sync_failure_records_job_type;
-- step
ALTER TABLE sync_failure_records DROP CONSTRAINT IF EXISTS ck_sync_failure_records_retries;
ALTER TABLE sync_failure_records ADD CONSTRAINT ck_sync_failure_records_retries
    CHECK (retry_count >= 0 AND max_retries >= 0) NOT VALID;
-- step
ALTER TABLE sync_failure_records VALIDATE CONSTRAINT ck_sync_failure_records_retries;
-- step
ALTER TABLE research_sessions DROP CONSTRAINT IF EXISTS ck_research_sessions_status;
ALTER TABLE research_sessions ADD CONSTRAINT ck_research_sessions_status
    CHECK (status IN ('running', 'completed', 'partial', 'failed')) NOT VALID;
-- step
ALTER TABLE research_sessions VALIDATE CONSTRAINT ck_research_sessions_status;
-- step
ALTER TABLE research_sessions DROP CONSTRAINT IF EXISTS ck_research_sessions_counts;
ALTER TABLE research_sessions ADD CONSTRAINT ck_research_sessions_counts
    CHECK (duration_ms >= 0 AND retry_count >= 0) NOT VALID;
-- step
ALTER TABLE research_sessions VALIDATE CONSTRAINT ck_research_sessions_counts;
-- step
ALTER TABLE node_executions DROP CONSTRAINT IF EXISTS ck_node_executions_status;
ALTER TABLE node_executions ADD CONSTRAINT ck_node_executions_status
    CHECK (status IN ('success', 'failed', 'skipped')) NOT VALID;
-- step
ALTER TABLE node_executions VALIDATE CONSTRAINT ck_node_executions_status;
-- step
ALTER TABLE node_executions DROP CONSTRAINT IF EXISTS ck_node_executions_duration;
ALTER TABLE node_executions ADD CONSTRAINT ck_node_executions_duration
    CHECK (duration_ms >= 0) NOT VALID;
-- step
ALTER TABLE node_executions VALIDATE CONSTRAINT ck_node_executions_duration;
-- step
ALTER TABLE llm_call_logs DROP CONSTRAINT IF EXISTS ck_llm_call_logs_status;
ALTER TABLE llm_call_logs ADD CONSTRAINT ck_llm_call_logs_status
    CHECK (status IN ('success', 'failed')) NOT VALID;
-- step
ALTER TABLE llm_call_logs VALIDATE CONSTRAINT ck_llm_call_logs_status;
-- step
ALTER TABLE llm_call_logs DROP CONSTRAINT IF EXISTS ck_llm_call_logs_counts;
ALTER TABLE llm_call_logs ADD CONSTRAINT ck_llm_call_logs_counts
    CHECK (latency_ms >= 0 AND prompt_tokens >= 0 AND completion_tokens >= 0 AND total_tokens >= 0) NOT VALID;
-- step
ALTER TABLE llm_call_logs VALIDATE CONSTRAINT ck_llm_call_logs_counts;
-- step
ALTER TABLE external_api_call_logs DROP CONSTRAINT IF EXISTS ck_external_api_call_logs_status;
ALTER TABLE external_api_call_logs ADD CONSTRAINT ck_external_api_call_logs_status
    CHECK (status IN ('success', 'failed')) NOT VALID;
-- step
ALTER TABLE external_api_call_logs VALIDATE CONSTRAINT ck_external_api_call_logs_status;
-- step
ALTER TABLE external_api_call_logs DROP CONSTRAINT IF EXISTS ck_external_api_call_logs_counts;
ALTER TABLE external_api_call_logs ADD CONSTRAINT ck_external_api_call_logs_counts
    CHECK (latency_ms >= 0 AND status_code BETWEEN 100 AND 599) NOT VALID;
-- step
ALTER TABLE external_api_call_logs VALIDATE CONSTRAINT ck_external_api_call_logs_counts;
