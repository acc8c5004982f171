//! The SQL the engine sends, built from a table's description ([`BulkTable`]) and the
//! relation a call writes ([`Target`]: the table, or one of its partitions): binary `COPY`
//! into it or into a session's staging table, the probe for stored keys, and the upsert
//! that reports how many rows it inserted and updated.

use std::fmt::Write as _;

use super::table::{BulkTable, ConflictRule, CountedBy, Destination, Merge};
use crate::ranges::quote_ident;

/// The session's staging table of a large upsert (temporary: every session has its own).
const STAGE: &str = "stockdb_bulk_stage";

impl<R> BulkTable<R> {
    fn names(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name).collect();
        names.join(", ")
    }

    /// `$1::varchar[], $2::date[], …`: one array parameter per column.
    fn array_params(&self) -> String {
        let mut arrays = String::new();
        for (idx, column) in self.columns.iter().enumerate() {
            let sep = if idx == 0 { "" } else { ", " };
            let _ = write!(arrays, "{sep}${}::{}[]", idx + 1, column.value.sql_type());
        }
        arrays
    }

    /// `t.k1 = u.k1 AND …` over the key columns: a stored row `t` and a given one `u`.
    fn keys_match(&self) -> String {
        let on: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.rule == ConflictRule::Key)
            .map(|c| format!("t.{0} = u.{0}", c.name))
            .collect();
        on.join(" AND ")
    }

    /// `CREATE TEMP TABLE` of the staging table: the engine's columns, their types, no
    /// constraint; dropped by the call that made it (or with its transaction).
    pub(crate) fn create_stage_sql(&self) -> String {
        format!(
            "CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
            self.names(),
            self.name
        )
    }

    /// `DROP TABLE` of the staging table.
    pub(crate) fn drop_stage_sql(&self) -> String {
        format!("DROP TABLE {STAGE}")
    }

    /// `COPY` into the staging table.
    pub(crate) fn copy_stage_sql(&self) -> String {
        format!("COPY {STAGE} ({}) FROM STDIN (FORMAT binary)", self.names())
    }
}

/// Whether `$1` (a quoted name) is still a partition of table `$2`: not detached, nor
/// being detached.
pub(crate) const ATTACHED_SQL: &str = "SELECT EXISTS (SELECT 1 FROM pg_inherits \
     WHERE inhrelid = to_regclass($1) AND inhparent = to_regclass($2) \
     AND NOT inhdetachpending)";

/// The relation a call writes: the table itself, or one of its partitions, a plain table
/// whose `xmax` `RETURNING` may read.
pub(crate) struct Target<R: 'static> {
    table: &'static BulkTable<R>,
    /// The partition written, its name quoted; `None`: the table.
    partition: Option<String>,
}

impl<R> Target<R> {
    pub(crate) fn new(table: &'static BulkTable<R>, destination: Destination<'_>) -> Self {
        let partition = match destination {
            Destination::Table => None,
            Destination::Partition(name) => Some(quote_ident(name)),
        };
        Self { table, partition }
    }

    /// How its upsert counts what it wrote: a partition by `xmax`, the table by its own
    /// rule ([`BulkTable::partitioned`]).
    pub(crate) fn counted_by(&self) -> CountedBy {
        match self.partition {
            Some(_) => CountedBy::Xmax,
            None => self.table.counted_by,
        }
    }

    /// The partition written, its name quoted; `None` for the table.
    pub(crate) fn partition(&self) -> Option<&str> {
        self.partition.as_deref()
    }

    /// The relation's name as the SQL spells it.
    fn name(&self) -> &str {
        self.partition().unwrap_or(self.table.name)
    }

