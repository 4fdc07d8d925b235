//! The semantic pass: resolves names against the [`Catalog`] and `let` statements,
//! infers types and result column names, and builds the [`Plan`].
//!
//! Kusto behaviours followed: column and table names are case-sensitive; `let`
//! functions are expanded at their call sites (no recursion, which Kusto forbids
//! too); unnamed columns get the expression's name (`a.b` → `a_b`, `bin(T, 1h)` →
//! `T`, `tostring(x)` → `x`) or `Column1`, `Column2`...; aggregates are named
//! `count_`, `sum_X`...; join and summarize output names that clash get a numeric
//! suffix (`DeviceId1`); `union` columns with the same name and different types
//! become `Name_type`.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::aggregates::{self, AggFunc};
use crate::ast::{self, BinOp, Body, Expr, ExprKind, Lit, Op, OpKind, ParsePart};
use crate::catalog::Catalog;
use crate::error::{did_you_mean, ErrorKind, KqlError, Pos};
use crate::functions::{self, Func};
use crate::plan::*;
use crate::types::KqlType;
use crate::value::Value;

/// Most plan and expression nodes one query may expand to (functions and `let`s
/// are inlined, so a short text could otherwise expand exponentially).
pub const MAX_PLAN_NODES: usize = 200_000;

#[derive(Clone)]
enum Binding {
    Scalar(TExpr, KqlType),
    Tabular(Rc<Plan>),
    Func(Rc<FuncDef>),
}

struct FuncDef {
    params: Vec<ast::Param>,
    body: Body,
    env: Env,
}

#[derive(Clone, Default)]
struct Env {
    items: Vec<(String, Binding)>,
}

impl Env {
    fn get(&self, name: &str) -> Option<&Binding> {
        self.items.iter().rev().find(|(n, _)| n == name).map(|(_, b)| b)
    }
    fn with(&self, name: String, b: Binding) -> Env {
        let mut e = self.clone();
        e.items.push((name, b));
        e
    }
}

/// Row scope of a scalar expression: the operator name (for messages), the input
/// columns and the variables.
struct Scope<'a> {
    op: &'a str,
    schema: &'a Schema,
    env: &'a Env,
}

pub(crate) struct Binder<'c> {
    catalog: &'c Catalog,
    nodes: usize,
    call_depth: u32,
    /// While binding `extend`/`project`/`serialize`: the window columns
    /// (`prev`, `next`, `row_number`) found so far.
    window: Option<WindowCollector>,
}

struct WindowCollector {
    /// Input width: window column k is input column `base + k`.
    base: usize,
    serialized: bool,
    cols: Vec<WindowCol>,
    types: Vec<KqlType>,
}

/// Whether a plan's rows have a defined order (Kusto's "serialized" row set).
fn is_serialized(p: &Plan) -> bool {
    match &p.node {
        Node::Sort(..) | Node::Window(..) => true,
        Node::Filter(i, _)
        | Node::Project(i, _)
        | Node::Extend(i, _)
        | Node::Take(i, _)
        | Node::MvExpand { input: i, .. }
        | Node::Parse { input: i, .. } => is_serialized(i),
        _ => false,
    }
}

type R<T> = Result<T, KqlError>;

fn sem(kind: ErrorKind, pos: Pos, msg: impl Into<String>) -> KqlError {
    KqlError::semantic(kind, pos, msg)
}

fn type_err(pos: Pos, op: &str, msg: impl std::fmt::Display) -> KqlError {
    sem(ErrorKind::Type, pos, format!("'{op}' operator: {msg}"))
}

pub(crate) fn bind_query(body: &Body, catalog: &Catalog) -> R<Plan> {
    let mut b = Binder {
        catalog,
        nodes: 0,
        call_depth: 0,
        window: None,
    };
    let env = b.bind_lets(&body.lets, &Env::default())?;
    let plan = b.tabular(&body.expr, &env)?;
    Ok(plan)
}

/// `Value` of a literal and its type.
fn lit_value(l: &Lit) -> (Value, KqlType) {
    match l {
        Lit::Null(t) => (aggregates::null_of(*t), *t),
        Lit::Bool(b) => (Value::Bool(*b), KqlType::Bool),
        Lit::Long(n) => (Value::Long(*n), KqlType::Long),
        Lit::Int(n) => (Value::Long(i64::from(*n as i32)), KqlType::Int),
        Lit::Real(r) => (Value::Real(*r), KqlType::Real),
        Lit::Str(s) => (Value::String(s.clone()), KqlType::String),
        Lit::TimeSpan(t) => (Value::TimeSpan(*t), KqlType::TimeSpan),
        Lit::DateTime(t) => (Value::DateTime(*t), KqlType::DateTime),
        Lit::Guid(g) => (Value::Guid(g.clone()), KqlType::Guid),
        Lit::Dynamic(j) => (Value::Dynamic(j.clone()), KqlType::Dynamic),
    }
}

/// The column name Kusto derives from an expression, if any.
fn natural_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(n) if n != "$left" && n != "$right" => Some(n.clone()),
        ExprKind::Member { e: inner, name } => {
            if let ExprKind::Name(n) = &inner.kind {
                if n == "$left" || n == "$right" {
                    return Some(name.clone());
                }
            }
            natural_name(inner).map(|b| format!("{b}_{name}"))
        }
        ExprKind::Index { e: inner, idx } => {
            let base = natural_name(inner)?;
            match &idx.kind {
                ExprKind::Lit(Lit::Str(s)) => Some(format!("{base}_{s}")),
                ExprKind::Lit(Lit::Long(n)) => Some(format!("{base}_{n}")),
                _ => None,
            }
        }
        ExprKind::Call { name, args } => {
            let (f, _, _) = functions::lookup(name)?;
            match functions::result_name(f) {
                functions::ResultName::FirstArg => natural_name(args.first()?),
                functions::ResultName::Prefixed(p) => Some(format!("{p}_{}", natural_name(args.first()?)?)),
                functions::ResultName::None => None,
            }
        }
        _ => None,
    }
}

/// Makes `name` unique among `taken` by appending 1, 2, ...
fn unique_name(name: &str, taken: &Schema) -> String {
    if !taken.iter().any(|(n, _)| n == name) {
        return name.to_string();
    }
    (1..)
        .map(|i| format!("{name}{i}"))
        .find(|c| !taken.iter().any(|(n, _)| n == c))
        .unwrap_or_default()
}

/// Next free `ColumnN`.
fn next_column_name(taken: &Schema, counter: &mut usize) -> String {
    loop {
        *counter += 1;
        let n = format!("Column{counter}");
        if !taken.iter().any(|(x, _)| *x == n) {
            return n;
        }
    }
}

fn wildcard_match(pat: &str, name: &str) -> bool {
    if !pat.contains('*') {
        return pat == name;
    }
    let parts: Vec<&str> = pat.split('*').collect();
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(k) => rest = &rest[k + p.len()..],
                None => return false,
            }
        }
    }
    true
}

fn arith_type(op: BinOp, l: KqlType, r: KqlType) -> Option<KqlType> {
    use KqlType::*;
    // Integer arithmetic is long even on two ints (as Kusto.Language types it).
    if l.is_numeric() && r.is_numeric() {
        return Some(if l == Real || r == Real { Real } else { Long });
    }
    match (op, l, r) {
        (_, Dynamic, Dynamic) => Some(Dynamic),
        (_, Dynamic, Real) | (_, Real, Dynamic) => Some(Real),
        (_, Dynamic, Int | Long) | (_, Int | Long, Dynamic) => Some(Long),
        (BinOp::Sub, DateTime, DateTime) => Some(TimeSpan),
        (BinOp::Add | BinOp::Sub, DateTime, TimeSpan) => Some(DateTime),
        (BinOp::Add, TimeSpan, DateTime) => Some(DateTime),
        (BinOp::Add | BinOp::Sub | BinOp::Mod, TimeSpan, TimeSpan) => Some(TimeSpan),
        (BinOp::Div, TimeSpan, TimeSpan) => Some(Real),
        (BinOp::Mul | BinOp::Div, TimeSpan, x) if x.is_numeric() => Some(TimeSpan),
        (BinOp::Mul, x, TimeSpan) if x.is_numeric() => Some(TimeSpan),
        (_, Dynamic, x) | (_, x, Dynamic) if matches!(x, DateTime | TimeSpan) => Some(x),
        _ => None,
    }
}

fn comparable(l: KqlType, r: KqlType) -> bool {
    use KqlType::*;
    l == r
        || l == Dynamic
        || r == Dynamic
        || (l.is_numeric() && r.is_numeric())
        || matches!((l, r), (Guid, String) | (String, Guid))
}

impl<'c> Binder<'c> {
    fn tick(&mut self, pos: Pos) -> R<()> {
        self.nodes += 1;
        if self.nodes > MAX_PLAN_NODES {
            return Err(sem(
                ErrorKind::ResourceLimit,
                pos,
                "The query expands to too many operators and expressions (function or let expansion)",
            ));
        }
        Ok(())
    }

    fn bind_lets(&mut self, lets: &[ast::Let], env: &Env) -> R<Env> {
        let mut env = env.clone();
        for l in lets {
            let b = match &l.value {
                ast::LetValue::Function { params, body } => Binding::Func(Rc::new(FuncDef {
                    params: params.clone(),
                    body: body.clone(),
                    env: env.clone(),
                })),
                ast::LetValue::Expr(e) => {
                    if self.is_tabular(e, &env) {
                        Binding::Tabular(Rc::new(self.tabular(e, &env)?))
                    } else {
                        let empty = Schema::new();
                        let scope = Scope {
                            op: "let",
                            schema: &empty,
                            env: &env,
                        };
                        let (t, ty) = self.scalar(e, &scope)?;
                        Binding::Scalar(t, ty)
                    }
                }
            };
            env = env.with(l.name.clone(), b);
        }
        Ok(env)
    }

