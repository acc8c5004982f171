//! How a table describes itself to the bulk engine, and the SQL built from that.
//!
//! A table is one list of [`BulkColumn`]s. Each entry names a column, says what happens
//! to it on conflict and carries the [`Accessor`] that reads its value from a row; the
//! accessor's variant is the column's type. Name, type and value live on one line, so a
//! column's value cannot drift to another column's place, and a value of the wrong type
//! does not compile.

use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveDateTime};

/// How an upsert treats a stored row's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Merge {
    /// Every column follows its table rule ([`ConflictRule`]): the usual `save_all`.
    #[default]
    Overwrite,
    /// A `NULL` in the new row never erases a stored value (every `Overwrite` column acts
    /// as `KeepIfNull`): for imports that bring some columns of a row at a time, such as
    /// Tushare's `daily` then `daily_basic`.
    KeepStored,
}

/// What happens to a column when the row's key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictRule {
    /// Part of the conflict key.
    Key,
    /// The new value replaces the stored one.
    Overwrite,
    /// The new value replaces the stored one unless it is NULL (`COALESCE(new, old)`).
    KeepIfNull,
    /// Written when the row is inserted, never on conflict, and not compared: a
    /// `created_at`.
    Created,
    /// Written when the row is inserted and when another column changes; not compared,
    /// so a save that changes nothing else leaves it (and the row) alone: an `updated_at`.
    Touched,
}

/// Reads one column's value from a row of type `R`; the variant is the column's
/// PostgreSQL type. `None` is SQL `NULL`.
pub enum Accessor<R> {
    /// `character varying` / `text`.
    Text(for<'a> fn(&'a R) -> Option<&'a str>),
    /// `date`.
    Date(fn(&R) -> Option<NaiveDate>),
    /// `double precision`.
    Float8(fn(&R) -> Option<f64>),
    /// `integer`.
    Int4(fn(&R) -> Option<i32>),
    /// `boolean`.
    Bool(fn(&R) -> Option<bool>),
    /// `timestamp without time zone`.
    Timestamp(fn(&R) -> Option<NaiveDateTime>),
    /// `jsonb`.
    Json(fn(&R) -> Option<serde_json::Value>),
}

// Derived impls would require `R: Clone`; the fields are plain function pointers.
impl<R> Clone for Accessor<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Accessor<R> {}

impl<R> std::fmt::Debug for Accessor<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.sql_type())
    }
}

impl<R> Accessor<R> {
    /// The column's type as the engine casts its array parameter.
    pub(crate) fn sql_type(&self) -> &'static str {
        match self {
            Self::Text(_) => "varchar",
            Self::Date(_) => "date",
            Self::Float8(_) => "float8",
            Self::Int4(_) => "int4",
            Self::Bool(_) => "bool",
            Self::Timestamp(_) => "timestamp",
            Self::Json(_) => "jsonb",
        }
    }
}

/// One column the engine writes: its name as the schema spells it, its conflict rule and
/// how to read its value.
#[derive(Debug)]
pub struct BulkColumn<R> {
    pub(crate) name: &'static str,
    pub(crate) rule: ConflictRule,
    pub(crate) value: Accessor<R>,
}

impl<R> Clone for BulkColumn<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for BulkColumn<R> {}

impl<R> BulkColumn<R> {
    /// A column of the conflict key (a unique index must cover the key columns).
    pub const fn key(name: &'static str, value: Accessor<R>) -> Self {
        Self {
            name,
            rule: ConflictRule::Key,
            value,
        }
    }

    /// A column overwritten on conflict.
    pub const fn value(name: &'static str, value: Accessor<R>) -> Self {
        Self {
            name,
            rule: ConflictRule::Overwrite,
            value,
        }
    }

    /// A column overwritten on conflict unless the new value is NULL.
    pub const fn keep_if_null(name: &'static str, value: Accessor<R>) -> Self {
        Self {
            name,
            rule: ConflictRule::KeepIfNull,
            value,
        }
    }

    /// A column written on insert only (see [`ConflictRule::Created`]).
    pub const fn created(name: &'static str, value: Accessor<R>) -> Self {
        Self {
            name,
            rule: ConflictRule::Created,
            value,
        }
    }

    /// A column rewritten only with a changed row (see [`ConflictRule::Touched`]).
    pub const fn touched(name: &'static str, value: Accessor<R>) -> Self {
        Self {
            name,
            rule: ConflictRule::Touched,
            value,
        }
    }

    /// The column's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its conflict rule.
    pub fn rule(&self) -> ConflictRule {
        self.rule
    }
}

/// The session's staging table of a large upsert (temporary: every session has its own).
const STAGE: &str = "stockdb_bulk_stage";

/// PostgreSQL's limit on the columns of a table.
const MAX_COLUMNS: usize = 1_600;

/// A table the engine writes: its name and the columns it sets.
///
/// Built in a `const` by [`BulkTable::new`], which refuses (at compile time) a table with
/// no key column, a repeated column name or more columns than PostgreSQL allows.
#[derive(Debug)]
pub struct BulkTable<R: 'static> {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [BulkColumn<R>],
}

