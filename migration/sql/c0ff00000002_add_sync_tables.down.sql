-- c0ff00000002_add_sync_tables (down): schema v2 -> v1. Frozen history: never edit; add a new migration instead.

DROP TABLE sync_tasks;
DROP TABLE sync_failure_records;
