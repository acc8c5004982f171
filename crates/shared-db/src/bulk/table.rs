//! How a table describes itself to the bulk engine (the SQL built from that is `sql`'s).
//!
//! A table is one list of [`BulkColumn`]s. Each entry names a column, says what happens
//! to it on conflict and carries the [`Accessor`] that reads its value from a row; the
//! accessor's variant is the column's type. Name, type and value live on one line, so a
//! column's value cannot drift to another column's place, and a value of the wrong type
//! does not compile.

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

/// The relation an upsert writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Destination<'a> {
    /// The table: a partitioned one routes each row to its partition, and its upsert
    /// counts the stored keys first to tell inserts from updates
    /// ([`BulkTable::partitioned`]).
    #[default]
    Table,
    /// One partition of the table, by name, that holds every row of the call (the caller
    /// knows its bounds: a year's bars, say): written straight, so its rows skip routing
    /// and the upsert counts inserts and updates by `xmax`, with no probe of the stored
    /// keys first. The name is quoted as an identifier; a row outside the partition's
    /// bound fails the whole call (PostgreSQL checks the partition constraint) and nothing
    /// is written.
    Partition(&'a str),
}

impl<'a> From<Option<&'a str>> for Destination<'a> {
    /// `Some(name)`: that partition; `None`: the table.
    fn from(partition: Option<&'a str>) -> Self {
        partition.map_or(Self::Table, Self::Partition)
    }
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
    /// How the upsert tells inserted rows from updated ones (see [`Self::partitioned`]).
    pub(crate) counted_by: CountedBy,
}

/// How an upsert statement counts the rows it inserted apart from those it updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountedBy {
    /// Each returned row's `xmax = 0`: exact, and free.
    Xmax,
    /// The batch's keys already stored, counted in the statement's own snapshot: for a
    /// partitioned table, where PostgreSQL refuses system columns in `RETURNING`.
    StoredKeys,
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
        Self {
            name,
            columns,
            counted_by: CountedBy::Xmax,
        }
    }

    /// The same table, partitioned (or one that may be): PostgreSQL refuses `RETURNING
    /// xmax` there ("cannot retrieve a system column in this context"), so the upsert
    /// counts the batch's keys already stored before it writes, in the same statement (one
    /// snapshot), and takes the rest of the rows it wrote as inserted. Works on a plain
    /// table too, at the cost of one more index probe per row on the conflict path.
    ///
    /// The counts are exact unless another transaction inserts some of the batch's keys
    /// while the statement runs: those rows, updated by `ON CONFLICT`, are then counted as
    /// inserted (nothing is written twice either way).
    pub const fn partitioned(self) -> Self {
        Self {
            counted_by: CountedBy::StoredKeys,
            ..self
        }
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
    fn names_compare_byte_for_byte() {
        assert!(same_name("area", "area"));
        assert!(!same_name("area", "industry"));
        assert!(!same_name("area", "areas"));
    }
}