    /// `COPY <table> (<columns>) FROM STDIN (FORMAT binary)`.
    pub(crate) fn copy_sql(&self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.name(),
            self.table.names()
        )
    }

    /// `SELECT EXISTS (…)`: does any of the rows given as arrays (like the upsert's) have a
    /// key that is already stored?
    pub(crate) fn exists_sql(&self) -> String {
        format!(
            "SELECT EXISTS (SELECT 1 FROM {} t JOIN UNNEST({}) AS u({}) ON {})",
            self.name(),
            self.table.array_params(),
            self.table.names(),
            self.table.keys_match()
        )
    }

    /// How many of the rows given as arrays (like the upsert's) have a key already stored,
    /// or of the staged rows (`staged`): for a table counted by its stored keys.
    pub(crate) fn stored_sql(&self, staged: bool) -> String {
        let (source, filter) = if staged {
            (STAGE.to_owned(), String::new())
        } else {
            // The first key column's values again, as a filter Citus prunes shards by:
            // a batch of one stock reads one shard.
            let (idx, first) = self
                .table
                .columns
                .iter()
                .enumerate()
                .find(|(_, c)| c.rule == ConflictRule::Key)
                .map_or((0, ""), |(idx, c)| (idx, c.name));
            (
                format!("UNNEST({})", self.table.array_params()),
                format!(
                    " WHERE t.{first} = ANY(${}::{}[])",
                    idx + 1,
                    self.table.columns[idx].value.sql_type()
                ),
            )
        };
        format!(
            "SELECT count(*) FROM {} t JOIN {source} AS u({}) ON {}{filter}",
            self.name(),
            self.table.names(),
            self.table.keys_match()
        )
    }

    /// The upsert statement, with one array parameter per column, returning how many rows
    /// were inserted and how many updated. Rows whose stored values would not change are
    /// not rewritten.
    pub(crate) fn upsert_sql(&self, merge: Merge) -> String {
        self.upsert_from(&format!("UNNEST({})", self.table.array_params()), merge)
    }

    /// [`Self::upsert_sql`] reading the staging table instead of arrays: in the order
    /// its rows were copied, which is key order.
    pub(crate) fn upsert_from_stage_sql(&self, merge: Merge) -> String {
        self.upsert_from(STAGE, merge)
    }

    fn upsert_from(&self, source: &str, merge: Merge) -> String {
        let keys: Vec<&str> = self
            .table
            .columns
            .iter()
            .filter(|c| c.rule == ConflictRule::Key)
            .map(|c| c.name)
            .collect();
        let (mut set, mut stored, mut merged) = (Vec::new(), Vec::new(), Vec::new());
        for column in self.table.columns {
            let new_value = match (column.rule, merge) {
                (ConflictRule::Key | ConflictRule::Created, _) => continue,
                (ConflictRule::Touched, _) => {
                    set.push(format!("{0} = EXCLUDED.{0}", column.name));
                    continue;
                }
                (ConflictRule::Overwrite, Merge::Overwrite) => format!("EXCLUDED.{}", column.name),
                (ConflictRule::KeepIfNull, _) | (ConflictRule::Overwrite, Merge::KeepStored) => {
                    format!("COALESCE(EXCLUDED.{0}, t.{0})", column.name)
                }
            };
            set.push(format!("{} = {new_value}", column.name));
            stored.push(format!("t.{}", column.name));
            merged.push(new_value);
        }
        let (table, names) = (self.name(), self.table.names());
        let keys = keys.join(", ");
        // A table of keys and stamps only has nothing to update.
        let on_conflict = if stored.is_empty() {
            "DO NOTHING".to_owned()
        } else {
            format!(
                "DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})",
                set.join(", "),
                stored.join(", "),
                merged.join(", ")
            )
        };
        match self.counted_by() {
            // `xmax = 0` tells a freshly inserted row from an updated one.
            CountedBy::Xmax => format!(
                "WITH upserted AS (\
                   INSERT INTO {table} AS t ({names}) SELECT * FROM {source} \
                   ON CONFLICT ({keys}) {on_conflict} \
                   RETURNING (t.xmax = 0) AS inserted) \
                 SELECT count(*) FILTER (WHERE inserted) AS inserted, \
                        count(*) FILTER (WHERE NOT inserted) AS updated \
                 FROM upserted"
            ),
            // The inserted rows are told from the updated ones by the keys stored before
            // the statement, counted by [`Self::stored_sql`] first: one statement cannot
            // do both on Citus, which runs a writing CTE before its readers.
            CountedBy::StoredKeys => format!(
                "WITH upserted AS (\
                   INSERT INTO {table} AS t ({names}) SELECT * FROM {source} \
                   ON CONFLICT ({keys}) {on_conflict} RETURNING 1) \
                 SELECT count(*) AS written, 0::int8 FROM upserted"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::table::tests::{DEMO, Demo};
    use crate::bulk::table::{Accessor, BulkColumn};

    /// The table itself as the written relation.
    fn whole<R>(table: &'static BulkTable<R>) -> Target<R> {
        Target::new(table, Destination::Table)
    }

    #[test]
    fn upsert_sql_binds_one_array_per_column() {
        let sql = whole(&DEMO).upsert_sql(Merge::Overwrite);
        assert!(
            sql.contains("UNNEST($1::varchar[], $2::float8[], $3::date[])"),
            "{sql}"
        );
        assert!(sql.contains("ON CONFLICT (code) DO UPDATE SET price = EXCLUDED.price, synced = COALESCE(EXCLUDED.synced, t.synced)"), "{sql}");
        assert!(sql.contains("WHERE (t.price, t.synced) IS DISTINCT FROM (EXCLUDED.price, COALESCE(EXCLUDED.synced, t.synced))"), "{sql}");
    }

    #[test]
    fn keep_stored_coalesces_every_value_column() {
        let sql = whole(&DEMO).upsert_sql(Merge::KeepStored);
        assert!(
            sql.contains("SET price = COALESCE(EXCLUDED.price, t.price)"),
            "{sql}"
        );
    }

    #[test]
    fn copy_and_probe_name_the_columns_in_order() {
        assert_eq!(
            whole(&DEMO).copy_sql(),
            "COPY demo (code, price, synced) FROM STDIN (FORMAT binary)"
        );
        assert!(whole(&DEMO).exists_sql().contains("ON t.code = u.code"));
        assert_eq!(DEMO.field_count(), 3);
    }

    struct Stamped(&'static str, f64);

    const STAMPED: BulkTable<Stamped> = BulkTable::new(
        "stamped",
        &[
            BulkColumn::key("code", Accessor::Text(|d| Some(d.0))),
            BulkColumn::value("price", Accessor::Float8(|d| Some(d.1))),
            BulkColumn::created("created_at", Accessor::Timestamp(|_| None)),
            BulkColumn::touched("updated_at", Accessor::Timestamp(|_| None)),
        ],
    );

    #[test]
    fn stamps_are_written_but_never_compared() {
        let sql = whole(&STAMPED).upsert_sql(Merge::Overwrite);
        assert!(
            sql.contains("DO UPDATE SET price = EXCLUDED.price, updated_at = EXCLUDED.updated_at WHERE (t.price) IS DISTINCT FROM (EXCLUDED.price)"),
            "{sql}"
        );
        assert!(!sql.contains("created_at ="), "{sql}");
    }

    #[test]
    fn a_table_of_keys_only_does_nothing_on_conflict() {
        const KEYS: BulkTable<Stamped> = BulkTable::new(
            "keys",
            &[
                BulkColumn::key("code", Accessor::Text(|d| Some(d.0))),
                BulkColumn::created("created_at", Accessor::Timestamp(|_| None)),
            ],
        );
        let sql = whole(&KEYS).upsert_sql(Merge::Overwrite);
        assert!(sql.contains("ON CONFLICT (code) DO NOTHING"), "{sql}");
    }

    #[test]
    fn a_partitioned_table_counts_stored_keys_instead_of_xmax() {
        const PARTS: BulkTable<Demo> = DEMO.partitioned();
        let sql = whole(&PARTS).upsert_sql(Merge::Overwrite);
        assert!(!sql.contains("xmax"), "{sql}");
        assert!(sql.contains("RETURNING 1"), "{sql}");
        let stored = whole(&PARTS).stored_sql(true);
        assert!(
            stored.contains("JOIN stockdb_bulk_stage AS u(code, price, synced) ON t.code = u.code"),
            "{stored}"
        );
    }

    #[test]
    fn a_partition_is_written_by_its_quoted_name_and_counted_by_xmax() {
        const PARTS: BulkTable<Demo> = DEMO.partitioned();
        let leaf = Target::new(&PARTS, Destination::Partition("demo_2026"));
        let sql = leaf.upsert_from_stage_sql(Merge::Overwrite);
        assert!(sql.contains("INSERT INTO \"demo_2026\" AS t"), "{sql}");
        assert!(sql.contains("RETURNING (t.xmax = 0)"), "{sql}");
        assert_eq!(
            leaf.copy_sql(),
            "COPY \"demo_2026\" (code, price, synced) FROM STDIN (FORMAT binary)"
        );
        // A name is an identifier, never SQL.
        let odd = Target::new(&PARTS, Destination::Partition("x\"; DROP TABLE demo; --"));
        assert!(
            odd.copy_sql()
                .starts_with("COPY \"x\"\"; DROP TABLE demo; --\" (")
        );
        // The staging table keeps the table's shape.
        assert!(PARTS.create_stage_sql().contains("FROM demo WITH NO DATA"));
    }
}
