//! The single error type of the crate, [`KqlError`].
//!
//! Every error carries the [`Stage`] that failed (so a trace can say which step of
//! lex, parse, semantic check or execution refused the query) and a 1-based line and
//! column (in characters) of the offending token. Messages imitate the Kusto service:
//! syntax errors read `Query could not be parsed at 'xyz' on line [2,5]`, semantic
//! errors name the operator, e.g. `'where' operator: Failed to resolve scalar
//! expression named 'Foo'`.

use std::fmt;

/// Which step of query processing refused the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Turning text into tokens (bad characters, unterminated strings, bad numbers).
    Lex,
    /// Grammar (unexpected token, missing operand, nesting too deep).
    Parse,
    /// Names and types against the [`crate::Catalog`] (unknown table, column or
    /// function, type mismatch, unsupported construct).
    Semantic,
    /// Running the query (timeout, budget exceeded, source failure).
    Execution,
}

impl Stage {
    /// Lowercase name: `lex`, `parse`, `semantic`, `execution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Lex => "lex",
            Stage::Parse => "parse",
            Stage::Semantic => "semantic",
            Stage::Execution => "execution",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure, finer than [`Stage`], for mapping to API error codes.
///
/// A natural HTTP mapping for the hunting API: `Syntax`, `UnknownName`, `Type`,
/// `Unsupported` → 400 `BadRequest`; `Timeout` → the service's timeout error;
/// `ResourceLimit` → 400/429 with "Query stopped due to excessive resource
/// consumption."; `Source`, `Runtime` → 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed text (lex or parse stage).
    Syntax,
    /// A name that does not resolve (table, column, function, variable).
    UnknownName,
    /// Arguments or operands of the wrong type or number.
    Type,
    /// A valid Kusto construct Palisade does not implement.
    Unsupported,
    /// The deadline passed during execution.
    Timeout,
    /// A join, summarize or sort needed more rows in memory than the budget allows.
    ResourceLimit,
    /// The [`crate::RowSource`] failed.
    Source,
    /// Any other runtime failure (for instance a bad regex built from data).
    Runtime,
}

/// A query the engine refuses or could not run. `Display` is [`KqlError::message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct KqlError {
    pub stage: Stage,
    pub kind: ErrorKind,
    /// Full human-readable message in Kusto's style.
    pub message: String,
    /// 1-based line of the offending token (0 when the error has no position, e.g. a
    /// timeout).
    pub line: u32,
    /// 1-based column, in characters, of the offending token (0 without position).
    pub column: u32,
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl KqlError {
    pub(crate) fn new(stage: Stage, kind: ErrorKind, pos: Pos, message: impl Into<String>) -> Self {
        KqlError {
            stage,
            kind,
            message: message.into(),
            line: pos.line,
            column: pos.column,
        }
    }

    /// `Query could not be parsed at '<token>' on line [l,c]`, plus an optional hint.
    pub(crate) fn syntax(stage: Stage, pos: Pos, token: &str, hint: &str) -> Self {
        let mut m = format!(
            "Query could not be parsed at '{}' on line [{},{}]",
            shorten(token),
            pos.line,
            pos.column
        );
        if !hint.is_empty() {
            m.push_str(" (");
            m.push_str(hint);
            m.push(')');
        }
        Self::new(stage, ErrorKind::Syntax, pos, m)
    }

    pub(crate) fn semantic(kind: ErrorKind, pos: Pos, message: impl Into<String>) -> Self {
        Self::new(Stage::Semantic, kind, pos, message)
    }

    pub(crate) fn unsupported(pos: Pos, what: &str) -> Self {
        Self::semantic(
            ErrorKind::Unsupported,
            pos,
            format!("{what} is not supported by Palisade"),
        )
    }

    pub(crate) fn exec(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(Stage::Execution, kind, Pos::default(), message)
    }

    /// The error raised when the deadline passes.
    pub fn timeout() -> Self {
        Self::exec(ErrorKind::Timeout, "Query exceeded the timeout period.")
    }

    /// A short `stage line:column: message` line for traces.
    pub fn trace(&self) -> String {
        format!("{} {}:{}: {}", self.stage, self.line, self.column, self.message)
    }
}

/// Shortens long tokens for messages.
pub(crate) fn shorten(tok: &str) -> String {
    const MAX: usize = 40;
    if tok.chars().count() <= MAX {
        tok.to_string()
    } else {
        let head: String = tok.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// Case-insensitive edit distance, used for "did you mean" hints.
pub(crate) fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w: Vec<char> = wanted.chars().map(|c| c.to_ascii_lowercase()).collect();
    if w.len() > 64 {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let cv: Vec<char> = c.chars().map(|c| c.to_ascii_lowercase()).collect();
        if cv.len() > 128 {
            continue;
        }
        let d = levenshtein(&w, &cv);
        // Roughly one typo per three characters, at least one.
        let limit = (cv.len() / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// `" (did you mean 'X'?)"` or empty.
pub(crate) fn did_you_mean<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(wanted, candidates) {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

/// Optimal string alignment distance (edits and adjacent transpositions).
fn levenshtein(a: &[char], b: &[char]) -> usize {
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("DeviceNme", ["DeviceName", "DeviceId"]), Some("DeviceName"));
        assert_eq!(suggest("zzz", ["DeviceName"]), None);
    }

    #[test]
    fn syntax_message() {
        let e = KqlError::syntax(Stage::Parse, Pos { line: 2, column: 5 }, "xyz", "");
        assert_eq!(e.to_string(), "Query could not be parsed at 'xyz' on line [2,5]");
        assert_eq!(e.trace(), "parse 2:5: Query could not be parsed at 'xyz' on line [2,5]");
    }
}
