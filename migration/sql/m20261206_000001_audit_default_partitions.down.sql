-- m20261206_000001_audit_default_partitions (down): schema v9 -> v8. Frozen history: never
-- edit.
--
-- The rows each default partition holds move into monthly partitions of their own (made
-- for the months that have none), then the default partitions go: nothing is lost.

DO $$
DECLARE
    tbl text;
    month timestamp;
    part text;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['llm_call_logs', 'external_api_call_logs'] LOOP
        IF to_regclass(tbl || '_default') IS NULL THEN
            CONTINUE;
        END IF;
        FOR month IN EXECUTE format('SELECT DISTINCT date_trunc(''month'', created_at) FROM %I ORDER BY 1',
                                    tbl || '_default') LOOP
            part := tbl || '_' || to_char(month, 'YYYY_MM');
            EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, tbl);
            EXECUTE format('WITH moved AS (DELETE FROM %I WHERE created_at >= %L AND created_at < %L RETURNING *) '
                           'INSERT INTO %I SELECT * FROM moved',
                           tbl || '_default', month, month + interval '1 month', part);
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                           tbl, part, month, month + interval '1 month');
        END LOOP;
        EXECUTE format('DROP TABLE %I', tbl || '_default');
    END LOOP;
END $$;
