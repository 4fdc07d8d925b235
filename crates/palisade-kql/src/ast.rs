//! The untyped syntax tree the parser produces. Every node carries the position of
//! its first token; the semantic pass turns it into a typed plan.

use crate::error::Pos;
use crate::types::KqlType;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    /// Typed null (`long(null)`) or untyped (`dynamic(null)`).
    Null(KqlType),
    Bool(bool),
    Long(i64),
    Int(i64),
    Real(f64),
    Str(String),
    /// Ticks.
    TimeSpan(i64),
    /// Ticks since the epoch.
    DateTime(i64),
    Guid(String),
    Dynamic(serde_json::Value),
}

/// String operators, each with a case-sensitive and negated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StrOp {
    Has,
    HasPrefix,
    HasSuffix,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    EqCi,
    NeCi,
    And,
    Or,
    Str { op: StrOp, neg: bool, cs: bool },
    MatchesRegex,
}

impl BinOp {
    pub(crate) fn symbol(self) -> String {
        match self {
            BinOp::Add => "+".into(),
            BinOp::Sub => "-".into(),
            BinOp::Mul => "*".into(),
            BinOp::Div => "/".into(),
            BinOp::Mod => "%".into(),
            BinOp::Eq => "==".into(),
            BinOp::Ne => "!=".into(),
            BinOp::Lt => "<".into(),
            BinOp::Le => "<=".into(),
            BinOp::Gt => ">".into(),
            BinOp::Ge => ">=".into(),
            BinOp::EqCi => "=~".into(),
            BinOp::NeCi => "!~".into(),
            BinOp::And => "and".into(),
            BinOp::Or => "or".into(),
            BinOp::MatchesRegex => "matches regex".into(),
            BinOp::Str { op, neg, cs } => {
                let base = match op {
                    StrOp::Has => "has",
                    StrOp::HasPrefix => "hasprefix",
                    StrOp::HasSuffix => "hassuffix",
                    StrOp::Contains => "contains",
                    StrOp::StartsWith => "startswith",
                    StrOp::EndsWith => "endswith",
                };
                format!("{}{base}{}", if neg { "!" } else { "" }, if cs { "_cs" } else { "" })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expr {
    pub kind: ExprKind,
    pub pos: Pos,
    /// Height of this tree, bounded by the parser.
    pub depth: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprKind {
    Lit(Lit),
    Name(String),
    /// `*` as a function argument (`arg_max(T, *)`, `count(*)`).
    Star,
    Call {
        name: String,
        args: Vec<Expr>,
    },
    Binary {
        op: BinOp,
        l: Box<Expr>,
        r: Box<Expr>,
    },
    Neg(Box<Expr>),
    In {
        e: Box<Expr>,
        list: Vec<Expr>,
        neg: bool,
        ci: bool,
    },
    HasAny {
        e: Box<Expr>,
        list: Vec<Expr>,
        all: bool,
    },
    Between {
        e: Box<Expr>,
        lo: Box<Expr>,
        hi: Box<Expr>,
        neg: bool,
    },
    Member {
        e: Box<Expr>,
        name: String,
    },
    Index {
        e: Box<Expr>,
        idx: Box<Expr>,
    },
    /// A tabular expression followed by operators.
    Pipe {
        source: Box<Expr>,
        ops: Vec<Op>,
    },
    /// `union` as a pipeline source.
    Union(UnionSpec),
    /// `search in (T1, T2) "term"` as a pipeline source.
    Search {
        tables: Vec<Expr>,
        cs: bool,
        term: Box<Expr>,
    },
    /// `print a = 1, b = 2`.
    Print(Vec<NamedExpr>),
    /// `datatable(a:string, b:long) ["x", 1, ...]`: values row-major.
    Datatable {
        columns: Vec<(String, KqlType)>,
        values: Vec<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnionSpec {
    pub withsource: Option<String>,
    /// `kind=inner`: only the columns common to all inputs.
    pub inner: bool,
    pub tables: Vec<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamedExpr {
    pub name: Option<(String, Pos)>,
    pub expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParsePart {
    Lit(String),
    Star,
    Column(String, Pos, KqlType),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Op {
    pub kind: OpKind,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OpKind {
    Where(Expr),
    Project(Vec<NamedExpr>),
    /// Names or wildcard patterns (`Init*`).
    ProjectAway(Vec<(String, Pos)>),
    ProjectKeep(Vec<(String, Pos)>),
    /// (new, old)
    ProjectRename(Vec<(String, String, Pos)>),
    ProjectReorder(Vec<(String, Pos)>),
    Extend(Vec<NamedExpr>),
    Take(Expr),
    Top {
        n: Expr,
        keys: Vec<SortKey>,
    },
    Sort(Vec<SortKey>),
    Summarize {
        aggs: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    /// Empty means `distinct *`.
    Distinct(Vec<Expr>),
    Count,
    Join {
        kind: Option<(String, Pos)>,
        right: Expr,
        on: Vec<Expr>,
        /// `lookup` rather than `join`: default kind leftouter, right key columns
        /// left out of the result.
        lookup: bool,
    },
    Union(UnionSpec),
    MvExpand {
        items: Vec<(NamedExpr, Option<KqlType>)>,
        limit: Option<i64>,
        /// `with_itemindex=Name`.
        index: Option<String>,
    },
    Parse {
        e: Expr,
        parts: Vec<ParsePart>,
    },
    GetSchema,
    Search {
        cs: bool,
        term: Expr,
    },
    /// `serialize [Name = expr, ...]`.
    Serialize(Vec<NamedExpr>),
}

impl OpKind {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            OpKind::Where(_) => "where",
            OpKind::Project(_) => "project",
            OpKind::ProjectAway(_) => "project-away",
            OpKind::ProjectKeep(_) => "project-keep",
            OpKind::ProjectRename(_) => "project-rename",
            OpKind::ProjectReorder(_) => "project-reorder",
            OpKind::Extend(_) => "extend",
            OpKind::Take(_) => "take",
            OpKind::Top { .. } => "top",
            OpKind::Sort(_) => "sort",
            OpKind::Summarize { .. } => "summarize",
            OpKind::Distinct(_) => "distinct",
            OpKind::Count => "count",
            OpKind::Join { lookup: true, .. } => "lookup",
            OpKind::Join { .. } => "join",
            OpKind::Union(_) => "union",
            OpKind::MvExpand { .. } => "mv-expand",
            OpKind::Parse { .. } => "parse",
            OpKind::GetSchema => "getschema",
            OpKind::Search { .. } => "search",
            OpKind::Serialize(_) => "serialize",
        }
    }
}

/// A `let` statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Let {
    pub name: String,
    pub pos: Pos,
    pub value: LetValue,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LetValue {
    Expr(Expr),
    Function { params: Vec<Param>, body: Body },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Param {
    pub name: String,
    pub pos: Pos,
    /// `None` for a tabular parameter `(T:(*))`.
    pub ty: Option<KqlType>,
    pub default: Option<Expr>,
}

/// Statements then one expression: a whole query or a function body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Body {
    pub lets: Vec<Let>,
    pub expr: Expr,
}
