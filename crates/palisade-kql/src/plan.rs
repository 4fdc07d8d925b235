//! The typed, resolved form of a query that [`crate::exec`] runs: scalar
//! expressions with column indices ([`TExpr`]) and operator trees ([`Plan`]) with
//! their output schemas.

use std::sync::Arc;

use crate::aggregates::AggFunc;
use crate::ast::BinOp;
use crate::functions::Func;
use crate::types::KqlType;
use crate::value::Value;

/// Output columns of a plan node.
pub(crate) type Schema = Vec<(String, KqlType)>;

#[derive(Debug, Clone)]
pub(crate) enum TExpr {
    Lit(Value),
    Col(usize),
    Bin(BinOp, Box<TExpr>, Box<TExpr>),
    /// `matches regex` with a constant pattern.
    Regex(Box<TExpr>, Arc<regex::Regex>),
    Neg(Box<TExpr>),
    In {
        e: Box<TExpr>,
        list: Vec<TExpr>,
        neg: bool,
        ci: bool,
    },
    HasAny {
        e: Box<TExpr>,
        list: Vec<TExpr>,
        all: bool,
    },
    Between {
        e: Box<TExpr>,
        lo: Box<TExpr>,
        hi: Box<TExpr>,
        neg: bool,
    },
    Member(Box<TExpr>, String),
    Index(Box<TExpr>, Box<TExpr>),
    Call(Func, Vec<TExpr>),
    /// `extract(regex, group, source [, typeof(T)])` with a constant pattern.
    Extract {
        re: Arc<regex::Regex>,
        group: usize,
        src: Box<TExpr>,
        ty: KqlType,
    },
    /// `replace_regex(src, re, rewrite)` (args: src, rewrite) and
    /// `extract_all(re, src)` (args: src) with a constant pattern.
    RegexFn {
        func: Func,
        re: Arc<regex::Regex>,
        args: Vec<TExpr>,
    },
    /// `search "term"`: any column's text has the term.
    SearchAny {
        term: String,
        cs: bool,
    },
    /// Converts a value to a type (dynamic results in typed positions).
    Convert(Box<TExpr>, KqlType),
    /// `e in (T | project x)`: replaced by [`TExpr::In`] over the sub-query's first
    /// column before execution.
    /// Also `has_any`/`has_all` with a sub-query (`any: Some(all)`).
    InSub {
        e: Box<TExpr>,
        plan: Box<Plan>,
        neg: bool,
        ci: bool,
        has: Option<bool>,
    },
    /// `toscalar(T)`: replaced by the first value of the first column before
    /// execution.
    ToScalar(Box<Plan>),
}

impl TExpr {
    /// Calls `f` on this expression's direct sub-expressions.
    pub(crate) fn children_mut(&mut self, f: &mut dyn FnMut(&mut TExpr)) {
        match self {
            TExpr::Lit(_) | TExpr::Col(_) | TExpr::SearchAny { .. } | TExpr::ToScalar(_) => {}
            TExpr::Bin(_, a, b) | TExpr::Index(a, b) => {
                f(a);
                f(b);
            }
            TExpr::Regex(a, _) | TExpr::Neg(a) | TExpr::Member(a, _) | TExpr::Convert(a, _) => f(a),
            TExpr::InSub { e, .. } => f(e),
            TExpr::In { e, list, .. } | TExpr::HasAny { e, list, .. } => {
                f(e);
                list.iter_mut().for_each(f);
            }
            TExpr::Between { e, lo, hi, .. } => {
                f(e);
                f(lo);
                f(hi);
            }
            TExpr::Call(_, args) | TExpr::RegexFn { args, .. } => args.iter_mut().for_each(f),
            TExpr::Extract { src, .. } => f(src),
        }
    }

    /// Whether the expression reads no column (a constant given `now`).
    pub(crate) fn is_const(&self) -> bool {
        match self {
            TExpr::Lit(_) => true,
            TExpr::Col(_) | TExpr::SearchAny { .. } | TExpr::InSub { .. } | TExpr::ToScalar(_) => false,
            TExpr::Bin(_, a, b) | TExpr::Index(a, b) => a.is_const() && b.is_const(),
            TExpr::Regex(a, _) | TExpr::Neg(a) | TExpr::Member(a, _) | TExpr::Convert(a, _) => a.is_const(),
            TExpr::In { e, list, .. } | TExpr::HasAny { e, list, .. } => {
                e.is_const() && list.iter().all(TExpr::is_const)
            }
            TExpr::Between { e, lo, hi, .. } => e.is_const() && lo.is_const() && hi.is_const(),
            TExpr::Call(_, args) | TExpr::RegexFn { args, .. } => args.iter().all(TExpr::is_const),
            TExpr::Extract { src, .. } => src.is_const(),
        }
    }

