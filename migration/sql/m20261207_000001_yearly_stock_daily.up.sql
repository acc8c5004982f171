-- m20261207_000001_yearly_stock_daily (up): schema v13 -> v14. Frozen history once
-- released: add a new migration instead.
--
-- stock_daily becomes range-partitioned by trade_date, one partition a year
-- (`stock_daily_YYYY`), plus a default partition for rows of a year that has none yet.
-- Fillfactor 40 (room for the next file's columns to update a row in place) then costs
-- disk only where rows are still written: the open year; a closed year is packed at
-- fillfactor 100 by `stockdb db partitions` (data_engineering::partitions), which also
-- splits the partition this conversion makes into years, online.
--
-- The existing table, with all its rows, becomes one partition (`stock_daily_before_YYYY`,
-- from MINVALUE to the first day of next year, or later if a stored bar is dated later):
-- attached, not copied, so the conversion costs the same for ten rows or thirty million.
-- An empty table is not kept as such a partition: every year a writer brings gets its own.
-- Writers are held up only by the short swap step (under `lock_timeout`, retried):
--   1. CHECK (trade_date < bound) added NOT VALID, then validated (no write lock), so that
--      the attach need not scan the table;
--   2. in one transaction: the table renamed to its partition's name (its key and index
--      with it), the partitioned table made LIKE it (columns, CHECKs, comments) with the
--      old names, the old table attached (or dropped, when empty), this year's partition
--      (when the old table is not attached) and next year's made, and the default one.
-- On a Citus coordinator where stock_daily is distributed, the partitioned table is
-- distributed co-located with it before the attach. A run killed half way is run again:
-- each step skips what is done.
-- stockdb: steps

-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'stock_daily'::regclass)
DO $$
DECLARE
    bound date;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'stock_daily'::regclass
                   AND conname = 'stock_daily_partition_bound') THEN
        SELECT make_date(greatest(extract(year FROM now() AT TIME ZONE 'utc')::int,
                                  extract(year FROM max(trade_date))::int) + 1, 1, 1)
          INTO bound FROM stock_daily;
        EXECUTE format('ALTER TABLE stock_daily ADD CONSTRAINT stock_daily_partition_bound '
                       'CHECK (trade_date < %L) NOT VALID', bound);
    END IF;
END $$;
-- step
-- skip if: SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'stock_daily'::regclass)
ALTER TABLE stock_daily VALIDATE CONSTRAINT stock_daily_partition_bound;
-- step
DO $$
DECLARE
    bound date;
    legacy text;
    year date;
    empty boolean;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'stock_daily'::regclass) THEN
        RETURN;
    END IF;
    SELECT substring(pg_get_constraintdef(oid) FROM '''([^'']+)''')::date INTO bound
      FROM pg_constraint WHERE conrelid = 'stock_daily'::regclass AND conname = 'stock_daily_partition_bound';
    legacy := 'stock_daily_before_' || to_char(bound, 'YYYY');
    EXECUTE format('ALTER TABLE stock_daily RENAME TO %I', legacy);
    -- Under the rename's lock: no writer can add a row after this look.
    EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %I)', legacy) INTO empty;
    -- Renaming the index renames its constraint (Citus refuses RENAME CONSTRAINT).
    EXECUTE format('ALTER INDEX stock_daily_pkey RENAME TO %I', legacy || '_pkey');
    EXECUTE format('ALTER INDEX ix_stock_daily_trade_date RENAME TO %I', legacy || '_trade_date_idx');
    EXECUTE format('CREATE TABLE stock_daily (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING COMMENTS INCLUDING STORAGE, '
                   'CONSTRAINT stock_daily_pkey PRIMARY KEY (third_code, trade_date)) '
                   'PARTITION BY RANGE (trade_date)', legacy);
    ALTER TABLE stock_daily DROP CONSTRAINT stock_daily_partition_bound;
    CREATE INDEX ix_stock_daily_trade_date ON stock_daily USING btree (trade_date);
    -- On a Citus coordinator where the table is distributed, the partitioned table is
    -- distributed with it (co-located), so that the old table attaches shard by shard and
    -- every partition made later is distributed alike.
    IF to_regclass('pg_dist_partition') IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM pg_dist_partition
                   WHERE logicalrelid = legacy::regclass AND partmethod = 'h') THEN
            EXECUTE format('SELECT create_distributed_table(''stock_daily'', ''third_code'', '
                           'colocate_with => %L)', legacy);
        END IF;
    END IF;
    IF empty THEN
        EXECUTE format('DROP TABLE %I', legacy);
        year := bound - interval '1 year';
        EXECUTE format('CREATE TABLE %I PARTITION OF stock_daily FOR VALUES FROM (%L) TO (%L) '
                       'WITH (fillfactor = 40)', 'stock_daily_' || to_char(year, 'YYYY'), year, bound);
    ELSE
        EXECUTE format('ALTER TABLE stock_daily ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
                       legacy, bound);
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT stock_daily_partition_bound', legacy);
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF stock_daily FOR VALUES FROM (%L) TO (%L) '
                   'WITH (fillfactor = 40)', 'stock_daily_' || to_char(bound, 'YYYY'), bound,
                   (bound + interval '1 year')::date);
    CREATE TABLE stock_daily_default PARTITION OF stock_daily DEFAULT WITH (fillfactor = 40);
END $$;
