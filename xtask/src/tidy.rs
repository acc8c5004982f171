//! Repository checks that run as plain `cargo test`: every Rust file starts with a `//!`
//! line saying what it is for, and no `dbg!` calls or `should_panic` attributes are left behind.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn project_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the project root")
            .to_path_buf()
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    rust_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    fn all_rust_files() -> Vec<PathBuf> {
        let mut files = Vec::new();
        for dir in ["crates", "migration", "xtask", "tests"] {
            rust_files(&project_root().join(dir), &mut files);
        }
        assert!(files.len() > 10, "found only {} Rust files", files.len());
        files
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
