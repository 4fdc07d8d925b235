//! Recursive-descent parser for `$filter` producing an untyped syntax tree with
//! source spans; [`crate::validate`] turns it into the typed [`crate::ast::Expr`].
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (`eq ne gt ge lt le
//! in`). `not` binds looser than comparisons so that `not a eq 1` means
//! `not (a eq 1)`, the only reading that type-checks.

use crate::ast::{CmpOp, LambdaKind};
use crate::error::{char_pos, quote_token, ODataError};
use crate::lexer::{tokenize, Tok, Token};

/// Deepest nesting of parentheses, `not`, function calls and lambdas.
pub const MAX_DEPTH: usize = 100;
/// Most literal values in one `$filter` (keeps the bound parameter count within
/// every database's limit).
pub const MAX_VALUES: usize = 1000;

const OPTION: &str = "$filter";

/// Byte range in the option value.
pub(crate) type Span = (usize, usize);

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawLit<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    Str(String),
    DateTime(i64),
    Guid(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Contains,
    StartsWith,
    EndsWith,
    ToLower,
    ToUpper,
}

pub(crate) const FUNCTIONS: &str = "contains, endswith, startswith, tolower, toupper";

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        const ALL: [(&str, Func); 5] = [
            ("contains", Func::Contains),
            ("startswith", Func::StartsWith),
            ("endswith", Func::EndsWith),
            ("tolower", Func::ToLower),
            ("toupper", Func::ToUpper),
        ];
        ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, f)| *f)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Lit {
        lit: RawLit<'a>,
        span: Span,
    },
    Ident {
        name: &'a str,
        span: Span,
    },
    Call {
        func: Func,
        name: &'a str,
        args: Vec<Node<'a>>,
        span: Span,
    },
    Lambda {
        coll: &'a str,
        coll_span: Span,
        kind: LambdaKind,
        var: Option<(&'a str, Span)>,
        body: Option<Box<Node<'a>>>,
        span: Span,
    },
    Cmp {
        op: CmpOp,
        op_span: Span,
        left: Box<Node<'a>>,
        right: Box<Node<'a>>,
    },
    In {
        left: Box<Node<'a>>,
        op_span: Span,
        list: Vec<Node<'a>>,
        span: Span,
    },
    Not {
        inner: Box<Node<'a>>,
        span: Span,
    },
    And(Vec<Node<'a>>),
    Or(Vec<Node<'a>>),
}

impl Node<'_> {
    pub(crate) fn span(&self) -> Span {
        match self {
            Node::Lit { span, .. }
            | Node::Ident { span, .. }
            | Node::Call { span, .. }
            | Node::Lambda { span, .. }
            | Node::In { span, .. }
            | Node::Not { span, .. } => *span,
            Node::Cmp { left, right, .. } => (left.span().0, right.span().1),
            Node::And(v) | Node::Or(v) => match (v.first(), v.last()) {
                (Some(a), Some(b)) => (a.span().0, b.span().1),
                _ => (0, 0),
            },
        }
    }
}

/// Parses a non-empty `$filter` value.
pub(crate) fn parse_filter(src: &str) -> Result<Node<'_>, ODataError> {
    let toks = tokenize(src, OPTION)?;
    let mut p = Parser {
        src,
        toks,
        i: 0,
        values: 0,
        eof: Token {
            tok: Tok::Eof,
            start: src.len(),
            end: src.len(),
        },
    };
    let node = p.parse_or(0)?;
    let t = p.peek();
    match t.tok {
        Tok::Eof => Ok(node),
        Tok::RParen => Err(p.error(format_args!(
            "unexpected ')' at position {} without a matching '('",
            p.pos(t.start)
        ))),
        _ => Err(p.unexpected(t, "'and', 'or' or end of input")),
    }
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token<'a>>,
    i: usize,
    values: usize,
    eof: Token<'a>,
}

fn is_kw(t: &Token<'_>, kw: &str) -> bool {
    matches!(t.tok, Tok::Ident(w) if w.eq_ignore_ascii_case(kw))
}

/// Words that can never start a value; seeing one where a value is due is an error
/// worth naming precisely.
fn is_reserved(w: &str) -> bool {
    ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "has"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(w))
}