    /// Adds the indices of columns read to `out`.
    pub(crate) fn columns(&self, out: &mut Vec<usize>) {
        match self {
            TExpr::Lit(_) | TExpr::ToScalar(_) => {}
            TExpr::InSub { e, .. } => e.columns(out),
            TExpr::Col(i) => out.push(*i),
            TExpr::SearchAny { .. } => out.push(usize::MAX),
            TExpr::Bin(_, a, b) | TExpr::Index(a, b) => {
                a.columns(out);
                b.columns(out);
            }
            TExpr::Regex(a, _) | TExpr::Neg(a) | TExpr::Member(a, _) | TExpr::Convert(a, _) => a.columns(out),
            TExpr::In { e, list, .. } | TExpr::HasAny { e, list, .. } => {
                e.columns(out);
                list.iter().for_each(|x| x.columns(out));
            }
            TExpr::Between { e, lo, hi, .. } => {
                e.columns(out);
                lo.columns(out);
                hi.columns(out);
            }
            TExpr::Call(_, args) | TExpr::RegexFn { args, .. } => args.iter().for_each(|x| x.columns(out)),
            TExpr::Extract { src, .. } => src.columns(out),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AggCall {
    pub func: AggFunc,
    /// Evaluated per row: for `*if` the predicate last; for `arg_max` the key then
    /// the captured columns.
    pub args: Vec<TExpr>,
    /// Number of output columns (1, or 1 + captured for arg_max/arg_min).
    pub n_out: usize,
    pub ty: KqlType,
    pub pct: f64,
    pub max_size: Option<usize>,
}

/// One column of an `mv-expand`.
#[derive(Debug, Clone)]
pub(crate) struct MvItem {
    pub src: TExpr,
    /// Column written (existing index) or appended (`None`, in item order).
    pub target: Option<usize>,
    pub ty: Option<KqlType>,
}

/// A column computed from neighbouring rows of a serialized row set.
#[derive(Debug, Clone)]
pub(crate) enum WindowCol {
    /// `prev(expr, offset, default)` (`offset` negative for `next`).
    Shift { expr: TExpr, offset: i64, default: Value },
    /// `row_number(start)`.
    RowNumber { start: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinKind {
    Inner,
    InnerUnique,
    LeftOuter,
    RightOuter,
    FullOuter,
    LeftSemi,
    LeftAnti,
    RightSemi,
    RightAnti,
}

#[derive(Debug, Clone)]
pub(crate) struct SortKey {
    pub expr: TExpr,
    pub desc: bool,
    pub nulls_first: bool,
}

impl Plan {
    /// Calls `f` on every top-level expression of this plan and its inputs.
    pub(crate) fn exprs_mut(&mut self, f: &mut dyn FnMut(&mut TExpr)) {
        match &mut self.node {
            Node::Scan { .. } | Node::Values(_) => {}
            Node::Filter(i, e) => {
                i.exprs_mut(f);
                f(e);
            }
            Node::Project(i, es) => {
                i.exprs_mut(f);
                es.iter_mut().for_each(f);
            }
            Node::Extend(i, es) => {
                i.exprs_mut(f);
                es.iter_mut().for_each(|(e, _)| f(e));
            }
            Node::Take(i, _) => i.exprs_mut(f),
            Node::Sort(i, keys, _) => {
                i.exprs_mut(f);
                keys.iter_mut().for_each(|k| f(&mut k.expr));
            }
            Node::Summarize { input, keys, aggs } => {
                input.exprs_mut(f);
                keys.iter_mut().for_each(&mut *f);
                aggs.iter_mut().for_each(|a| a.args.iter_mut().for_each(&mut *f));
            }
            Node::Join { left, right, .. } => {
                left.exprs_mut(f);
                right.exprs_mut(f);
            }
            Node::Union { inputs, .. } => inputs.iter_mut().for_each(|(p, _)| p.exprs_mut(f)),
            Node::MvExpand { input, items, .. } => {
                input.exprs_mut(f);
                items.iter_mut().for_each(|it| f(&mut it.src));
            }
            Node::Parse { input, src, .. } => {
                input.exprs_mut(f);
                f(src);
            }
            Node::Window(input, cols) => {
                input.exprs_mut(f);
                for c in cols.iter_mut() {
                    if let WindowCol::Shift { expr, .. } = c {
                        f(expr);
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub node: Node,
    pub schema: Schema,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Scan {
        table: String,
        time_column: Option<usize>,
        /// Which table columns are read downstream (filled by the pruning pass).
        needed: Vec<bool>,
    },
    /// Literal rows (`print`, `getschema`).
    Values(Vec<Vec<Value>>),
    Filter(Box<Plan>, TExpr),
    Project(Box<Plan>, Vec<TExpr>),
    /// `extend`: every expression reads the input row; results are then written to
    /// an existing column index or appends.
    Extend(Box<Plan>, Vec<(TExpr, Option<usize>)>),
    Take(Box<Plan>, u64),
    Sort(Box<Plan>, Vec<SortKey>, Option<u64>),
    Summarize {
        input: Box<Plan>,
        keys: Vec<TExpr>,
        aggs: Vec<AggCall>,
    },
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        left_keys: Vec<usize>,
        right_keys: Vec<usize>,
    },
    /// Inputs with, per output column, the input column index (or none → null);
    /// optional source names for `withsource` (first output column).
    Union {
        inputs: Vec<(Plan, Vec<Option<usize>>)>,
        source_names: Option<Vec<String>>,
    },
    /// Expands arrays (or bags) of one or more columns in parallel, padding
    /// shorter ones with null; optionally appends the item index.
    MvExpand {
        input: Box<Plan>,
        items: Vec<MvItem>,
        index: bool,
        limit: Option<u64>,
    },
    Parse {
        input: Box<Plan>,
        src: TExpr,
        re: Arc<regex::Regex>,
        /// Per capture group: target column (existing or appended) and type.
        targets: Vec<(Option<usize>, KqlType)>,
    },
    /// A serialized row set (`serialize`, and where `prev`/`next`/`row_number`
    /// are used): the input rows in order, with the window columns appended.
    Window(Box<Plan>, Vec<WindowCol>),
}
