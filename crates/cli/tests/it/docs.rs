//! Documentation that is executed: every command shown with its output in README.md and
//! docs/*.md (a ```` ```console ```` block: `$ command`, then what it prints) runs here,
//! against a copy of a database the demo loaded, and must print what is shown.
//!
//! The conventions are trycmd's, the Rust command-line ecosystem's: a line `...` stands for
//! any number of lines, `[..]` within a line for any text on it; trailing spaces do not
//! count. A command must exit 0 unless its output ends with `[exit N]`. Commands run in
//! `bash` (pipes and redirects work) with `stockdb` on `PATH`, `DATABASE_URL` set, and a
//! scratch directory holding `key.txt` (a made-up API key) as the working directory. The
//! blocks of one file run in order on one database, so a file may set up what it shows.
//!
//! `STOCKDB_DOCS=bless cargo test -p stockdb-cli docs` writes what the commands printed
//! into the files wherever it differs from what they show: review the diff, then elide
//! what changes from run to run (ids, times) with `...` and `[..]`.

use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::TestDb;

/// One `$ command` of a console block and what the document shows it printing.
#[derive(Debug)]
struct Shown {
    /// The command as written (continuation lines joined with their newlines).
    command: String,
    /// The lines shown after it.
    expected: Vec<String>,
    /// Lines of the file the expected output occupies (0-based, end exclusive).
    lines: std::ops::Range<usize>,
}

/// The commands of the console blocks of `text`, in order.
fn shown_commands(text: &str) -> Vec<Shown> {
    let lines: Vec<&str> = text.lines().collect();
    let mut shown = Vec::new();
    let mut idx = 0;
    while idx < lines.len() {
        if lines[idx].trim_end() != "```console" {
            idx += 1;
            continue;
        }
        idx += 1;
        let mut current: Option<Shown> = None;
        while idx < lines.len() && lines[idx].trim_end() != "```" {
            let line = lines[idx];
            if let Some(command) = line.strip_prefix("$ ") {
                shown.extend(current.take());
                let mut command = command.to_owned();
                while command.ends_with('\\') && idx + 1 < lines.len() {
                    idx += 1;
                    command.push('\n');
                    command.push_str(lines[idx]);
                }
                current = Some(Shown {
                    command,
                    expected: Vec::new(),
                    lines: idx + 1..idx + 1,
                });
            } else if let Some(current) = &mut current {
                current.expected.push(line.trim_end().to_owned());
                current.lines.end = idx + 1;
            }
            idx += 1;
        }
        shown.extend(current.take());
        idx += 1;
    }
    shown
}

/// Whether `line` matches the shown `pattern`, where `[..]` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("[..]");
    let Some(first) = parts.next() else {
        return line.is_empty();
    };
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (idx, part) in parts.iter().enumerate() {
        if idx + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether `actual` matches the shown `expected` lines, where a line `...` stands for any
/// number of lines.
fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(line, tail)| line_matches(first, line) && lines_match(rest, tail)),
    }
}

/// What a command printed (stdout and stderr as one stream) and its exit status. `env`
/// holds what earlier `export` commands of the document set.
fn run(
    command: &str,
    dir: &Path,
    bin_dir: &Path,
    url: &str,
    env: &[(String, String)],
) -> (String, i32) {
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let output = Command::new("bash")
        .args(["-o", "pipefail", "-c", &format!("exec 2>&1\n{command}")])
        .current_dir(dir)
        .env("PATH", path)
        .env("DATABASE_URL", url)
        .env_remove("STOCKDB_SECRET_KEY")
        .env_remove("STOCKDB_DB_REPLICA_URLS")
        // Warnings show, as in a terminal; but not sqlx's slow-statement one, whose
        // appearance depends on the machine's load (a debug build on a busy CI machine
        // passed its 1 s threshold on `sync gaps`), not on what the command prints.
        .env("RUST_LOG", "warn,sqlx::query=error")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}

/// The documents whose console blocks run.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut docs = vec![root.join("README.md")];
    let mut others: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    others.sort();
    docs.extend(others);
    docs
}

