-- m20261125_000004_partitioned_audit_logs (down): schema v8 -> v7. Frozen history: never edit.
--
-- Each audit log back into one plain table: every partition's rows copied into it (this
-- takes the time of a copy and holds the table while it runs), the partitions dropped.

ALTER TABLE llm_call_logs RENAME TO llm_call_logs_partitioned;
CREATE TABLE llm_call_logs (LIKE llm_call_logs_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
    INCLUDING COMMENTS INCLUDING STORAGE);
INSERT INTO llm_call_logs SELECT * FROM llm_call_logs_partitioned;
DROP TABLE llm_call_logs_partitioned;
ALTER TABLE llm_call_logs ADD CONSTRAINT llm_call_logs_pkey PRIMARY KEY (id);
CREATE INDEX ix_llm_call_logs_created_at ON llm_call_logs USING btree (created_at) INCLUDE (vendor, model_name, status, latency_ms, prompt_tokens, completion_tokens, total_tokens);
CREATE INDEX ix_llm_call_logs_session_id_created_at ON llm_call_logs USING btree (session_id, created_at);

ALTER TABLE external_api_call_logs RENAME TO external_api_call_logs_partitioned;
CREATE TABLE external_api_call_logs (LIKE external_api_call_logs_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
    INCLUDING COMMENTS INCLUDING STORAGE);
INSERT INTO external_api_call_logs SELECT * FROM external_api_call_logs_partitioned;
DROP TABLE external_api_call_logs_partitioned;
ALTER TABLE external_api_call_logs ADD CONSTRAINT external_api_call_logs_pkey PRIMARY KEY (id);
CREATE INDEX ix_external_api_call_logs_created_at ON external_api_call_logs USING btree (created_at) INCLUDE (service_name, status, latency_ms);
CREATE INDEX ix_external_api_call_logs_session_id_created_at ON external_api_call_logs USING btree (session_id, created_at);