    /// Whether `e` denotes a table rather than a scalar.
    fn is_tabular(&self, e: &Expr, env: &Env) -> bool {
        match &e.kind {
            ExprKind::Pipe { .. }
            | ExprKind::Union(_)
            | ExprKind::Search { .. }
            | ExprKind::Print(_)
            | ExprKind::Datatable { .. } => true,
            ExprKind::Name(n) => match env.get(n) {
                Some(Binding::Tabular(_)) => true,
                Some(_) => false,
                None => self.catalog.table(n).is_some(),
            },
            ExprKind::Call { name, args } => match env.get(name) {
                Some(Binding::Func(f)) => {
                    let mut fenv = f.env.clone();
                    for (p, a) in f
                        .params
                        .iter()
                        .zip(args.iter().map(Some).chain(std::iter::repeat(None)))
                    {
                        let b = if p.ty.is_none() && a.is_some_and(|a| self.is_tabular(a, env)) {
                            Binding::Tabular(Rc::new(Plan {
                                node: Node::Values(Vec::new()),
                                schema: Schema::new(),
                            }))
                        } else {
                            Binding::Scalar(TExpr::Lit(Value::Null), p.ty.unwrap_or(KqlType::Dynamic))
                        };
                        fenv = fenv.with(p.name.clone(), b);
                    }
                    for l in &f.body.lets {
                        let tab = matches!(&l.value, ast::LetValue::Expr(x) if self.is_tabular(x, &fenv));
                        let b = if tab {
                            Binding::Tabular(Rc::new(Plan {
                                node: Node::Values(Vec::new()),
                                schema: Schema::new(),
                            }))
                        } else {
                            Binding::Scalar(TExpr::Lit(Value::Null), KqlType::Dynamic)
                        };
                        fenv = fenv.with(l.name.clone(), b);
                    }
                    self.is_tabular(&f.body.expr, &fenv)
                }
                Some(_) => false,
                None => name == "materialize" || name == "table",
            },
            _ => false,
        }
    }

    // ---------------- tabular ----------------

    fn tabular(&mut self, e: &Expr, env: &Env) -> R<Plan> {
        self.tick(e.pos)?;
        match &e.kind {
            ExprKind::Pipe { source, ops } => {
                let mut plan = self.tabular(source, env)?;
                for op in ops {
                    plan = self.operator(plan, op, env)?;
                }
                Ok(plan)
            }
            ExprKind::Name(n) => match env.get(n) {
                Some(Binding::Tabular(p)) => {
                    // Each use copies the plan: count its size against the budget first.
                    self.nodes += plan_size(p);
                    self.tick(e.pos)?;
                    Ok((**p).clone())
                }
                Some(Binding::Scalar(..)) => Err(sem(
                    ErrorKind::Type,
                    e.pos,
                    format!("'{n}' is a scalar value, not a table"),
                )),
                Some(Binding::Func(_)) => Err(sem(
                    ErrorKind::Type,
                    e.pos,
                    format!("'{n}' is a function; call it with parentheses: {n}()"),
                )),
                None => self.table(n, e.pos, env),
            },
            ExprKind::Call { name, args } => {
                if let Some(Binding::Func(f)) = env.get(name) {
                    let f = f.clone();
                    return self
                        .call_function(&f, name, args, e.pos, env, None)
                        .and_then(|x| match x {
                            Either::Tab(p) => Ok(p),
                            Either::Scalar(..) => Err(sem(
                                ErrorKind::Type,
                                e.pos,
                                format!("The function '{name}' returns a scalar, not a table"),
                            )),
                        });
                }
                match name.as_str() {
                    "materialize" => {
                        // Palisade evaluates the expression at each use: same results.
                        if args.len() != 1 {
                            return Err(sem(
                                ErrorKind::Type,
                                e.pos,
                                "materialize() expects one tabular argument",
                            ));
                        }
                        self.tabular(&args[0], env)
                    }
                    "table" => match args.first().map(|a| &a.kind) {
                        Some(ExprKind::Lit(Lit::Str(s))) if args.len() == 1 => self.table(s, e.pos, env),
                        _ => Err(sem(ErrorKind::Type, e.pos, "table() expects one string literal")),
                    },
                    _ => Err(self.unknown_table(name, e.pos, env)),
                }
            }
            ExprKind::Union(spec) => self.union(None, spec, e.pos, env),
            ExprKind::Search { tables, cs, term } => {
                let spec = ast::UnionSpec {
                    withsource: Some("$table".into()),
                    inner: false,
                    tables: tables.clone(),
                };
                let u = self.union(None, &spec, e.pos, env)?;
                self.search(u, *cs, term, e.pos, env)
            }
            ExprKind::Print(items) => {
                let input = Plan {
                    node: Node::Values(vec![Vec::new()]),
                    schema: Schema::new(),
                };
                let mut schema = Schema::new();
                let mut exprs = Vec::new();
                let empty = Schema::new();
                for (i, it) in items.iter().enumerate() {
                    let scope = Scope {
                        op: "print",
                        schema: &empty,
                        env,
                    };
                    let (t, ty) = self.scalar(&it.expr, &scope)?;
                    let name = match &it.name {
                        Some((n, _)) => n.clone(),
                        None => natural_name(&it.expr).unwrap_or_else(|| format!("print_{i}")),
                    };
                    let name = unique_name(&name, &schema);
                    schema.push((name, ty));
                    exprs.push(t);
                }
                Ok(Plan {
                    node: Node::Project(Box::new(input), exprs),
                    schema,
                })
            }
            ExprKind::Datatable { columns, values } => {
                if columns.is_empty() || values.len() % columns.len() != 0 {
                    return Err(sem(
                        ErrorKind::Type,
                        e.pos,
                        format!(
                            "'datatable': {} value(s) do not fill rows of {} column(s)",
                            values.len(),
                            columns.len()
                        ),
                    ));
                }
                let empty = Schema::new();
                let mut rows = Vec::new();
                for chunk in values.chunks(columns.len()) {
                    let mut row = Vec::new();
                    for (v, (cname, ty)) in chunk.iter().zip(columns) {
                        let (t, vty) = self.scalar(
                            v,
                            &Scope {
                                op: "datatable",
                                schema: &empty,
                                env,
                            },
                        )?;
                        let ok = vty == *ty
                            || *ty == KqlType::Dynamic
                            || (ty.is_numeric() && vty.is_numeric())
                            || (t.is_const() && matches!(crate::exec::eval_const(&t), Some(Value::Null)));
                        let val = crate::exec::eval_const(&t)
                            .filter(|_| t.is_const() && ok)
                            .ok_or_else(|| {
                                type_err(
                                    v.pos,
                                    "datatable",
                                    format!("column '{cname}' expects a constant of type {ty}, got {vty}"),
                                )
                            })?;
                        row.push(if val.is_null() {
                            aggregates::null_of(*ty)
                        } else {
                            functions::convert(&val, *ty)
                        });
                    }
                    rows.push(row);
                }
                self.nodes += rows.len();
                self.tick(e.pos)?;
                Ok(Plan {
                    node: Node::Values(rows),
                    schema: columns.clone(),
                })
            }
            ExprKind::Lit(_) | ExprKind::Binary { .. } | ExprKind::Neg(_) | ExprKind::In { .. } => Err(sem(
                ErrorKind::Type,
                e.pos,
                "A tabular expression is expected here, not a scalar expression",
            )),
            _ => Err(sem(
                ErrorKind::Type,
                e.pos,
                "A tabular expression is expected here, not a scalar expression",
            )),
        }
    }

    fn unknown_table(&self, name: &str, pos: Pos, env: &Env) -> KqlError {
        let mut cands: Vec<&str> = self.catalog.tables.iter().map(|t| t.name.as_str()).collect();
        cands.extend(
            env.items
                .iter()
                .filter(|(_, b)| matches!(b, Binding::Tabular(_)))
                .map(|(n, _)| n.as_str()),
        );
        sem(
            ErrorKind::UnknownName,
            pos,
            format!(
                "Failed to resolve table or column expression named '{name}'{}",
                did_you_mean(name, cands)
            ),
        )
    }

    fn table(&mut self, name: &str, pos: Pos, env: &Env) -> R<Plan> {
        let Some(t) = self.catalog.table(name) else {
            return Err(self.unknown_table(name, pos, env));
        };
        let time_column = t.time_column.as_ref().and_then(|c| t.column(c)).map(|(i, _)| i);
        Ok(Plan {
            node: Node::Scan {
                table: t.name.clone(),
                time_column,
                needed: vec![false; t.columns.len()],
            },
            schema: t.columns.clone(),
        })
    }

    fn call_function(
        &mut self,
        f: &Rc<FuncDef>,
        name: &str,
        args: &[Expr],
        pos: Pos,
        caller_env: &Env,
        row: Option<&Scope>,
    ) -> R<Either> {
        self.call_depth += 1;
        if self.call_depth > 64 {
            self.call_depth -= 1;
            return Err(sem(
                ErrorKind::Type,
                pos,
                format!("The function '{name}' calls itself (recursion is not allowed)"),
            ));
        }
        let r = self.call_function_inner(f, name, args, pos, caller_env, row);
        self.call_depth -= 1;
        r
    }

    fn call_function_inner(
        &mut self,
        f: &Rc<FuncDef>,
        name: &str,
        args: &[Expr],
        pos: Pos,
        caller_env: &Env,
        row: Option<&Scope>,
    ) -> R<Either> {
        let required = f.params.iter().filter(|p| p.default.is_none()).count();
        if args.len() < required || args.len() > f.params.len() {
            return Err(sem(
                ErrorKind::Type,
                pos,
                format!(
                    "The function '{name}' expects {} argument(s), got {}",
                    if required == f.params.len() {
                        required.to_string()
                    } else {
                        format!("{required} to {}", f.params.len())
                    },
                    args.len()
                ),
            ));
        }
        let empty = Schema::new();
        let mut fenv = f.env.clone();
        // The function may call itself by name only through the caller's env; Kusto
        // forbids recursion, the depth limit above stops it.
        if let Some(Binding::Func(me)) = caller_env.get(name) {
            fenv = fenv.with(name.to_string(), Binding::Func(me.clone()));
        }
        for (i, p) in f.params.iter().enumerate() {
            let arg = args.get(i).or(p.default.as_ref());
            let Some(arg) = arg else { continue };
            let b = match p.ty {
                None => Binding::Tabular(Rc::new(self.tabular(arg, caller_env)?)),
                Some(ty) => {
                    let scope = match row {
                        Some(s) => Scope {
                            op: s.op,
                            schema: s.schema,
                            env: caller_env,
                        },
                        None => Scope {
                            op: "let",
                            schema: &empty,
                            env: caller_env,
                        },
                    };
                    let (t, aty) = self.scalar(arg, &scope)?;
                    if !(aty == ty || aty == KqlType::Dynamic || (ty.is_numeric() && aty.is_numeric())) {
                        return Err(sem(
                            ErrorKind::Type,
                            arg.pos,
                            format!(
                                "The function '{name}' expects argument {} ({}) of type {ty}, got {aty}",
                                i + 1,
                                p.name
                            ),
                        ));
                    }
                    let t = if aty == ty { t } else { TExpr::Convert(Box::new(t), ty) };
                    Binding::Scalar(t, ty)
                }
            };
            fenv = fenv.with(p.name.clone(), b);
        }
        let fenv = self.bind_lets(&f.body.lets, &fenv)?;
        if self.is_tabular(&f.body.expr, &fenv) {
            Ok(Either::Tab(self.tabular(&f.body.expr, &fenv)?))
        } else {
            let scope = match row {
                Some(s) => Scope {
                    op: s.op,
                    schema: s.schema,
                    env: &fenv,
                },
                None => Scope {
                    op: "let",
                    schema: &empty,
                    env: &fenv,
                },
            };
            let (t, ty) = self.scalar(&f.body.expr, &scope)?;
            Ok(Either::Scalar(t, ty))
        }
    }

