//! Output: aligned tables for people, JSON for programs.

use std::borrow::Cow;

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{CellAlignment, ContentArrangement};
use serde::Serialize;

/// A table for the terminal whose cells never carry control characters: text from files
/// and databases (stock names, error messages) could otherwise move the cursor, recolour
/// or rewrite what the operator sees.
pub(crate) struct Table(comfy_table::Table);

impl Table {
    /// Adds a row, each cell made printable by [`clean`].
    pub(crate) fn add_row(&mut self, cells: Vec<String>) {
        self.0
            .add_row(cells.iter().map(|cell| clean(cell).into_owned()));
    }
}

/// `text` with every control character (escape sequences, carriage returns, NUL …)
/// written as its escape (`\u{1b}`, `\r`, `\0`), so that it prints as what it is.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// [`clean`], keeping line breaks and tabs: for multi-line text such as error reports.
pub(crate) fn clean_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let (body, newline) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            let body: String = body
                .split('\t')
                .map(|part| clean(part).into_owned())
                .collect::<Vec<_>>()
                .join("\t");
            body + newline
        })
        .collect()
}

/// Prints `value` as pretty JSON.
pub(crate) fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A table with `headers`; numbers are right-aligned by [`print_table`].
pub(crate) fn table(headers: &[&str]) -> Table {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().copied());
    Table(table)
}

/// Prints `table`, right-aligning the columns whose cells all look like numbers.
pub(crate) fn print_table(table: Table) {
    let Table(mut table) = table;
    let numeric: Vec<bool> = (0..table.column_count())
        .map(|idx| {
            table.column_cells_iter(idx).all(|cell| {
                let text = cell.map(comfy_table::Cell::content).unwrap_or_default();
                text.is_empty()
                    || text == "-"
                    || text
                        .replace([',', '%', '.', '-', '+'], "")
                        .chars()
                        .all(|c| c.is_ascii_digit())
            })
        })
        .collect();
    for (idx, numeric) in numeric.into_iter().enumerate() {
        if let (true, Some(column)) = (numeric, table.column_mut(idx)) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{table}");
}

/// `value` with `places` decimals, or `-`.
pub(crate) fn num(value: Option<f64>, places: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.places$}"))
}

/// An integer with thousands separators.
pub(crate) fn count(value: impl Into<i128>) -> String {
    let value = value.into();
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (idx, ch) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if value < 0 {
        out.insert(0, '-');
    }
    out
}

/// Milliseconds as `1.2 s` or `850 ms`.
pub(crate) fn duration_ms(ms: Option<i32>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms >= 1_000 => format!("{:.1} s", f64::from(ms) / 1_000.0),
        Some(ms) => format!("{ms} ms"),
    }
}

/// An optional value, or `-`.
pub(crate) fn opt(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A section heading for the demo tour and multi-part reports.
pub(crate) fn heading(text: &str) {
    println!("\n== {text}");
}

/// Goes on when `yes`, or when the operator types `expected` (described as `described`)
/// on a terminal; without a terminal and without `yes`, stops with nothing changed.
pub(crate) fn confirm(
    what: &str,
    described: &str,
    expected: &str,
    yes: bool,
) -> anyhow::Result<()> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{what} needs confirmation; nothing was changed. Pass --yes, or run it on a terminal"
        );
    }
    eprint!("{what}? type {described} to confirm: ");
    std::io::stderr().flush()?;
    let mut typed = String::new();
    std::io::stdin().lock().read_line(&mut typed)?;
    anyhow::ensure!(
        typed.trim() == expected,
        "not confirmed; nothing was changed"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_print_as_escapes() {
        assert_eq!(clean("贵州茅台"), "贵州茅台");
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(clean("a\rb\0"), "a\\rb\\u{0}");
    }
}
