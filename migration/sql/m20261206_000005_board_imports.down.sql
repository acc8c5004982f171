-- m20261206_000005_board_imports (down): schema v13 -> v12. The tasks and failure records
-- of the board imports go (v12's job-type check refuses them); the boards' rows stay.

ALTER TABLE scheduler_execution_log DROP CONSTRAINT IF EXISTS ck_scheduler_execution_log_status;
CREATE INDEX IF NOT EXISTS ix_de_limit_up_pool_id ON de_limit_up_pool USING btree (id);
CREATE INDEX IF NOT EXISTS ix_de_broken_board_pool_id ON de_broken_board_pool USING btree (id);
CREATE INDEX IF NOT EXISTS ix_de_previous_limit_up_id ON de_previous_limit_up USING btree (id);
CREATE INDEX IF NOT EXISTS ix_de_dragon_tiger_id ON de_dragon_tiger USING btree (id);
CREATE INDEX IF NOT EXISTS ix_de_sector_capital_flow_id ON de_sector_capital_flow USING btree (id);
DELETE FROM sync_failure_records WHERE job_type IN ('IMPORT_ZT_POOL', 'IMPORT_ZBGC_POOL', 'IMPORT_PREVIOUS_POOL', 'IMPORT_LHB',
    'IMPORT_SECTOR_FLOW');
DELETE FROM sync_tasks WHERE job_type IN ('IMPORT_ZT_POOL', 'IMPORT_ZBGC_POOL', 'IMPORT_PREVIOUS_POOL', 'IMPORT_LHB',
    'IMPORT_SECTOR_FLOW');
ALTER TABLE sync_tasks DROP CONSTRAINT ck_sync_tasks_job_type;
ALTER TABLE sync_tasks ADD CONSTRAINT ck_sync_tasks_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE', 'IMPORT_TRADE_CAL', 'IMPORT_SUSPEND', 'IMPORT_STK_LIMIT',
                        'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND'));
ALTER TABLE sync_failure_records DROP CONSTRAINT ck_sync_failure_records_job_type;
ALTER TABLE sync_failure_records ADD CONSTRAINT ck_sync_failure_records_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE', 'IMPORT_TRADE_CAL', 'IMPORT_SUSPEND', 'IMPORT_STK_LIMIT',
                        'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND'));
