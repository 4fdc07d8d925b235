//! Tokenizer for `$filter` values. Works on the decoded option value; tokens carry
//! byte offsets into it, converted to character positions only when reporting errors.

use crate::datetime::parse_datetime;
use crate::error::{char_pos, quote_token, ODataError};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok<'a> {
    /// Identifier or keyword (keywords are recognised by the parser).
    Ident(&'a str),
    /// Single-quoted string with `''` unescaped.
    Str(String),
    /// Integer or decimal, unconverted (the parser reports overflow with context).
    Number(&'a str),
    /// Unquoted date-time, in microseconds since the epoch.
    DateTime(i64),
    /// Unquoted GUID.
    Guid(&'a str),
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte range in the option value.
    pub start: usize,
    pub end: usize,
}

/// Splits `src` (the decoded value of `option`) into tokens, ending with `Eof`.
pub(crate) fn tokenize<'a>(src: &'a str, option: &str) -> Result<Vec<Token<'a>>, ODataError> {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 + 2);
    let err = |detail: String| ODataError::in_option(option, detail);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        // Computed lazily: counting characters for every token would be quadratic.
        let pos = || char_pos(src, start);
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b'/' => {
                i += 1;
                Tok::Slash
            }
            b':' => {
                i += 1;
                Tok::Colon
            }
            b'\'' => {
                let (s, next) = string_literal(src, i).ok_or_else(|| {
                    err(format!(
                        "unterminated string literal {} starting at position {pos}; \
                             strings end with a single quote, and a quote inside a string \
                             is written twice ('')",
                        quote_token(&src[start..]),
                        pos = pos()
                    ))
                })?;
                i = next;
                Tok::Str(s)
            }
            _ if is_guid_at(b, i) => {
                i += 36;
                Tok::Guid(&src[start..i])
            }
            _ if is_date_at(b, i) => {
                let (micros, next) = date_time(src, i).map_err(|(text, why)| {
                    err(format!(
                        "invalid date-time literal {} at position {pos}: {why}; \
                             expected a form like 2019-11-22T00:00:00Z",
                        quote_token(&text),
                        pos = pos()
                    ))
                })?;
                i = next;
                Tok::DateTime(micros)
            }
            b'0'..=b'9' | b'-' if c != b'-' || b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i = number_end(b, i);
                if b.get(i).is_some_and(|&n| is_ident_byte(n) || n == b'.') {
                    while b.get(i).is_some_and(|&n| is_ident_byte(n) || n == b'.') {
                        i += 1;
                    }
                    return Err(err(format!(
                        "invalid number literal {} at position {pos}",
                        quote_token(&src[start..i]),
                        pos = pos()
                    )));
                }
                Tok::Number(&src[start..i])
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                i += 1;
                while b.get(i).is_some_and(|&n| is_ident_byte(n)) {
                    i += 1;
                }
                // Qualified names (Namespace.Type) only matter for typed literals.
                while b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(|&n| n.is_ascii_alphabetic() || n == b'_') {
                    i += 2;
                    while b.get(i).is_some_and(|&n| is_ident_byte(n)) {
                        i += 1;
                    }
                }
                if b.get(i) == Some(&b'\'') {
                    return Err(err(typed_literal_message(src, start, i)));
                }
                Tok::Ident(&src[start..i])
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                let hint = match ch {
                    '"' => "; string literals use single quotes",
                    '$' | '@' => "; parameter aliases and $it/$root are not supported",
                    '[' | '{' => "; JSON array/object literals are not supported",
                    '=' | '<' | '>' | '!' | '&' | '|' => {
                        "; use the OData operators eq, ne, gt, ge, lt, le, and, or, not \
                         (a literal '&' must be percent-encoded as %26)"
                    }
                    _ => "",
                };
                return Err(err(format!("unexpected character '{ch}' at position {}{hint}", pos())));
            }
        };
        out.push(Token { tok, start, end: i });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

pub(crate) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn typed_literal_message(src: &str, start: usize, quote: usize) -> String {
    let prefix = &src[start..quote];
    let end = string_literal(src, quote).map_or(src.len(), |(_, e)| e);
    let whole = quote_token(&src[start..end]);
    let lower = prefix.to_ascii_lowercase();
    let hint = match lower.as_str() {
        "datetime" | "datetimeoffset" | "date" => "write date-times unquoted, e.g. 2019-11-22T00:00:00Z".to_string(),
        "guid" => "write GUIDs unquoted or as a plain quoted string".to_string(),
        "x" | "binary" => "binary literals are not supported".to_string(),
        _ if prefix.contains('.') => "write enum values as plain quoted strings, e.g. 'High'".to_string(),
        _ => format!("put a space between '{prefix}' and the string"),
    };
    let pos = char_pos(src, start);
    format!("typed literal {whole} at position {pos} is not supported; {hint}")
}

/// Reads a quoted string starting at the opening quote; returns the unescaped text
/// and the index after the closing quote, or `None` if it never closes.
fn string_literal(src: &str, open: usize) -> Option<(String, usize)> {
    let b = src.as_bytes();
    let mut s = String::new();
    let mut seg = open + 1;
    let mut i = open + 1;
    loop {
        match b.get(i) {
            None => return None,
            Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                s.push_str(&src[seg..=i]);
                i += 2;
                seg = i;
            }
            Some(b'\'') => {
                s.push_str(&src[seg..i]);
                return Some((s, i + 1));
            }
            Some(_) => i += 1,
        }
    }
}

