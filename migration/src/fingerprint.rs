//! The schema fingerprint: the `public` schema printed as stable, diff-friendly text.
//!
//! The same catalog queries as `shared/tools/schema-fingerprint`, so a database prints
//! byte for byte what that tool prints, plus one line that tool does not have: a table's
//! storage parameters (`  options fillfactor=80`), which schema version 5 sets, and
//! version 8's partitioned tables: a partitioned table prints once, with a
//! `  partition by RANGE (created_at)` line, and its partitions not at all (which months
//! exist depends on when the database was made and what retention dropped, not on the
//! schema), but for its default partition (version 9), which is schema:
//! `  default partition llm_call_logs_default`. No table of versions 0–4 has either, so their prints are the tool's. The golden prints of each schema version are
//! committed under `migration/golden/`.

use std::collections::BTreeSet;

use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, Statement, TransactionSession, TransactionTrait,
};

/// Golden fingerprints, indexed by schema version (0 = empty schema).
const GOLDEN: &[&str] = &[
    include_str!("../golden/v0.txt"),
    include_str!("../golden/v1.txt"),
    include_str!("../golden/v2.txt"),
    include_str!("../golden/v3.txt"),
    include_str!("../golden/v4.txt"),
    include_str!("../golden/v5.txt"),
    include_str!("../golden/v6.txt"),
    include_str!("../golden/v7.txt"),
    include_str!("../golden/v8.txt"),
    include_str!("../golden/v9.txt"),
    include_str!("../golden/v10.txt"),
    include_str!("../golden/v11.txt"),
    include_str!("../golden/v12.txt"),
    include_str!("../golden/v13.txt"),
    include_str!("../golden/v14.txt"),
];

/// The expected fingerprint after applying the first `version` migrations, if one is
/// recorded for that version.
pub fn golden(version: usize) -> Option<&'static str> {
    GOLDEN.get(version).copied()
}

/// The tables of a print.
pub(crate) fn tables_of(print: &str) -> BTreeSet<&str> {
    print
        .lines()
        .filter_map(|line| line.strip_prefix("table "))
        .map(|rest| rest.split_whitespace().next().unwrap_or(rest))
        .collect()
}

/// Every table a stockdb migration creates (whatever the version).
pub(crate) fn managed_tables() -> BTreeSet<&'static str> {
    GOLDEN.iter().copied().flat_map(tables_of).collect()
}

