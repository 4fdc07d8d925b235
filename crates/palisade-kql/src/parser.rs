//! Recursive-descent parser: tokens to the untyped tree in [`crate::ast`].
//!
//! Precedence, loosest first (Kusto "Operator precedence"): `or`; `and`; comparisons
//! and string operators (`==`, `=~`, `has`, `contains`, `in`, `between`, `matches
//! regex`...); `+ -`; `* / %`; unary `-`; postfix (`.name`, `[index]`, calls).
//! `not` is the function `not(x)`, as in Kusto.
//!
//! Bounded: nesting (parentheses, calls, operator chains) is limited to
//! [`MAX_DEPTH`], pipelines to [`MAX_OPERATORS`] operators, lists to
//! [`MAX_LIST`] items, so no input overflows the stack of later recursive passes.

use crate::ast::*;
use crate::error::{KqlError, Pos, Stage};
use crate::lexer::{tokenize, Tok, Token};
use crate::types::KqlType;
use crate::value::{parse_datetime, parse_guid, parse_timespan};

/// Deepest nesting of expressions (tree height) and of parser recursion.
pub const MAX_DEPTH: u32 = 120;
/// Most operators in one pipeline.
pub const MAX_OPERATORS: usize = 256;
/// Most items in one list (`in (...)`, `project a, b, ...`, call arguments).
pub const MAX_LIST: usize = 10_000;

/// Kusto tabular operators and statements Palisade knows by name but does not run;
/// they get a "not supported" error rather than a syntax error.
const KNOWN_UNSUPPORTED_OPS: &[&str] = &[
    "render",
    "evaluate",
    "make-series",
    "mv-apply",
    "top-nested",
    "top-hitters",
    "as",
    "invoke",
    "facet",
    "fork",
    "partition",
    "sample",
    "sample-distinct",
    "scan",
    "parse-where",
    "parse-kv",
    "project-smart",
    "reduce",
    "consume",
    "find",
    "externaldata",
    "range",
    "make-graph",
    "graph-match",
    "print",
];

pub(crate) fn parse(src: &str) -> Result<Body, KqlError> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, i: 0, depth: 0 };
    let body = p.body(true)?;
    if !p.at_eof() {
        return Err(p.unexpected(""));
    }
    Ok(body)
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: u32,
}

type PResult<T> = Result<T, KqlError>;

