//! Tokenizer: KQL text to [`Token`]s with 1-based line and column.
//!
//! Follows the Kusto "Scalar data types" and "string" docs for literals: `"..."` and
//! `'...'` with backslash escapes, verbatim `@"..."` (a doubled quote escapes a
//! quote), obfuscated `h"..."`, multi-line ```` ```...``` ````, integers, reals,
//! time-span literals (`1d`, `2.5h`, `30m`, `10s`, `100ms`, `1tick`...). Comments run
//! from `//` to the end of the line. Hyphenated operator names (`project-away`,
//! `mv-expand`...) are one token, and so are negated string operators (`!has`,
//! `!in~`).

use crate::error::{KqlError, Pos, Stage};
use crate::value::{parse_timespan_literal, TICKS_PER_DAY};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Identifier or keyword; also `$left`, `!has`, `in~`, `project-away`.
    Ident(String),
    Str(String),
    Long(i64),
    Real(f64),
    /// Time-span literal in ticks.
    TimeSpan(i64),
    /// Punctuation or operator.
    Sym(&'static str),
    /// Raw text between the parentheses of `datetime(...)`, `timespan(...)`,
    /// `guid(...)`, whose contents are not KQL tokens.
    Raw(String),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// The source text of the token, for error messages.
    pub text: String,
}

/// Longest query text accepted (characters), so that every later pass is bounded.
pub const MAX_QUERY_CHARS: usize = 1_000_000;

const HYPHENATED: &[&str] = &[
    "project-away",
    "project-rename",
    "project-reorder",
    "project-keep",
    "project-smart",
    "mv-expand",
    "mv-apply",
    "make-series",
    "top-nested",
    "top-hitters",
    "parse-where",
    "parse-kv",
    "make-graph",
];

/// Literal constructors whose argument is raw text.
const RAW_LITERALS: &[&str] = &["datetime", "date", "timespan", "time", "guid"];

const SYMS: &[&str] = &[
    "==", "!=", "<>", "<=", ">=", "=~", "!~", "=>", "..", "|", "(", ")", "[", "]", "{", "}", ",", ";", ":", ".", "=",
    "<", ">", "+", "-", "*", "/", "%", "~", "!", "?",
];

struct Cursor<'a> {
    chars: Vec<char>,
    i: usize,
    line: u32,
    col: u32,
    src: &'a str,
}

impl Cursor<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.col,
        }
    }
    fn text(&self, from: usize) -> String {
        self.chars[from..self.i].iter().collect()
    }
}

fn lex_err(pos: Pos, token: &str, hint: &str) -> KqlError {
    KqlError::syntax(Stage::Lex, pos, token, hint)
}

