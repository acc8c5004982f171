-- m20261206_000002_llm_ledger (up): schema v9 -> v10. Frozen history once released: add a
-- new migration instead of editing.
--
-- An LLM ledger: calls record their cached-input and reasoning tokens and the `llm_configs`
-- alias that served them; prices gain a reasoning-output rate; daily rollups keep what the
-- calls cost after retention drops their rows.
--
-- Online: the new columns are nullable without a default (a catalog change, no rewrite of
-- any partition); their check is added NOT VALID (a moment's lock) and validated under a
-- lock that lets writers go on. The earlier service's inserts name their columns, so they
-- keep working and leave the new ones NULL. The new tables are new: no one waits for them.
-- stockdb: steps

ALTER TABLE llm_call_logs
    ADD COLUMN IF NOT EXISTS cached_prompt_tokens INTEGER,
    ADD COLUMN IF NOT EXISTS reasoning_tokens INTEGER,
    ADD COLUMN IF NOT EXISTS config_alias VARCHAR(100);
COMMENT ON COLUMN llm_call_logs.cached_prompt_tokens IS '命中缓存的 prompt token 数（包含在 prompt_tokens 内）';
COMMENT ON COLUMN llm_call_logs.reasoning_tokens IS '推理 token 数（包含在 completion_tokens 内）';
COMMENT ON COLUMN llm_call_logs.config_alias IS '服务本次调用的 llm_configs.alias';
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'ck_llm_call_logs_token_kinds')
ALTER TABLE llm_call_logs ADD CONSTRAINT ck_llm_call_logs_token_kinds CHECK (
    cached_prompt_tokens >= 0 AND cached_prompt_tokens <= prompt_tokens
    AND reasoning_tokens >= 0 AND reasoning_tokens <= completion_tokens) NOT VALID;
-- step
ALTER TABLE llm_call_logs VALIDATE CONSTRAINT ck_llm_call_logs_token_kinds;
-- step
ALTER TABLE llm_model_prices
    ADD COLUMN IF NOT EXISTS reasoning_output_per_million NUMERIC(20, 6),
    DROP CONSTRAINT IF EXISTS ck_llm_model_prices_amounts,
    ADD CONSTRAINT ck_llm_model_prices_amounts CHECK (input_per_million >= 0 AND output_per_million >= 0
        AND (cached_input_per_million IS NULL OR cached_input_per_million >= 0)
        AND (reasoning_output_per_million IS NULL OR reasoning_output_per_million >= 0));