/// `base` with the tables `tables` of `source` (and the sequences they own) added, in
/// print order: tables by name, then the other lines by name. What a database holds that
/// has `base`'s schema plus those tables exactly as `source` prints them.
pub fn with_tables(base: &str, source: &str, tables: &[&str]) -> String {
    let mut blocks: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    let mut others: Vec<&str> = Vec::new();
    for (print, only) in [(base, None), (source, Some(tables))] {
        let mut current: Option<&str> = None;
        for line in print.lines() {
            if let Some(rest) = line.strip_prefix("table ") {
                let name = rest.split_whitespace().next().unwrap_or(rest);
                current = only.is_none_or(|only| only.contains(&name)).then_some(name);
                if let Some(name) = current {
                    blocks.insert(name, vec![line]);
                }
            } else if line.starts_with("  ") {
                if let Some(block) = current.and_then(|name| blocks.get_mut(name)) {
                    block.push(line);
                }
            } else {
                current = None;
                let owned = line
                    .split_once(" owned by ")
                    .and_then(|(_, column)| column.split_once('.'))
                    .map(|(table, _)| table);
                if only.is_none_or(|only| owned.is_some_and(|table| only.contains(&table))) {
                    others.push(line);
                }
            }
        }
    }
    others.sort_unstable();
    let mut out = String::new();
    for line in blocks.values().flatten().chain(&others) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A print split into what stockdb manages and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitPrint {
    /// The lines of stockdb's tables (and the sequences they own), as the golden prints
    /// have them.
    pub managed: String,
    /// Everything else in the schema (another application's tables, sequences, views,
    /// enums), one name per object: what stockdb leaves alone.
    pub others: Vec<String>,
}

/// Splits `print` into the part stockdb manages and the names of everything else.
pub fn split_managed(print: &str) -> SplitPrint {
    let managed_tables = managed_tables();
    let mut managed = String::new();
    let mut others = Vec::new();
    let mut in_managed_table = false;
    for line in print.lines() {
        let keep = if let Some(rest) = line.strip_prefix("table ") {
            let name = rest.split_whitespace().next().unwrap_or(rest);
            in_managed_table = managed_tables.contains(name);
            if !in_managed_table {
                others.push(format!("table {name}"));
            }
            in_managed_table
        } else if line.starts_with("  ") {
            in_managed_table
        } else {
            in_managed_table = false;
            let owner = line
                .split_once(" owned by ")
                .and_then(|(_, column)| column.split_once('.'))
                .map(|(table, _)| table);
            let ours = owner.is_some_and(|table| managed_tables.contains(table));
            if !ours {
                others.push(
                    line.split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            ours
        };
        if keep {
            managed.push_str(line);
            managed.push('\n');
        }
    }
    SplitPrint { managed, others }
}

/// Session settings that make the printed text independent of the caller's environment.
const SETTINGS: &str = "SET LOCAL search_path = public; SET LOCAL datestyle = 'ISO, YMD'; \
     SET LOCAL intervalstyle = 'postgres'; SET LOCAL timezone = 'UTC'; \
     SET LOCAL extra_float_digits = 1";

const TABLES: &str = r#"
with tabs as (
  select c.oid, c.relname, c.reloptions
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
    and c.relname not in ('alembic_version', 'seaql_migrations')
    and not exists (select 1 from pg_depend e where e.classid = 'pg_class'::regclass
                    and e.objid = c.oid and e.deptype = 'e')
),
lines as (
  select t.relname as tbl, 0 as sect, ''::text as k, 0 as ord,
         'table ' || t.relname || coalesce('  -- ' || obj_description(t.oid, 'pg_class'), '') as line
  from tabs t
  union all
  select t.relname, 0, '', 1, '  options ' || array_to_string(t.reloptions, ', ')
  from tabs t where t.reloptions is not null
  union all
  select t.relname, 0, '', 2, '  partition by ' || pg_get_partkeydef(t.oid)
  from tabs t join pg_partitioned_table pt on pt.partrelid = t.oid
  union all
  select t.relname, 0, '', 3, '  default partition ' || d.relname
  from tabs t join pg_partitioned_table pt on pt.partrelid = t.oid
  join pg_class d on d.oid = pt.partdefid
  union all
  select t.relname, 1, '', a.attnum,
         '  column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || case when a.attcollation <> 0 and a.attcollation <> ty.typcollation
                 then ' COLLATE ' || quote_ident(co.collname) else '' end
         || case when a.attnotnull then ' NOT NULL' else ' NULL' end
         || case when a.attgenerated = 's'
                 then ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'
                 else coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') end
         || case a.attidentity when 'a' then ' IDENTITY ALWAYS'
                               when 'd' then ' IDENTITY BY DEFAULT' else '' end
         || coalesce('  -- ' || col_description(t.oid, a.attnum), '')
  from tabs t
  join pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
  join pg_type ty on ty.oid = a.atttypid
  left join pg_collation co on co.oid = a.attcollation
  left join pg_attrdef d on d.adrelid = t.oid and d.adnum = a.attnum
  union all
  select t.relname, 2, con.conname::text, 0,
         '  constraint ' || con.conname || ' ' || con.contype::text || ' '
         || pg_get_constraintdef(con.oid, true)
  from tabs t join pg_constraint con on con.conrelid = t.oid
  union all
  select t.relname, 3, i.relname::text, 0,
         '  index ' || i.relname || ' '
         || regexp_replace(pg_get_indexdef(i.oid), ' ON (ONLY )?public\.', ' ON \1')
  from tabs t
  join pg_index x on x.indrelid = t.oid
  join pg_class i on i.oid = x.indexrelid
  union all
  select t.relname, 4, tg.tgname::text, 0,
         '  trigger ' || tg.tgname || ' '
         || regexp_replace(pg_get_triggerdef(tg.oid), ' ON public\.', ' ON ')
  from tabs t join pg_trigger tg on tg.tgrelid = t.oid and not tg.tgisinternal
)
select line from lines order by tbl collate "C", sect, k collate "C", ord
"#;

const SEQUENCES: &str = r#"
select line from (
select 'sequence ' || s.relname || ' ' || format_type(sq.seqtypid, null)
       || ' start ' || sq.seqstart || ' increment ' || sq.seqincrement
       || coalesce(' owned by ' || t.relname || '.' || a.attname, '')
from pg_class s
join pg_namespace n on n.oid = s.relnamespace and n.nspname = 'public'
join pg_sequence sq on sq.seqrelid = s.oid
left join pg_depend dep on dep.classid = 'pg_class'::regclass and dep.objid = s.oid
     and dep.refclassid = 'pg_class'::regclass and dep.deptype in ('a', 'i')
left join pg_class t on t.oid = dep.refobjid
left join pg_attribute a on a.attrelid = t.oid and a.attnum = dep.refobjsubid
where s.relkind = 'S'
  and coalesce(t.relname, '') not in ('alembic_version', 'seaql_migrations')
) x(line) order by line collate "C"
"#;

const VIEWS: &str = r#"
select line from (
select case c.relkind when 'v' then 'view ' else 'materialized view ' end || c.relname
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('v', 'm')
  and not exists (select 1 from pg_depend e where e.classid = 'pg_class'::regclass
                    and e.objid = c.oid and e.deptype = 'e')
) x(line) order by line collate "C"
"#;

const ENUMS: &str = r#"
select line from (
select 'enum ' || ty.typname || ' ('
       || string_agg(e.enumlabel, ', ' order by e.enumsortorder) || ')'
from pg_type ty
join pg_namespace n on n.oid = ty.typnamespace and n.nspname = 'public'
join pg_enum e on e.enumtypid = ty.oid
group by ty.typname
) x(line) order by line collate "C"
"#;

/// Prints the `public` schema of the database behind `db`: tables (comment, columns in
/// ordinal order, constraints, indexes, triggers), then sequences, views and enums.
///
/// An empty schema prints the empty string. The bookkeeping tables `alembic_version` and
/// `seaql_migrations` are left out. Reads the catalog only, in a transaction it rolls back.
pub async fn fingerprint<C>(db: &C) -> Result<String, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    txn.execute_unprepared(SETTINGS).await?;
    let mut out = String::new();
    for sql in [TABLES, SEQUENCES, VIEWS, ENUMS] {
        let rows = txn
            .query_all_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
            .await?;
        for row in rows {
            let line: String = row.try_get("", "line")?;
            push_escaped(&mut out, &line);
            out.push('\n');
        }
    }
    txn.rollback().await?;
    Ok(out)
}

/// Appends `line` with its control characters escaped (`\n`, `\u{1b}`): a newline in a
/// comment or a name must not make a line of its own, which could spoof a constraint the
/// table lacks.
fn push_escaped(out: &mut String, line: &str) {
    for c in line.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

/// A unified diff from `expected` to `actual`, labelled, with three lines of context.
pub fn diff(expected_label: &str, expected: &str, actual_label: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header(expected_label, actual_label)
        .to_string()
}
