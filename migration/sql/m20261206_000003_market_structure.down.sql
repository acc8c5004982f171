-- m20261206_000003_market_structure (down): schema v11 -> v10. The market-structure tables
-- go with their rows (`stockdb migrate down` lists the tables that hold rows before it
-- runs), and so do the tasks and failure records of their imports, which v10's job-type
-- check would refuse.

DELETE FROM sync_failure_records WHERE job_type IN ('IMPORT_TRADE_CAL', 'IMPORT_SUSPEND',
    'IMPORT_STK_LIMIT', 'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND');
DELETE FROM sync_tasks WHERE job_type IN ('IMPORT_TRADE_CAL', 'IMPORT_SUSPEND',
    'IMPORT_STK_LIMIT', 'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND');
ALTER TABLE sync_tasks DROP CONSTRAINT ck_sync_tasks_job_type;
ALTER TABLE sync_tasks ADD CONSTRAINT ck_sync_tasks_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE'));
ALTER TABLE sync_failure_records DROP CONSTRAINT ck_sync_failure_records_job_type;
ALTER TABLE sync_failure_records ADD CONSTRAINT ck_sync_failure_records_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE'));
DROP TABLE IF EXISTS stock_dividends;
DROP TABLE IF EXISTS index_weights;
DROP TABLE IF EXISTS stock_names;
DROP TABLE IF EXISTS stock_limits;
DROP TABLE IF EXISTS stock_suspensions;
DROP TABLE IF EXISTS trade_calendar;
