-- m20261125_000003_llm_model_prices (down): schema v7 -> v6, exactly. Frozen history:
-- never edit; add a new migration instead.

DROP TABLE llm_model_prices;