/// Splits `src` into tokens ending with `Eof`.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, KqlError> {
    let chars: Vec<char> = src.chars().collect();
    if chars.len() > MAX_QUERY_CHARS {
        return Err(lex_err(
            Pos { line: 1, column: 1 },
            "",
            "query text is longer than 1,000,000 characters",
        ));
    }
    let mut c = Cursor {
        chars,
        i: 0,
        line: 1,
        col: 1,
        src,
    };
    let _ = c.src;
    let mut out = Vec::new();
    loop {
        // Whitespace and comments.
        while let Some(ch) = c.peek(0) {
            if ch.is_whitespace() {
                c.bump();
            } else if ch == '/' && c.peek(1) == Some('/') {
                while let Some(ch) = c.peek(0) {
                    if ch == '\n' {
                        break;
                    }
                    c.bump();
                }
            } else {
                break;
            }
        }
        let pos = c.pos();
        let start = c.i;
        let Some(ch) = c.peek(0) else {
            out.push(Token {
                tok: Tok::Eof,
                pos,
                text: "<end of query>".into(),
            });
            return Ok(out);
        };
        let tok = if ch == '"' || ch == '\'' {
            Tok::Str(quoted(&mut c, pos)?)
        } else if (ch == '@' || ch == 'h' || ch == 'H') && matches!(c.peek(1), Some('"') | Some('\'')) {
            c.bump();
            if ch == '@' {
                Tok::Str(verbatim(&mut c, pos)?)
            } else {
                Tok::Str(quoted(&mut c, pos)?)
            }
        } else if (ch == 'h' || ch == 'H') && c.peek(1) == Some('@') && matches!(c.peek(2), Some('"') | Some('\'')) {
            c.bump();
            c.bump();
            Tok::Str(verbatim(&mut c, pos)?)
        } else if ch == '`' && c.peek(1) == Some('`') && c.peek(2) == Some('`') {
            c.bump();
            c.bump();
            c.bump();
            let mut s = String::new();
            loop {
                match c.peek(0) {
                    None => return Err(lex_err(pos, "```", "unterminated multi-line string literal")),
                    Some('`') if c.peek(1) == Some('`') && c.peek(2) == Some('`') => {
                        c.bump();
                        c.bump();
                        c.bump();
                        break;
                    }
                    Some(x) => {
                        s.push(x);
                        c.bump();
                    }
                }
            }
            Tok::Str(s)
        } else if ch.is_ascii_digit() || (ch == '.' && c.peek(1).is_some_and(|d| d.is_ascii_digit())) {
            number(&mut c, pos, start)?
        } else if ch.is_alphabetic() || ch == '_' || (ch == '$' && c.peek(1).is_some_and(is_ident_start)) {
            c.bump();
            while c.peek(0).is_some_and(is_ident_char) {
                c.bump();
            }
            let mut word = c.text(start);
            // project-away & co.
            if c.peek(0) == Some('-') && c.peek(1).is_some_and(is_ident_start) {
                let save = (c.i, c.line, c.col);
                c.bump();
                while c.peek(0).is_some_and(is_ident_char) {
                    c.bump();
                }
                let joined = c.text(start);
                if HYPHENATED.iter().any(|h| h.eq_ignore_ascii_case(&joined)) {
                    word = joined;
                } else {
                    (c.i, c.line, c.col) = save;
                }
            }
            if c.peek(0) == Some('~') && (word == "in") {
                c.bump();
                word.push('~');
            }
            if RAW_LITERALS.contains(&word.as_str()) && c.peek(0) == Some('(') {
                out.push(Token {
                    tok: Tok::Ident(word.clone()),
                    pos,
                    text: word,
                });
                let ppos = c.pos();
                c.bump();
                out.push(Token {
                    tok: Tok::Sym("("),
                    pos: ppos,
                    text: "(".into(),
                });
                let rpos = c.pos();
                let rstart = c.i;
                while c.peek(0).is_some_and(|x| x != ')' && x != '\n') {
                    c.bump();
                }
                let raw = c.text(rstart);
                out.push(Token {
                    tok: Tok::Raw(raw.trim().to_string()),
                    pos: rpos,
                    text: raw,
                });
                continue;
            }
            Tok::Ident(word)
        } else if ch == '!' && c.peek(1).is_some_and(|x| x.is_ascii_alphabetic()) {
            c.bump();
            while c.peek(0).is_some_and(is_ident_char) {
                c.bump();
            }
            let mut word = c.text(start);
            if c.peek(0) == Some('~') && word == "!in" {
                c.bump();
                word.push('~');
            }
            Tok::Ident(word)
        } else {
            let rest: String = c.chars[c.i..(c.i + 2).min(c.chars.len())].iter().collect();
            let sym = SYMS.iter().find(|s| rest.starts_with(**s));
            match sym {
                Some(s) => {
                    for _ in 0..s.chars().count() {
                        c.bump();
                    }
                    Tok::Sym(s)
                }
                None => return Err(lex_err(pos, &ch.to_string(), "unexpected character")),
            }
        };
        let text = c.text(start);
        out.push(Token { tok, pos, text });
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn quoted(c: &mut Cursor, pos: Pos) -> Result<String, KqlError> {
    let q = c.bump().unwrap_or('"');
    let mut s = String::new();
    loop {
        match c.bump() {
            None | Some('\n') => {
                return Err(lex_err(pos, &format!("{q}{s}"), "unterminated string literal"));
            }
            Some(x) if x == q => return Ok(s),
            Some('\\') => {
                let e = c.bump();
                match e {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('0') => s.push('\0'),
                    Some('\\') => s.push('\\'),
                    Some('"') => s.push('"'),
                    Some('\'') => s.push('\''),
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| c.bump()).collect();
                        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                            Some(ch) => s.push(ch),
                            None => return Err(lex_err(pos, &format!("\\u{hex}"), "invalid \\u escape")),
                        }
                    }
                    Some(other) => {
                        return Err(lex_err(
                            pos,
                            &format!("\\{other}"),
                            "invalid escape sequence in string literal",
                        ));
                    }
                    None => return Err(lex_err(pos, &format!("{q}{s}"), "unterminated string literal")),
                }
            }
            Some(x) => s.push(x),
        }
    }
}

