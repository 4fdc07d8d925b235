//! Type-checks a parsed `$filter` against an [`EntitySchema`], producing [`Expr`].

use crate::ast::{CmpOp, Expr, LambdaKind, Literal, Operand, StrFunc};
use crate::error::{char_pos, join, quote_token, suggest, ODataError};
use crate::parser::{Func, Node, RawLit, Span};
use crate::schema::{EntitySchema, PropType, Property};

pub(crate) fn validate_filter(node: &Node<'_>, src: &str, schema: &EntitySchema) -> Result<Expr, ODataError> {
    Validator { src, schema }.condition(node, None)
}

/// The lambda variable in scope, if any, with its collection's name for messages.
type Scope<'a> = Option<(&'a str, &'static str)>;

struct Validator<'s> {
    src: &'s str,
    schema: &'s EntitySchema,
}

/// One side of a comparison, classified.
enum Side<'n, 'a> {
    Operand(Operand),
    Lit(&'n RawLit<'a>, Span),
    /// An identifier that is neither a property nor the lambda variable.
    Unknown(&'a str, Span),
    /// A condition (comparison, function call, lambda, ...).
    Condition(&'n Node<'a>),
}

pub(crate) fn operand_type(o: &Operand) -> PropType {
    match o {
        Operand::Property(p) => p.ty,
        _ => PropType::String,
    }
}

fn is_condition(n: &Node<'_>) -> bool {
    match n {
        Node::Cmp { .. } | Node::In { .. } | Node::Not { .. } | Node::And(_) | Node::Or(_) | Node::Lambda { .. } => {
            true
        }
        Node::Call { func, .. } => !matches!(func, Func::ToLower | Func::ToUpper),
        Node::Lit { .. } | Node::Ident { .. } => false,
    }
}

pub(crate) fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn type_hint(ty: PropType) -> String {
    match ty {
        PropType::String | PropType::StringCollection | PropType::Object => {
            "a string in single quotes, e.g. 'text'".into()
        }
        PropType::Int => "an integer, e.g. 42".into(),
        PropType::Bool => "true or false".into(),
        PropType::DateTime => "an unquoted date-time, e.g. 2019-11-22T00:00:00Z".into(),
        PropType::Guid => "a GUID, e.g. 8e6a1f2b-0c3d-4e5f-a6b7-c8d9e0f1a2b3".into(),
        PropType::Enum(members) => {
            let quoted: Vec<String> = members.iter().map(|m| format!("'{m}'")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

fn lit_kind(l: &RawLit<'_>) -> &'static str {
    match l {
        RawLit::Null => "null",
        RawLit::Bool(_) => "a boolean",
        RawLit::Number(n) if n.contains(['.', 'e', 'E']) => "a decimal number",
        RawLit::Number(_) => "an integer",
        RawLit::Str(_) => "a string",
        RawLit::DateTime(_) => "a date-time",
        RawLit::Guid(_) => "a GUID",
    }
}

impl<'s> Validator<'s> {
    fn text(&self, span: Span) -> String {
        quote_token(self.src.get(span.0..span.1).unwrap_or(""))
    }

    /// Error located at `span`: "$filter, position N: detail".
    fn at(&self, span: Span, detail: impl std::fmt::Display) -> ODataError {
        ODataError::in_option(format_args!("$filter, position {}", char_pos(self.src, span.0)), detail)
    }

    fn unknown_property(&self, name: &str, span: Span) -> ODataError {
        let names = self.schema.filterable_names();
        let hint = suggest(name, names.iter().copied())
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        self.at(
            span,
            format_args!(
                "property {} does not exist on {}; filterable properties are: {}{hint}",
                quote_token(name),
                self.schema.entity,
                join(names.iter().copied())
            ),
        )
    }

    fn not_filterable(&self, p: &Property, span: Span) -> ODataError {
        self.at(
            span,
            format_args!(
                "property '{}' of {} cannot be used in $filter; filterable properties are: {}",
                p.name,
                self.schema.entity,
                join(self.schema.filterable_names())
            ),
        )
    }

    fn collections(&self) -> String {
        join(
            self.schema
                .properties
                .iter()
                .filter(|p| p.ty == PropType::StringCollection && p.can_filter())
                .map(|p| p.name),
        )
    }

    fn condition(&self, node: &Node<'_>, scope: Scope<'_>) -> Result<Expr, ODataError> {
        match node {
            Node::And(terms) => Ok(Expr::And(
                terms
                    .iter()
                    .map(|t| self.condition(t, scope))
                    .collect::<Result<_, _>>()?,
            )),
            Node::Or(terms) => Ok(Expr::Or(
                terms
                    .iter()
                    .map(|t| self.condition(t, scope))
                    .collect::<Result<_, _>>()?,
            )),
            Node::Not { inner, .. } => Ok(Expr::Not(Box::new(self.condition(inner, scope)?))),
            Node::Cmp {
                op,
                op_span,
                left,
                right,
            } => self.comparison(*op, *op_span, left, right, scope),
            Node::In { left, list, .. } => self.in_list(left, list, scope),
            Node::Call { func, name, args, span } => self.string_function(*func, name, args, *span, scope),
            Node::Lambda {
                coll,
                coll_span,
                kind,
                var,
                body,
                span,
            } => self.lambda(coll, *coll_span, *kind, *var, body.as_deref(), *span, scope),
            Node::Ident { name, span } => {
                if let Some((var, _)) = scope.filter(|(v, _)| v == name) {
                    return Err(self.at(
                        *span,
                        format_args!(
                            "the lambda variable '{var}' is a string, not a condition; compare \
                             it, as in {var} eq 'value'"
                        ),
                    ));
                }
                let o = self.resolve_ident(name, *span, scope)?;
                match o.bare_property() {
                    // A bare Boolean property is shorthand for `prop eq true`.
                    Some(p) if p.ty == PropType::Bool => Ok(Expr::Compare {
                        left: o,
                        op: CmpOp::Eq,
                        right: Literal::Bool(true),
                    }),
                    _ => Err(self.at(
                        *span,
                        format_args!(
                            "property {} is not a condition; compare it with a value, as in \
                             {name} eq ...",
                            self.text(*span)
                        ),
                    )),
                }
            }
            Node::Lit { span, .. } => Err(self.at(
                *span,
                format_args!(
                    "the literal {} is not a condition; expected a comparison such as \
                     name eq 'value'",
                    self.text(*span)
                ),
            )),
        }
    }

    fn resolve_ident(&self, name: &str, span: Span, scope: Scope<'_>) -> Result<Operand, ODataError> {
        if let Some((var, coll)) = scope {
            if name == var {
                return Ok(Operand::LambdaVar);
            }
            return Err(self.at(
                span,
                format_args!(
                    "inside {coll}/any(...) and {coll}/all(...) only the lambda variable \
                     '{var}' can be used, found {}",
                    quote_token(name)
                ),
            ));
        }
        let p = self
            .schema
            .property(name)
            .ok_or_else(|| self.unknown_property(name, span))?;
        if !p.can_filter() {
            return Err(self.not_filterable(p, span));
        }
        if p.ty == PropType::StringCollection {
            return Err(self.at(
                span,
                format_args!(
                    "collection property '{0}' cannot be compared directly; use a lambda, as in \
                     {0}/any(t: t eq 'value')",
                    p.name
                ),
            ));
        }
        Ok(Operand::Property(p))
    }

    /// `Some` for things that yield a value (property, lambda variable,
    /// tolower/toupper), `None` for anything else.
    fn operand(&self, node: &Node<'_>, scope: Scope<'_>) -> Result<Option<Operand>, ODataError> {
        match node {
            Node::Ident { name, span } => self.resolve_ident(name, *span, scope).map(Some),
            Node::Call {
                func: func @ (Func::ToLower | Func::ToUpper),
                name,
                args,
                span,
            } => {
                let [arg] = args.as_slice() else {
                    return Err(self.at(
                        *span,
                        format_args!("{name}() takes exactly one argument, got {}", args.len()),
                    ));
                };
                let inner = self.operand(arg, scope)?.ok_or_else(|| {
                    self.at(
                        arg.span(),
                        format_args!(
                            "the argument of {name}() must be a String property, got {}",
                            self.text(arg.span())
                        ),
                    )
                })?;
                self.require_string(&inner, name, *span)?;
                Ok(Some(if *func == Func::ToLower {
                    Operand::ToLower(Box::new(inner))
                } else {
                    Operand::ToUpper(Box::new(inner))
                }))
            }
            _ => Ok(None),
        }
    }

    fn require_string(&self, o: &Operand, func: &str, span: Span) -> Result<(), ODataError> {
        let ty = operand_type(o);
        if ty != PropType::String {
            let name = o.property().map_or("the argument", |p| p.name);
            return Err(self.at(
                span,
                format_args!(
                    "{func}() can only be applied to String properties, but {name} is {} \
                     property",
                    article_type(ty)
                ),
            ));
        }
        Ok(())
    }

    fn side<'n, 'a>(&self, node: &'n Node<'a>, scope: Scope<'_>) -> Result<Side<'n, 'a>, ODataError> {
        match node {
            Node::Lit { lit, span } => Ok(Side::Lit(lit, *span)),
            Node::Ident { name, span } if scope.is_none() && self.schema.property(name).is_none() => {
                Ok(Side::Unknown(name, *span))
            }
            _ => match self.operand(node, scope)? {
                Some(o) => Ok(Side::Operand(o)),
                None => Ok(Side::Condition(node)),
            },
        }
    }

    fn comparison(
        &self,
        op: CmpOp,
        op_span: Span,
        left: &Node<'_>,
        right: &Node<'_>,
        scope: Scope<'_>,
    ) -> Result<Expr, ODataError> {
        // `startswith(x,'a') eq true` and friends: a condition compared with a Boolean.
        if matches!(op, CmpOp::Eq | CmpOp::Ne) {
            for (cond, other) in [(left, right), (right, left)] {
                if let Node::Lit {
                    lit: RawLit::Bool(b), ..
                } = other
                {
                    if is_condition(cond) {
                        let e = self.condition(cond, scope)?;
                        return Ok(if (op == CmpOp::Eq) == *b {
                            e
                        } else {
                            Expr::Not(Box::new(e))
                        });
                    }
                }
            }
        }
        let l = self.side(left, scope)?;
        let r = self.side(right, scope)?;
        match (l, r) {
            (Side::Operand(o), Side::Lit(lit, span)) => self.compare(o, op, op_span, lit, span),
            (Side::Lit(lit, span), Side::Operand(o)) => self.compare(o, op.swapped(), op_span, lit, span),
            (Side::Operand(_), Side::Unknown(name, span)) | (Side::Unknown(name, span), Side::Operand(_)) => Err(self
                .at(
                    span,
                    format_args!(
                        "property {0} does not exist on {1}; if {0} is meant as a value, put it in \
                     single quotes: '{name}'",
                        quote_token(name),
                        self.schema.entity
                    ),
                )),
            (Side::Unknown(name, span), _) | (_, Side::Unknown(name, span)) => Err(self.unknown_property(name, span)),
            (Side::Operand(_), Side::Operand(_)) => Err(self.at(
                op_span,
                format_args!(
                    "comparing two properties with '{}' is not supported; compare a property \
                     with a literal value",
                    op.keyword()
                ),
            )),
            (Side::Lit(..), Side::Lit(..)) => Err(self.at(
                op_span,
                format_args!(
                    "the comparison '{}' has no property on either side; one side must be a \
                     property",
                    op.keyword()
                ),
            )),
            (Side::Condition(n), _) | (_, Side::Condition(n)) => Err(self.at(
                n.span(),
                format_args!(
                    "{} is a condition and can only be compared with true or false using eq or \
                     ne",
                    self.text(n.span())
                ),
            )),
        }
    }

    fn compare(
        &self,
        left: Operand,
        op: CmpOp,
        op_span: Span,
        lit: &RawLit<'_>,
        span: Span,
    ) -> Result<Expr, ODataError> {
        if *lit == RawLit::Null && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(self.at(
                op_span,
                format_args!("null can only be compared with eq or ne, not '{}'", op.keyword()),
            ));
        }
        let right = self.literal(&left, lit, span)?;
        Ok(Expr::Compare { left, op, right })
    }

    fn in_list(&self, left: &Node<'_>, list: &[Node<'_>], scope: Scope<'_>) -> Result<Expr, ODataError> {
        let left = match self.side(left, scope)? {
            Side::Operand(o) => o,
            Side::Unknown(name, span) => return Err(self.unknown_property(name, span)),
            _ => {
                return Err(self.at(
                    left.span(),
                    format_args!(
                        "the left side of 'in' must be a property, got {}",
                        self.text(left.span())
                    ),
                ))
            }
        };
        let mut values = Vec::with_capacity(list.len());
        for item in list {
            match item {
                Node::Lit { lit, span } => values.push(self.literal(&left, lit, *span)?),
                other => {
                    return Err(self.at(
                        other.span(),
                        format_args!(
                            "{} in an 'in' list is not a literal value; strings need single \
                             quotes",
                            self.text(other.span())
                        ),
                    ))
                }
            }
        }
        Ok(Expr::In { left, values })
    }

    /// Converts a literal to the operand's type or explains why it cannot be.
    fn literal(&self, o: &Operand, lit: &RawLit<'_>, span: Span) -> Result<Literal, ODataError> {
        let ty = operand_type(o);
        let what = match o {
            Operand::Property(p) => format!("{} is {} property", p.name, article_type(ty)),
            Operand::LambdaVar => "the lambda variable is a String".to_string(),
            Operand::ToLower(_) => "tolower(...) returns a String".to_string(),
            Operand::ToUpper(_) => "toupper(...) returns a String".to_string(),
        };
        let mismatch = || {
            self.at(
                span,
                format_args!(
                    "type mismatch: {what} but {} is {}; expected {}",
                    self.text(span),
                    lit_kind(lit),
                    type_hint(ty)
                ),
            )
        };
        let lit_text = || self.text(span);
        match (ty, lit) {
            (_, RawLit::Null) => Ok(Literal::Null),
            (PropType::String, RawLit::Str(s)) => Ok(Literal::Text(s.clone())),
            (PropType::Guid, RawLit::Guid(g)) => Ok(Literal::Text(g.to_ascii_lowercase())),
            (PropType::Guid, RawLit::Str(s)) => {
                if is_guid(s) {
                    Ok(Literal::Text(s.to_ascii_lowercase()))
                } else {
                    Err(self.at(
                        span,
                        format_args!(
                            "{} is not a valid GUID for {}; expected {}",
                            lit_text(),
                            o.property().map_or("the property", |p| p.name),
                            type_hint(ty)
                        ),
                    ))
                }
            }
            (PropType::Int, RawLit::Number(n)) => {
                if n.contains(['.', 'e', 'E']) {
                    return Err(mismatch());
                }
                n.parse::<i64>().map(Literal::Int).map_err(|_| {
                    self.at(
                        span,
                        format_args!("the integer {} is out of range (at most 19 digits)", lit_text()),
                    )
                })
            }
            (PropType::Bool, RawLit::Bool(b)) => Ok(Literal::Bool(*b)),
            (PropType::DateTime, RawLit::DateTime(m)) => Ok(Literal::DateTime(*m)),
            (PropType::DateTime, RawLit::Str(s)) if crate::datetime::parse_datetime(s).is_ok() => Err(self.at(
                span,
                format_args!(
                    "type mismatch: {what} but {} is a string; write date-times without \
                         quotes, e.g. {s}",
                    lit_text()
                ),
            )),
            (PropType::Enum(members), RawLit::Str(s)) => members
                .iter()
                .find(|m| m.eq_ignore_ascii_case(s))
                .map(|m| Literal::Text((*m).to_string()))
                .ok_or_else(|| {
                    self.at(
                        span,
                        format_args!(
                            "{} is not a valid value of {}; allowed values are: {}",
                            quote_token(s),
                            o.property().map_or("the property", |p| p.name),
                            join(members.iter().copied())
                        ),
                    )
                }),
            _ => Err(mismatch()),
        }
    }

    fn string_function(
        &self,
        func: Func,
        name: &str,
        args: &[Node<'_>],
        span: Span,
        scope: Scope<'_>,
    ) -> Result<Expr, ODataError> {
        let func = match func {
            Func::Contains => StrFunc::Contains,
            Func::StartsWith => StrFunc::StartsWith,
            Func::EndsWith => StrFunc::EndsWith,
            Func::ToLower | Func::ToUpper => {
                return Err(self.at(
                    span,
                    format_args!(
                        "{name}() returns a string, not a condition; compare it, as in \
                         {name}(computerDnsName) eq 'value'"
                    ),
                ))
            }
        };
        let fname = func.name();
        let [subject, pattern] = args else {
            return Err(self.at(
                span,
                format_args!(
                    "{fname}() takes 2 arguments (a String property and a string in single \
                     quotes), got {}",
                    args.len()
                ),
            ));
        };
        let arg = match self.side(subject, scope)? {
            Side::Operand(o) => o,
            Side::Unknown(n, s) => return Err(self.unknown_property(n, s)),
            _ => {
                return Err(self.at(
                    subject.span(),
                    format_args!(
                        "the first argument of {fname}() must be a String property, got {}; \
                         write {fname}(property, 'text')",
                        self.text(subject.span())
                    ),
                ))
            }
        };
        self.require_string(&arg, fname, span)?;
        let pattern = match pattern {
            Node::Lit {
                lit: RawLit::Str(s), ..
            } => s.clone(),
            other => {
                return Err(self.at(
                    other.span(),
                    format_args!(
                        "the second argument of {fname}() must be a string in single quotes, \
                         got {}",
                        self.text(other.span())
                    ),
                ))
            }
        };
        Ok(Expr::StrFn { func, arg, pattern })
    }

    #[allow(clippy::too_many_arguments)]
    fn lambda(
        &self,
        coll: &str,
        coll_span: Span,
        kind: LambdaKind,
        var: Option<(&str, Span)>,
        body: Option<&Node<'_>>,
        span: Span,
        scope: Scope<'_>,
    ) -> Result<Expr, ODataError> {
        if scope.is_some() {
            return Err(self.at(coll_span, "nested lambdas (any/all inside any/all) are not supported"));
        }
        let p = self
            .schema
            .property(coll)
            .ok_or_else(|| self.unknown_property(coll, coll_span))?;
        if !p.can_filter() {
            return Err(self.not_filterable(p, coll_span));
        }
        if p.ty != PropType::StringCollection {
            return Err(self.at(
                coll_span,
                format_args!(
                    "any/all can only be applied to collection properties ({}), but {} is {} \
                     property",
                    self.collections(),
                    p.name,
                    article_type(p.ty)
                ),
            ));
        }
        let body = match (kind, var, body) {
            (LambdaKind::All, None, _) | (_, None, Some(_)) | (_, Some(_), None) => {
                return Err(self.at(
                    span,
                    format_args!(
                        "{}/all() needs a condition, as in {}/all(t: t ne 'value')",
                        p.name, p.name
                    ),
                ))
            }
            (LambdaKind::Any, None, None) => None,
            (_, Some((v, _)), Some(b)) => Some(Box::new(self.condition(b, Some((v, p.name)))?)),
        };
        Ok(Expr::Lambda {
            collection: p,
            kind,
            var: var.map(|(v, _)| v.to_string()).unwrap_or_default(),
            body,
        })
    }
}

fn article_type(ty: PropType) -> String {
    let name = ty.name();
    let article = if matches!(ty, PropType::Int | PropType::Enum(_) | PropType::Object) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}
