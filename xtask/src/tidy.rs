//! Repository checks that run as plain `cargo test`: every Rust file starts with a `//!`
//! line saying what it is for; no `dbg!` calls or `should_panic` attributes are left
//! behind; `src/` folders hold Rust and the SQL it includes; no source file outside the
//! tests passes 500 lines; no context's code names another context's table.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn project_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the project root")
            .to_path_buf()
    }

    /// The member folders whose files the checks read.
    const MEMBERS: [&str; 5] = ["crates", "migration", "xtask", "tests", "bench"];

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    files(&path, out);
                }
            } else {
                out.push(path);
            }
        }
    }

    fn all_files() -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in MEMBERS {
            files(&project_root().join(dir), &mut out);
        }
        out
    }

    fn all_rust_files() -> Vec<PathBuf> {
        let files: Vec<PathBuf> = all_files()
            .into_iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
            .collect();
        assert!(files.len() > 10, "found only {} Rust files", files.len());
        files
    }

    /// True for files of a `tests` folder (integration tests, the tests crate).
    fn is_test_file(path: &Path) -> bool {
        let relative = path.strip_prefix(project_root()).unwrap_or(path);
        relative.components().any(|c| c.as_os_str() == "tests")
    }

    #[test]
    fn src_folders_hold_only_rust_and_its_sql() {
        let stray: Vec<_> = all_files()
            .into_iter()
            .filter(|path| {
                let relative = path.strip_prefix(project_root()).unwrap_or(path);
                relative.components().any(|c| c.as_os_str() == "src")
                    && path
                        .extension()
                        .is_none_or(|ext| ext != "rs" && ext != "sql")
            })
            .collect();
        assert!(
            stray.is_empty(),
            "files under src/ that are neither Rust nor SQL: {stray:#?}"
        );
    }

    /// Each context crate and the tables it owns.
    const CONTEXT_TABLES: [(&str, &[&str]); 6] = [
        (
            "data-engineering",
            &[
                "stock_info",
                "stock_daily",
                "stock_finance",
                "trade_calendar",
                "stock_suspensions",
                "stock_limits",
                "stock_names",
                "index_weights",
                "stock_dividends",
                "concept",
                "concept_stock",
                "de_limit_up_pool",
                "de_broken_board_pool",
                "de_previous_limit_up",
                "de_dragon_tiger",
                "de_sector_capital_flow",
                "sync_tasks",
                "sync_failure_records",
            ],
        ),
        ("llm-platform", &["llm_configs", "web_search_cache"]),
        ("market-insight", &["mi_concept_heat", "mi_limit_up_stock"]),
        (
            "scheduler",
            &["scheduler_job_config", "scheduler_execution_log"],
        ),
        (
            "coordinator",
            &["research_sessions", "node_executions", "scores"],
        ),
        (
            "audit",
            &[
                "llm_call_logs",
                "external_api_call_logs",
                "llm_model_prices",
                "llm_budgets",
                "llm_call_daily",
                "llm_session_daily",
                "external_api_call_daily",
                "audit_rollup_days",
            ],
        ),
    ];

    /// Whether `text` names `table` in SQL: as a word right after `FROM`, `JOIN`, `INTO`,
    /// `UPDATE`, `TABLE` or `REFERENCES` (any case). Prose and identifiers that share a
    /// table's name (a `concept` parameter of a context that is not data-engineering) are
    /// not naming it.
    fn names_in_sql(text: &str, table: &str) -> bool {
        const KEYWORDS: [&str; 6] = ["from", "join", "into", "update", "table", "references"];
        let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        text.match_indices(table).any(|(at, _)| {
            if text[..at].chars().next_back().is_some_and(is_ident)
                || text[at + table.len()..]
                    .chars()
                    .next()
                    .is_some_and(is_ident)
            {
                return false;
            }
            let before = text[..at].trim_end();
            let keyword = before
                .rsplit(|c: char| !c.is_ascii_alphabetic())
                .next()
                .unwrap_or_default();
            before.len() < at && KEYWORDS.iter().any(|k| keyword.eq_ignore_ascii_case(k))
        })
    }

    /// Contexts own only their tables, in SQL as much as in imports: a read that spans two
    /// is composed in the `stockdb` crate from each context's repository.
    #[test]
    fn no_context_names_another_contexts_table() {
        let mut offending = Vec::new();
        for (context, _) in CONTEXT_TABLES {
            let mut sources = Vec::new();
            files(
                &project_root().join("crates").join(context).join("src"),
                &mut sources,
            );
            for path in sources {
                let text = std::fs::read_to_string(&path).expect("readable file");
                for (owner, tables) in CONTEXT_TABLES {
                    if owner == context {
                        continue;
                    }
                    for table in tables.iter().filter(|table| names_in_sql(&text, table)) {
                        offending.push(format!("{} names {owner}'s {table}", path.display()));
                    }
                }
            }
        }
        assert!(offending.is_empty(), "{offending:#?}");
        assert!(names_in_sql(
            "FROM research_sessions s",
            "research_sessions"
        ));
        assert!(names_in_sql("left join\n  concept c", "concept"));
        assert!(!names_in_sql("/// a concept board", "concept"));
        assert!(!names_in_sql("fn f(concept: &str)", "concept"));
        assert!(!names_in_sql(
            "ix_research_sessions_created_at",
            "research_sessions"
        ));
    }

    #[test]
    fn no_source_file_outside_the_tests_passes_500_lines() {
        let long: Vec<_> = all_rust_files()
            .into_iter()
            .filter(|path| !is_test_file(path))
            .filter_map(|path| {
                let lines = std::fs::read_to_string(&path)
                    .expect("readable file")
                    .lines()
                    .count();
                (lines > 500).then_some((path, lines))
            })
            .collect();
        assert!(long.is_empty(), "split these files: {long:#?}");
    }

    #[test]
    fn every_file_starts_with_a_doc_line() {
        let missing: Vec<_> = all_rust_files()
            .into_iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).expect("readable file");
                !text.starts_with("//!")
            })
            .collect();
        assert!(
            missing.is_empty(),
            "files without a leading //! line: {missing:#?}"
        );
    }

    #[test]
    fn no_debugging_leftovers() {
        let dbg = ["dbg", "!("].concat();
        let should_panic = ["#[should", "_panic"].concat();
        let offending: Vec<_> = all_rust_files()
            .into_iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).expect("readable file");
                text.contains(&dbg) || text.contains(&should_panic)
            })
            .collect();
        assert!(
            offending.is_empty(),
            "dbg! or should_panic in: {offending:#?}"
        );
    }
}