fn mk(kind: ExprKind, pos: Pos, children: &[&Expr]) -> Expr {
    let depth = 1 + children.iter().map(|c| c.depth).max().unwrap_or(0);
    Expr { kind, pos, depth }
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `i` never passes it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }
    fn peek_at(&self, k: usize) -> &Token {
        &self.toks[(self.i + k).min(self.toks.len() - 1)]
    }
    fn pos(&self) -> Pos {
        self.peek().pos
    }
    fn at_eof(&self) -> bool {
        matches!(self.peek().tok, Tok::Eof)
    }
    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if !matches!(t.tok, Tok::Eof) {
            self.i += 1;
        }
        t
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek().tok, Tok::Sym(x) if x == s)
    }
    fn is_kw(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(x) if x == s)
    }
    fn is_kw_at(&self, k: usize, s: &str) -> bool {
        matches!(&self.peek_at(k).tok, Tok::Ident(x) if x == s)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn eat_kw(&mut self, s: &str) -> bool {
        if self.is_kw(s) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn unexpected(&self, hint: &str) -> KqlError {
        let t = self.peek();
        KqlError::syntax(Stage::Parse, t.pos, &t.text, hint)
    }
    fn expect_sym(&mut self, s: &str) -> PResult<()> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected '{s}'")))
        }
    }
    fn expect_kw(&mut self, s: &str) -> PResult<()> {
        if self.eat_kw(s) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected '{s}'")))
        }
    }
    fn ident(&mut self, what: &str) -> PResult<(String, Pos)> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Ident(s) if !s.starts_with('!') => {
                self.bump();
                Ok((s, t.pos))
            }
            // ['Column name']
            Tok::Sym("[")
                if matches!(self.peek_at(1).tok, Tok::Str(_)) && matches!(self.peek_at(2).tok, Tok::Sym("]")) =>
            {
                self.bump();
                let s = match self.bump().tok {
                    Tok::Str(s) => s,
                    _ => String::new(),
                };
                self.bump();
                Ok((s, t.pos))
            }
            _ => Err(self.unexpected(&format!("expected {what}"))),
        }
    }
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.unexpected("the query is nested too deeply"));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }
    fn check_depth(&self, e: &Expr) -> PResult<()> {
        if e.depth > MAX_DEPTH {
            return Err(KqlError::syntax(
                Stage::Parse,
                e.pos,
                &self.peek().text,
                "the expression is nested too deeply",
            ));
        }
        Ok(())
    }

    /// `(let ...;)* expr ;?` (the whole query, or a function body inside braces).
    fn body(&mut self, top: bool) -> PResult<Body> {
        let mut lets = Vec::new();
        loop {
            while self.eat_sym(";") {}
            if self.is_kw("let") {
                lets.push(self.let_stmt()?);
                if !self.eat_sym(";") {
                    return Err(self.unexpected("expected ';' after a let statement"));
                }
                if lets.len() > MAX_LIST {
                    return Err(self.unexpected("too many let statements"));
                }
                continue;
            }
            if self.is_kw("set") || self.is_kw("declare") || self.is_kw("alias") || self.is_kw("restrict") {
                let t = self.peek().clone();
                return Err(KqlError::unsupported(t.pos, &format!("'{}' statement", t.text)));
            }
            break;
        }
        if top && self.at_eof() {
            return Err(self.unexpected("expected a tabular expression"));
        }
        let expr = self.pipe_expr()?;
        while self.eat_sym(";") {}
        if top && !self.at_eof() {
            let t = self.peek();
            let hint = if matches!(t.tok, Tok::Ident(_)) {
                "only one tabular expression statement is allowed; separate statements with ';' and start each with 'let'"
            } else {
                ""
            };
            return Err(self.unexpected(hint));
        }
        Ok(Body { lets, expr })
    }

    fn let_stmt(&mut self) -> PResult<Let> {
        self.expect_kw("let")?;
        let (name, pos) = self.ident("a name after 'let'")?;
        self.expect_sym("=")?;
        // Function: `(params) { body }`. A parenthesised expression is distinguished by
        // what follows the closing parenthesis.
        if self.is_sym("(") && self.looks_like_params() {
            self.bump();
            let mut params = Vec::new();
            if !self.is_sym(")") {
                loop {
                    let (pname, ppos) = self.ident("a parameter name")?;
                    self.expect_sym(":")?;
                    let ty = if self.eat_sym("(") {
                        // Tabular parameter `T:(*)` or `T:(Col:type, ...)`: the schema is not checked.
                        let mut level = 1;
                        while level > 0 && !self.at_eof() {
                            if self.is_sym("(") {
                                level += 1;
                            } else if self.is_sym(")") {
                                level -= 1;
                            }
                            self.bump();
                        }
                        None
                    } else {
                        let (tname, tpos) = self.ident("a type name")?;
                        Some(
                            KqlType::parse(&tname)
                                .ok_or_else(|| KqlError::syntax(Stage::Parse, tpos, &tname, "unknown type name"))?,
                        )
                    };
                    let default = if self.eat_sym("=") { Some(self.expr()?) } else { None };
                    params.push(Param {
                        name: pname,
                        pos: ppos,
                        ty,
                        default,
                    });
                    if !self.eat_sym(",") {
                        break;
                    }
                }
            }
            self.expect_sym(")")?;
            self.expect_sym("{")?;
            self.enter()?;
            let body = self.body(false)?;
            self.leave();
            self.expect_sym("}")?;
            return Ok(Let {
                name,
                pos,
                value: LetValue::Function { params, body },
            });
        }
        let e = self.pipe_expr()?;
        Ok(Let {
            name,
            pos,
            value: LetValue::Expr(e),
        })
    }

    /// After `let x =` at `(`: is it a parameter list (`()` or `(name:`), then `{`?
    fn looks_like_params(&self) -> bool {
        match &self.peek_at(1).tok {
            Tok::Sym(")") => matches!(self.peek_at(2).tok, Tok::Sym("{")),
            Tok::Ident(_) => matches!(self.peek_at(2).tok, Tok::Sym(":")),
            _ => false,
        }
    }

    /// A tabular or scalar expression optionally followed by `| operator`s.
    fn pipe_expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let pos = self.pos();
        let source = if self.is_kw("union") {
            self.bump();
            let spec = self.union_spec()?;
            mk(ExprKind::Union(spec), pos, &[])
        } else if self.is_kw("search") {
            self.bump();
            self.search_source(pos)?
        } else if self.is_kw("datatable") && matches!(self.peek_at(1).tok, Tok::Sym("(")) {
            self.bump();
            self.bump();
            let mut columns = Vec::new();
            loop {
                let (n, _) = self.ident("a column name")?;
                self.expect_sym(":")?;
                let (tn, tp) = self.ident("a type name")?;
                let ty =
                    KqlType::parse(&tn).ok_or_else(|| KqlError::syntax(Stage::Parse, tp, &tn, "unknown type name"))?;
                columns.push((n, ty));
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            self.expect_sym("[")?;
            let mut values = Vec::new();
            if !self.is_sym("]") {
                loop {
                    values.push(self.expr()?);
                    if values.len() > MAX_LIST {
                        return Err(self.unexpected("too many values"));
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
            }
            self.expect_sym("]")?;
            mk(ExprKind::Datatable { columns, values }, pos, &[])
        } else if self.is_kw("print") {
            self.bump();
            let items = self.named_list(true)?;
            mk(ExprKind::Print(items), pos, &[])
        } else {
            self.expr()?
        };
        let mut ops = Vec::new();
        while self.eat_sym("|") {
            ops.push(self.operator()?);
            if ops.len() > MAX_OPERATORS {
                return Err(self.unexpected("too many operators in one pipeline"));
            }
        }
        self.leave();
        if ops.is_empty() {
            return Ok(source);
        }
        let d = source.depth + 1;
        Ok(Expr {
            kind: ExprKind::Pipe {
                source: Box::new(source),
                ops,
            },
            pos,
            depth: d,
        })
    }

    fn search_source(&mut self, pos: Pos) -> PResult<Expr> {
        let cs = self.search_kind()?;
        let mut tables = Vec::new();
        if self.eat_kw("in") {
            self.expect_sym("(")?;
            loop {
                let (n, p) = self.ident("a table name")?;
                tables.push(mk(ExprKind::Name(n), p, &[]));
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
        } else {
            return Err(KqlError::unsupported(
                pos,
                "'search' without a table ('search in (T) \"x\"' or 'T | search \"x\"')",
            ));
        }
        let term = self.expr()?;
        Ok(mk(
            ExprKind::Search {
                tables,
                cs,
                term: Box::new(term),
            },
            pos,
            &[],
        ))
    }

    fn search_kind(&mut self) -> PResult<bool> {
        if self.is_kw("kind") && matches!(self.peek_at(1).tok, Tok::Sym("=")) {
            self.bump();
            self.bump();
            let (k, p) = self.ident("case_sensitive or case_insensitive")?;
            return match k.as_str() {
                "case_sensitive" => Ok(true),
                "case_insensitive" => Ok(false),
                _ => Err(KqlError::syntax(
                    Stage::Parse,
                    p,
                    &k,
                    "expected case_sensitive or case_insensitive",
                )),
            };
        }
        Ok(false)
    }

    fn union_spec(&mut self) -> PResult<UnionSpec> {
        let mut spec = UnionSpec {
            withsource: None,
            inner: false,
            tables: Vec::new(),
        };
        loop {
            if self.is_kw("withsource") && matches!(self.peek_at(1).tok, Tok::Sym("=")) {
                self.bump();
                self.bump();
                spec.withsource = Some(self.ident("a column name")?.0);
            } else if self.is_kw("kind") && matches!(self.peek_at(1).tok, Tok::Sym("=")) {
                self.bump();
                self.bump();
                let (k, p) = self.ident("inner or outer")?;
                spec.inner = match k.as_str() {
                    "inner" => true,
                    "outer" => false,
                    _ => return Err(KqlError::syntax(Stage::Parse, p, &k, "expected inner or outer")),
                };
            } else if self.is_kw("isfuzzy") && matches!(self.peek_at(1).tok, Tok::Sym("=")) {
                self.bump();
                self.bump();
                self.bump();
            } else {
                break;
            }
        }
        loop {
            let e = if self.is_sym("(") {
                let p = self.pos();
                self.bump();
                let e = self.pipe_expr()?;
                self.expect_sym(")")?;
                Expr { pos: p, ..e }
            } else {
                self.postfix()?
            };
            spec.tables.push(e);
            if spec.tables.len() > MAX_LIST {
                return Err(self.unexpected("too many union inputs"));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(spec)
    }

    fn operator(&mut self) -> PResult<Op> {
        let t = self.peek().clone();
        let pos = t.pos;
        let name = match &t.tok {
            Tok::Ident(s) => s.clone(),
            _ => return Err(self.unexpected("expected a tabular operator")),
        };
        self.bump();
        let kind = match name.as_str() {
            "where" | "filter" => OpKind::Where(self.expr()?),
            "project" => OpKind::Project(self.named_list(false)?),
            "extend" => OpKind::Extend(self.named_list(false)?),
            "serialize" => {
                let at_end = matches!(
                    self.peek().tok,
                    Tok::Sym("|") | Tok::Sym(")") | Tok::Sym(";") | Tok::Eof
                );
                OpKind::Serialize(if at_end { Vec::new() } else { self.named_list(false)? })
            }
            "project-away" => OpKind::ProjectAway(self.name_patterns()?),
            "project-keep" => OpKind::ProjectKeep(self.name_patterns()?),
            "project-reorder" => {
                let v = self.name_patterns()?;
                if self.is_kw("asc") || self.is_kw("desc") || self.is_kw("granny-asc") {
                    return Err(KqlError::unsupported(self.pos(), "'project-reorder' with a sort order"));
                }
                OpKind::ProjectReorder(v)
            }
            "project-rename" => {
                let mut v = Vec::new();
                loop {
                    let (new, p) = self.ident("a column name")?;
                    self.expect_sym("=")?;
                    let (old, _) = self.ident("a column name")?;
                    v.push((new, old, p));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                OpKind::ProjectRename(v)
            }
            "take" | "limit" => OpKind::Take(self.expr()?),
            "top" => {
                let n = self.expr()?;
                self.expect_kw("by")?;
                let keys = self.sort_keys(true)?;
                OpKind::Top { n, keys }
            }
            "sort" | "order" => {
                self.expect_kw("by")?;
                OpKind::Sort(self.sort_keys(false)?)
            }
            "summarize" => {
                self.skip_hints()?;
                let aggs = if self.is_kw("by") {
                    Vec::new()
                } else {
                    self.named_list(false)?
                };
                let by = if self.eat_kw("by") {
                    self.named_list(false)?
                } else {
                    Vec::new()
                };
                OpKind::Summarize { aggs, by }
            }
            "distinct" => {
                if self.eat_sym("*") {
                    OpKind::Distinct(Vec::new())
                } else {
                    let mut v = Vec::new();
                    loop {
                        v.push(self.expr()?);
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    OpKind::Distinct(v)
                }
            }
            "count" => OpKind::Count,
            "join" | "lookup" => {
                let mut kind = None;
                loop {
                    if self.is_kw("kind") && matches!(self.peek_at(1).tok, Tok::Sym("=")) {
                        self.bump();
                        self.bump();
                        kind = Some(self.ident("a join kind")?);
                    } else if matches!(&self.peek().tok, Tok::Ident(s) if s.starts_with("hint"))
                        || self.is_kw("withsource")
                    {
                        self.skip_hints()?;
                        if !(self.is_kw("kind") && matches!(self.peek_at(1).tok, Tok::Sym("="))) {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                let right = if self.is_sym("(") {
                    let p = self.pos();
                    self.bump();
                    let e = self.pipe_expr()?;
                    self.expect_sym(")")?;
                    Expr { pos: p, ..e }
                } else {
                    self.postfix()?
                };
                self.expect_kw("on")?;
                let mut on = Vec::new();
                loop {
                    on.push(self.expr()?);
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                OpKind::Join {
                    kind,
                    right,
                    on,
                    lookup: name == "lookup",
                }
            }
            "union" => OpKind::Union(self.union_spec()?),
            "mv-expand" => {
                let mut index = None;
                loop {
                    if !matches!(self.peek_at(1).tok, Tok::Sym("=")) {
                        break;
                    }
                    if self.is_kw("with_itemindex") {
                        self.bump();
                        self.bump();
                        index = Some(self.ident("a column name")?.0);
                    } else if self.is_kw("bagexpansion") || self.is_kw("kind") {
                        let t = self.peek().clone();
                        return Err(KqlError::unsupported(
                            t.pos,
                            &format!("'mv-expand' parameter '{}'", t.text),
                        ));
                    } else {
                        break;
                    }
                }
                let mut items = Vec::new();
                loop {
                    let ne = self.named_expr(false)?;
                    let ty = if self.eat_kw("to") {
                        self.expect_kw("typeof")?;
                        self.expect_sym("(")?;
                        let (tn, tp) = self.ident("a type name")?;
                        self.expect_sym(")")?;
                        Some(
                            KqlType::parse(&tn)
                                .ok_or_else(|| KqlError::syntax(Stage::Parse, tp, &tn, "unknown type name"))?,
                        )
                    } else {
                        None
                    };
                    items.push((ne, ty));
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                let limit = if self.eat_kw("limit") {
                    match self.bump().tok {
                        Tok::Long(n) if n >= 0 => Some(n),
                        _ => return Err(self.unexpected("expected a row count after 'limit'")),
                    }
                } else {
                    None
                };
                OpKind::MvExpand { items, limit, index }
            }
            "parse" => {
                if self.is_kw("kind") && matches!(self.peek_at(1).tok, Tok::Sym("=")) {
                    self.bump();
                    self.bump();
                    let (k, p) = self.ident("a parse kind")?;
                    if k != "simple" {
                        return Err(KqlError::unsupported(p, &format!("'parse kind={k}'")));
                    }
                }
                let e = self.expr()?;
                self.expect_kw("with")?;
                let mut parts = Vec::new();
                loop {
                    let t = self.peek().clone();
                    match t.tok {
                        Tok::Str(s) => {
                            self.bump();
                            parts.push(ParsePart::Lit(s));
                        }
                        Tok::Sym("*") => {
                            self.bump();
                            parts.push(ParsePart::Star);
                        }
                        Tok::Ident(_) => {
                            let (n, p) = self.ident("a column name")?;
                            let ty = if self.eat_sym(":") {
                                let (tn, tp) = self.ident("a type name")?;
                                KqlType::parse(&tn)
                                    .ok_or_else(|| KqlError::syntax(Stage::Parse, tp, &tn, "unknown type name"))?
                            } else {
                                KqlType::String
                            };
                            parts.push(ParsePart::Column(n, p, ty));
                        }
                        _ => break,
                    }
                    if parts.len() > MAX_LIST {
                        return Err(self.unexpected("parse pattern too long"));
                    }
                }
                if parts.is_empty() {
                    return Err(self.unexpected("expected a parse pattern"));
                }
                OpKind::Parse { e, parts }
            }
            "getschema" => OpKind::GetSchema,
            "search" => {
                let cs = self.search_kind()?;
                OpKind::Search { cs, term: self.expr()? }
            }
            other => {
                if KNOWN_UNSUPPORTED_OPS.contains(&other) {
                    return Err(KqlError::unsupported(pos, &format!("'{other}' operator")));
                }
                return Err(KqlError::syntax(Stage::Parse, pos, &t.text, "unknown tabular operator"));
            }
        };
        Ok(Op { kind, pos })
    }

    /// `hint.x = y` and similar `name = value` parameters that do not change results.
    fn skip_hints(&mut self) -> PResult<()> {
        while matches!(&self.peek().tok, Tok::Ident(s) if s == "hint") && matches!(self.peek_at(1).tok, Tok::Sym(".")) {
            self.bump();
            self.bump();
            self.ident("a hint name")?;
            self.expect_sym("=")?;
            self.bump();
        }
        Ok(())
    }

    fn name_patterns(&mut self) -> PResult<Vec<(String, Pos)>> {
        let mut v = Vec::new();
        loop {
            let pos = self.pos();
            let mut s = String::new();
            // A pattern is a run of identifier pieces and `*` with no spaces.
            loop {
                let t = self.peek().clone();
                let adjacent = s.is_empty() || {
                    let prev = &self.toks[self.i - 1];
                    prev.pos.line == t.pos.line && prev.pos.column + prev.text.chars().count() as u32 == t.pos.column
                };
                if !adjacent {
                    break;
                }
                match t.tok {
                    Tok::Ident(ref x) if !x.starts_with('!') => {
                        s.push_str(x);
                        self.bump();
                    }
                    Tok::Sym("*") => {
                        s.push('*');
                        self.bump();
                    }
                    Tok::Sym("[") if s.is_empty() => {
                        s = self.ident("a column name")?.0;
                        break;
                    }
                    _ => break,
                }
            }
            if s.is_empty() {
                return Err(self.unexpected("expected a column name"));
            }
            v.push((s, pos));
            if v.len() > MAX_LIST {
                return Err(self.unexpected("list too long"));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(v)
    }

    /// Sort keys; `single` for `top`, which takes one sort expression in Kusto.
    fn sort_keys(&mut self, single: bool) -> PResult<Vec<SortKey>> {
        let mut v = Vec::new();
        loop {
            let expr = self.expr()?;
            let desc = if self.eat_kw("asc") {
                false
            } else {
                self.eat_kw("desc");
                true
            };
            let nulls_first = if self.eat_kw("nulls") {
                if self.eat_kw("first") {
                    Some(true)
                } else if self.eat_kw("last") {
                    Some(false)
                } else {
                    return Err(self.unexpected("expected 'first' or 'last'"));
                }
            } else {
                None
            };
            v.push(SortKey {
                expr,
                desc,
                nulls_first,
            });
            if single && self.is_sym(",") {
                return Err(self.unexpected("'top' accepts one sort expression; use 'sort by a, b | take N'"));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(v)
    }

    fn named_expr(&mut self, _print: bool) -> PResult<NamedExpr> {
        let named = matches!(self.peek_at(1).tok, Tok::Sym("="))
            && matches!(&self.peek().tok, Tok::Ident(s) if !s.starts_with('!'));
        let bracket_named = self.is_sym("[")
            && matches!(self.peek_at(1).tok, Tok::Str(_))
            && matches!(self.peek_at(2).tok, Tok::Sym("]"))
            && matches!(self.peek_at(3).tok, Tok::Sym("="));
        if self.is_sym("(")
            && matches!(self.peek_at(1).tok, Tok::Ident(_))
            && matches!(self.peek_at(2).tok, Tok::Sym(","))
        {
            // `(a, b) = arg_max(...)`: not supported.
            let mut k = 1;
            while matches!(self.peek_at(k).tok, Tok::Ident(_) | Tok::Sym(",")) {
                k += 1;
            }
            if matches!(self.peek_at(k).tok, Tok::Sym(")")) && matches!(self.peek_at(k + 1).tok, Tok::Sym("=")) {
                return Err(KqlError::unsupported(
                    self.pos(),
                    "Naming several result columns with '(a, b) ='",
                ));
            }
        }
        let name = if named || bracket_named {
            let n = self.ident("a column name")?;
            self.expect_sym("=")?;
            Some(n)
        } else {
            None
        };
        let expr = self.expr()?;
        Ok(NamedExpr { name, expr })
    }

    fn named_list(&mut self, print: bool) -> PResult<Vec<NamedExpr>> {
        let mut v = Vec::new();
        loop {
            v.push(self.named_expr(print)?);
            if v.len() > MAX_LIST {
                return Err(self.unexpected("list too long"));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(v)
    }

    // ---- scalar expressions ----

    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.or_expr();
        self.leave();
        r
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut l = self.and_expr()?;
        while self.is_kw("or") {
            let pos = self.pos();
            self.bump();
            let r = self.and_expr()?;
            l = self.binary(BinOp::Or, l, r, pos)?;
        }
        Ok(l)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut l = self.cmp_expr()?;
        while self.is_kw("and") {
            let pos = self.pos();
            self.bump();
            let r = self.cmp_expr()?;
            l = self.binary(BinOp::And, l, r, pos)?;
        }
        Ok(l)
    }

    fn binary(&self, op: BinOp, l: Expr, r: Expr, _pos: Pos) -> PResult<Expr> {
        let pos = l.pos;
        let e = mk(
            ExprKind::Binary {
                op,
                l: Box::new(l.clone()),
                r: Box::new(r.clone()),
            },
            pos,
            &[&l, &r],
        );
        self.check_depth(&e)?;
        Ok(e)
    }

    fn cmp_op(&self) -> Option<BinOp> {
        let t = &self.peek().tok;
        Some(match t {
            Tok::Sym("==") => BinOp::Eq,
            Tok::Sym("!=") | Tok::Sym("<>") => BinOp::Ne,
            Tok::Sym("<") => BinOp::Lt,
            Tok::Sym("<=") => BinOp::Le,
            Tok::Sym(">") => BinOp::Gt,
            Tok::Sym(">=") => BinOp::Ge,
            Tok::Sym("=~") => BinOp::EqCi,
            Tok::Sym("!~") => BinOp::NeCi,
            Tok::Ident(s) => {
                let (neg, rest) = match s.strip_prefix('!') {
                    Some(r) => (true, r),
                    None => (false, s.as_str()),
                };
                let (cs, base) = match rest.strip_suffix("_cs") {
                    Some(b) => (true, b),
                    None => (false, rest),
                };
                let op = match base {
                    "has" => StrOp::Has,
                    "hasprefix" => StrOp::HasPrefix,
                    "hassuffix" => StrOp::HasSuffix,
                    "contains" => StrOp::Contains,
                    "startswith" => StrOp::StartsWith,
                    "endswith" => StrOp::EndsWith,
                    _ => return None,
                };
                BinOp::Str { op, neg, cs }
            }
            _ => return None,
        })
    }

    fn cmp_expr(&mut self) -> PResult<Expr> {
        let mut l = self.add_expr()?;
        loop {
            let pos = self.pos();
            if let Some(op) = self.cmp_op() {
                self.bump();
                let r = self.add_expr()?;
                l = self.binary(op, l, r, pos)?;
                continue;
            }
            let word = match &self.peek().tok {
                Tok::Ident(s) => s.clone(),
                _ => break,
            };
            match word.as_str() {
                "matches" if self.is_kw_at(1, "regex") => {
                    self.bump();
                    self.bump();
                    let r = self.add_expr()?;
                    l = self.binary(BinOp::MatchesRegex, l, r, pos)?;
                }
                "in" | "!in" | "in~" | "!in~" => {
                    self.bump();
                    let list = self.paren_list()?;
                    let lp = l.pos;
                    let children: Vec<&Expr> = std::iter::once(&l).chain(list.iter()).collect();
                    let depth = 1 + children.iter().map(|c| c.depth).max().unwrap_or(0);
                    l = Expr {
                        kind: ExprKind::In {
                            e: Box::new(l),
                            list,
                            neg: word.starts_with('!'),
                            ci: word.ends_with('~'),
                        },
                        pos: lp,
                        depth,
                    };
                    self.check_depth(&l)?;
                }
                "has_any" | "has_all" => {
                    self.bump();
                    let list = self.paren_list()?;
                    let lp = l.pos;
                    let children: Vec<&Expr> = std::iter::once(&l).chain(list.iter()).collect();
                    let depth = 1 + children.iter().map(|c| c.depth).max().unwrap_or(0);
                    l = Expr {
                        kind: ExprKind::HasAny {
                            e: Box::new(l),
                            list,
                            all: word == "has_all",
                        },
                        pos: lp,
                        depth,
                    };
                    self.check_depth(&l)?;
                }
                "between" | "!between" => {
                    self.bump();
                    self.expect_sym("(")?;
                    let lo = self.add_expr()?;
                    self.expect_sym("..")?;
                    let hi = self.add_expr()?;
                    self.expect_sym(")")?;
                    let lp = l.pos;
                    l = mk(
                        ExprKind::Between {
                            e: Box::new(l.clone()),
                            lo: Box::new(lo.clone()),
                            hi: Box::new(hi.clone()),
                            neg: word.starts_with('!'),
                        },
                        lp,
                        &[&l, &lo, &hi],
                    );
                    self.check_depth(&l)?;
                }
                _ => break,
            }
        }
        Ok(l)
    }

    fn paren_list(&mut self) -> PResult<Vec<Expr>> {
        self.expect_sym("(")?;
        let mut v = Vec::new();
        if !self.is_sym(")") {
            loop {
                v.push(self.pipe_expr()?);
                if v.len() > MAX_LIST {
                    return Err(self.unexpected("list too long"));
                }
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        self.expect_sym(")")?;
        Ok(v)
    }

    fn add_expr(&mut self) -> PResult<Expr> {
        let mut l = self.mul_expr()?;
        loop {
            let op = if self.is_sym("+") {
                BinOp::Add
            } else if self.is_sym("-") {
                BinOp::Sub
            } else {
                break;
            };
            let pos = self.pos();
            self.bump();
            let r = self.mul_expr()?;
            l = self.binary(op, l, r, pos)?;
        }
        Ok(l)
    }

    fn mul_expr(&mut self) -> PResult<Expr> {
        let mut l = self.unary()?;
        loop {
            let op = if self.is_sym("*") {
                BinOp::Mul
            } else if self.is_sym("/") {
                BinOp::Div
            } else if self.is_sym("%") {
                BinOp::Mod
            } else {
                break;
            };
            let pos = self.pos();
            self.bump();
            let r = self.unary()?;
            l = self.binary(op, l, r, pos)?;
        }
        Ok(l)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let pos = self.pos();
        if self.eat_sym("-") {
            self.enter()?;
            let e = self.unary()?;
            self.leave();
            // Fold negative numeric literals so that `-9223372036854775808` is not needed
            // and `-1` stays a literal (pushable to SQL).
            return Ok(match e.kind {
                ExprKind::Lit(Lit::Long(n)) => mk(ExprKind::Lit(Lit::Long(n.wrapping_neg())), pos, &[]),
                ExprKind::Lit(Lit::Real(r)) => mk(ExprKind::Lit(Lit::Real(-r)), pos, &[]),
                ExprKind::Lit(Lit::TimeSpan(t)) => mk(ExprKind::Lit(Lit::TimeSpan(t.wrapping_neg())), pos, &[]),
                _ => {
                    let e2 = mk(ExprKind::Neg(Box::new(e.clone())), pos, &[&e]);
                    self.check_depth(&e2)?;
                    e2
                }
            });
        }
        if self.eat_sym("+") {
            self.enter()?;
            let e = self.unary();
            self.leave();
            return e;
        }
        self.postfix()
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            let pos = self.pos();
            if self.is_sym(".") {
                self.bump();
                let name = match self.peek().tok.clone() {
                    Tok::Ident(s) if !s.starts_with('!') => {
                        self.bump();
                        s
                    }
                    Tok::Sym("[") => self.ident("a property name")?.0,
                    _ => return Err(self.unexpected("expected a property name")),
                };
                let ep = e.pos;
                e = mk(
                    ExprKind::Member {
                        e: Box::new(e.clone()),
                        name,
                    },
                    ep,
                    &[&e],
                );
            } else if self.is_sym("[") {
                self.bump();
                let idx = self.expr()?;
                self.expect_sym("]")?;
                let ep = e.pos;
                e = mk(
                    ExprKind::Index {
                        e: Box::new(e.clone()),
                        idx: Box::new(idx.clone()),
                    },
                    ep,
                    &[&e, &idx],
                );
            } else {
                break;
            }
            let _ = pos;
            self.check_depth(&e)?;
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        let pos = t.pos;
        let lit = |l: Lit| mk(ExprKind::Lit(l), pos, &[]);
        match t.tok {
            Tok::Long(n) => {
                self.bump();
                Ok(lit(Lit::Long(n)))
            }
            Tok::Real(r) => {
                self.bump();
                Ok(lit(Lit::Real(r)))
            }
            Tok::TimeSpan(ts) => {
                self.bump();
                Ok(lit(Lit::TimeSpan(ts)))
            }
            Tok::Str(s) => {
                self.bump();
                Ok(lit(Lit::Str(s)))
            }
            Tok::Sym("(") => {
                self.bump();
                let e = self.pipe_expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Sym("*") => {
                self.bump();
                Ok(mk(ExprKind::Star, pos, &[]))
            }
            Tok::Sym("[") => {
                let (n, p) = self.ident("a column name")?;
                Ok(mk(ExprKind::Name(n), p, &[]))
            }
            Tok::Ident(ref name) if !name.starts_with('!') => {
                let name = name.clone();
                match name.as_str() {
                    "true" | "false" if !matches!(self.peek_at(1).tok, Tok::Sym("(")) => {
                        self.bump();
                        return Ok(lit(Lit::Bool(name == "true")));
                    }
                    _ => {}
                }
                self.bump();
                if self.is_sym("(") {
                    if let Some(l) = self.typed_literal(&name, pos)? {
                        return Ok(l);
                    }
                    self.bump();
                    let mut args = Vec::new();
                    if !self.is_sym(")") {
                        loop {
                            args.push(self.pipe_expr()?);
                            if args.len() > MAX_LIST {
                                return Err(self.unexpected("too many arguments"));
                            }
                            if !self.eat_sym(",") {
                                break;
                            }
                        }
                    }
                    self.expect_sym(")")?;
                    let refs: Vec<&Expr> = args.iter().collect();
                    let depth = 1 + refs.iter().map(|c| c.depth).max().unwrap_or(0);
                    let e = Expr {
                        kind: ExprKind::Call { name, args },
                        pos,
                        depth,
                    };
                    self.check_depth(&e)?;
                    return Ok(e);
                }
                Ok(mk(ExprKind::Name(name), pos, &[]))
            }
            _ => Err(self.unexpected("expected an expression")),
        }
    }

    /// `datetime(...)`, `timespan(...)`, `guid(...)`, `dynamic(...)`, `long(null)`...:
    /// literals whose argument is raw text rather than an expression.
    fn typed_literal(&mut self, name: &str, pos: Pos) -> PResult<Option<Expr>> {
        let ty = match name {
            "datetime" | "date" => KqlType::DateTime,
            "timespan" | "time" => KqlType::TimeSpan,
            "guid" => KqlType::Guid,
            "dynamic" => KqlType::Dynamic,
            // No `string(...)`: Kusto strings are never null and have no such literal.
            "bool" | "boolean" | "int" | "long" | "real" | "double" | "decimal" => {
                // `long(null)`, `int(5)`, `real(1.5)`, `bool(true)`.
                let inner = &self.peek_at(1).tok;
                if !matches!(self.peek_at(2).tok, Tok::Sym(")")) {
                    return Ok(None);
                }
                let ty = KqlType::parse(name).unwrap_or(KqlType::Dynamic);
                let lit = match (inner, ty) {
                    (Tok::Ident(n), _) if n == "null" => Lit::Null(ty),
                    (Tok::Long(n), KqlType::Int) => Lit::Int(*n),
                    (Tok::Long(n), KqlType::Long) => Lit::Long(*n),
                    (Tok::Long(n), KqlType::Real) => Lit::Real(*n as f64),
                    (Tok::Real(r), KqlType::Real) => Lit::Real(*r),
                    (Tok::Ident(b), KqlType::Bool) if b == "true" || b == "false" => Lit::Bool(b == "true"),
                    (Tok::Str(s), KqlType::String) => Lit::Str(s.clone()),
                    _ => return Ok(None),
                };
                self.bump();
                self.bump();
                self.bump();
                return Ok(Some(mk(ExprKind::Lit(lit), pos, &[])));
            }
            _ => return Ok(None),
        };
        // Raw text up to the matching ')'.
        self.bump(); // (
        let start = self.i;
        let mut level = 0usize;
        loop {
            match self.peek().tok {
                Tok::Eof => return Err(self.unexpected("expected ')'")),
                Tok::Sym("(") | Tok::Sym("[") | Tok::Sym("{") => level += 1,
                Tok::Sym(")") if level == 0 => break,
                Tok::Sym(")") | Tok::Sym("]") | Tok::Sym("}") => level = level.saturating_sub(1),
                _ => {}
            }
            self.bump();
        }
        let toks_owned = self.toks[start..self.i].to_vec();
        let toks = &toks_owned[..];
        self.bump(); // )
        let bad = |hint: &str| {
            let text: String = toks.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join("");
            KqlError::syntax(Stage::Parse, pos, &format!("{name}({text})"), hint)
        };
        if toks.len() == 1 && matches!(&toks[0].tok, Tok::Ident(n) | Tok::Raw(n) if n == "null") {
            return Ok(Some(mk(ExprKind::Lit(Lit::Null(ty)), pos, &[])));
        }
        let lit = match ty {
            KqlType::DateTime => {
                let text = raw_text(toks);
                Lit::DateTime(parse_datetime(&text).ok_or_else(|| bad("invalid datetime literal"))?)
            }
            KqlType::TimeSpan => {
                let text = match toks {
                    [Token { tok: Tok::Raw(r), .. }] if r.bytes().all(|b| b.is_ascii_digit()) && !r.is_empty() => {
                        // `timespan(2)` is two days in Kusto.
                        let n: i64 = r.parse().map_err(|_| bad("time span out of range"))?;
                        let t = n
                            .checked_mul(crate::value::TICKS_PER_DAY)
                            .ok_or_else(|| bad("time span out of range"))?;
                        return Ok(Some(mk(ExprKind::Lit(Lit::TimeSpan(t)), pos, &[])));
                    }
                    [Token {
                        tok: Tok::TimeSpan(t), ..
                    }] => return Ok(Some(mk(ExprKind::Lit(Lit::TimeSpan(*t)), pos, &[]))),
                    [Token { tok: Tok::Long(n), .. }] => {
                        // `timespan(2)` is two days in Kusto.
                        let t = n
                            .checked_mul(crate::value::TICKS_PER_DAY)
                            .ok_or_else(|| bad("time span out of range"))?;
                        return Ok(Some(mk(ExprKind::Lit(Lit::TimeSpan(t)), pos, &[])));
                    }
                    _ => raw_text(toks),
                };
                Lit::TimeSpan(parse_timespan(&text).ok_or_else(|| bad("invalid timespan literal"))?)
            }
            KqlType::Guid => {
                let text = match toks {
                    [Token { tok: Tok::Str(s), .. }] => s.clone(),
                    [Token { tok: Tok::Raw(s), .. }] => s.trim_matches(|c| c == '"' || c == '\'').to_string(),
                    _ => raw_text(toks),
                };
                Lit::Guid(parse_guid(&text).ok_or_else(|| bad("invalid guid literal"))?)
            }
            _ => {
                // dynamic: JSON-like. Strings may use single quotes in KQL.
                let mut text = String::new();
                for t in toks {
                    match &t.tok {
                        Tok::Str(s) => text.push_str(&serde_json::Value::String(s.clone()).to_string()),
                        Tok::Long(n) => text.push_str(&n.to_string()),
                        Tok::Real(r) => text.push_str(
                            &serde_json::Number::from_f64(*r)
                                .map(|n| n.to_string())
                                .unwrap_or_else(|| "null".into()),
                        ),
                        Tok::Sym(s) => text.push_str(s),
                        Tok::Ident(s) => text.push_str(s),
                        _ => return Err(bad("invalid dynamic literal")),
                    }
                }
                Lit::Dynamic(serde_json::from_str(&text).map_err(|_| bad("invalid dynamic literal"))?)
            }
        };
        Ok(Some(mk(ExprKind::Lit(lit), pos, &[])))
    }
}

/// The source text of a token run, with a space where the source had whitespace.
fn raw_text(toks: &[Token]) -> String {
    let mut s = String::new();
    let mut prev_end: Option<(u32, u32)> = None;
    for t in toks {
        if let Some((l, c)) = prev_end {
            if l != t.pos.line || c != t.pos.column {
                s.push(' ');
            }
        }
        s.push_str(&t.text);
        prev_end = Some((t.pos.line, t.pos.column + t.text.chars().count() as u32));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pipeline() {
        let b = parse(
            "let x = 5;\nT | where a == 1 and b has \"x\" | summarize count() by bin(Timestamp, 1h) | top 5 by count_",
        )
        .unwrap();
        assert_eq!(b.lets.len(), 1);
        match b.expr.kind {
            ExprKind::Pipe { ops, .. } => assert_eq!(ops.len(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn literals() {
        for q in [
            "print datetime(2024-01-01)",
            "print datetime(2024-01-01T10:00:00Z)",
            "print datetime(2024-01-01 10:00)",
            "print timespan(1d)",
            "print dynamic({\"a\": [1, 2]})",
            "print guid(00000000-0000-0000-0000-000000000001)",
            "print long(null)",
        ] {
            parse(q).unwrap();
        }
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let q = format!("print {}1{}", "(".repeat(500), ")".repeat(500));
        assert!(parse(&q).is_err());
        let q = format!("print 1{}", "+1".repeat(5000));
        assert!(parse(&q).is_err());
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("T\n| where x ==").unwrap_err();
        assert_eq!((e.line, e.column), (2, 13));
        let e = parse("T | render timechart").unwrap_err();
        assert_eq!(e.message, "'render' operator is not supported by Palisade");
    }
}
