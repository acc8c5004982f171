-- m20261125_000003_llm_model_prices (up): schema v6 -> v7. Frozen history: never edit; add
-- a new migration instead.
--
-- Model prices with the time they took effect, so that a call is priced at the price in
-- force when it ran and a new price never rewrites the past. A new table: nothing to do
-- online (no one else's lock is taken).

CREATE TABLE llm_model_prices (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    vendor VARCHAR(50) NOT NULL,
    model VARCHAR(100) NOT NULL,
    effective_from TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    input_per_million NUMERIC(20, 6) NOT NULL,
    output_per_million NUMERIC(20, 6) NOT NULL,
    cached_input_per_million NUMERIC(20, 6),
    currency VARCHAR(3) NOT NULL,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    CONSTRAINT llm_model_prices_pkey PRIMARY KEY (id),
    CONSTRAINT uq_llm_model_prices_vendor_model_effective_from UNIQUE (vendor, model, effective_from),
    CONSTRAINT ck_llm_model_prices_amounts CHECK (input_per_million >= 0 AND output_per_million >= 0
        AND (cached_input_per_million IS NULL OR cached_input_per_million >= 0)),
    CONSTRAINT ck_llm_model_prices_currency CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT ck_llm_model_prices_model CHECK (model <> '' AND model <> '*')
);
COMMENT ON TABLE llm_model_prices IS 'LLM 模型价格（按生效时间）';
COMMENT ON COLUMN llm_model_prices.vendor IS '供应商，与 llm_call_logs.vendor 相同';
COMMENT ON COLUMN llm_model_prices.model IS '模型名称，或以 * 结尾的前缀（deepseek-*）';
COMMENT ON COLUMN llm_model_prices.effective_from IS '生效时间（UTC），此后的调用按此价格计费';
COMMENT ON COLUMN llm_model_prices.input_per_million IS '每百万输入 token 价格';
COMMENT ON COLUMN llm_model_prices.output_per_million IS '每百万输出 token 价格';
COMMENT ON COLUMN llm_model_prices.cached_input_per_million IS '每百万缓存命中输入 token 价格';
COMMENT ON COLUMN llm_model_prices.currency IS '币种（ISO 4217，如 CNY、USD）';
COMMENT ON COLUMN llm_model_prices.created_at IS '记录时间';