    fn operator(&mut self, input: Plan, op: &Op, env: &Env) -> R<Plan> {
        self.tick(op.pos)?;
        if matches!(op.kind, OpKind::Project(_) | OpKind::Extend(_) | OpKind::Serialize(_)) {
            let serialized = matches!(op.kind, OpKind::Serialize(_)) || is_serialized(&input);
            let saved = self.window.replace(WindowCollector {
                base: input.schema.len(),
                serialized,
                cols: Vec::new(),
                types: Vec::new(),
            });
            let r = self.operator_inner(input, op, env);
            let collected = std::mem::replace(&mut self.window, saved);
            let plan = r?;
            let Some(w) = collected else { return Ok(plan) };
            return Ok(self.with_window(plan, w, op));
        }
        // Other operators: window functions are not allowed (even in sub-queries
        // bound while an outer `extend` is being bound).
        let saved = self.window.take();
        let r = self.operator_inner(input, op, env);
        self.window = saved;
        r
    }

    /// Puts the window columns collected while binding `plan` (a project or extend
    /// node, or a serialize) under it, and hides them from its output.
    fn with_window(&mut self, plan: Plan, w: WindowCollector, op: &Op) -> Plan {
        let serialize = matches!(op.kind, OpKind::Serialize(_));
        if w.cols.is_empty() && !serialize {
            return plan;
        }
        let hidden: Schema = w
            .types
            .iter()
            .enumerate()
            .map(|(k, t)| (format!("__w{k}"), *t))
            .collect();
        let wrap = |input: Plan, cols: Vec<WindowCol>| {
            let mut schema = input.schema.clone();
            schema.extend(hidden.iter().cloned());
            Plan {
                node: Node::Window(Box::new(input), cols),
                schema,
            }
        };
        let Plan { node, schema } = plan;
        match node {
            Node::Project(input, exprs) => Plan {
                node: Node::Project(Box::new(wrap(*input, w.cols)), exprs),
                schema,
            },
            Node::Extend(input, items) => {
                // Output: input columns, hidden window columns, appended columns;
                // then a projection drops the hidden ones.
                let base = w.base;
                let h = hidden.len();
                let mut full = schema[..base].to_vec();
                full.extend(hidden.iter().cloned());
                full.extend(schema[base..].iter().cloned());
                let keep: Vec<TExpr> = (0..base).chain(base + h..full.len()).map(TExpr::Col).collect();
                let ext = Plan {
                    node: Node::Extend(Box::new(wrap(*input, w.cols)), items),
                    schema: full,
                };
                Plan {
                    node: Node::Project(Box::new(ext), keep),
                    schema,
                }
            }
            other => {
                // `serialize` without columns: the marker alone.
                let input = Plan { node: other, schema };
                let base = input.schema.clone();
                let exprs = (0..base.len()).map(TExpr::Col).collect();
                Plan {
                    node: Node::Project(Box::new(wrap(input, w.cols)), exprs),
                    schema: base,
                }
            }
        }
    }

    fn operator_inner(&mut self, input: Plan, op: &Op, env: &Env) -> R<Plan> {
        let name = op.kind.name();
        let col_msg = "Failed to resolve column or scalar expression named";
        match &op.kind {
            OpKind::Where(e) => {
                let (t, ty) = self.scalar(
                    e,
                    &Scope {
                        op: name,
                        schema: &input.schema,
                        env,
                    },
                )?;
                if ty != KqlType::Bool && ty != KqlType::Dynamic {
                    return Err(type_err(
                        e.pos,
                        name,
                        format!("Filter predicate expected to be of type 'bool', got '{ty}'"),
                    ));
                }
                let schema = input.schema.clone();
                Ok(Plan {
                    node: Node::Filter(Box::new(input), t),
                    schema,
                })
            }
            OpKind::Project(items) => {
                let mut schema = Schema::new();
                let mut exprs = Vec::new();
                let mut counter = 0;
                for it in items {
                    let (t, ty) = self.scalar(
                        &it.expr,
                        &Scope {
                            op: name,
                            schema: &input.schema,
                            env,
                        },
                    )?;
                    let n = match &it.name {
                        Some((n, _)) => n.clone(),
                        None => natural_name(&it.expr).unwrap_or_else(|| next_column_name(&schema, &mut counter)),
                    };
                    let plain = it.name.is_some() || matches!(it.expr.kind, ExprKind::Name(_));
                    let n = if plain { n } else { unique_name(&n, &schema) };
                    if schema.iter().any(|(x, _)| *x == n) {
                        return Err(sem(
                            ErrorKind::Type,
                            it.name.as_ref().map(|x| x.1).unwrap_or(it.expr.pos),
                            format!("'{name}' operator: A column with the name '{n}' is already declared"),
                        ));
                    }
                    schema.push((n, ty));
                    exprs.push(t);
                }
                Ok(Plan {
                    node: Node::Project(Box::new(input), exprs),
                    schema,
                })
            }
            OpKind::Extend(items) => {
                // Every item sees the input columns only (Kusto: a column defined by
                // an `extend` is not visible in the same `extend`).
                let mut schema = input.schema.clone();
                let mut exprs = Vec::new();
                let mut counter = 0;
                for it in items {
                    let (t, ty) = self.scalar(
                        &it.expr,
                        &Scope {
                            op: name,
                            schema: &input.schema,
                            env,
                        },
                    )?;
                    let n = match &it.name {
                        Some((n, _)) => n.clone(),
                        None => natural_name(&it.expr).unwrap_or_else(|| next_column_name(&schema, &mut counter)),
                    };
                    match schema.iter().position(|(x, _)| *x == n) {
                        Some(i) => {
                            schema[i].1 = ty;
                            exprs.push((t, Some(i)));
                        }
                        None => {
                            schema.push((n, ty));
                            exprs.push((t, None));
                        }
                    }
                }
                Ok(Plan {
                    node: Node::Extend(Box::new(input), exprs),
                    schema,
                })
            }
            OpKind::ProjectAway(pats) | OpKind::ProjectKeep(pats) => {
                let keep_mode = matches!(op.kind, OpKind::ProjectKeep(_));
                for (p, pos) in pats {
                    if !p.contains('*') && !input.schema.iter().any(|(n, _)| n == p) {
                        return Err(self.unknown_column(name, col_msg, p, *pos, &input.schema));
                    }
                }
                let mut schema = Schema::new();
                let mut exprs = Vec::new();
                for (i, (n, t)) in input.schema.iter().enumerate() {
                    let hit = pats.iter().any(|(p, _)| wildcard_match(p, n));
                    if hit == keep_mode {
                        schema.push((n.clone(), *t));
                        exprs.push(TExpr::Col(i));
                    }
                }
                Ok(Plan {
                    node: Node::Project(Box::new(input), exprs),
                    schema,
                })
            }
            OpKind::ProjectRename(pairs) => {
                let mut schema = input.schema.clone();
                for (new, old, pos) in pairs {
                    let Some(i) = input.schema.iter().position(|(n, _)| n == old) else {
                        return Err(self.unknown_column(name, col_msg, old, *pos, &input.schema));
                    };
                    schema[i].0 = new.clone();
                }
                let exprs = (0..schema.len()).map(TExpr::Col).collect();
                Ok(Plan {
                    node: Node::Project(Box::new(input), exprs),
                    schema,
                })
            }
            OpKind::ProjectReorder(pats) => {
                let mut order: Vec<usize> = Vec::new();
                for (p, pos) in pats {
                    let mut any = false;
                    for (i, (n, _)) in input.schema.iter().enumerate() {
                        if wildcard_match(p, n) && !order.contains(&i) {
                            order.push(i);
                            any = true;
                        }
                    }
                    if !any && !p.contains('*') {
                        return Err(self.unknown_column(name, col_msg, p, *pos, &input.schema));
                    }
                }
                for i in 0..input.schema.len() {
                    if !order.contains(&i) {
                        order.push(i);
                    }
                }
                let schema = order.iter().map(|i| input.schema[*i].clone()).collect();
                Ok(Plan {
                    node: Node::Project(Box::new(input), order.into_iter().map(TExpr::Col).collect()),
                    schema,
                })
            }
            OpKind::Take(n) => {
                let k = self.const_count(n, name, env)?;
                let schema = input.schema.clone();
                Ok(Plan {
                    node: Node::Take(Box::new(input), k),
                    schema,
                })
            }
            OpKind::Top { n, keys } => {
                let k = self.const_count(n, name, env)?;
                let keys = self.sort_keys(keys, name, &input.schema, env)?;
                let schema = input.schema.clone();
                Ok(Plan {
                    node: Node::Sort(Box::new(input), keys, Some(k)),
                    schema,
                })
            }
            OpKind::Sort(keys) => {
                let keys = self.sort_keys(keys, name, &input.schema, env)?;
                let schema = input.schema.clone();
                Ok(Plan {
                    node: Node::Sort(Box::new(input), keys, None),
                    schema,
                })
            }
            OpKind::Summarize { aggs, by } => self.summarize(input, aggs, by, name, env),
            OpKind::Distinct(cols) => {
                let by: Vec<ast::NamedExpr> = if cols.is_empty() {
                    input
                        .schema
                        .iter()
                        .map(|(n, _)| ast::NamedExpr {
                            name: None,
                            expr: Expr {
                                kind: ExprKind::Name(n.clone()),
                                pos: op.pos,
                                depth: 1,
                            },
                        })
                        .collect()
                } else {
                    cols.iter()
                        .map(|e| ast::NamedExpr {
                            name: None,
                            expr: e.clone(),
                        })
                        .collect()
                };
                self.summarize(input, &[], &by, name, env)
            }
            OpKind::Count => Ok(Plan {
                node: Node::Summarize {
                    input: Box::new(input),
                    keys: Vec::new(),
                    aggs: vec![AggCall {
                        func: AggFunc::Count,
                        args: Vec::new(),
                        n_out: 1,
                        ty: KqlType::Long,
                        pct: 0.0,
                        max_size: None,
                    }],
                },
                schema: vec![("Count".into(), KqlType::Long)],
            }),
            OpKind::Join {
                kind,
                right,
                on,
                lookup,
            } => {
                if !lookup {
                    return self.join(input, kind, right, on, op.pos, env);
                }
                // lookup: leftouter by default (inner allowed); the result has the
                // left columns then the right ones except its keys.
                let kind = match kind {
                    None => Some(("leftouter".to_string(), op.pos)),
                    Some((k, p)) if k == "leftouter" || k == "inner" => Some((k.clone(), *p)),
                    Some((k, p)) => {
                        return Err(sem(
                            ErrorKind::Type,
                            *p,
                            format!("'lookup' operator: unknown lookup kind '{k}'; expected leftouter or inner"),
                        ))
                    }
                };
                let lw = input.schema.len();
                let joined = self.join(input, &kind, right, on, op.pos, env)?;
                let Node::Join { right_keys, .. } = &joined.node else {
                    return Ok(joined);
                };
                let keep: Vec<usize> = (0..joined.schema.len())
                    .filter(|i| *i < lw || !right_keys.contains(&(i - lw)))
                    .collect();
                let schema = keep.iter().map(|i| joined.schema[*i].clone()).collect();
                Ok(Plan {
                    node: Node::Project(Box::new(joined), keep.into_iter().map(TExpr::Col).collect()),
                    schema,
                })
            }
            OpKind::Union(spec) => self.union(Some(input), spec, op.pos, env),
            OpKind::MvExpand { items, limit, index } => {
                let mut schema = input.schema.clone();
                let mut mv = Vec::new();
                for (ne, ty) in items {
                    let (src, sty) = self.scalar(
                        &ne.expr,
                        &Scope {
                            op: name,
                            schema: &input.schema,
                            env,
                        },
                    )?;
                    if sty != KqlType::Dynamic {
                        return Err(type_err(
                            ne.expr.pos,
                            name,
                            format!("mv-expand expects a dynamic (array or property bag) expression, got {sty}"),
                        ));
                    }
                    let out_ty = ty.unwrap_or(KqlType::Dynamic);
                    let target_name = ne.name.as_ref().map(|n| n.0.clone()).or_else(|| natural_name(&ne.expr));
                    let target = match target_name {
                        Some(n) => match schema.iter().position(|(x, _)| *x == n) {
                            Some(i) if i < input.schema.len() => {
                                schema[i].1 = out_ty;
                                Some(i)
                            }
                            Some(_) => {
                                return Err(type_err(
                                    ne.expr.pos,
                                    name,
                                    format!("A column with the name '{n}' is already declared"),
                                ))
                            }
                            None => {
                                schema.push((n, out_ty));
                                None
                            }
                        },
                        None => {
                            let mut c = 0;
                            let n = next_column_name(&schema, &mut c);
                            schema.push((n, out_ty));
                            None
                        }
                    };
                    mv.push(MvItem { src, target, ty: *ty });
                }
                if let Some(ix) = index {
                    if schema.iter().any(|(x, _)| x == ix) {
                        return Err(type_err(
                            op.pos,
                            name,
                            format!("A column with the name '{ix}' is already declared"),
                        ));
                    }
                    schema.push((ix.clone(), KqlType::Long));
                }
                Ok(Plan {
                    node: Node::MvExpand {
                        input: Box::new(input),
                        items: mv,
                        index: index.is_some(),
                        limit: limit.map(|l| l as u64),
                    },
                    schema,
                })
            }
            OpKind::Parse { e, parts } => {
                let (src, _) = self.scalar(
                    e,
                    &Scope {
                        op: name,
                        schema: &input.schema,
                        env,
                    },
                )?;
                let mut pattern = String::from("(?s)^");
                let mut schema = input.schema.clone();
                let mut targets = Vec::new();
                let mut declared: Vec<&str> = Vec::new();
                for (k, p) in parts.iter().enumerate() {
                    match p {
                        ParsePart::Lit(s) => pattern.push_str(&regex::escape(s)),
                        ParsePart::Star => pattern.push_str(".*?"),
                        ParsePart::Column(n, _, ty) => {
                            // One pattern cannot fill a column twice (`with A " " A`).
                            if declared.contains(&n.as_str()) {
                                return Err(sem(
                                    ErrorKind::Type,
                                    op.pos,
                                    format!("'{name}' operator: A column with the name '{n}' is already declared"),
                                ));
                            }
                            declared.push(n);
                            let last = k == parts.len() - 1;
                            pattern.push_str(if last { "(.*)" } else { "(.*?)" });
                            match schema.iter().position(|(x, _)| x == n) {
                                Some(i) => {
                                    schema[i].1 = *ty;
                                    targets.push((Some(i), *ty));
                                }
                                None => {
                                    schema.push((n.clone(), *ty));
                                    targets.push((None, *ty));
                                }
                            }
                        }
                    }
                }
                // A trailing literal must be matched; what follows it is ignored.
                let re = regex::Regex::new(&pattern)
                    .map_err(|e| type_err(op.pos, name, format!("invalid parse pattern: {e}")))?;
                Ok(Plan {
                    node: Node::Parse {
                        input: Box::new(input),
                        src,
                        re: Arc::new(re),
                        targets,
                    },
                    schema,
                })
            }
            OpKind::GetSchema => {
                let rows = input
                    .schema
                    .iter()
                    .enumerate()
                    .map(|(i, (n, t))| {
                        vec![
                            Value::String(n.clone()),
                            Value::Long(i as i64),
                            Value::String(t.clr_name().into()),
                            Value::String(t.name().into()),
                        ]
                    })
                    .collect();
                Ok(Plan {
                    node: Node::Values(rows),
                    schema: vec![
                        ("ColumnName".into(), KqlType::String),
                        ("ColumnOrdinal".into(), KqlType::Long),
                        ("DataType".into(), KqlType::String),
                        ("ColumnType".into(), KqlType::String),
                    ],
                })
            }
            OpKind::Search { cs, term } => self.search(input, *cs, term, op.pos, env),
            OpKind::Serialize(items) => {
                if items.is_empty() {
                    return Ok(input);
                }
                let ext = Op {
                    kind: OpKind::Extend(items.clone()),
                    pos: op.pos,
                };
                self.operator_inner(input, &ext, env)
            }
        }
    }

