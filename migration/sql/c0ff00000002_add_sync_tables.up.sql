-- c0ff00000002_add_sync_tables (up): schema v1 -> v2. Frozen history: never edit; add a new migration instead.

CREATE TABLE sync_failure_records (
    id UUID NOT NULL,
    job_type VARCHAR(50) NOT NULL,
    third_code VARCHAR(20) NOT NULL,
    error_message VARCHAR(500),
    retry_count INTEGER DEFAULT 0 NOT NULL,
    max_retries INTEGER DEFAULT 3 NOT NULL,
    last_attempt_at TIMESTAMP WITHOUT TIME ZONE,
    resolved_at TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT sync_failure_records_pkey PRIMARY KEY (id)
);
COMMENT ON COLUMN sync_failure_records.id IS '失败记录 ID';
COMMENT ON COLUMN sync_failure_records.job_type IS '任务类型（DAILY_HISTORY/FINANCE_HISTORY/DAILY_INCREMENTAL/FINANCE_INCREMENTAL）';
COMMENT ON COLUMN sync_failure_records.third_code IS '失败的股票代码（Tushare ts_code 格式）';
COMMENT ON COLUMN sync_failure_records.error_message IS '错误信息';
COMMENT ON COLUMN sync_failure_records.retry_count IS '当前重试次数';
COMMENT ON COLUMN sync_failure_records.max_retries IS '最大重试次数';
COMMENT ON COLUMN sync_failure_records.last_attempt_at IS '最后一次尝试时间';
COMMENT ON COLUMN sync_failure_records.resolved_at IS '解决时间（重试成功或人工标记）';
CREATE INDEX ix_sync_failure_records_job_type ON sync_failure_records USING btree (job_type);
CREATE INDEX ix_sync_failure_records_resolved_at ON sync_failure_records USING btree (resolved_at);
CREATE INDEX ix_sync_failure_records_third_code ON sync_failure_records USING btree (third_code);

CREATE TABLE sync_tasks (
    id UUID NOT NULL,
    job_type VARCHAR(50) NOT NULL,
    status VARCHAR(20) NOT NULL,
    current_offset INTEGER DEFAULT 0 NOT NULL,
    batch_size INTEGER DEFAULT 50 NOT NULL,
    total_processed INTEGER DEFAULT 0 NOT NULL,
    started_at TIMESTAMP WITHOUT TIME ZONE,
    updated_at TIMESTAMP WITHOUT TIME ZONE,
    completed_at TIMESTAMP WITHOUT TIME ZONE,
    config JSON,
    CONSTRAINT sync_tasks_pkey PRIMARY KEY (id)
);
COMMENT ON COLUMN sync_tasks.id IS '任务 ID';
COMMENT ON COLUMN sync_tasks.job_type IS '任务类型（DAILY_HISTORY/FINANCE_HISTORY/DAILY_INCREMENTAL/FINANCE_INCREMENTAL）';
COMMENT ON COLUMN sync_tasks.status IS '任务状态（PENDING/RUNNING/COMPLETED/FAILED/PAUSED）';
COMMENT ON COLUMN sync_tasks.current_offset IS '当前同步偏移量（用于分批处理）';
COMMENT ON COLUMN sync_tasks.batch_size IS '每批处理的股票数量';
COMMENT ON COLUMN sync_tasks.total_processed IS '已处理总条数';
COMMENT ON COLUMN sync_tasks.started_at IS '任务启动时间';
COMMENT ON COLUMN sync_tasks.updated_at IS '最后更新时间';
COMMENT ON COLUMN sync_tasks.completed_at IS '任务完成时间';
COMMENT ON COLUMN sync_tasks.config IS '任务特定配置（start_date、end_date 等）';
CREATE INDEX ix_sync_tasks_job_type ON sync_tasks USING btree (job_type);
CREATE INDEX ix_sync_tasks_status ON sync_tasks USING btree (status);
