-- m20261206_000003_market_structure (up): schema v10 -> v11. Frozen history once released:
-- add a new migration instead of editing.
--
-- The market's structure on a given day, as Tushare's endpoints give it: the trading
-- calendar (`trade_cal`), suspensions (`suspend_d`), daily price limits (`stk_limit`), name
-- history (`namechange`: ST, *ST, delisting), index constituents and weights
-- (`index_weight`) and dividends and share changes (`dividend`). The imports of these files
-- get job types of their own.
--
-- Online: the tables are new, no one waits for them; the job-type checks are replaced NOT
-- VALID (a moment's lock) and validated under a lock that lets writers go on.
-- stockdb: steps

CREATE TABLE IF NOT EXISTS trade_calendar (
    exchange VARCHAR(10) NOT NULL,
    cal_date DATE NOT NULL,
    is_open BOOLEAN NOT NULL,
    pretrade_date DATE,
    source VARCHAR(20),
    CONSTRAINT trade_calendar_pkey PRIMARY KEY (exchange, cal_date),
    CONSTRAINT ck_trade_calendar_exchange CHECK (exchange IN ('SSE', 'SZSE', 'BSE'))
);
COMMENT ON TABLE trade_calendar IS '交易日历（Tushare trade_cal）';
COMMENT ON COLUMN trade_calendar.exchange IS '交易所 SSE上交所 SZSE深交所 BSE北交所';
COMMENT ON COLUMN trade_calendar.cal_date IS '日历日期';
COMMENT ON COLUMN trade_calendar.is_open IS '是否交易';
COMMENT ON COLUMN trade_calendar.pretrade_date IS '上一个交易日';
COMMENT ON COLUMN trade_calendar.source IS '数据来源';
CREATE INDEX IF NOT EXISTS ix_trade_calendar_open ON trade_calendar (exchange, cal_date) WHERE is_open;
CREATE TABLE IF NOT EXISTS stock_suspensions (
    third_code VARCHAR(20) NOT NULL,
    trade_date DATE NOT NULL,
    suspend_type VARCHAR(1) NOT NULL,
    suspend_timing VARCHAR(50),
    reason VARCHAR(200),
    source VARCHAR(20),
    CONSTRAINT stock_suspensions_pkey PRIMARY KEY (third_code, trade_date, suspend_type),
    CONSTRAINT ck_stock_suspensions_type CHECK (suspend_type IN ('S', 'R'))
);
COMMENT ON TABLE stock_suspensions IS '停复牌（Tushare suspend_d）';
COMMENT ON COLUMN stock_suspensions.third_code IS '第三方代码';
COMMENT ON COLUMN stock_suspensions.trade_date IS '停复牌日期';
COMMENT ON COLUMN stock_suspensions.suspend_type IS 'S停牌 R复牌';
COMMENT ON COLUMN stock_suspensions.suspend_timing IS '日内停牌时间段（空为全天）';
COMMENT ON COLUMN stock_suspensions.reason IS '停牌原因';
COMMENT ON COLUMN stock_suspensions.source IS '数据来源';
CREATE TABLE IF NOT EXISTS stock_limits (
    third_code VARCHAR(20) NOT NULL,
    trade_date DATE NOT NULL,
    pre_close DOUBLE PRECISION,
    up_limit DOUBLE PRECISION NOT NULL,
    down_limit DOUBLE PRECISION NOT NULL,
    source VARCHAR(20),
    CONSTRAINT stock_limits_pkey PRIMARY KEY (third_code, trade_date),
    CONSTRAINT ck_stock_limits_range CHECK (down_limit >= 0 AND up_limit >= down_limit)
);
COMMENT ON TABLE stock_limits IS '每日涨跌停价格（Tushare stk_limit）';
COMMENT ON COLUMN stock_limits.third_code IS '第三方代码';
COMMENT ON COLUMN stock_limits.trade_date IS '交易日期';
COMMENT ON COLUMN stock_limits.pre_close IS '昨收价';
COMMENT ON COLUMN stock_limits.up_limit IS '涨停价';
COMMENT ON COLUMN stock_limits.down_limit IS '跌停价';
COMMENT ON COLUMN stock_limits.source IS '数据来源';
CREATE TABLE IF NOT EXISTS stock_names (
    third_code VARCHAR(20) NOT NULL,
    name VARCHAR(100) NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    ann_date DATE,
    change_reason VARCHAR(100),
    source VARCHAR(20),
    CONSTRAINT stock_names_pkey PRIMARY KEY (third_code, start_date, name),
    CONSTRAINT ck_stock_names_dates CHECK (end_date IS NULL OR end_date >= start_date)
);
COMMENT ON TABLE stock_names IS '股票曾用名（Tushare namechange）';
COMMENT ON COLUMN stock_names.third_code IS '第三方代码';
COMMENT ON COLUMN stock_names.name IS '证券名称';
COMMENT ON COLUMN stock_names.start_date IS '开始日期';
COMMENT ON COLUMN stock_names.end_date IS '结束日期';
COMMENT ON COLUMN stock_names.ann_date IS '公告日期';
COMMENT ON COLUMN stock_names.change_reason IS '变更原因';
COMMENT ON COLUMN stock_names.source IS '数据来源';
CREATE TABLE IF NOT EXISTS index_weights (
    index_code VARCHAR(20) NOT NULL,
    trade_date DATE NOT NULL,
    con_code VARCHAR(20) NOT NULL,
    weight DOUBLE PRECISION,
    source VARCHAR(20),
    CONSTRAINT index_weights_pkey PRIMARY KEY (index_code, trade_date, con_code),
    CONSTRAINT ck_index_weights_weight CHECK (weight >= 0)
);
COMMENT ON TABLE index_weights IS '指数成分和权重快照（Tushare index_weight）';
COMMENT ON COLUMN index_weights.index_code IS '指数代码';
COMMENT ON COLUMN index_weights.trade_date IS '快照日期';
COMMENT ON COLUMN index_weights.con_code IS '成分股代码';
COMMENT ON COLUMN index_weights.weight IS '权重（%）';
COMMENT ON COLUMN index_weights.source IS '数据来源';
CREATE TABLE IF NOT EXISTS stock_dividends (
    third_code VARCHAR(20) NOT NULL,
    end_date DATE NOT NULL,
    ann_date DATE NOT NULL,
    div_proc VARCHAR(20) NOT NULL,
    stk_div DOUBLE PRECISION,
    stk_bo_rate DOUBLE PRECISION,
    stk_co_rate DOUBLE PRECISION,
    cash_div DOUBLE PRECISION,
    cash_div_tax DOUBLE PRECISION,
    record_date DATE,
    ex_date DATE,
    pay_date DATE,
    div_listdate DATE,
    imp_ann_date DATE,
    base_date DATE,
    base_share DOUBLE PRECISION,
    source VARCHAR(20),
    CONSTRAINT stock_dividends_pkey PRIMARY KEY (third_code, end_date, ann_date, div_proc),
    CONSTRAINT ck_stock_dividends_amounts CHECK (stk_div >= 0 AND stk_bo_rate >= 0
        AND stk_co_rate >= 0 AND cash_div >= 0 AND cash_div_tax >= 0)
);
COMMENT ON TABLE stock_dividends IS '分红送股（Tushare dividend）';
COMMENT ON COLUMN stock_dividends.third_code IS '第三方代码';
COMMENT ON COLUMN stock_dividends.end_date IS '分红年度（报告期）';
COMMENT ON COLUMN stock_dividends.ann_date IS '预案公告日';
COMMENT ON COLUMN stock_dividends.div_proc IS '实施进度（预案/股东大会通过/实施…）';
COMMENT ON COLUMN stock_dividends.stk_div IS '每股送转';
COMMENT ON COLUMN stock_dividends.stk_bo_rate IS '每股送股比例';
COMMENT ON COLUMN stock_dividends.stk_co_rate IS '每股转增比例';
COMMENT ON COLUMN stock_dividends.cash_div IS '每股分红（税后）';
COMMENT ON COLUMN stock_dividends.cash_div_tax IS '每股分红（税前）';
COMMENT ON COLUMN stock_dividends.record_date IS '股权登记日';
COMMENT ON COLUMN stock_dividends.ex_date IS '除权除息日';
COMMENT ON COLUMN stock_dividends.pay_date IS '派息日';
COMMENT ON COLUMN stock_dividends.div_listdate IS '红股上市日';
COMMENT ON COLUMN stock_dividends.imp_ann_date IS '实施公告日';
COMMENT ON COLUMN stock_dividends.base_date IS '基准日';
COMMENT ON COLUMN stock_dividends.base_share IS '基准股本（万）';
COMMENT ON COLUMN stock_dividends.source IS '数据来源';
CREATE INDEX IF NOT EXISTS ix_stock_dividends_ex_date ON stock_dividends (third_code, ex_date)
    WHERE ex_date IS NOT NULL;
-- step
ALTER TABLE sync_tasks DROP CONSTRAINT IF EXISTS ck_sync_tasks_job_type;
ALTER TABLE sync_tasks ADD CONSTRAINT ck_sync_tasks_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE', 'IMPORT_TRADE_CAL', 'IMPORT_SUSPEND', 'IMPORT_STK_LIMIT',
                        'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND')) NOT VALID;
-- step
ALTER TABLE sync_tasks VALIDATE CONSTRAINT ck_sync_tasks_job_type;
-- step
ALTER TABLE sync_failure_records DROP CONSTRAINT IF EXISTS ck_sync_failure_records_job_type;
ALTER TABLE sync_failure_records ADD CONSTRAINT ck_sync_failure_records_job_type
    CHECK (job_type IN ('DAILY_HISTORY', 'FINANCE_HISTORY', 'DAILY_INCREMENTAL', 'FINANCE_INCREMENTAL',
                        'AKSHARE_MARKET_DATA', 'STOCK_LIST', 'IMPORT_STOCK_LIST', 'IMPORT_DAILY',
                        'IMPORT_FINANCE', 'IMPORT_TRADE_CAL', 'IMPORT_SUSPEND', 'IMPORT_STK_LIMIT',
                        'IMPORT_NAMECHANGE', 'IMPORT_INDEX_WEIGHT', 'IMPORT_DIVIDEND')) NOT VALID;
-- step
ALTER TABLE sync_failure_records VALIDATE CONSTRAINT ck_sync_failure_records_job_type;