    fn search(&mut self, input: Plan, cs: bool, term: &Expr, pos: Pos, _env: &Env) -> R<Plan> {
        let ExprKind::Lit(Lit::Str(t)) = &term.kind else {
            return Err(KqlError::unsupported(
                term.pos,
                "'search' with anything but a single string literal term",
            ));
        };
        if t.contains('*') {
            return Err(KqlError::unsupported(pos, "'search' with wildcards"));
        }
        let schema = input.schema.clone();
        Ok(Plan {
            node: Node::Filter(Box::new(input), TExpr::SearchAny { term: t.clone(), cs }),
            schema,
        })
    }

    fn unknown_column(&self, op: &str, msg: &str, name: &str, pos: Pos, schema: &Schema) -> KqlError {
        sem(
            ErrorKind::UnknownName,
            pos,
            format!(
                "'{op}' operator: {msg} '{name}'{}",
                did_you_mean(name, schema.iter().map(|(n, _)| n.as_str()))
            ),
        )
    }

    fn const_count(&mut self, e: &Expr, op: &str, env: &Env) -> R<u64> {
        let empty = Schema::new();
        let (t, ty) = self.scalar(
            e,
            &Scope {
                op,
                schema: &empty,
                env,
            },
        )?;
        let v = if t.is_const() && ty.is_integer() {
            crate::exec::eval_const(&t)
        } else {
            None
        };
        match v {
            Some(Value::Long(n)) if n >= 0 => Ok(n as u64),
            _ => Err(type_err(
                e.pos,
                op,
                "expected a non-negative integer constant row count",
            )),
        }
    }

    fn sort_keys(&mut self, keys: &[ast::SortKey], op: &str, schema: &Schema, env: &Env) -> R<Vec<SortKey>> {
        keys.iter()
            .map(|k| {
                let (t, _) = self.scalar(&k.expr, &Scope { op, schema, env })?;
                Ok(SortKey {
                    expr: t,
                    desc: k.desc,
                    // Kusto: nulls last when descending, first when ascending.
                    nulls_first: k.nulls_first.unwrap_or(!k.desc),
                })
            })
            .collect()
    }

    /// `summarize` where aggregates may sit inside expressions
    /// (`x = countif(a) * 100.0 / count()`): such aggregates are computed as hidden
    /// columns, then a projection evaluates the expressions.
    fn summarize(
        &mut self,
        input: Plan,
        aggs: &[ast::NamedExpr],
        by: &[ast::NamedExpr],
        op: &str,
        env: &Env,
    ) -> R<Plan> {
        let is_bare = |e: &Expr| matches!(&e.kind, ExprKind::Call { name, .. } if aggregates::lookup(name).is_some() || aggregates::KNOWN_UNSUPPORTED.contains(&name.as_str()));
        if aggs.iter().all(|a| is_bare(&a.expr)) {
            return self.summarize_direct(input, aggs, by, op, env);
        }
        // Items in order: bare aggregates stay; expressions lift their aggregates.
        let mut direct: Vec<ast::NamedExpr> = Vec::new();
        let mut items: Vec<Option<(ast::NamedExpr, usize)>> = Vec::new();
        for a in aggs {
            if is_bare(&a.expr) {
                direct.push(a.clone());
                items.push(None);
            } else {
                let before = direct.len();
                let rewritten = lift_aggregates(&a.expr, &mut direct);
                if direct.len() == before {
                    let msg = match &a.expr.kind {
                        ExprKind::Call { name, .. } if functions::lookup(name).is_some() => {
                            format!("'{name}' is not an aggregation function")
                        }
                        ExprKind::Call { name, .. } => format!(
                            "Unknown aggregation function: '{name}'{}",
                            did_you_mean(name, aggregates::names())
                        ),
                        _ => "expected an aggregation function such as count(), sum(x), dcount(x)".to_string(),
                    };
                    return Err(sem(
                        ErrorKind::UnknownName,
                        a.expr.pos,
                        format!("'{op}' operator: {msg}"),
                    ));
                }
                items.push(Some((
                    ast::NamedExpr {
                        name: a.name.clone(),
                        expr: rewritten,
                    },
                    direct.len() - before,
                )));
            }
        }
        let plan = self.summarize_direct(input, &direct, by, op, env)?;
        let Node::Summarize { aggs: calls, .. } = &plan.node else {
            return Ok(plan);
        };
        let widths: Vec<usize> = calls.iter().map(|c| c.n_out).collect();
        let mut exprs = Vec::new();
        let mut schema = Schema::new();
        for i in 0..by.len() {
            exprs.push(TExpr::Col(i));
            schema.push(plan.schema[i].clone());
        }
        let mut col = by.len();
        let mut call = 0;
        let mut counter = 0;
        for it in &items {
            match it {
                None => {
                    for _ in 0..widths[call] {
                        exprs.push(TExpr::Col(col));
                        schema.push(plan.schema[col].clone());
                        col += 1;
                    }
                    call += 1;
                }
                Some((ne, n)) => {
                    for _ in 0..*n {
                        if widths[call] != 1 {
                            return Err(type_err(
                                ne.expr.pos,
                                op,
                                "arg_max()/arg_min() cannot be used inside an expression",
                            ));
                        }
                        col += widths[call];
                        call += 1;
                    }
                    let (t, ty) = self.scalar(
                        &ne.expr,
                        &Scope {
                            op,
                            schema: &plan.schema,
                            env,
                        },
                    )?;
                    let name = match &ne.name {
                        Some((n, _)) => n.clone(),
                        None => natural_name(&ne.expr)
                            .filter(|n| !n.starts_with("__agg"))
                            .unwrap_or_else(|| next_column_name(&schema, &mut counter)),
                    };
                    let name = unique_name(&name, &schema);
                    exprs.push(t);
                    schema.push((name, ty));
                }
            }
        }
        Ok(Plan {
            node: Node::Project(Box::new(plan), exprs),
            schema,
        })
    }

