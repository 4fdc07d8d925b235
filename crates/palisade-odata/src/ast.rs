//! The validated, typed filter AST produced by [`crate::parse_query`].
//!
//! Every property reference is resolved to its schema entry and every literal is
//! already converted to the property's type, so SQL translation and evaluation
//! cannot fail.

use std::cmp::Ordering;
use std::fmt;

use crate::datetime::format_micros;
use crate::schema::Property;

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    /// The OData keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
        }
    }

    pub(crate) fn from_keyword(kw: &str) -> Option<CmpOp> {
        const ALL: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le];
        ALL.into_iter().find(|op| op.keyword().eq_ignore_ascii_case(kw))
    }

    /// The operator that keeps the meaning when the operands are swapped
    /// (`5 lt x` is `x gt 5`).
    pub(crate) fn swapped(self) -> CmpOp {
        match self {
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            op => op,
        }
    }

    /// Whether `a <op> b` holds given `a.cmp(b)`.
    pub fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
        }
    }

    /// SQL operator text.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }

    /// The operator whose result is the negation for non-null operands.
    pub(crate) fn negated(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
        }
    }
}

/// Boolean string function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrFunc {
    Contains,
    StartsWith,
    EndsWith,
}

impl StrFunc {
    /// The OData function name.
    pub fn name(self) -> &'static str {
        match self {
            StrFunc::Contains => "contains",
            StrFunc::StartsWith => "startswith",
            StrFunc::EndsWith => "endswith",
        }
    }

    /// Case-sensitive test, identical to the SQL translation.
    pub fn test(self, haystack: &str, pattern: &str) -> bool {
        match self {
            StrFunc::Contains => haystack.contains(pattern),
            StrFunc::StartsWith => haystack.starts_with(pattern),
            StrFunc::EndsWith => haystack.ends_with(pattern),
        }
    }
}

/// `any` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LambdaKind {
    Any,
    All,
}

/// A literal already converted to the type of the property it is compared with.
///
/// Enum values are the canonical member name, GUIDs are lowercase text, date-times
/// are microseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    DateTime(i64),
}

/// The value side of a comparison or string function.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A scalar property.
    Property(&'static Property),
    /// The range variable of the enclosing lambda (a string element).
    LambdaVar,
    /// `tolower(x)`: ASCII-only folding (same as SQLite's `lower()`).
    ToLower(Box<Operand>),
    /// `toupper(x)`: ASCII-only folding (same as SQLite's `upper()`).
    ToUpper(Box<Operand>),
}

impl Operand {
    /// The property at the bottom of any `tolower`/`toupper` wrapping.
    pub fn property(&self) -> Option<&'static Property> {
        match self {
            Operand::Property(p) => Some(p),
            Operand::LambdaVar => None,
            Operand::ToLower(o) | Operand::ToUpper(o) => o.property(),
        }
    }

    /// True when the operand is a bare property (no function applied).
    pub(crate) fn bare_property(&self) -> Option<&'static Property> {
        match self {
            Operand::Property(p) => Some(p),
            _ => None,
        }
    }
}

/// A validated `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All of the terms (at least two).
    And(Vec<Expr>),
    /// Any of the terms (at least two).
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `left op right`. `right` is `Null` only for `eq`/`ne`.
    Compare {
        left: Operand,
        op: CmpOp,
        right: Literal,
    },
    /// `left in (values...)`, at least one value.
    In {
        left: Operand,
        values: Vec<Literal>,
    },
    /// `contains(arg, 'pattern')` etc.
    StrFn {
        func: StrFunc,
        arg: Operand,
        pattern: String,
    },
    /// `collection/any(var: body)`, `collection/all(var: body)`, or `collection/any()`
    /// when `body` is `None`.
    Lambda {
        collection: &'static Property,
        kind: LambdaKind,
        var: String,
        body: Option<Box<Expr>>,
    },
}

/// One `$orderby` key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderKey {
    pub property: &'static Property,
    pub descending: bool,
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::DateTime(m) => f.write_str(&format_micros(*m)),
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, o: &Operand, var: &str) -> fmt::Result {
    match o {
        Operand::Property(p) => f.write_str(p.name),
        Operand::LambdaVar => f.write_str(var),
        Operand::ToLower(i) => {
            f.write_str("tolower(")?;
            write_operand(f, i, var)?;
            f.write_str(")")
        }
        Operand::ToUpper(i) => {
            f.write_str("toupper(")?;
            write_operand(f, i, var)?;
            f.write_str(")")
        }
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, e: &Expr, var: &str) -> fmt::Result {
    match e {
        Expr::And(terms) | Expr::Or(terms) => {
            let sep = if matches!(e, Expr::And(_)) { " and " } else { " or " };
            for (i, t) in terms.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                // Nested groups keep their parentheses so the rendering re-parses to
                // the same tree.
                let group = matches!(t, Expr::And(_) | Expr::Or(_));
                if group {
                    f.write_str("(")?;
                }
                write_expr(f, t, var)?;
                if group {
                    f.write_str(")")?;
                }
            }
            Ok(())
        }
        Expr::Not(inner) => {
            f.write_str("not (")?;
            write_expr(f, inner, var)?;
            f.write_str(")")
        }
        Expr::Compare { left, op, right } => {
            write_operand(f, left, var)?;
            write!(f, " {} {right}", op.keyword())
        }
        Expr::In { left, values } => {
            write_operand(f, left, var)?;
            f.write_str(" in (")?;
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{v}")?;
            }
            f.write_str(")")
        }
        Expr::StrFn { func, arg, pattern } => {
            write!(f, "{}(", func.name())?;
            write_operand(f, arg, var)?;
            write!(f, ", {})", Literal::Text(pattern.clone()))
        }
        Expr::Lambda {
            collection,
            kind,
            var: v,
            body,
        } => {
            let k = match kind {
                LambdaKind::Any => "any",
                LambdaKind::All => "all",
            };
            write!(f, "{}/{k}(", collection.name)?;
            if let Some(b) = body {
                write!(f, "{v}: ")?;
                write_expr(f, b, v)?;
            }
            f.write_str(")")
        }
    }
}

/// Renders the expression back as OData `$filter` text (canonical names and literal
/// forms); parsing the rendering yields an equal `Expr`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, "")
    }
}
