-- c0ff00000004_add_retry_fields_to_research_sessions (up): schema v3 -> v4, the earlier
-- service's revision c0ff00000004 reproduced exactly. Frozen history: never edit; add a new
-- migration instead.

ALTER TABLE research_sessions ADD COLUMN retry_count INTEGER DEFAULT 0 NOT NULL;
ALTER TABLE research_sessions ADD COLUMN parent_session_id UUID;
ALTER TABLE research_sessions
    ADD CONSTRAINT research_sessions_parent_session_id_fkey
    FOREIGN KEY (parent_session_id) REFERENCES research_sessions (id);
COMMENT ON COLUMN research_sessions.retry_count IS '重试计数，首次执行为 0';
COMMENT ON COLUMN research_sessions.parent_session_id IS '父会话标识，重试时指向源 session';

-- A database the earlier service also runs on (adopted at c0ff00000003) now holds that
-- service's revision c0ff00000004: say so, so that its `alembic upgrade head` goes on
-- from here instead of adding the columns a second time.
DO $$
BEGIN
    IF to_regclass('public.alembic_version') IS NOT NULL THEN
        UPDATE alembic_version SET version_num = 'c0ff00000004'
        WHERE version_num = 'c0ff00000003';
    END IF;
END
$$;