    fn summarize_direct(
        &mut self,
        input: Plan,
        aggs: &[ast::NamedExpr],
        by: &[ast::NamedExpr],
        op: &str,
        env: &Env,
    ) -> R<Plan> {
        let scope = Scope {
            op,
            schema: &input.schema,
            env,
        };
        let mut schema = Schema::new();
        let mut keys = Vec::new();
        let mut counter = 0;
        for b in by {
            let (t, ty) = self.scalar(&b.expr, &scope)?;
            if let ExprKind::Call { name, .. } = &b.expr.kind {
                if aggregates::lookup(name).is_some() && functions::lookup(name).is_none() && env.get(name).is_none() {
                    return Err(type_err(
                        b.expr.pos,
                        op,
                        format!("aggregate function '{name}' cannot be used in the 'by' clause"),
                    ));
                }
            }
            if ty == KqlType::Dynamic {
                return Err(type_err(
                    b.expr.pos,
                    op,
                    "a group key of type dynamic is not allowed; convert it, e.g. tostring(x)",
                ));
            }
            let n = match &b.name {
                Some((n, _)) => n.clone(),
                None => natural_name(&b.expr).unwrap_or_else(|| next_column_name(&schema, &mut counter)),
            };
            let plain = b.name.is_some() || matches!(b.expr.kind, ExprKind::Name(_));
            if plain && schema.iter().any(|(x, _)| *x == n) {
                return Err(type_err(
                    b.expr.pos,
                    op,
                    format!("A column with the name '{n}' is already declared"),
                ));
            }
            let n = unique_name(&n, &schema);
            schema.push((n, ty));
            keys.push(t);
        }
        let mut calls = Vec::new();
        for a in aggs {
            let ExprKind::Call { name: fname, args } = &a.expr.kind else {
                return Err(type_err(
                    a.expr.pos,
                    op,
                    "expected an aggregation function such as count(), sum(x), dcount(x)",
                ));
            };
            if aggregates::KNOWN_UNSUPPORTED.contains(&fname.as_str()) {
                return Err(KqlError::unsupported(
                    a.expr.pos,
                    &format!("Aggregation function '{fname}'"),
                ));
            }
            let Some((func, min, max, prefix)) = aggregates::lookup(fname) else {
                let cands = aggregates::names();
                let hint = did_you_mean(fname, cands);
                let msg = if functions::lookup(fname).is_some() {
                    format!("'{fname}' is not an aggregation function{hint}")
                } else {
                    format!("Unknown aggregation function: '{fname}'{hint}")
                };
                return Err(sem(
                    ErrorKind::UnknownName,
                    a.expr.pos,
                    format!("'{op}' operator: {msg}"),
                ));
            };
            let star_ok = matches!(func, AggFunc::ArgMax | AggFunc::ArgMin | AggFunc::Count);
            let plain_args: Vec<&Expr> = args.iter().filter(|x| !matches!(x.kind, ExprKind::Star)).collect();
            if args.len() < min || args.len() > max || (!star_ok && plain_args.len() != args.len()) {
                return Err(type_err(
                    a.expr.pos,
                    op,
                    format!(
                        "aggregation function '{fname}' expects {min} to {max} argument(s), got {}",
                        args.len()
                    ),
                ));
            }
            match func {
                AggFunc::ArgMax | AggFunc::ArgMin => {
                    let (k, kty) = self.scalar(&args[0], &scope)?;
                    let mut targs = vec![k];
                    let kname = a
                        .name
                        .as_ref()
                        .map(|n| n.0.clone())
                        .or_else(|| natural_name(&args[0]))
                        .unwrap_or_else(|| format!("{prefix}_"));
                    let mut out: Schema = vec![(unique_name(&kname, &schema), kty)];
                    for x in &args[1..] {
                        if matches!(x.kind, ExprKind::Star) {
                            for (i, (n, t)) in input.schema.iter().enumerate() {
                                let taken = schema.iter().chain(out.iter()).any(|(m, _)| m == n);
                                if !taken {
                                    out.push((n.clone(), *t));
                                    targs.push(TExpr::Col(i));
                                }
                            }
                        } else {
                            let (t, ty) = self.scalar(x, &scope)?;
                            let n = natural_name(x).unwrap_or_else(|| next_column_name(&schema, &mut counter));
                            let mut all = schema.clone();
                            all.extend(out.iter().cloned());
                            out.push((unique_name(&n, &all), ty));
                            targs.push(t);
                        }
                    }
                    let n_out = out.len();
                    // Captured values include the key itself as the first output.
                    let mut cap_args = vec![targs[0].clone()];
                    cap_args.extend(targs.iter().skip(1).cloned());
                    calls.push(AggCall {
                        func,
                        args: cap_args,
                        n_out,
                        ty: kty,
                        pct: 0.0,
                        max_size: None,
                    });
                    schema.extend(out);
                }
                _ => {
                    let mut targs = Vec::new();
                    let mut tys = Vec::new();
                    let value_args = match func {
                        AggFunc::Percentile | AggFunc::MakeSet | AggFunc::MakeList | AggFunc::DCount => 1,
                        AggFunc::MakeSetIf | AggFunc::MakeListIf => 2,
                        _ => plain_args.len(),
                    };
                    for x in plain_args.iter().take(value_args) {
                        let (t, ty) = self.scalar(x, &scope)?;
                        targs.push(t);
                        tys.push(ty);
                    }
                    let ty = aggregates::result_type(func, &tys).map_err(|m| type_err(a.expr.pos, op, m))?;
                    let mut pct = 0.0;
                    let mut max_size = None;
                    if func == AggFunc::Percentile {
                        let (t, _) = self.scalar(plain_args[1], &scope)?;
                        match crate::exec::eval_const(&t).as_ref().and_then(functions::as_f64) {
                            Some(p) if t.is_const() => pct = p,
                            _ => {
                                return Err(type_err(
                                    plain_args[1].pos,
                                    op,
                                    "percentile() expects a constant percentage",
                                ))
                            }
                        }
                    }
                    let size_arg = if matches!(func, AggFunc::MakeSetIf | AggFunc::MakeListIf) {
                        2
                    } else {
                        1
                    };
                    if matches!(
                        func,
                        AggFunc::MakeSet | AggFunc::MakeList | AggFunc::MakeSetIf | AggFunc::MakeListIf
                    ) && plain_args.len() > size_arg
                    {
                        let (t, _) = self.scalar(plain_args[size_arg], &scope)?;
                        match crate::exec::eval_const(&t) {
                            Some(Value::Long(n)) if t.is_const() && n > 0 => max_size = Some(n as usize),
                            _ => {
                                return Err(type_err(
                                    plain_args[1].pos,
                                    op,
                                    "expected a positive constant maximum size",
                                ))
                            }
                        }
                    }
                    let n = match &a.name {
                        Some((n, _)) => n.clone(),
                        None => {
                            let arg = match func {
                                AggFunc::Count => String::new(),
                                _ => plain_args.first().and_then(|x| natural_name(x)).unwrap_or_default(),
                            };
                            let mut n = if prefix.is_empty() {
                                if arg.is_empty() {
                                    "any_".to_string()
                                } else {
                                    arg
                                }
                            } else {
                                format!("{prefix}_{arg}")
                            };
                            if func == AggFunc::Percentile {
                                let p = crate::value::format_real(pct).replace('.', "_");
                                n = format!("{n}_{p}");
                            }
                            n
                        }
                    };
                    schema.push((unique_name(&n, &schema), ty));
                    calls.push(AggCall {
                        func,
                        args: targs,
                        n_out: 1,
                        ty,
                        pct,
                        max_size,
                    });
                }
            }
        }
        Ok(Plan {
            node: Node::Summarize {
                input: Box::new(input),
                keys,
                aggs: calls,
            },
            schema,
        })
    }