COMMENT ON COLUMN llm_model_prices.reasoning_output_per_million IS '每百万推理输出 token 价格（空则按输出价格）';
-- step
CREATE TABLE IF NOT EXISTS audit_rollup_days (
    log VARCHAR(30) NOT NULL,
    day DATE NOT NULL,
    calls BIGINT NOT NULL,
    rolled_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    CONSTRAINT audit_rollup_days_pkey PRIMARY KEY (log, day),
    CONSTRAINT ck_audit_rollup_days_log CHECK (log IN ('llm_call_logs', 'external_api_call_logs')),
    CONSTRAINT ck_audit_rollup_days_calls CHECK (calls >= 0)
);
COMMENT ON TABLE audit_rollup_days IS '已汇总的审计日（按日汇总表覆盖的日期）';
COMMENT ON COLUMN audit_rollup_days.log IS '审计日志表名';
COMMENT ON COLUMN audit_rollup_days.day IS '日期（UTC）';
COMMENT ON COLUMN audit_rollup_days.calls IS '汇总时该日的调用数';
COMMENT ON COLUMN audit_rollup_days.rolled_at IS '汇总时间（UTC）';
CREATE TABLE IF NOT EXISTS llm_call_daily (
    day DATE NOT NULL,
    vendor VARCHAR(50) NOT NULL,
    model_name VARCHAR(100) NOT NULL,
    caller_module VARCHAR(50) NOT NULL,
    caller_agent VARCHAR(50) NOT NULL,
    config_alias VARCHAR(100) NOT NULL,
    currency VARCHAR(3) NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    calls_without_breakdown BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    cached_prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    cost NUMERIC,
    CONSTRAINT llm_call_daily_pkey
        PRIMARY KEY (day, vendor, model_name, caller_module, caller_agent, config_alias, currency)
);
COMMENT ON TABLE llm_call_daily IS 'LLM 调用按日汇总（保留期删除明细后仍在）';
COMMENT ON COLUMN llm_call_daily.caller_agent IS '调用方 Agent（无则为空串）';
COMMENT ON COLUMN llm_call_daily.config_alias IS 'llm_configs.alias（无则为空串）';
COMMENT ON COLUMN llm_call_daily.currency IS '币种（未定价为空串）';
COMMENT ON COLUMN llm_call_daily.calls_without_breakdown IS '未记录缓存与推理 token 的调用数';
COMMENT ON COLUMN llm_call_daily.cost IS '按调用时价格计算的费用（未定价为 null）';
CREATE TABLE IF NOT EXISTS llm_session_daily (
    day DATE NOT NULL,
    session_id UUID NOT NULL,
    currency VARCHAR(3) NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    calls_without_breakdown BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    cached_prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    cost NUMERIC,
    CONSTRAINT llm_session_daily_pkey PRIMARY KEY (day, session_id, currency)
);
CREATE INDEX IF NOT EXISTS ix_llm_session_daily_session_id ON llm_session_daily (session_id);
COMMENT ON TABLE llm_session_daily IS 'LLM 调用按日、按 session 汇总（保留期删除明细后仍在；明细在时以明细为准）';
CREATE TABLE IF NOT EXISTS external_api_call_daily (
    day DATE NOT NULL,
    service_name VARCHAR(50) NOT NULL,
    operation VARCHAR(100) NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    CONSTRAINT external_api_call_daily_pkey PRIMARY KEY (day, service_name, operation)
);
COMMENT ON TABLE external_api_call_daily IS '外部 API 调用按日汇总（保留期删除明细后仍在）';
-- step
CREATE TABLE IF NOT EXISTS llm_budgets (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    scope VARCHAR(10) NOT NULL,
    target VARCHAR(151) NOT NULL,
    period VARCHAR(10) NOT NULL,
    amount NUMERIC(20, 6) NOT NULL,
    currency VARCHAR(3) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT llm_budgets_pkey PRIMARY KEY (id),
    CONSTRAINT uq_llm_budgets_scope_target_period_currency UNIQUE (scope, target, period, currency),
    CONSTRAINT ck_llm_budgets_scope CHECK (scope IN ('config', 'model')),
    CONSTRAINT ck_llm_budgets_period CHECK (period IN ('day', 'month')),
    CONSTRAINT ck_llm_budgets_amount CHECK (amount > 0),
    CONSTRAINT ck_llm_budgets_currency CHECK (currency ~ '^[A-Z]{3}$')
);
COMMENT ON TABLE llm_budgets IS 'LLM 花费预算（按配置或模型，按日或按月）';
COMMENT ON COLUMN llm_budgets.scope IS 'config（llm_configs.alias）/ model（vendor/model_name）';
COMMENT ON COLUMN llm_budgets.target IS '配置别名，或 vendor/model_name';
COMMENT ON COLUMN llm_budgets.period IS 'day / month（UTC）';
COMMENT ON COLUMN llm_budgets.amount IS '每个周期最多花费';
COMMENT ON COLUMN llm_budgets.currency IS '币种（ISO 4217）';
-- step
CREATE TABLE IF NOT EXISTS scores (
    id UUID NOT NULL,
    target_kind VARCHAR(10) NOT NULL,
    target_id UUID NOT NULL,
    session_id UUID,
    agent VARCHAR(50),
    name VARCHAR(100) NOT NULL,
    value_numeric DOUBLE PRECISION,
    value_text VARCHAR(100),
    comment TEXT,
    source VARCHAR(10) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    CONSTRAINT scores_pkey PRIMARY KEY (id),
    CONSTRAINT ck_scores_target_kind CHECK (target_kind IN ('session', 'node', 'call')),
    CONSTRAINT ck_scores_source CHECK (source IN ('human', 'model', 'rule')),
    CONSTRAINT ck_scores_value CHECK ((value_numeric IS NULL) <> (value_text IS NULL))
);
CREATE INDEX IF NOT EXISTS ix_scores_target_kind_target_id ON scores (target_kind, target_id);
CREATE INDEX IF NOT EXISTS ix_scores_session_id ON scores (session_id);
CREATE INDEX IF NOT EXISTS ix_scores_name_created_at ON scores (name, created_at);
COMMENT ON TABLE scores IS '评分与反馈（session / 节点 / LLM 调用）';
COMMENT ON COLUMN scores.target_kind IS 'session / node / call';
COMMENT ON COLUMN scores.target_id IS '被评分对象的 id（非外键：评分与日志一样可长于对象保存）';
COMMENT ON COLUMN scores.agent IS '被评分的 Agent（节点类型或调用方 Agent）';
COMMENT ON COLUMN scores.value_numeric IS '数值评分';
COMMENT ON COLUMN scores.value_text IS '分类评分';
COMMENT ON COLUMN scores.source IS 'human / model / rule';
