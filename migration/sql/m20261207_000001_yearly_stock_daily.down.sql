-- m20261207_000001_yearly_stock_daily (down): schema v14 -> v13. Frozen history once
-- released: never edit.
--
-- stock_daily back into one plain table at fillfactor 40: every partition's rows copied
-- into it (this takes the time of a copy and holds the table while it runs), the
-- partitions dropped. On a Citus coordinator where it is distributed, the plain table is
-- distributed the same way (co-located) before the copy, so the rows stay on the workers.
-- One statement, so that Citus never sees a script of several.
DO $$
BEGIN
    ALTER TABLE stock_daily RENAME TO stock_daily_partitioned;
    CREATE TABLE stock_daily (LIKE stock_daily_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
        INCLUDING COMMENTS INCLUDING STORAGE) WITH (fillfactor = 40);
    IF to_regclass('pg_dist_partition') IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_dist_partition
                   WHERE logicalrelid = 'stock_daily_partitioned'::regclass AND partmethod = 'h') THEN
            EXECUTE 'SELECT create_distributed_table(''stock_daily'', ''third_code'', '
                    'colocate_with => ''stock_daily_partitioned'')';
        END IF;
    END IF;
    INSERT INTO stock_daily SELECT * FROM stock_daily_partitioned;
    DROP TABLE stock_daily_partitioned;
    -- The key's and the index's names are free once the partitioned table is gone.
    ALTER TABLE stock_daily ADD CONSTRAINT stock_daily_pkey PRIMARY KEY (third_code, trade_date);
    CREATE INDEX ix_stock_daily_trade_date ON stock_daily USING btree (trade_date);
END $$;