#[tokio::test]
async fn every_documented_command_prints_what_the_documentation_shows() {
    let bless = std::env::var("STOCKDB_DOCS").is_ok_and(|v| v == "bless");
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_stockdb"))
        .parent()
        .unwrap()
        .to_path_buf();
    // The demo's data, loaded once; each document gets a copy of it. A plain database on every target: the documents show what one
    // server prints (on the Citus target, `db health` would add its cluster).
    let demo = TestDb::empty().await;
    let (printed, status) = run(
        "stockdb migrate up",
        Path::new("."),
        &bin_dir,
        demo.url(),
        &[],
    );
    assert_eq!(
        status, 0,
        "migrating the demo's database failed:\n{printed}"
    );
    let (printed, status) = run("stockdb demo", Path::new("."), &bin_dir, demo.url(), &[]);
    assert_eq!(status, 0, "the demo failed:\n{printed}");
    let mut failures = Vec::new();
    let mut commands = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let shown = shown_commands(&text);
        if shown.is_empty() {
            continue;
        }
        let db = demo.copy().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.txt"), "sk-docs-example-0000\n").unwrap();
        let mut blessed: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut outputs = Vec::new();
        let mut env = Vec::new();
        for command in &shown {
            commands += 1;
            // `export NAME=…` is evaluated once, and NAME set for the commands after it.
            let (printed, status) = match command.command.strip_prefix("export ") {
                Some(assignment) => {
                    let name = assignment.split('=').next().unwrap_or_default().to_owned();
                    let (value, status) = run(
                        &format!("export {assignment}; printf %s \"${name}\""),
                        dir.path(),
                        &bin_dir,
                        db.url(),
                        &env,
                    );
                    env.push((name, value));
                    (String::new(), status)
                }
                None => run(&command.command, dir.path(), &bin_dir, db.url(), &env),
            };
            let mut expected = command.expected.clone();
            let wanted_status = match expected.last().and_then(|last| {
                last.strip_prefix("[exit ")
                    .and_then(|rest| rest.strip_suffix(']'))
            }) {
                Some(code) => {
                    let code = code.parse().unwrap();
                    expected.pop();
                    code
                }
                None => 0,
            };
            while expected.last().is_some_and(String::is_empty) {
                expected.pop();
            }
            let actual: Vec<&str> = printed.lines().map(str::trim_end).collect();
            let mut actual_end = actual.len();
            while actual_end > 0 && actual[actual_end - 1].is_empty() {
                actual_end -= 1;
            }
            let actual = &actual[..actual_end];
            let ok = status == wanted_status && lines_match(&expected, actual);
            if !ok {
                failures.push(format!(
                    "{}:{}: `{}` exited {status} (wanted {wanted_status}) and printed:\n{}\n\
                     --- but the document shows:\n{}\n",
                    doc.display(),
                    command.lines.start,
                    command.command,
                    actual.join("\n"),
                    expected.join("\n")
                ));
                let mut new_lines: Vec<String> = actual.iter().map(|l| (*l).to_owned()).collect();
                if status != 0 {
                    new_lines.push(format!("[exit {status}]"));
                }
                outputs.push((command.lines.clone(), new_lines));
            }
        }
        if bless && !outputs.is_empty() {
            for (range, new_lines) in outputs.into_iter().rev() {
                blessed.splice(range, new_lines);
            }
            let mut new_text = blessed.join("\n");
            new_text.push('\n');
            std::fs::write(&doc, new_text).unwrap();
        }
    }
    assert!(commands >= 10, "only {commands} documented commands found");
    assert!(
        failures.is_empty(),
        "{} of {commands} documented commands print something else than shown \
         (STOCKDB_DOCS=bless writes what they print):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn shown_output_matches_with_trycmd_elisions() {
    let text = "x\n```console\n$ a \\\n  b\none\n...\nthree [..] end\n$ c\n[exit 1]\n```\n";
    let shown = shown_commands(text);
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0].command, "a \\\n  b");
    assert_eq!(shown[0].expected, ["one", "...", "three [..] end"]);
    assert_eq!(shown[0].lines, 4..7);
    let expected = &shown[0].expected;
    assert!(lines_match(expected, &["one", "three x y end"]));
    assert!(lines_match(expected, &["one", "two", "2b", "three  end"]));
    assert!(!lines_match(expected, &["one", "three x y"]));
    assert!(!lines_match(expected, &["zero", "three x end"]));
    assert!(line_matches("[..]", "anything"));
    assert!(line_matches("a[..]b[..]c", "a1b2c"));
    assert!(!line_matches("a[..]b", "a1c"));
    assert!(line_matches("plain", "plain"));
    assert!(!line_matches("plain", "plain and more"));
}
