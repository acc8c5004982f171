-- m20261206_000001_audit_default_partitions (up): schema v8 -> v9. Frozen history: never edit;
-- add a new migration instead.
--
-- A default partition for each audit log, so that no INSERT ever fails for want of a
-- monthly partition: not stockdb's (which makes months ahead), not the earlier service's
-- (which makes none), not in a month nobody made ahead. Rows the default partition catches
-- are found by every read, counted by statistics and costs, and moved into their own month
-- by partition maintenance (`stockdb retention partitions`, and every `retention apply`),
-- which is how retention reaches them. Each step takes the table's lock for a moment
-- (under `lock_timeout`, retried): a new default partition is empty, so nothing is scanned.
-- stockdb: steps

-- skip if: SELECT to_regclass('llm_call_logs_default') IS NOT NULL
CREATE TABLE llm_call_logs_default PARTITION OF llm_call_logs DEFAULT;
-- step
-- skip if: SELECT to_regclass('external_api_call_logs_default') IS NOT NULL
CREATE TABLE external_api_call_logs_default PARTITION OF external_api_call_logs DEFAULT;