    fn join(
        &mut self,
        left: Plan,
        kind: &Option<(String, Pos)>,
        right: &Expr,
        on: &[Expr],
        pos: Pos,
        env: &Env,
    ) -> R<Plan> {
        let jk = match kind {
            None => JoinKind::InnerUnique,
            Some((k, kpos)) => match k.as_str() {
                "inner" => JoinKind::Inner,
                "innerunique" => JoinKind::InnerUnique,
                "leftouter" => JoinKind::LeftOuter,
                "rightouter" => JoinKind::RightOuter,
                "fullouter" => JoinKind::FullOuter,
                "leftsemi" => JoinKind::LeftSemi,
                "leftanti" | "anti" | "leftantisemi" => JoinKind::LeftAnti,
                "rightsemi" => JoinKind::RightSemi,
                "rightanti" | "rightantisemi" => JoinKind::RightAnti,
                other => {
                    return Err(sem(
                        ErrorKind::Type,
                        *kpos,
                        format!(
                            "'join' operator: unknown join kind '{other}'; expected inner, innerunique, leftouter, rightouter, fullouter, leftsemi, leftanti, rightsemi or rightanti{}",
                            did_you_mean(other, ["inner", "innerunique", "leftouter", "rightouter", "fullouter", "leftsemi", "leftanti", "rightsemi", "rightanti"])
                        ),
                    ))
                }
            },
        };
        let right = self.tabular(right, env)?;
        let mut lk = Vec::new();
        let mut rk = Vec::new();
        let side_col = |e: &Expr| -> Option<(String, String, Pos)> {
            if let ExprKind::Member { e: inner, name } = &e.kind {
                if let ExprKind::Name(side) = &inner.kind {
                    if side == "$left" || side == "$right" {
                        return Some((side.clone(), name.clone(), e.pos));
                    }
                }
            }
            None
        };
        let find = |schema: &Schema, n: &str, p: Pos, side: &str| -> R<usize> {
            schema.iter().position(|(x, _)| x == n).ok_or_else(|| {
                sem(
                    ErrorKind::UnknownName,
                    p,
                    format!(
                        "'join' operator: Failed to resolve column named '{n}' on the {side} side{}",
                        did_you_mean(n, schema.iter().map(|(x, _)| x.as_str()))
                    ),
                )
            })
        };
        for c in on {
            match &c.kind {
                ExprKind::Name(n) => {
                    lk.push(find(&left.schema, n, c.pos, "left")?);
                    rk.push(find(&right.schema, n, c.pos, "right")?);
                }
                ExprKind::Binary { op: BinOp::Eq, l, r } => match (side_col(l), side_col(r)) {
                    (Some(a), Some(b)) if a.0 != b.0 => {
                        let (lft, rgt) = if a.0 == "$left" { (a, b) } else { (b, a) };
                        lk.push(find(&left.schema, &lft.1, lft.2, "left")?);
                        rk.push(find(&right.schema, &rgt.1, rgt.2, "right")?);
                    }
                    _ => {
                        return Err(sem(
                            ErrorKind::Type,
                            c.pos,
                            "'join' operator: join conditions must be column names or '$left.X == $right.Y'",
                        ))
                    }
                },
                _ => {
                    return Err(sem(
                        ErrorKind::Type,
                        c.pos,
                        "'join' operator: join conditions must be column names or '$left.X == $right.Y'",
                    ))
                }
            }
        }
        for (a, b) in lk.iter().zip(&rk) {
            let (lt, rt) = (left.schema[*a].1, right.schema[*b].1);
            if lt != rt && !(lt.is_numeric() && rt.is_numeric()) {
                return Err(sem(
                    ErrorKind::Type,
                    pos,
                    format!(
                        "'join' operator: key '{}' is of type {lt} on the left and '{}' of type {rt} on the right",
                        left.schema[*a].0, right.schema[*b].0
                    ),
                ));
            }
        }
        let schema = match jk {
            JoinKind::LeftSemi | JoinKind::LeftAnti => left.schema.clone(),
            JoinKind::RightSemi | JoinKind::RightAnti => right.schema.clone(),
            _ => {
                let mut s = left.schema.clone();
                for (n, t) in &right.schema {
                    let u = unique_name(n, &s);
                    s.push((u, *t));
                }
                s
            }
        };
        Ok(Plan {
            node: Node::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind: jk,
                left_keys: lk,
                right_keys: rk,
            },
            schema,
        })
    }

    fn union(&mut self, first: Option<Plan>, spec: &ast::UnionSpec, pos: Pos, env: &Env) -> R<Plan> {
        let mut inputs: Vec<(Plan, String)> = Vec::new();
        if let Some(p) = first {
            let n = match &p.node {
                Node::Scan { table, .. } => table.clone(),
                _ => "union_arg0".to_string(),
            };
            inputs.push((p, n));
        }
        for t in &spec.tables {
            let i = inputs.len();
            let p = self.tabular(t, env)?;
            let n = match &t.kind {
                ExprKind::Name(n) => n.clone(),
                _ => format!("union_arg{i}"),
            };
            inputs.push((p, n));
        }
        // Output columns: by name; same name with different types → Name_type.
        let mut by_name: Vec<(String, Vec<KqlType>)> = Vec::new();
        for (p, _) in &inputs {
            for (n, t) in &p.schema {
                match by_name.iter_mut().find(|(m, _)| m == n) {
                    Some((_, ts)) => {
                        if !ts.contains(t) {
                            ts.push(*t)
                        }
                    }
                    None => by_name.push((n.clone(), vec![*t])),
                }
            }
        }
        let mut schema = Schema::new();
        let mut sources: Vec<(String, KqlType)> = Vec::new();
        for (n, ts) in &by_name {
            if ts.len() == 1 {
                if spec.inner
                    && !inputs
                        .iter()
                        .all(|(p, _)| p.schema.iter().any(|(m, t)| m == n && *t == ts[0]))
                {
                    continue;
                }
                schema.push((n.clone(), ts[0]));
                sources.push((n.clone(), ts[0]));
            } else if !spec.inner {
                for t in ts {
                    schema.push((format!("{n}_{}", t.name()), *t));
                    sources.push((n.clone(), *t));
                }
            }
        }
        let maps: Vec<(Plan, Vec<Option<usize>>)> = inputs
            .iter()
            .map(|(p, _)| {
                let m = sources
                    .iter()
                    .map(|(n, t)| p.schema.iter().position(|(m, u)| m == n && u == t))
                    .collect();
                (p.clone(), m)
            })
            .collect();
        let names: Vec<String> = inputs.iter().map(|(_, n)| n.clone()).collect();
        let source_names = match &spec.withsource {
            Some(col) => {
                schema.insert(0, (col.clone(), KqlType::String));
                Some(names)
            }
            None => None,
        };
        self.tick(pos)?;
        Ok(Plan {
            node: Node::Union {
                inputs: maps,
                source_names,
            },
            schema,
        })
    }

    // ---------------- scalars ----------------

    fn scalar(&mut self, e: &Expr, sc: &Scope) -> R<(TExpr, KqlType)> {
        self.tick(e.pos)?;
        let op = sc.op;
        match &e.kind {
            ExprKind::Lit(l) => {
                let (v, t) = lit_value(l);
                Ok((TExpr::Lit(v), t))
            }
            ExprKind::Name(n) => {
                if let Some(i) = sc.schema.iter().position(|(x, _)| x == n) {
                    return Ok((TExpr::Col(i), sc.schema[i].1));
                }
                match sc.env.get(n) {
                    Some(Binding::Scalar(t, ty)) => Ok((t.clone(), *ty)),
                    Some(Binding::Tabular(_)) => Err(type_err(
                        e.pos,
                        op,
                        format!("'{n}' is a table; a scalar expression is expected here"),
                    )),
                    Some(Binding::Func(_)) => {
                        Err(type_err(e.pos, op, format!("'{n}' is a function; call it as {n}()")))
                    }
                    None => {
                        let what = if op == "where" {
                            "Failed to resolve scalar expression named"
                        } else {
                            "Failed to resolve column or scalar expression named"
                        };
                        let mut cands: Vec<&str> = sc.schema.iter().map(|(x, _)| x.as_str()).collect();
                        cands.extend(
                            sc.env
                                .items
                                .iter()
                                .filter(|(_, b)| matches!(b, Binding::Scalar(..)))
                                .map(|(x, _)| x.as_str()),
                        );
                        Err(sem(
                            ErrorKind::UnknownName,
                            e.pos,
                            format!("'{op}' operator: {what} '{n}'{}", did_you_mean(n, cands)),
                        ))
                    }
                }
            }
            ExprKind::Star => Err(type_err(
                e.pos,
                op,
                "'*' is only allowed as an argument of count(), arg_max() and arg_min()",
            )),
            ExprKind::Neg(x) => {
                let (t, ty) = self.scalar(x, sc)?;
                if !(ty.is_numeric() || ty == KqlType::TimeSpan || ty == KqlType::Dynamic) {
                    return Err(type_err(e.pos, op, format!("unary '-' cannot be applied to {ty}")));
                }
                let ty = if ty == KqlType::Int { KqlType::Long } else { ty };
                Ok((TExpr::Neg(Box::new(t)), ty))
            }
            ExprKind::Binary { op: bop, l, r } => self.binary(*bop, l, r, e.pos, sc),
            ExprKind::In { e: x, list, neg, ci } if list.len() == 1 && self.is_tabular(&list[0], sc.env) => {
                let (t, ty) = self.scalar(x, sc)?;
                let sub = self.subquery(&list[0], sc)?;
                let sty = sub.schema[0].1;
                if !comparable(ty, sty) {
                    return Err(type_err(
                        list[0].pos,
                        op,
                        format!("Cannot compare values of types {ty} and {sty}. Try adding explicit casts"),
                    ));
                }
                Ok((
                    TExpr::InSub {
                        e: Box::new(t),
                        plan: Box::new(sub),
                        neg: *neg,
                        ci: *ci,
                        has: None,
                    },
                    KqlType::Bool,
                ))
            }
            ExprKind::In { e: x, list, neg, ci } => {
                let (t, ty) = self.scalar(x, sc)?;
                let items = self.scalar_list(list, sc)?;
                for (it, ity, p) in &items {
                    let _ = it;
                    if !comparable(ty, *ity) {
                        return Err(type_err(
                            *p,
                            op,
                            format!("Cannot compare values of types {ty} and {ity}. Try adding explicit casts"),
                        ));
                    }
                }
                if *ci && !(ty == KqlType::String || ty == KqlType::Dynamic) {
                    return Err(type_err(e.pos, op, format!("'in~' expects string operands, got {ty}")));
                }
                Ok((
                    TExpr::In {
                        e: Box::new(t),
                        list: items.into_iter().map(|x| x.0).collect(),
                        neg: *neg,
                        ci: *ci,
                    },
                    KqlType::Bool,
                ))
            }
            ExprKind::HasAny { e: x, list, all } if list.len() == 1 && self.is_tabular(&list[0], sc.env) => {
                let (t, _) = self.scalar(x, sc)?;
                let sub = self.subquery(&list[0], sc)?;
                Ok((
                    TExpr::InSub {
                        e: Box::new(t),
                        plan: Box::new(sub),
                        neg: false,
                        ci: true,
                        has: Some(*all),
                    },
                    KqlType::Bool,
                ))
            }
            ExprKind::HasAny { e: x, list, all } => {
                let (t, _) = self.scalar(x, sc)?;
                let items = self.scalar_list(list, sc)?;
                Ok((
                    TExpr::HasAny {
                        e: Box::new(t),
                        list: items.into_iter().map(|x| x.0).collect(),
                        all: *all,
                    },
                    KqlType::Bool,
                ))
            }
            ExprKind::Between { e: x, lo, hi, neg } => {
                let (t, ty) = self.scalar(x, sc)?;
                let (l, lt) = self.scalar(lo, sc)?;
                let (h, ht) = self.scalar(hi, sc)?;
                // `Timestamp between (t .. 1h)`: a time span upper bound is relative.
                let h = if ty == KqlType::DateTime && ht == KqlType::TimeSpan {
                    TExpr::Bin(BinOp::Add, Box::new(l.clone()), Box::new(h))
                } else {
                    h
                };
                let ht = if ty == KqlType::DateTime && ht == KqlType::TimeSpan {
                    KqlType::DateTime
                } else {
                    ht
                };
                for (bt, p) in [(lt, lo.pos), (ht, hi.pos)] {
                    if !comparable(ty, bt) || ty == KqlType::String || ty == KqlType::Bool {
                        return Err(type_err(p, op, format!("'between' cannot compare {ty} with {bt}")));
                    }
                }
                Ok((
                    TExpr::Between {
                        e: Box::new(t),
                        lo: Box::new(l),
                        hi: Box::new(h),
                        neg: *neg,
                    },
                    KqlType::Bool,
                ))
            }
            ExprKind::Member { e: x, name } => {
                if let ExprKind::Name(side) = &x.kind {
                    if side == "$left" || side == "$right" {
                        return Err(type_err(
                            e.pos,
                            op,
                            "'$left' and '$right' can only be used in join conditions",
                        ));
                    }
                }
                let (t, ty) = self.scalar(x, sc)?;
                if ty != KqlType::Dynamic {
                    return Err(type_err(
                        e.pos,
                        op,
                        format!("'.{name}' can only be applied to a dynamic value, got {ty}"),
                    ));
                }
                Ok((TExpr::Member(Box::new(t), name.clone()), KqlType::Dynamic))
            }
            ExprKind::Index { e: x, idx } => {
                let (t, ty) = self.scalar(x, sc)?;
                let (i, ity) = self.scalar(idx, sc)?;
                if ty != KqlType::Dynamic {
                    return Err(type_err(
                        e.pos,
                        op,
                        format!("'[]' can only be applied to a dynamic value, got {ty}"),
                    ));
                }
                if !(ity.is_integer() || ity == KqlType::String || ity == KqlType::Dynamic) {
                    return Err(type_err(
                        idx.pos,
                        op,
                        format!("an index must be an integer or a string, got {ity}"),
                    ));
                }
                Ok((TExpr::Index(Box::new(t), Box::new(i)), KqlType::Dynamic))
            }
            ExprKind::Call { name, args } => self.call(name, args, e.pos, sc),
            ExprKind::Pipe { .. }
            | ExprKind::Union(_)
            | ExprKind::Search { .. }
            | ExprKind::Print(_)
            | ExprKind::Datatable { .. } => Err(KqlError::unsupported(
                e.pos,
                "A tabular expression in a scalar position (sub-queries; use 'join' or 'let')",
            )),
        }
    }

    fn window_call(&mut self, name: &str, args: &[Expr], pos: Pos, sc: &Scope) -> R<(TExpr, KqlType)> {
        let op = sc.op;
        match &self.window {
            None => {
                return Err(KqlError::unsupported(
                    pos,
                    &format!("Function '{name}' outside 'extend', 'project' or 'serialize'"),
                ))
            }
            Some(w) if !w.serialized => {
                return Err(type_err(
                    pos,
                    op,
                    format!("Function '{name}' cannot be invoked in current context: the row set must be serialized (use 'serialize', 'sort' or 'top' before it)"),
                ))
            }
            _ => {}
        }
        let konst = |b: &mut Self, e: &Expr| -> R<(Value, KqlType)> {
            let (t, ty) = b.scalar(e, sc)?;
            match crate::exec::eval_const(&t) {
                Some(v) if t.is_const() => Ok((v, ty)),
                _ => Err(type_err(
                    e.pos,
                    op,
                    format!("the arguments of '{name}' after the first must be constants"),
                )),
            }
        };
        let (col, ty) = if name == "row_number" {
            if args.len() > 2 {
                return Err(type_err(
                    pos,
                    op,
                    "The function 'row_number' expects 0 to 2 argument(s)",
                ));
            }
            if args.len() == 2 {
                return Err(KqlError::unsupported(
                    args[1].pos,
                    "'row_number' with a restart condition",
                ));
            }
            let start = match args.first() {
                Some(a) => match konst(self, a)? {
                    (Value::Long(n), _) => n,
                    _ => return Err(type_err(a.pos, op, "row_number() expects an integer start")),
                },
                None => 1,
            };
            (WindowCol::RowNumber { start }, KqlType::Long)
        } else {
            if args.is_empty() || args.len() > 3 {
                return Err(type_err(
                    pos,
                    op,
                    format!("The function '{name}' expects 1 to 3 argument(s), got {}", args.len()),
                ));
            }
            let (expr, ty) = self.scalar(&args[0], sc)?;
            let offset = match args.get(1) {
                Some(a) => match konst(self, a)? {
                    (Value::Long(n), _) if (0..=1_000_000).contains(&n) => n,
                    _ => {
                        return Err(type_err(
                            a.pos,
                            op,
                            format!("{name}() expects a non-negative integer offset"),
                        ))
                    }
                },
                None => 1,
            };
            let default = match args.get(2) {
                Some(a) => {
                    let (v, dty) = konst(self, a)?;
                    if !(dty == ty || v.is_null() || (ty.is_numeric() && dty.is_numeric())) {
                        return Err(type_err(
                            a.pos,
                            op,
                            format!("{name}() default must be of type {ty}, got {dty}"),
                        ));
                    }
                    functions::convert(&v, ty)
                }
                None => aggregates::null_of(ty),
            };
            let offset = if name == "next" { -offset } else { offset };
            (WindowCol::Shift { expr, offset, default }, ty)
        };
        let Some(w) = self.window.as_mut() else {
            return Err(type_err(pos, op, format!("Function '{name}' cannot be used here")));
        };
        w.cols.push(col);
        w.types.push(ty);
        Ok((TExpr::Col(w.base + w.cols.len() - 1), ty))
    }

    /// Binds a sub-query (of `in` or `toscalar`), pruned and narrowed on its own.
    fn subquery(&mut self, e: &Expr, sc: &Scope) -> R<Plan> {
        let mut p = self.tabular(e, sc.env)?;
        if p.schema.is_empty() {
            return Err(type_err(e.pos, sc.op, "the sub-query has no columns"));
        }
        let need = vec![true; p.schema.len()];
        crate::exec::prune(&mut p, &need);
        crate::exec::narrow(&mut p);
        Ok(p)
    }

    fn scalar_list(&mut self, list: &[Expr], sc: &Scope) -> R<Vec<(TExpr, KqlType, Pos)>> {
        let mut out = Vec::new();
        for x in list {
            if self.is_tabular(x, sc.env) {
                return Err(KqlError::unsupported(x.pos, "A sub-query in an 'in' or 'has_any' list"));
            }
            // A dynamic array literal contributes its elements.
            if let ExprKind::Lit(Lit::Dynamic(serde_json::Value::Array(a))) = &x.kind {
                for v in a {
                    let (val, ty) = match v {
                        serde_json::Value::String(s) => (Value::String(s.clone()), KqlType::String),
                        serde_json::Value::Bool(b) => (Value::Bool(*b), KqlType::Bool),
                        serde_json::Value::Number(n) if n.is_i64() => {
                            (Value::Long(n.as_i64().unwrap_or(0)), KqlType::Long)
                        }
                        serde_json::Value::Number(n) => (Value::Real(n.as_f64().unwrap_or(0.0)), KqlType::Real),
                        other => (Value::Dynamic(other.clone()), KqlType::Dynamic),
                    };
                    out.push((TExpr::Lit(val), ty, x.pos));
                }
                continue;
            }
            let (t, ty) = self.scalar(x, sc)?;
            out.push((t, ty, x.pos));
        }
        Ok(out)
    }

    fn binary(&mut self, bop: BinOp, l: &Expr, r: &Expr, pos: Pos, sc: &Scope) -> R<(TExpr, KqlType)> {
        let op = sc.op;
        // `* has "x"`: any column has the term (what `search "x"` does).
        if matches!(l.kind, ExprKind::Star) {
            return match (bop, &r.kind) {
                (
                    BinOp::Str {
                        op: ast::StrOp::Has,
                        neg: false,
                        cs,
                    },
                    ExprKind::Lit(Lit::Str(t)),
                ) => Ok((TExpr::SearchAny { term: t.clone(), cs }, KqlType::Bool)),
                _ => Err(KqlError::unsupported(l.pos, "'*' with anything but 'has \"term\"'")),
            };
        }
        let (lt_e, lt) = self.scalar(l, sc)?;
        if bop == BinOp::MatchesRegex {
            let (rt_e, rt) = self.scalar(r, sc)?;
            let pat = match crate::exec::eval_const(&rt_e) {
                Some(Value::String(s)) if rt_e.is_const() && rt == KqlType::String => s,
                _ => {
                    return Err(type_err(r.pos, op, "'matches regex' expects a constant string pattern"));
                }
            };
            let re = compile_regex(&pat).map_err(|m| type_err(r.pos, op, m))?;
            return Ok((TExpr::Regex(Box::new(lt_e), Arc::new(re)), KqlType::Bool));
        }
        let (rt_e, rt) = self.scalar(r, sc)?;
        let sym = bop.symbol();
        let ty = match bop {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                arith_type(bop, lt, rt).ok_or_else(|| {
                    type_err(
                        pos,
                        op,
                        format!("Operator '{sym}' cannot be applied to operands of types {lt} and {rt}"),
                    )
                })?
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if !comparable(lt, rt) {
                    return Err(type_err(
                        pos,
                        op,
                        format!("Cannot compare values of types {lt} and {rt}. Try adding explicit casts"),
                    ));
                }
                KqlType::Bool
            }
            BinOp::EqCi | BinOp::NeCi => {
                let ok = |t: KqlType| matches!(t, KqlType::String | KqlType::Dynamic | KqlType::Guid);
                if !ok(lt) || !ok(rt) {
                    return Err(type_err(
                        pos,
                        op,
                        format!("Operator '{sym}' expects string operands, got {lt} and {rt}"),
                    ));
                }
                KqlType::Bool
            }
            BinOp::And | BinOp::Or => {
                let ok = |t: KqlType| matches!(t, KqlType::Bool | KqlType::Dynamic);
                if !ok(lt) || !ok(rt) {
                    return Err(type_err(
                        pos,
                        op,
                        format!("Operator '{sym}' expects bool operands, got {lt} and {rt}"),
                    ));
                }
                KqlType::Bool
            }
            BinOp::Str { .. } => {
                if !matches!(lt, KqlType::String | KqlType::Dynamic) {
                    return Err(type_err(
                        pos,
                        op,
                        format!("The operator '{sym}' is not defined for the operand types {lt} and {rt}"),
                    ));
                }
                if !matches!(rt, KqlType::String | KqlType::Dynamic) {
                    return Err(type_err(
                        r.pos,
                        op,
                        format!("Operator '{sym}' expects a string on its right, got {rt}"),
                    ));
                }
                KqlType::Bool
            }
            BinOp::MatchesRegex => KqlType::Bool,
        };
        let e = TExpr::Bin(bop, Box::new(lt_e), Box::new(rt_e));
        // Arithmetic on a dynamic operand is computed on numbers, then typed.
        let e = if matches!(bop, BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod)
            && (lt == KqlType::Dynamic || rt == KqlType::Dynamic)
            && ty != KqlType::Dynamic
        {
            TExpr::Convert(Box::new(e), ty)
        } else {
            e
        };
        Ok((e, ty))
    }

    fn call(&mut self, name: &str, args: &[Expr], pos: Pos, sc: &Scope) -> R<(TExpr, KqlType)> {
        let op = sc.op;
        if let Some(Binding::Func(f)) = sc.env.get(name) {
            let f = f.clone();
            return match self.call_function(&f, name, args, pos, sc.env, Some(sc))? {
                Either::Scalar(t, ty) => Ok((t, ty)),
                Either::Tab(_) => Err(KqlError::unsupported(
                    pos,
                    "A tabular function call in a scalar position",
                )),
            };
        }
        if matches!(name, "prev" | "next" | "row_number") {
            return self.window_call(name, args, pos, sc);
        }
        if name == "toscalar" {
            if args.len() != 1 {
                return Err(type_err(pos, op, "The function 'toscalar' expects 1 argument(s)"));
            }
            if !self.is_tabular(&args[0], sc.env) {
                return self.scalar(&args[0], sc);
            }
            let sub = self.subquery(&args[0], sc)?;
            let ty = sub.schema[0].1;
            return Ok((TExpr::ToScalar(Box::new(sub)), ty));
        }
        if name == "replace_regex" || name == "extract_all" {
            let (pat_idx, want) = if name == "replace_regex" { (1, 3) } else { (0, 2) };
            if args.len() != want {
                return Err(type_err(
                    pos,
                    op,
                    format!("The function '{name}' expects {want} argument(s), got {}", args.len()),
                ));
            }
            let (pt, _) = self.scalar(&args[pat_idx], sc)?;
            let pat = match crate::exec::eval_const(&pt) {
                Some(Value::String(s)) if pt.is_const() => s,
                _ => {
                    return Err(type_err(
                        args[pat_idx].pos,
                        op,
                        format!("{name}() expects a constant string pattern"),
                    ))
                }
            };
            let re = compile_regex(&pat).map_err(|m| type_err(args[pat_idx].pos, op, m))?;
            let mut targs = Vec::new();
            for (i, a) in args.iter().enumerate() {
                if i != pat_idx {
                    targs.push(self.scalar(a, sc)?.0);
                }
            }
            let (func, ty) = if name == "replace_regex" {
                (Func::ReplaceRegex, KqlType::String)
            } else {
                (Func::ExtractAll, KqlType::Dynamic)
            };
            return Ok((
                TExpr::RegexFn {
                    func,
                    re: Arc::new(re),
                    args: targs,
                },
                ty,
            ));
        }
        if name == "extract" {
            if args.len() < 3 || args.len() > 4 {
                return Err(type_err(pos, op, "The function 'extract' expects 3 or 4 arguments"));
            }
            let (pt, _) = self.scalar(&args[0], sc)?;
            let pat = match crate::exec::eval_const(&pt) {
                Some(Value::String(s)) if pt.is_const() => s,
                _ => return Err(type_err(args[0].pos, op, "extract() expects a constant string pattern")),
            };
            let re = compile_regex(&pat).map_err(|m| type_err(args[0].pos, op, m))?;
            let (gt, _) = self.scalar(&args[1], sc)?;
            let group = match crate::exec::eval_const(&gt) {
                Some(Value::Long(n)) if gt.is_const() && n >= 0 && (n as usize) < re.captures_len() => n as usize,
                _ => {
                    return Err(type_err(
                        args[1].pos,
                        op,
                        "extract() expects a constant capture group number that exists in the pattern",
                    ))
                }
            };
            let (src, _) = self.scalar(&args[2], sc)?;
            let ty = match args.get(3).map(|a| &a.kind) {
                None => KqlType::String,
                Some(ExprKind::Call { name, args: targs }) if name == "typeof" && targs.len() == 1 => {
                    match &targs[0].kind {
                        ExprKind::Name(t) => KqlType::parse(t)
                            .ok_or_else(|| type_err(targs[0].pos, op, format!("unknown type '{t}'")))?,
                        _ => return Err(type_err(targs[0].pos, op, "expected a type name")),
                    }
                }
                Some(_) => {
                    return Err(type_err(
                        args[3].pos,
                        op,
                        "extract() expects typeof(T) as its 4th argument",
                    ))
                }
            };
            return Ok((
                TExpr::Extract {
                    re: Arc::new(re),
                    group,
                    src: Box::new(src),
                    ty,
                },
                ty,
            ));
        }
        let Some((f, min, max)) = functions::lookup(name) else {
            if aggregates::lookup(name).is_some() {
                return Err(type_err(
                    pos,
                    op,
                    format!("aggregation function '{name}' can only be used in 'summarize'"),
                ));
            }
            if functions::KNOWN_UNSUPPORTED.contains(&name) {
                return Err(KqlError::unsupported(pos, &format!("Function '{name}'")));
            }
            if matches!(name, "materialize" | "table" | "datatable" | "range") {
                return Err(KqlError::unsupported(pos, &format!("'{name}()' in a scalar position")));
            }
            let mut cands: Vec<&str> = functions::names().collect();
            cands.extend(["extract", "replace_regex", "extract_all", "toscalar"]);
            cands.extend(
                sc.env
                    .items
                    .iter()
                    .filter(|(_, b)| matches!(b, Binding::Func(_)))
                    .map(|(n, _)| n.as_str()),
            );
            return Err(sem(
                ErrorKind::UnknownName,
                pos,
                format!(
                    "'{op}' operator: Unknown function: '{name}'{}",
                    did_you_mean(name, cands)
                ),
            ));
        };
        if args.len() < min || args.len() > max {
            let want = if min == max {
                min.to_string()
            } else if max >= 64 {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(type_err(
                pos,
                op,
                format!("The function '{name}' expects {want} argument(s), got {}", args.len()),
            ));
        }
        let mut targs = Vec::with_capacity(args.len());
        let mut tys = Vec::with_capacity(args.len());
        for a in args {
            let (t, ty) = self.scalar(a, sc)?;
            targs.push(t);
            tys.push(ty);
        }
        let ty = functions::check(f, name, &tys).map_err(|m| type_err(pos, op, m))?;
        // Branches of iff/case/coalesce of mixed numeric types are converted.
        if matches!(f, Func::Iff | Func::Case | Func::Coalesce) {
            for (i, (t, at)) in targs.iter_mut().zip(&tys).enumerate() {
                let is_value = match f {
                    Func::Iff => i > 0,
                    Func::Case => i % 2 == 1 || i == tys.len() - 1,
                    _ => true,
                };
                if is_value && *at != ty {
                    *t = TExpr::Convert(Box::new(std::mem::replace(t, TExpr::Lit(Value::Null))), ty);
                }
            }
        }
        Ok((TExpr::Call(f, targs), ty))
    }
}

