-- The partitions of one partitioned table ($1, schema-qualified): name, bound as the
-- catalog prints it (`FOR VALUES FROM (…) TO (…)`), the planner's row estimate (-1 before
-- the first ANALYZE: shown as 0) and the size with indexes and TOAST.
SELECT c.relname::text AS name,
       pg_get_expr(c.relpartbound, c.oid) AS bound,
       greatest(c.reltuples, 0)::float8 AS estimate,
       pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass($1)
