-- m20261206_000004_service_tables (down): schema v12 -> v11. The earlier service's own
-- tables go, with their rows (`stockdb migrate down` lists the tables that hold rows before
-- it runs, and refuses while that service shares the database, unless told
-- --break-earlier-service); its revision goes back to c0ff00000004, whose `alembic upgrade
-- head` makes them again.

DO $$
BEGIN
    IF to_regclass('public.alembic_version') IS NOT NULL THEN
        UPDATE alembic_version SET version_num = 'c0ff00000004'
        WHERE version_num = 'c0ff00000013';
    END IF;
END
$$;
DROP TABLE IF EXISTS concept_stock;
DROP TABLE IF EXISTS concept;
DROP TABLE IF EXISTS de_broken_board_pool;
DROP TABLE IF EXISTS de_dragon_tiger;
DROP TABLE IF EXISTS de_limit_up_pool;
DROP TABLE IF EXISTS de_previous_limit_up;
DROP TABLE IF EXISTS de_sector_capital_flow;
DROP TABLE IF EXISTS mi_concept_heat;
DROP TABLE IF EXISTS mi_limit_up_stock;
DROP TABLE IF EXISTS scheduler_execution_log;
DROP TABLE IF EXISTS scheduler_job_config;
DROP TABLE IF EXISTS web_search_cache;
