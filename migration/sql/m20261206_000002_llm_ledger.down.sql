-- m20261206_000002_llm_ledger (down): schema v10 -> v9. The rollups go with their tables,
-- and the calls' token kinds and config aliases with their columns: `stockdb migrate down`
-- lists the tables that hold rows before it runs.

DROP TABLE IF EXISTS scores;
DROP TABLE IF EXISTS llm_budgets;
DROP TABLE IF EXISTS external_api_call_daily;
DROP TABLE IF EXISTS llm_session_daily;
DROP TABLE IF EXISTS llm_call_daily;
DROP TABLE IF EXISTS audit_rollup_days;
ALTER TABLE llm_model_prices
    DROP CONSTRAINT ck_llm_model_prices_amounts,
    DROP COLUMN reasoning_output_per_million,
    ADD CONSTRAINT ck_llm_model_prices_amounts CHECK (input_per_million >= 0 AND output_per_million >= 0
        AND (cached_input_per_million IS NULL OR cached_input_per_million >= 0));
ALTER TABLE llm_call_logs
    DROP CONSTRAINT ck_llm_call_logs_token_kinds,
    DROP COLUMN cached_prompt_tokens,
    DROP COLUMN reasoning_tokens,
    DROP COLUMN config_alias;