fn verbatim(c: &mut Cursor, pos: Pos) -> Result<String, KqlError> {
    let q = c.bump().unwrap_or('"');
    let mut s = String::new();
    loop {
        match c.bump() {
            None | Some('\n') => return Err(lex_err(pos, &format!("@{q}{s}"), "unterminated string literal")),
            Some(x) if x == q => {
                if c.peek(0) == Some(q) {
                    c.bump();
                    s.push(q);
                } else {
                    return Ok(s);
                }
            }
            Some(x) => s.push(x),
        }
    }
}

fn number(c: &mut Cursor, pos: Pos, start: usize) -> Result<Tok, KqlError> {
    if c.peek(0) == Some('0') && matches!(c.peek(1), Some('x') | Some('X')) {
        c.bump();
        c.bump();
        while c.peek(0).is_some_and(|d| d.is_ascii_hexdigit()) {
            c.bump();
        }
        let t = c.text(start);
        return i64::from_str_radix(&t[2..], 16)
            .map(Tok::Long)
            .map_err(|_| lex_err(pos, &t, "invalid hexadecimal literal"));
    }
    let mut real = false;
    while let Some(d) = c.peek(0) {
        if d.is_ascii_digit() {
            c.bump();
        } else if d == '.' && !real && c.peek(1).is_some_and(|x| x.is_ascii_digit()) {
            real = true;
            c.bump();
        } else {
            break;
        }
    }
    // Exponent.
    if matches!(c.peek(0), Some('e') | Some('E'))
        && (c.peek(1).is_some_and(|x| x.is_ascii_digit())
            || (matches!(c.peek(1), Some('+') | Some('-')) && c.peek(2).is_some_and(|x| x.is_ascii_digit())))
    {
        c.bump();
        if matches!(c.peek(0), Some('+') | Some('-')) {
            c.bump();
        }
        while c.peek(0).is_some_and(|x| x.is_ascii_digit()) {
            c.bump();
        }
        let t = c.text(start);
        return t
            .parse::<f64>()
            .map(Tok::Real)
            .map_err(|_| lex_err(pos, &t, "invalid real literal"));
    }
    // Unit suffix: a time-span literal.
    if c.peek(0).is_some_and(|x| x.is_alphabetic()) {
        while c.peek(0).is_some_and(is_ident_char) {
            c.bump();
        }
        let t = c.text(start);
        return parse_timespan_literal(&t).map(Tok::TimeSpan).ok_or_else(|| {
            lex_err(
                pos,
                &t,
                "not a number or a time-span literal such as 1d, 2h, 30m, 10s, 100ms",
            )
        });
    }
    let t = c.text(start);
    if real {
        t.parse::<f64>()
            .map(Tok::Real)
            .map_err(|_| lex_err(pos, &t, "invalid real literal"))
    } else {
        t.parse::<i64>()
            .map(Tok::Long)
            .map_err(|_| lex_err(pos, &t, "integer literal out of range for long"))
    }
}

// Keeps the constant referenced for documentation of the largest literal unit.
const _: i64 = TICKS_PER_DAY;

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn basics() {
        assert_eq!(
            toks("T | project-away a // x\n| where b !in~ (\"x\") and c =~ 'y'"),
            vec![
                Tok::Ident("T".into()),
                Tok::Sym("|"),
                Tok::Ident("project-away".into()),
                Tok::Ident("a".into()),
                Tok::Sym("|"),
                Tok::Ident("where".into()),
                Tok::Ident("b".into()),
                Tok::Ident("!in~".into()),
                Tok::Sym("("),
                Tok::Str("x".into()),
                Tok::Sym(")"),
                Tok::Ident("and".into()),
                Tok::Ident("c".into()),
                Tok::Sym("=~"),
                Tok::Str("y".into()),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("1d 1.5 2 100ms"),
            vec![
                Tok::TimeSpan(TICKS_PER_DAY),
                Tok::Real(1.5),
                Tok::Long(2),
                Tok::TimeSpan(1_000_000),
                Tok::Eof
            ]
        );
        assert_eq!(toks(r#"@"a\b""c""#), vec![Tok::Str("a\\b\"c".into()), Tok::Eof]);
        let t = tokenize("a\n  b").unwrap();
        assert_eq!(t[1].pos, Pos { line: 2, column: 3 });
    }

    #[test]
    fn errors() {
        let e = tokenize("T | where x == \"abc").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(e.column, 16);
        assert!(tokenize("12abc").is_err());
        assert!(tokenize("#").is_err());
    }
}