/// Replaces every aggregate call in `e` by a reference to a hidden column
/// `__aggN`, appending the calls (named so) to `out`.
fn lift_aggregates(e: &Expr, out: &mut Vec<ast::NamedExpr>) -> Expr {
    let mut go = |x: &Expr| Box::new(lift_aggregates(x, out));
    let kind = match &e.kind {
        ExprKind::Call { name, .. } if aggregates::lookup(name).is_some() => {
            let hidden = format!("__agg{}", out.len());
            out.push(ast::NamedExpr {
                name: Some((hidden.clone(), e.pos)),
                expr: e.clone(),
            });
            ExprKind::Name(hidden)
        }
        ExprKind::Call { name, args } => ExprKind::Call {
            name: name.clone(),
            args: args.iter().map(|a| *go(a)).collect(),
        },
        ExprKind::Binary { op, l, r } => ExprKind::Binary {
            op: *op,
            l: go(l),
            r: go(r),
        },
        ExprKind::Neg(x) => ExprKind::Neg(go(x)),
        ExprKind::In { e: x, list, neg, ci } => ExprKind::In {
            e: go(x),
            list: list.iter().map(|a| *go(a)).collect(),
            neg: *neg,
            ci: *ci,
        },
        ExprKind::HasAny { e: x, list, all } => ExprKind::HasAny {
            e: go(x),
            list: list.iter().map(|a| *go(a)).collect(),
            all: *all,
        },
        ExprKind::Between { e: x, lo, hi, neg } => ExprKind::Between {
            e: go(x),
            lo: go(lo),
            hi: go(hi),
            neg: *neg,
        },
        ExprKind::Member { e: x, name } => ExprKind::Member {
            e: go(x),
            name: name.clone(),
        },
        ExprKind::Index { e: x, idx } => ExprKind::Index { e: go(x), idx: go(idx) },
        other => other.clone(),
    };
    Expr {
        kind,
        pos: e.pos,
        depth: e.depth,
    }
}

