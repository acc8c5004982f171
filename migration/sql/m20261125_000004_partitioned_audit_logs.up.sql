-- m20261125_000004_partitioned_audit_logs (up): schema v7 -> v8. Frozen history: never edit; add a new migration
-- instead.
--
-- The two audit logs become range-partitioned by created_at, one partition a month, so
-- that old history goes by dropping whole partitions (`stockdb retention apply`), never by
-- deleting rows. The existing table, with all its rows, becomes the first partition
-- (`<table>_before_YYYY_MM`, from MINVALUE to the first day of the month after next): it is
-- attached, not copied, so the conversion costs the same for ten rows or ten million.
-- Writers are held up only by the short swap step (under `lock_timeout`, retried):
--   1. a unique index on (id, created_at), CONCURRENTLY: a partitioned table's primary key
--      must hold the partition key;
--   2. CHECK (created_at < bound) added NOT VALID, then validated (no write lock), so that
--      the attach need not scan the table;
--   3. in one transaction: the table renamed to its partition's name, the primary key
--      swapped to the new index, the partitioned table made LIKE it (columns, CHECKs,
--      comments) with the same index names, the old table attached, three monthly
--      partitions made ahead (stockdb makes later ones: see audit::partitions).
-- A run killed half way is run again: each step skips what is done.
-- stockdb: steps


-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'llm_call_logs'::regclass)
-- An index that a killed concurrent build left invalid is built again.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('llm_call_logs_id_created_at_key')
               AND NOT indisvalid) THEN
        DROP INDEX llm_call_logs_id_created_at_key;
    END IF;
END $$;
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'llm_call_logs'::regclass)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS llm_call_logs_id_created_at_key ON llm_call_logs (id, created_at);
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'llm_call_logs'::regclass)
-- The bound: the first day of the month after next (UTC), or later if a stored row is
-- dated later; writers keep writing under it until the swap.
DO $$
DECLARE
    bound timestamp;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'llm_call_logs'::regclass
                   AND conname = 'llm_call_logs_partition_bound') THEN
        SELECT date_trunc('month', greatest(now() AT TIME ZONE 'utc', max(created_at)))
               + interval '2 months'
          INTO bound FROM llm_call_logs;
        EXECUTE format('ALTER TABLE llm_call_logs ADD CONSTRAINT llm_call_logs_partition_bound '
                       'CHECK (created_at < %L) NOT VALID', bound);
    END IF;
END $$;
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'llm_call_logs'::regclass)
ALTER TABLE llm_call_logs VALIDATE CONSTRAINT llm_call_logs_partition_bound;
-- step
DO $$
DECLARE
    bound timestamp;
    legacy text;
    month timestamp;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'llm_call_logs'::regclass) THEN
        RETURN;
    END IF;
    SELECT substring(pg_get_constraintdef(oid) FROM '''([^'']+)''')::timestamp INTO bound
      FROM pg_constraint WHERE conrelid = 'llm_call_logs'::regclass AND conname = 'llm_call_logs_partition_bound';
    legacy := 'llm_call_logs_before_' || to_char(bound, 'YYYY_MM');
    EXECUTE format('ALTER TABLE llm_call_logs RENAME TO %I', legacy);
    EXECUTE format('ALTER INDEX ix_llm_call_logs_created_at RENAME TO %I', legacy || '_created_at_idx');
    EXECUTE format('ALTER INDEX ix_llm_call_logs_session_id_created_at RENAME TO %I', legacy || '_session_id_created_at_idx');
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT llm_call_logs_pkey', legacy);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY USING INDEX llm_call_logs_id_created_at_key',
                   legacy, legacy || '_pkey');
    EXECUTE format('CREATE TABLE llm_call_logs (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING COMMENTS INCLUDING STORAGE, '
                   'CONSTRAINT llm_call_logs_pkey PRIMARY KEY (id, created_at)) '
                   'PARTITION BY RANGE (created_at)', legacy);
    ALTER TABLE llm_call_logs DROP CONSTRAINT llm_call_logs_partition_bound;
    CREATE INDEX ix_llm_call_logs_created_at ON llm_call_logs USING btree (created_at) INCLUDE (vendor, model_name, status, latency_ms, prompt_tokens, completion_tokens, total_tokens);
    CREATE INDEX ix_llm_call_logs_session_id_created_at ON llm_call_logs USING btree (session_id, created_at);
    EXECUTE format('ALTER TABLE llm_call_logs ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
                   legacy, bound);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT llm_call_logs_partition_bound', legacy);
    FOR i IN 0..2 LOOP
        month := bound + make_interval(months => i);
        EXECUTE format('CREATE TABLE %I PARTITION OF llm_call_logs FOR VALUES FROM (%L) TO (%L)',
                       'llm_call_logs_' || to_char(month, 'YYYY_MM'), month, month + interval '1 month');
    END LOOP;
