-- c0ff00000001_initial_schema (down): schema v1 -> v0. Frozen history: never edit; add a new migration instead.

DROP TABLE stock_info;
DROP TABLE stock_finance;
DROP TABLE stock_daily;
DROP TABLE llm_configs;
