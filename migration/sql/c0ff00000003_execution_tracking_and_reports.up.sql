-- c0ff00000003_execution_tracking_and_reports (up): schema v2 -> v3. Frozen history: never edit; add a new migration instead.

CREATE TABLE external_api_call_logs (
    id UUID NOT NULL,
    session_id UUID,
    service_name VARCHAR(50) NOT NULL,
    operation VARCHAR(100) NOT NULL,
    request_params JSONB,
    response_data TEXT,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    error_message TEXT,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    CONSTRAINT external_api_call_logs_pkey PRIMARY KEY (id)
);
COMMENT ON COLUMN external_api_call_logs.id IS '记录唯一标识';
COMMENT ON COLUMN external_api_call_logs.session_id IS '关联 session';
COMMENT ON COLUMN external_api_call_logs.service_name IS '服务名（bochai / tushare / ...）';
COMMENT ON COLUMN external_api_call_logs.operation IS '操作（web-search / ...）';
COMMENT ON COLUMN external_api_call_logs.request_params IS '请求参数';
COMMENT ON COLUMN external_api_call_logs.response_data IS '完整响应';
COMMENT ON COLUMN external_api_call_logs.status_code IS 'HTTP 状态码';
COMMENT ON COLUMN external_api_call_logs.latency_ms IS '调用耗时（毫秒）';
COMMENT ON COLUMN external_api_call_logs.status IS 'success / failed';
COMMENT ON COLUMN external_api_call_logs.error_message IS '错误信息';
COMMENT ON COLUMN external_api_call_logs.created_at IS '记录时间';
CREATE INDEX ix_external_api_call_logs_session_id_created_at ON external_api_call_logs USING btree (session_id, created_at);

CREATE TABLE llm_call_logs (
    id UUID NOT NULL,
    session_id UUID,
    caller_module VARCHAR(50) NOT NULL,
    caller_agent VARCHAR(50),
    model_name VARCHAR(100) NOT NULL,
    vendor VARCHAR(50) NOT NULL,
    prompt_text TEXT NOT NULL,
    system_message TEXT,
    completion_text TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    temperature DOUBLE PRECISION NOT NULL,
    latency_ms INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    error_message TEXT,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    CONSTRAINT llm_call_logs_pkey PRIMARY KEY (id)
);
COMMENT ON COLUMN llm_call_logs.id IS '记录唯一标识';
COMMENT ON COLUMN llm_call_logs.session_id IS '关联 session（无上下文时为 null）';
COMMENT ON COLUMN llm_call_logs.caller_module IS '调用方模块名';
COMMENT ON COLUMN llm_call_logs.caller_agent IS '调用方 Agent 标识';
COMMENT ON COLUMN llm_call_logs.model_name IS '模型名称';
COMMENT ON COLUMN llm_call_logs.vendor IS '供应商';
COMMENT ON COLUMN llm_call_logs.prompt_text IS '完整 user prompt';
COMMENT ON COLUMN llm_call_logs.system_message IS 'system prompt';
COMMENT ON COLUMN llm_call_logs.completion_text IS 'LLM 完整输出';
COMMENT ON COLUMN llm_call_logs.prompt_tokens IS 'prompt token 数';
COMMENT ON COLUMN llm_call_logs.completion_tokens IS 'completion token 数';
COMMENT ON COLUMN llm_call_logs.total_tokens IS '总 token 数';
COMMENT ON COLUMN llm_call_logs.temperature IS '温度参数';
COMMENT ON COLUMN llm_call_logs.latency_ms IS '调用耗时（毫秒）';
COMMENT ON COLUMN llm_call_logs.status IS 'success / failed';
COMMENT ON COLUMN llm_call_logs.error_message IS '错误信息';
COMMENT ON COLUMN llm_call_logs.created_at IS '记录时间';
CREATE INDEX ix_llm_call_logs_session_id_created_at ON llm_call_logs USING btree (session_id, created_at);

CREATE TABLE research_sessions (
    id UUID NOT NULL,
    symbol VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL,
    selected_experts JSONB,
    options JSONB,
    trigger_source VARCHAR(50),
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    completed_at TIMESTAMP WITHOUT TIME ZONE,
    duration_ms INTEGER,
    CONSTRAINT research_sessions_pkey PRIMARY KEY (id)
);
COMMENT ON COLUMN research_sessions.id IS '会话唯一标识';
COMMENT ON COLUMN research_sessions.symbol IS '股票代码';
COMMENT ON COLUMN research_sessions.status IS 'running / completed / partial / failed';
COMMENT ON COLUMN research_sessions.selected_experts IS '选中的专家列表';
COMMENT ON COLUMN research_sessions.options IS '执行选项';
COMMENT ON COLUMN research_sessions.trigger_source IS '触发来源（api / scheduler）';
COMMENT ON COLUMN research_sessions.created_at IS '创建时间';
COMMENT ON COLUMN research_sessions.completed_at IS '完成时间';
COMMENT ON COLUMN research_sessions.duration_ms IS '总耗时（毫秒）';
CREATE INDEX ix_research_sessions_symbol_created_at ON research_sessions USING btree (symbol, created_at);

CREATE TABLE node_executions (
    id UUID NOT NULL,
    session_id UUID NOT NULL,
    node_type VARCHAR(50) NOT NULL,
    status VARCHAR(20) NOT NULL,
    result_data JSONB,
    narrative_report TEXT,
    error_type VARCHAR(100),
    error_message TEXT,
    started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    completed_at TIMESTAMP WITHOUT TIME ZONE,
    duration_ms INTEGER,
    CONSTRAINT node_executions_pkey PRIMARY KEY (id),
    CONSTRAINT node_executions_session_id_fkey FOREIGN KEY (session_id) REFERENCES research_sessions(id) ON DELETE CASCADE
);
COMMENT ON COLUMN node_executions.id IS '记录唯一标识';
COMMENT ON COLUMN node_executions.session_id IS '关联 research_sessions';
COMMENT ON COLUMN node_executions.node_type IS '节点类型';
COMMENT ON COLUMN node_executions.status IS 'success / failed / skipped';
COMMENT ON COLUMN node_executions.result_data IS '结构化业务结果';
COMMENT ON COLUMN node_executions.narrative_report IS '文字报告';
COMMENT ON COLUMN node_executions.error_type IS '异常类名';
COMMENT ON COLUMN node_executions.error_message IS '错误详情';
COMMENT ON COLUMN node_executions.started_at IS '开始时间';
COMMENT ON COLUMN node_executions.completed_at IS '结束时间';
COMMENT ON COLUMN node_executions.duration_ms IS '节点耗时（毫秒）';
CREATE INDEX ix_node_executions_session_id ON node_executions USING btree (session_id);
