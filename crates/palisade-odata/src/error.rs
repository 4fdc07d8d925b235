//! The single error type of the crate.

/// Every message starts with this, like the real service's 400 responses.
pub const MESSAGE_PREFIX: &str = "Invalid OData URI query: ";

/// A query the engine refuses. `Display` is exactly [`ODataError::message`].
///
/// Positions inside messages are **1-based character (not byte) positions
/// within the percent-decoded value of the option** named in the message,
/// e.g. in `$filter=riskScore eq )` the `)` is at position 14.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ODataError {
    /// Full human-readable message, always starting with [`MESSAGE_PREFIX`].
    pub message: String,
}

impl ODataError {
    /// Builds an error from the part of the message after the common prefix.
    pub(crate) fn new(detail: impl std::fmt::Display) -> Self {
        ODataError {
            message: format!("{MESSAGE_PREFIX}{detail}"),
        }
    }

    /// An error located in an option's value: `"$filter: <detail>"`.
    pub(crate) fn in_option(option: impl std::fmt::Display, detail: impl std::fmt::Display) -> Self {
        Self::new(format_args!("{option}: {detail}"))
    }
}

/// 1-based character position of byte offset `byte` in `s`.
///
/// Never panics, even for offsets that are not char boundaries or are past the end.
pub(crate) fn char_pos(s: &str, byte: usize) -> usize {
    s.char_indices().take_while(|(i, _)| *i < byte).count() + 1
}

/// Quotes a token for a message, shortening very long ones so messages stay readable.
/// String literals already carry their quotes and are shown as written.
pub(crate) fn quote_token(tok: &str) -> String {
    const MAX: usize = 40;
    let quoted = tok.starts_with('\'');
    let body = if tok.chars().count() <= MAX {
        tok.to_string()
    } else {
        let head: String = tok.chars().take(MAX).collect();
        format!("{head}...")
    };
    if quoted {
        body
    } else {
        format!("'{body}'")
    }
}

/// Joins names for "allowed values are: ..." lists.
pub(crate) fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, it) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(it);
    }
    out
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
        let d = levenshtein(&w, &cv);
        // Allow roughly one typo per three characters, at least one.
        let limit = (cv.len() / 3).max(1);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_chars() {
        assert_eq!(char_pos("abc", 0), 1);
        assert_eq!(char_pos("äbc", 2), 2);
        assert_eq!(char_pos("abc", 99), 4);
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("riskscore2", ["riskScore", "id"].into_iter()),
            Some("riskScore")
        );
        assert_eq!(suggest("zzz", ["riskScore", "id"].into_iter()), None);
    }

    #[test]
    fn display_is_message() {
        let e = ODataError::new("x");
        assert_eq!(e.to_string(), "Invalid OData URI query: x");
    }
}