const UNSUPPORTED_OPS: [&str; 7] = ["has", "add", "sub", "mul", "div", "divby", "mod"];

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        self.toks.get(self.i).unwrap_or(&self.eof)
    }

    /// Moves past the current token and returns its index (never past `Eof`).
    fn bump(&mut self) -> usize {
        let at = self.i;
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        at
    }

    fn take(&mut self) -> Token<'a> {
        let at = self.bump();
        match self.toks.get_mut(at) {
            // Strings are moved out rather than cloned; the span still locates it.
            Some(t) => Token {
                tok: std::mem::replace(&mut t.tok, Tok::Eof),
                start: t.start,
                end: t.end,
            },
            None => self.eof.clone(),
        }
    }

    fn pos(&self, byte: usize) -> usize {
        char_pos(self.src, byte)
    }

    fn error(&self, detail: impl std::fmt::Display) -> ODataError {
        ODataError::in_option(OPTION, detail)
    }

    fn text(&self, t: &Token<'_>) -> String {
        quote_token(self.src.get(t.start..t.end).unwrap_or(""))
    }

    fn unexpected(&self, t: &Token<'_>, expected: &str) -> ODataError {
        if t.tok == Tok::Eof {
            self.error(format_args!("unexpected end of input; expected {expected}"))
        } else {
            self.error(format_args!(
                "unexpected {} at position {}; expected {expected}",
                self.text(t),
                self.pos(t.start)
            ))
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), ODataError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format_args!(
                "expression nested too deeply at position {} (at most {MAX_DEPTH} levels of \
                 parentheses, 'not', function calls and lambdas are allowed)",
                self.pos(self.peek().start)
            )));
        }
        Ok(())
    }

    fn parse_or(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        self.check_depth(depth)?;
        let first = self.parse_and(depth)?;
        if !is_kw(self.peek(), "or") {
            return Ok(first);
        }
        let mut terms = vec![first];
        while is_kw(self.peek(), "or") {
            self.bump();
            terms.push(self.parse_and(depth)?);
        }
        Ok(Node::Or(terms))
    }

    fn parse_and(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        let first = self.parse_unary(depth)?;
        if !is_kw(self.peek(), "and") {
            return Ok(first);
        }
        let mut terms = vec![first];
        while is_kw(self.peek(), "and") {
            self.bump();
            terms.push(self.parse_unary(depth)?);
        }
        Ok(Node::And(terms))
    }

    fn parse_unary(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        if is_kw(self.peek(), "not") {
            let start = self.peek().start;
            self.bump();
            self.check_depth(depth + 1)?;
            let inner = self.parse_unary(depth + 1)?;
            let end = inner.span().1;
            return Ok(Node::Not {
                inner: Box::new(inner),
                span: (start, end),
            });
        }
        self.parse_comparison(depth)
    }

    fn parse_comparison(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        let left = self.parse_operand(depth)?;
        let t = self.peek().clone();
        let node = match t.tok {
            Tok::Ident(w) => {
                if let Some(op) = CmpOp::from_keyword(w) {
                    self.bump();
                    let right = self.parse_operand(depth)?;
                    Node::Cmp {
                        op,
                        op_span: (t.start, t.end),
                        left: Box::new(left),
                        right: Box::new(right),
                    }
                } else if w.eq_ignore_ascii_case("in") {
                    self.bump();
                    self.parse_in_list(left, (t.start, t.end), depth)?
                } else if UNSUPPORTED_OPS.iter().any(|o| o.eq_ignore_ascii_case(w)) {
                    return Err(self.error(format_args!(
                        "operator {} at position {} is not supported; supported operators \
                         are: eq, ne, gt, ge, lt, le, in, and, or, not",
                        self.text(&t),
                        self.pos(t.start)
                    )));
                } else {
                    left
                }
            }
            _ => left,
        };
        // Only a connective, a closing bracket/comma or the end may follow.
        let next = self.peek();
        match &next.tok {
            Tok::Eof | Tok::RParen | Tok::Comma => Ok(node),
            Tok::Ident(w) if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") => Ok(node),
            Tok::Ident(w)
                if matches!(node, Node::Cmp { .. } | Node::In { .. })
                    && (CmpOp::from_keyword(w).is_some() || w.eq_ignore_ascii_case("in")) =>
            {
                Err(self.error(format_args!(
                    "comparison operators cannot be chained: unexpected {} at position {}; \
                     combine comparisons with 'and' or 'or'",
                    self.text(next),
                    self.pos(next.start)
                )))
            }
            _ if matches!(node, Node::Cmp { .. } | Node::In { .. }) => {
                Err(self.unexpected(next, "'and', 'or', ')' or end of input"))
            }
            _ => Err(self.unexpected(
                next,
                "a comparison operator (eq, ne, gt, ge, lt, le, in), 'and', 'or', ')' or end \
                 of input",
            )),
        }
    }

    fn parse_in_list(&mut self, left: Node<'a>, op_span: Span, depth: usize) -> Result<Node<'a>, ODataError> {
        let open = self.peek().clone();
        if open.tok != Tok::LParen {
            return Err(self.unexpected(&open, "'(' after 'in', as in riskScore in ('High', 'Medium')"));
        }
        self.bump();
        let mut list = Vec::new();
        loop {
            if self.peek().tok == Tok::RParen && list.is_empty() {
                return Err(self.error(format_args!(
                    "empty list after 'in' at position {}; give at least one value",
                    self.pos(op_span.0)
                )));
            }
            list.push(self.parse_operand(depth + 1)?);
            let t = self.peek().clone();
            match t.tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    let start = left.span().0;
                    return Ok(Node::In {
                        left: Box::new(left),
                        op_span,
                        list,
                        span: (start, t.end),
                    });
                }
                _ => return Err(self.unexpected(&t, "',' or ')' in the 'in' list")),
            }
        }
    }

    fn count_value(&mut self, at: usize) -> Result<(), ODataError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(self.error(format_args!(
                "too many values (more than {MAX_VALUES}) at position {}; split the query",
                self.pos(at)
            )));
        }
        Ok(())
    }

    fn parse_operand(&mut self, depth: usize) -> Result<Node<'a>, ODataError> {
        let t = self.take();
        let span = (t.start, t.end);
        let lit = |lit| Node::Lit { lit, span };
        match t.tok {
            Tok::LParen => {
                let inner = self.parse_or(depth + 1)?;
                let close = self.peek().clone();
                if close.tok != Tok::RParen {
                    let expected = format!("')' to close the '(' at position {}", self.pos(t.start));
                    return Err(self.unexpected(&close, &expected));
                }
                self.bump();
                Ok(inner)
            }
            Tok::Str(s) => {
                self.count_value(t.start)?;
                Ok(lit(RawLit::Str(s)))
            }
            Tok::Number(n) => {
                self.count_value(t.start)?;
                Ok(lit(RawLit::Number(n)))
            }
            Tok::DateTime(d) => {
                self.count_value(t.start)?;
                Ok(lit(RawLit::DateTime(d)))
            }
            Tok::Guid(g) => {
                self.count_value(t.start)?;
                Ok(lit(RawLit::Guid(g)))
            }
            Tok::Ident(w) => self.parse_ident(w, span, depth),
            Tok::RParen | Tok::Comma | Tok::Colon | Tok::Slash | Tok::Eof => Err(self.unexpected(&t, "a value")),
        }
    }

    fn parse_ident(&mut self, w: &'a str, span: Span, depth: usize) -> Result<Node<'a>, ODataError> {
        let next = self.peek().tok.clone();
        let followed = matches!(next, Tok::LParen | Tok::Slash);
        if !followed {
            let keyword = |k: &str| w.eq_ignore_ascii_case(k);
            let value = if keyword("null") {
                Some(RawLit::Null)
            } else if keyword("true") {
                Some(RawLit::Bool(true))
            } else if keyword("false") {
                Some(RawLit::Bool(false))
            } else {
                None
            };
            if let Some(v) = value {
                self.count_value(span.0)?;
                return Ok(Node::Lit { lit: v, span });
            }
        }
        if is_reserved(w) {
            return Err(self.error(format_args!(
                "unexpected {} at position {}; expected a value",
                quote_token(w),
                self.pos(span.0)
            )));
        }
        match next {
            Tok::LParen => self.parse_call(w, span, depth),
            Tok::Slash => self.parse_lambda(w, span, depth),
            _ => Ok(Node::Ident { name: w, span }),
        }
    }

    fn parse_call(&mut self, name: &'a str, span: Span, depth: usize) -> Result<Node<'a>, ODataError> {
        let Some(func) = Func::from_name(name) else {
            let hint = if name.eq_ignore_ascii_case("any") || name.eq_ignore_ascii_case("all") {
                format!("; {name} must follow a collection property, as in machineTags/{name}(t: t eq 'x')")
            } else {
                String::new()
            };
            return Err(self.error(format_args!(
                "unknown function {} at position {}; supported functions are: {FUNCTIONS}{hint}",
                quote_token(name),
                self.pos(span.0)
            )));
        };
        self.bump(); // '('
        let mut args = Vec::new();
        if self.peek().tok == Tok::RParen {
            let end = self.peek().end;
            self.bump();
            return Ok(Node::Call {
                func,
                name,
                args,
                span: (span.0, end),
            });
        }
        loop {
            args.push(self.parse_or(depth + 1)?);
            let t = self.peek().clone();
            match t.tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(Node::Call {
                        func,
                        name,
                        args,
                        span: (span.0, t.end),
                    });
                }
                _ => {
                    let expected = format!("',' or ')' in the arguments of {name}()");
                    return Err(self.unexpected(&t, &expected));
                }
            }
        }
    }

    fn parse_lambda(&mut self, coll: &'a str, coll_span: Span, depth: usize) -> Result<Node<'a>, ODataError> {
        self.bump(); // '/'
        let t = self.peek().clone();
        let kind = match t.tok {
            Tok::Ident(w) if w.eq_ignore_ascii_case("any") => LambdaKind::Any,
            Tok::Ident(w) if w.eq_ignore_ascii_case("all") => LambdaKind::All,
            _ => {
                return Err(self.unexpected(
                    &t,
                    "'any' or 'all' after '/' (navigation paths such as a/b are not supported)",
                ))
            }
        };
        let kw = self.src.get(t.start..t.end).unwrap_or("any");
        self.bump();
        let open = self.peek().clone();
        if open.tok != Tok::LParen {
            return Err(self.unexpected(&open, &format!("'(' after '{kw}'")));
        }
        self.bump();
        let lambda = |end: usize, var, body| Node::Lambda {
            coll,
            coll_span,
            kind,
            var,
            body,
            span: (coll_span.0, end),
        };
        if self.peek().tok == Tok::RParen {
            let end = self.peek().end;
            self.bump();
            return Ok(lambda(end, None, None));
        }
        let v = self.peek().clone();
        let var = match v.tok {
            Tok::Ident(w) if !is_reserved(w) => (w, (v.start, v.end)),
            _ => return Err(self.unexpected(&v, "a lambda variable name, as in any(t: t eq 'x')")),
        };
        self.bump();
        let colon = self.peek().clone();
        if colon.tok != Tok::Colon {
            let expected = format!("':' after the lambda variable '{}'", var.0);
            return Err(self.unexpected(&colon, &expected));
        }
        self.bump();
        let body = self.parse_or(depth + 1)?;
        let close = self.peek().clone();
        if close.tok != Tok::RParen {
            let expected = format!("')' to close {kw}( at position {}", self.pos(open.start));
            return Err(self.unexpected(&close, &expected));
        }
        self.bump();
        Ok(lambda(close.end, Some(var), Some(Box::new(body))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Node<'_> {
        parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        parse_filter(s).unwrap_err().message
    }

    #[test]
    fn precedence() {
        match ok("a eq 1 or b eq 2 and not c eq 3") {
            Node::Or(v) => {
                assert_eq!(v.len(), 2);
                match &v[1] {
                    Node::And(w) => assert!(matches!(w[1], Node::Not { .. })),
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        match ok("(a eq 1 or b eq 2) and c eq 3") {
            Node::And(v) => assert!(matches!(v[0], Node::Or(_))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(ok("a EQ 1 AND b Eq 2"), Node::And(_)));
    }

    #[test]
    fn calls_and_lambdas() {
        assert!(matches!(
            ok("startswith(tolower(a), 'x')"),
            Node::Call {
                func: Func::StartsWith,
                ..
            }
        ));
        assert!(matches!(ok("tags/any(t: t eq 'x')"), Node::Lambda { .. }));
        assert!(matches!(ok("tags/any()"), Node::Lambda { body: None, .. }));
        assert!(matches!(ok("a in ('x', 'y')"), Node::In { .. }));
        assert!(matches!(ok("not(a eq 1)"), Node::Not { .. }));
    }

    #[test]
    fn errors() {
        let e = err("riskScore eq )");
        assert!(e.contains("unexpected ')' at position 14; expected a value"), "{e}");
        assert!(err("a eq 1 b").contains("'b' at position 8"));
        assert!(err("a eq 1 eq 2").contains("chained"));
        assert!(err("substringof('a', b)").contains("unknown function 'substringof'"));
        assert!(err("(a eq 1").contains("expected ')' to close the '(' at position 1"));
        assert!(err("a eq 1)").contains("without a matching '('"));
        assert!(err("a has 1").contains("'has'"));
        assert!(err("a in ()").contains("empty list"));
        assert!(err("tags/foo(t: t eq 1)").contains("'any' or 'all'"));
        assert!(err("tags/any(t t eq 1)").contains("':' after the lambda variable 't'"));
        assert!(err("a eq and").contains("'and' at position 6; expected a value"));
        assert!(err("a eq").contains("end of input; expected a value"));
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}a eq 1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(err(&deep).contains("nested too deeply"));
        let nots = format!("{}a eq 1", "not ".repeat(5000));
        assert!(err(&nots).contains("nested too deeply"));
        let ok_depth = format!("{}a eq 1{}", "(".repeat(90), ")".repeat(90));
        ok(&ok_depth);
    }

    #[test]
    fn value_count_is_bounded() {
        let many = vec!["a eq 1"; MAX_VALUES + 1].join(" or ");
        assert!(err(&many).contains("too many values"));
    }
}