impl<R> BulkTable<R> {
    /// The table `name` with `columns`, in the order the engine sends them.
    pub const fn new(name: &'static str, columns: &'static [BulkColumn<R>]) -> Self {
        assert!(
            columns.len() <= MAX_COLUMNS,
            "more columns than PostgreSQL allows"
        );
        let mut has_key = false;
        let mut i = 0;
        while i < columns.len() {
            if matches!(columns[i].rule, ConflictRule::Key) {
                has_key = true;
            }
            let mut j = i + 1;
            while j < columns.len() {
                assert!(
                    !same_name(columns[i].name, columns[j].name),
                    "a column is listed twice"
                );
                j += 1;
            }
            i += 1;
        }
        assert!(has_key, "a bulk table needs at least one key column");
        Self { name, columns }
    }

    /// The table's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its columns, in the order the engine sends them.
    pub fn columns(&self) -> &'static [BulkColumn<R>] {
        self.columns
    }

    /// The number of columns, as binary `COPY` writes it in each row header.
    pub(crate) fn field_count(&self) -> i16 {
        // `new` bounds the count by MAX_COLUMNS, far below i16::MAX.
        self.columns.len() as i16
    }

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

    /// `COPY <table> (<columns>) FROM STDIN (FORMAT binary)`.
    pub(crate) fn copy_sql(&self) -> String {
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            self.name,
            self.names()
        )
    }

    /// `SELECT EXISTS (…)`: does any of the rows given as arrays (like the upsert's) have a
    /// key that is already stored?
    pub(crate) fn exists_sql(&self) -> String {
        let on: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.rule == ConflictRule::Key)
            .map(|c| format!("t.{0} = u.{0}", c.name))
            .collect();
        format!(
            "SELECT EXISTS (SELECT 1 FROM {} t JOIN UNNEST({}) AS u({}) ON {})",
            self.name,
            self.array_params(),
            self.names(),
            on.join(" AND ")
        )
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

    /// The upsert statement, with one array parameter per column, returning how many rows
    /// were inserted and how many updated. Rows whose stored values would not change are
    /// not rewritten.
    pub(crate) fn upsert_sql(&self, merge: Merge) -> String {
        self.upsert_from(&format!("UNNEST({})", self.array_params()), merge)
    }

    /// [`Self::upsert_sql`] reading the staging table instead of arrays: in the order
    /// its rows were copied, which is key order.
    pub(crate) fn upsert_from_stage_sql(&self, merge: Merge) -> String {
        self.upsert_from(STAGE, merge)
    }

    fn upsert_from(&self, source: &str, merge: Merge) -> String {
        let keys: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| c.rule == ConflictRule::Key)
            .map(|c| c.name)
            .collect();
        let (mut set, mut stored, mut merged) = (Vec::new(), Vec::new(), Vec::new());
        for column in self.columns {
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
        let (table, names) = (self.name, self.names());
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
        // `xmax = 0` tells a freshly inserted row from an updated one.
        format!(
            "WITH upserted AS (\
               INSERT INTO {table} AS t ({names}) SELECT * FROM {source} \
               ON CONFLICT ({keys}) {on_conflict} \
               RETURNING (t.xmax = 0) AS inserted) \
             SELECT count(*) FILTER (WHERE inserted) AS inserted, \
                    count(*) FILTER (WHERE NOT inserted) AS updated \
             FROM upserted"
        )
    }
}

/// Byte-wise string equality usable in a `const fn`.
const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row of the test table.
    pub(crate) struct Demo(pub(crate) &'static str, pub(crate) f64);

    pub(crate) const DEMO: BulkTable<Demo> = BulkTable::new(
        "demo",
        &[
            BulkColumn::key("code", Accessor::Text(|d| Some(d.0))),
            BulkColumn::value("price", Accessor::Float8(|d| Some(d.1))),
            BulkColumn::keep_if_null("synced", Accessor::Date(|_| None)),
        ],
    );

    #[test]
    fn upsert_sql_binds_one_array_per_column() {
        let sql = DEMO.upsert_sql(Merge::Overwrite);
        assert!(
            sql.contains("UNNEST($1::varchar[], $2::float8[], $3::date[])"),
            "{sql}"
        );
        assert!(sql.contains("ON CONFLICT (code) DO UPDATE SET price = EXCLUDED.price, synced = COALESCE(EXCLUDED.synced, t.synced)"), "{sql}");
        assert!(sql.contains("WHERE (t.price, t.synced) IS DISTINCT FROM (EXCLUDED.price, COALESCE(EXCLUDED.synced, t.synced))"), "{sql}");
    }

    #[test]
    fn keep_stored_coalesces_every_value_column() {
        let sql = DEMO.upsert_sql(Merge::KeepStored);
        assert!(
            sql.contains("SET price = COALESCE(EXCLUDED.price, t.price)"),
            "{sql}"
        );
    }

    #[test]
    fn copy_and_probe_name_the_columns_in_order() {
        assert_eq!(
            DEMO.copy_sql(),
            "COPY demo (code, price, synced) FROM STDIN (FORMAT binary)"
        );
        assert!(DEMO.exists_sql().contains("ON t.code = u.code"));
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
        let sql = STAMPED.upsert_sql(Merge::Overwrite);
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
        let sql = KEYS.upsert_sql(Merge::Overwrite);
        assert!(sql.contains("ON CONFLICT (code) DO NOTHING"), "{sql}");
    }

    #[test]
    fn names_compare_byte_for_byte() {
        assert!(same_name("area", "area"));
        assert!(!same_name("area", "industry"));
        assert!(!same_name("area", "areas"));
    }
}
