-- m20261125_000002_point_in_time_finance (down): schema v6 -> v5, exactly.
-- Frozen history: never edit; add a new migration instead.
-- stockdb: steps

DROP INDEX CONCURRENTLY IF EXISTS ix_stock_finance_third_code_end_date_ann_date;
