-- m20261125_000002_point_in_time_finance (up): schema v5 -> v6. Frozen history: never
-- edit; add a new migration instead.
--
-- Point-in-time reads of stock_finance (`get_as_of`, `get_market_as_of`) want, per stock,
-- the newest report period and, within it, the newest version announced by a day. The key
-- (third_code, ann_date, end_date) orders by announcement, so the market-wide read had to
-- fetch and sort every version of every stock (188 ms for 5,000 stocks x 40 periods x 2
-- versions); this index walks each stock's periods newest first and skips later
-- announcements inside the index. Online, as v5: built CONCURRENTLY, outside a transaction.
-- stockdb: steps

DROP INDEX CONCURRENTLY IF EXISTS ix_stock_finance_third_code_end_date_ann_date;
-- step
CREATE INDEX CONCURRENTLY ix_stock_finance_third_code_end_date_ann_date
    ON stock_finance USING btree (third_code, end_date, ann_date);
