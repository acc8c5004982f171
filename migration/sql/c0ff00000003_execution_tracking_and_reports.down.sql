-- c0ff00000003_execution_tracking_and_reports (down): schema v3 -> v2. Frozen history: never edit; add a new migration instead.

DROP TABLE node_executions;
DROP TABLE research_sessions;
DROP TABLE llm_call_logs;
DROP TABLE external_api_call_logs;
