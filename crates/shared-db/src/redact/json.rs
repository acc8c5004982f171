//! Redaction of JSON text in place: a walk over the text that masks the values of
//! secret-looking keys and the secrets inside strings, and leaves every other byte as it
//! was (a parse and a reprint would sort keys, drop duplicates and round numbers).

use super::{REDACTED, is_secret_name, redact_text};

/// Masks the secrets of `text`, which holds JSON, in place: the value of every
/// secret-looking key becomes `"***"`, a string holding a secret is rewritten with it
/// masked, and every other byte — key order, numbers as written, spacing, escapes,
/// duplicate keys — stays as it was. `None` when `text` is not JSON after all.
pub(super) fn redact_json_in_place(text: &str) -> Option<String> {
    let mut walker = JsonWalker {
        text,
        pos: 0,
        edits: Vec::new(),
    };
    walker.value(false)?;
    walker.skip_space();
    if walker.pos != text.len() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (range, replacement) in walker.edits {
        out.push_str(&text[copied..range.start]);
        out.push_str(&replacement);
        copied = range.end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// A pass over valid JSON text that records the edits redaction makes, in text order.
struct JsonWalker<'a> {
    text: &'a str,
    pos: usize,
    edits: Vec<(std::ops::Range<usize>, String)>,
}

impl JsonWalker<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// The end of the string literal starting at `self.pos` (just past its closing quote).
    fn string_end(&self) -> Option<usize> {
        let bytes = self.text.as_bytes();
        let mut idx = self.pos + 1;
        while idx < bytes.len() {
            match bytes[idx] {
                b'\\' => idx += 2,
                b'"' => return Some(idx + 1),
                _ => idx += 1,
            }
        }
        None
    }

    /// Walks one value; `secret` when it is the value of a secret-looking key.
    fn value(&mut self, secret: bool) -> Option<()> {
        self.skip_space();
        let start = self.pos;
        match self.peek()? {
            b'{' => self.object()?,
            b'[' => self.array()?,
            b'"' => {
                let end = self.string_end()?;
                if !secret {
                    let literal = &self.text[start..end];
                    let decoded: String = serde_json::from_str(literal).ok()?;
                    let redacted = redact_text(&decoded);
                    if redacted != decoded {
                        let encoded = serde_json::to_string(&redacted).ok()?;
                        self.edits.push((start..end, encoded));
                    }
                }
                self.pos = end;
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.pos += 1;
                }
            }
        }
        if secret {
            // Whatever it held (a string, a number, an object): masked whole, as
            // `redact_params` masks it.
            self.edits.retain(|(range, _)| range.start < start);
            self.edits
                .push((start..self.pos, format!("\"{REDACTED}\"")));
        }
        Some(())
    }

    fn object(&mut self) -> Option<()> {
        self.pos += 1;
        self.skip_space();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.skip_space();
            let start = self.pos;
            let end = self.string_end()?;
            let name: String = serde_json::from_str(&self.text[start..end]).ok()?;
            self.pos = end;
            self.expect(b':')?;
            self.value(is_secret_name(&name))?;
            self.skip_space();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self) -> Option<()> {
        self.pos += 1;
        self.skip_space();
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.value(false)?;
            self.skip_space();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}