END $$;
-- step

-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'external_api_call_logs'::regclass)
-- An index that a killed concurrent build left invalid is built again.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('external_api_call_logs_id_created_at_key')
               AND NOT indisvalid) THEN
        DROP INDEX external_api_call_logs_id_created_at_key;
    END IF;
END $$;
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'external_api_call_logs'::regclass)
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS external_api_call_logs_id_created_at_key ON external_api_call_logs (id, created_at);
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'external_api_call_logs'::regclass)
-- The bound: the first day of the month after next (UTC), or later if a stored row is
-- dated later; writers keep writing under it until the swap.
DO $$
DECLARE
    bound timestamp;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'external_api_call_logs'::regclass
                   AND conname = 'external_api_call_logs_partition_bound') THEN
        SELECT date_trunc('month', greatest(now() AT TIME ZONE 'utc', max(created_at)))
               + interval '2 months'
          INTO bound FROM external_api_call_logs;
        EXECUTE format('ALTER TABLE external_api_call_logs ADD CONSTRAINT external_api_call_logs_partition_bound '
                       'CHECK (created_at < %L) NOT VALID', bound);
    END IF;
END $$;
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'external_api_call_logs'::regclass)
ALTER TABLE external_api_call_logs VALIDATE CONSTRAINT external_api_call_logs_partition_bound;
-- step
DO $$
DECLARE
    bound timestamp;
    legacy text;
    month timestamp;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'external_api_call_logs'::regclass) THEN
        RETURN;
    END IF;
    SELECT substring(pg_get_constraintdef(oid) FROM '''([^'']+)''')::timestamp INTO bound
      FROM pg_constraint WHERE conrelid = 'external_api_call_logs'::regclass AND conname = 'external_api_call_logs_partition_bound';
    legacy := 'external_api_call_logs_before_' || to_char(bound, 'YYYY_MM');
    EXECUTE format('ALTER TABLE external_api_call_logs RENAME TO %I', legacy);
    EXECUTE format('ALTER INDEX ix_external_api_call_logs_created_at RENAME TO %I', legacy || '_created_at_idx');
    EXECUTE format('ALTER INDEX ix_external_api_call_logs_session_id_created_at RENAME TO %I', legacy || '_session_id_created_at_idx');
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT external_api_call_logs_pkey', legacy);
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY USING INDEX external_api_call_logs_id_created_at_key',
                   legacy, legacy || '_pkey');
    EXECUTE format('CREATE TABLE external_api_call_logs (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING COMMENTS INCLUDING STORAGE, '
                   'CONSTRAINT external_api_call_logs_pkey PRIMARY KEY (id, created_at)) '
                   'PARTITION BY RANGE (created_at)', legacy);
    ALTER TABLE external_api_call_logs DROP CONSTRAINT external_api_call_logs_partition_bound;
    CREATE INDEX ix_external_api_call_logs_created_at ON external_api_call_logs USING btree (created_at) INCLUDE (service_name, status, latency_ms);
    CREATE INDEX ix_external_api_call_logs_session_id_created_at ON external_api_call_logs USING btree (session_id, created_at);
    EXECUTE format('ALTER TABLE external_api_call_logs ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
                   legacy, bound);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT external_api_call_logs_partition_bound', legacy);
    FOR i IN 0..2 LOOP
        month := bound + make_interval(months => i);
        EXECUTE format('CREATE TABLE %I PARTITION OF external_api_call_logs FOR VALUES FROM (%L) TO (%L)',
                       'external_api_call_logs_' || to_char(month, 'YYYY_MM'), month, month + interval '1 month');
    END LOOP;
END $$;
