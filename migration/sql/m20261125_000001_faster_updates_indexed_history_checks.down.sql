-- m20261125_000001_faster_updates_indexed_history_checks (down): schema v5 -> v4, exactly.
-- Frozen history: never edit; add a new migration instead. Online, step by step, as up.
-- stockdb: steps

ALTER TABLE external_api_call_logs DROP CONSTRAINT IF EXISTS ck_external_api_call_logs_counts;
ALTER TABLE external_api_call_logs DROP CONSTRAINT IF EXISTS ck_external_api_call_logs_status;
ALTER TABLE llm_call_logs DROP CONSTRAINT IF EXISTS ck_llm_call_logs_counts;
ALTER TABLE llm_call_logs DROP CONSTRAINT IF EXISTS ck_llm_call_logs_status;
ALTER TABLE node_executions DROP CONSTRAINT IF EXISTS ck_node_executions_duration;
ALTER TABLE node_executions DROP CONSTRAINT IF EXISTS ck_node_executions_status;
ALTER TABLE research_sessions DROP CONSTRAINT IF EXISTS ck_research_sessions_counts;
ALTER TABLE research_sessions DROP CONSTRAINT IF EXISTS ck_research_sessions_status;
ALTER TABLE sync_failure_records DROP CONSTRAINT IF EXISTS ck_sync_failure_records_retries;
ALTER TABLE sync_failure_records DROP CONSTRAINT IF EXISTS ck_sync_failure_records_job_type;
ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_counts;
ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_job_type;
ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_status;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_research_sessions_selected_experts;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_research_sessions_created_at;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_external_api_call_logs_created_at;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_llm_call_logs_created_at;
-- step
ALTER TABLE stock_finance RESET (fillfactor);
-- step
ALTER TABLE stock_daily RESET (fillfactor);
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_llm_configs_id;
-- step
CREATE INDEX CONCURRENTLY ix_llm_configs_id ON llm_configs USING btree (id);
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_stock_info_id;
-- step
CREATE INDEX CONCURRENTLY ix_stock_info_id ON stock_info USING btree (id);
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_stock_finance_third_code;
-- step
CREATE INDEX CONCURRENTLY ix_stock_finance_third_code ON stock_finance USING btree (third_code);
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_stock_daily_third_code;
-- step
CREATE INDEX CONCURRENTLY ix_stock_daily_third_code ON stock_daily USING btree (third_code);
