-- m20261206_000005_board_imports (up): schema v12 -> v13, stockdb's own change to the
-- earlier service's tables. Frozen history once released: add a new migration instead.
--
-- The day boards (limit-up, broken-board and previous-limit-up pools, dragon-tiger list,
-- sector flows) get imports of AkShare's CSVs, with job types of their own; the indexes
-- the service made on their `id` go (the primary key serves the same lookups: each one is
-- only a second copy to write on every insert); a run of the scheduler's log is one of
-- the three statuses the service writes.
--
-- Online: the job-type checks are replaced NOT VALID (a moment's lock) and validated
-- under a lock that lets writers go on; the indexes are dropped CONCURRENTLY; the status
-- check is added NOT VALID, then validated.
-- stockdb: steps

ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_job_type;
ALTER TABLE sync_tasks ADD CONSTRAINT ck_sync_tasks_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE', 'IMPORT_TRADE_CAL', 'IMPORT_SUSPEND', 'IMPORT_STK_LIMIT',
                        'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND',
                        'IMPORT_ZT_POOL', 'IMPORT_ZBGC_POOL', 'IMPORT_PREVIOUS_POOL', 'IMPORT_LHB',
                        'IMPORT_SECTOR_FLOW')) NOT VALID;
-- step
ALTER TABLE sync_tasks VALIDATE CONSTRAINT ck_sync_tasks_job_type;
-- step
ALTER TABLE sync_failure_records DROP CONSTRAINT IF EXISTS ck_sync_failure_records_job_type;
ALTER TABLE sync_failure_records ADD CONSTRAINT ck_sync_failure_records_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE', 'IMPORT_TRADE_CAL', 'IMPORT_SUSPEND', 'IMPORT_STK_LIMIT',
                        'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND',
                        'IMPORT_ZT_POOL', 'IMPORT_ZBGC_POOL', 'IMPORT_PREVIOUS_POOL', 'IMPORT_LHB',
                        'IMPORT_SECTOR_FLOW')) NOT VALID;
-- step
ALTER TABLE sync_failure_records VALIDATE CONSTRAINT ck_sync_failure_records_job_type;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_de_limit_up_pool_id;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_de_broken_board_pool_id;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_de_previous_limit_up_id;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_de_dragon_tiger_id;
-- step
DROP INDEX CONCURRENTLY IF EXISTS ix_de_sector_capital_flow_id;
-- step
ALTER TABLE scheduler_execution_log DROP CONSTRAINT IF EXISTS ck_scheduler_execution_log_status;
ALTER TABLE scheduler_execution_log ADD CONSTRAINT ck_scheduler_execution_log_status
    CHECK (status IN ('RUNNING', 'SUCCESS', 'FAILED')) NOT VALID;
-- step
ALTER TABLE scheduler_execution_log VALIDATE CONSTRAINT ck_scheduler_execution_log_status;