/// Number of operators in a plan (its expressions are bounded by the parser).
fn plan_size(p: &Plan) -> usize {
    1 + match &p.node {
        Node::Scan { .. } | Node::Values(_) => 0,
        Node::Filter(i, _)
        | Node::Project(i, _)
        | Node::Extend(i, _)
        | Node::Take(i, _)
        | Node::Sort(i, _, _)
        | Node::Summarize { input: i, .. }
        | Node::MvExpand { input: i, .. }
        | Node::Parse { input: i, .. }
        | Node::Window(i, _) => plan_size(i),
        Node::Join { left, right, .. } => plan_size(left) + plan_size(right),
        Node::Union { inputs, .. } => inputs.iter().map(|(p, _)| plan_size(p)).sum(),
    }
}

enum Either {
    Tab(Plan),
    Scalar(TExpr, KqlType),
}

/// Compiles a Kusto (RE2) regular expression, bounded in size.
pub(crate) fn compile_regex(pat: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pat)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
        .map_err(|e| {
            format!(
                "invalid regular expression: {}",
                e.to_string().lines().last().unwrap_or("")
            )
        })
}

/// Used by the pruning pass: unused.
#[allow(dead_code)]
pub(crate) fn column_index_map(schema: &Schema) -> HashMap<&str, usize> {
    schema.iter().enumerate().map(|(i, (n, _))| (n.as_str(), i)).collect()
}
