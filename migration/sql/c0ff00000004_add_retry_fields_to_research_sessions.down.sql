-- c0ff00000004_add_retry_fields_to_research_sessions (down): schema v4 -> v3. Frozen
-- history: never edit; add a new migration instead.

DO $$
BEGIN
    IF to_regclass('public.alembic_version') IS NOT NULL THEN
        UPDATE alembic_version SET version_num = 'c0ff00000003'
        WHERE version_num = 'c0ff00000004';
    END IF;
END
$$;

ALTER TABLE research_sessions DROP COLUMN parent_session_id;
ALTER TABLE research_sessions DROP COLUMN retry_count;