fn is_hex(b: &[u8], from: usize, n: usize) -> bool {
    b.get(from..from + n)
        .is_some_and(|s| s.iter().all(u8::is_ascii_hexdigit))
}

fn is_guid_at(b: &[u8], i: usize) -> bool {
    is_hex(b, i, 8)
        && b.get(i + 8) == Some(&b'-')
        && is_hex(b, i + 9, 4)
        && b.get(i + 13) == Some(&b'-')
        && is_hex(b, i + 14, 4)
        && b.get(i + 18) == Some(&b'-')
        && is_hex(b, i + 19, 4)
        && b.get(i + 23) == Some(&b'-')
        && is_hex(b, i + 24, 12)
        && !b
            .get(i + 36)
            .is_some_and(|&n| is_ident_byte(n) || n == b'-' || n == b'.')
}

/// `dddd-dd-dd`: never a valid number, so it unambiguously starts a date.
fn is_date_at(b: &[u8], i: usize) -> bool {
    let d = |k: usize| b.get(i + k).is_some_and(u8::is_ascii_digit);
    d(0) && d(1) && d(2) && d(3) && b.get(i + 4) == Some(&b'-') && d(5) && d(6) && b.get(i + 7) == Some(&b'-')
}

/// Scans an unquoted date-time. Because clients often leave `+` unencoded in
/// `...T00:00:00+02:00`, which form-decoding turns into a space, a time followed by
/// ` HH:MM` is read as a positive offset: nothing else could legally follow there.
fn date_time(src: &str, start: usize) -> Result<(i64, usize), (String, &'static str)> {
    let b = src.as_bytes();
    let mut i = start;
    while b
        .get(i)
        .is_some_and(|&c| c.is_ascii_digit() || b"TtZz:.+-".contains(&c))
    {
        i += 1;
    }
    let text = &src[start..i];
    let has_time = text.contains(['T', 't']);
    let has_zone = text.ends_with(['Z', 'z']) || text.get(10..).is_some_and(|t| t.contains(['+', '-']));
    let space_offset = has_time
        && !has_zone
        && b.get(i) == Some(&b' ')
        && b.get(i + 1..i + 6).is_some_and(|o| {
            o[0].is_ascii_digit()
                && o[1].is_ascii_digit()
                && o[2] == b':'
                && o[3].is_ascii_digit()
                && o[4].is_ascii_digit()
        })
        && !b.get(i + 6).is_some_and(|&n| is_ident_byte(n) || n == b':');
    if space_offset {
        let fixed = format!("{text}+{}", &src[i + 1..i + 6]);
        return parse_datetime(&fixed)
            .map(|m| (m, i + 6))
            .map_err(|why| (src[start..i + 6].to_string(), why));
    }
    parse_datetime(text)
        .map(|m| (m, i))
        .map_err(|why| (text.to_string(), why))
}

fn number_end(b: &[u8], mut i: usize) -> usize {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            i = j;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok<'_>> {
        tokenize(s, "$filter").unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn basic() {
        assert_eq!(
            toks("a eq 'it''s' and (b/any(t:t ne -1.5))"),
            vec![
                Tok::Ident("a"),
                Tok::Ident("eq"),
                Tok::Str("it's".into()),
                Tok::Ident("and"),
                Tok::LParen,
                Tok::Ident("b"),
                Tok::Slash,
                Tok::Ident("any"),
                Tok::LParen,
                Tok::Ident("t"),
                Tok::Colon,
                Tok::Ident("t"),
                Tok::Ident("ne"),
                Tok::Number("-1.5"),
                Tok::RParen,
                Tok::RParen,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn guids_dates_numbers() {
        assert_eq!(
            toks("8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3"),
            vec![Tok::Guid("8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3"), Tok::Eof]
        );
        let d = crate::datetime::parse_datetime("2019-11-22T00:00:00+02:00").unwrap();
        assert_eq!(toks("2019-11-22T00:00:00+02:00"), vec![Tok::DateTime(d), Tok::Eof]);
        assert_eq!(toks("2019-11-22T00:00:00 02:00"), vec![Tok::DateTime(d), Tok::Eof]);
        assert_eq!(
            toks("12 -3 4.25 1e3"),
            vec![
                Tok::Number("12"),
                Tok::Number("-3"),
                Tok::Number("4.25"),
                Tok::Number("1e3"),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn errors_have_positions() {
        let e = tokenize("a eq 'abc", "$filter").unwrap_err();
        assert!(e.message.contains("position 6"), "{}", e.message);
        let e = tokenize("a eq \"x\"", "$filter").unwrap_err();
        assert!(e.message.contains("'\"' at position 6"), "{}", e.message);
        let e = tokenize("a eq 2019-13-01", "$filter").unwrap_err();
        assert!(e.message.contains("'2019-13-01' at position 6"), "{}", e.message);
        let e = tokenize("a eq 12abc", "$filter").unwrap_err();
        assert!(e.message.contains("'12abc'"), "{}", e.message);
        let e = tokenize("a eq datetime'2019-01-01'", "$filter").unwrap_err();
        assert!(e.message.contains("datetime'2019-01-01'"), "{}", e.message);
    }
}
