//! In-memory evaluation with exactly the semantics of the SQL translation.
//!
//! Null rules: a comparison with a null (absent, JSON null or ill-typed) value is
//! false, except `ne`, which is true (`x ne 'a'` includes entities without `x`);
//! `eq null` / `ne null` test presence. `not` is plain boolean negation.

use std::cmp::Ordering;

use serde_json::Value;

use crate::ast::{CmpOp, Expr, LambdaKind, Literal, Operand, OrderKey};
use crate::encode::{cell, elements, Cell};
use crate::query::Query;
use crate::schema::{EntitySchema, PropType};
use crate::validate::operand_type;

/// Whether `entity` (the JSON document as the API serialises it) satisfies `expr`.
pub fn matches(expr: &Expr, entity: &Value, _schema: &EntitySchema) -> bool {
    eval(expr, entity, None)
}

/// `elem` is the current lambda element: `Some(None)` for a null element.
fn eval(e: &Expr, entity: &Value, elem: Option<Option<&str>>) -> bool {
    match e {
        Expr::And(ts) => ts.iter().all(|t| eval(t, entity, elem)),
        Expr::Or(ts) => ts.iter().any(|t| eval(t, entity, elem)),
        Expr::Not(inner) => !eval(inner, entity, elem),
        Expr::Compare { left, op, right } => {
            let c = operand_cell(left, entity, elem);
            compare_literal(&c, *op, right, operand_type(left))
        }
        Expr::In { left, values } => {
            let c = operand_cell(left, entity, elem);
            let ty = operand_type(left);
            values.iter().any(|v| compare_literal(&c, CmpOp::Eq, v, ty))
        }
        Expr::StrFn { func, arg, pattern } => match operand_cell(arg, entity, elem) {
            Cell::Text(s) => func.test(&s, pattern),
            _ => false,
        },
        Expr::Lambda {
            collection, kind, body, ..
        } => {
            let mut els = elements(collection, entity);
            match (kind, body) {
                (LambdaKind::Any, None) => els.next().is_some(),
                (LambdaKind::Any, Some(b)) => els.any(|el| eval(b, entity, Some(el))),
                (LambdaKind::All, Some(b)) => els.all(|el| eval(b, entity, Some(el))),
                // Rejected by validation; vacuous truth keeps it total.
                (LambdaKind::All, None) => true,
            }
        }
    }
}

fn operand_cell<'a>(o: &Operand, entity: &'a Value, elem: Option<Option<&'a str>>) -> Cell<'a> {
    match o {
        Operand::Property(p) => cell(p, entity),
        Operand::LambdaVar => match elem.flatten() {
            Some(s) => Cell::Text(s.into()),
            None => Cell::Null,
        },
        // ASCII-only folding, as SQLite's lower()/upper().
        Operand::ToLower(i) => match operand_cell(i, entity, elem) {
            Cell::Text(s) => Cell::Text(s.to_ascii_lowercase().into()),
            _ => Cell::Null,
        },
        Operand::ToUpper(i) => match operand_cell(i, entity, elem) {
            Cell::Text(s) => Cell::Text(s.to_ascii_uppercase().into()),
            _ => Cell::Null,
        },
    }
}

fn compare_literal(c: &Cell<'_>, op: CmpOp, lit: &Literal, ty: PropType) -> bool {
    if *lit == Literal::Null {
        return match op {
            CmpOp::Eq => *c == Cell::Null,
            CmpOp::Ne => *c != Cell::Null,
            _ => false,
        };
    }
    let ord = match (c, lit) {
        (Cell::Text(a), Literal::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Cell::Int(a), Literal::Int(b)) => a.cmp(b),
        (Cell::Bool(a), Literal::Bool(b)) => a.cmp(b),
        (Cell::Time(a), Literal::DateTime(b)) => a.cmp(b),
        (Cell::Enum(i), Literal::Text(b)) => {
            let members = match ty {
                PropType::Enum(m) => m,
                _ => &[][..],
            };
            match members.iter().position(|m| m == b) {
                Some(j) => i.cmp(&j),
                None => return op == CmpOp::Ne,
            }
        }
        // Null (or an impossible type pairing): only `ne` holds.
        _ => return op == CmpOp::Ne,
    };
    op.holds(ord)
}

/// Total order on cells: nulls first, then by value (text byte-wise, enums by
/// declaration order).
fn cmp_cells(a: &Cell<'_>, b: &Cell<'_>) -> Ordering {
    match (a, b) {
        (Cell::Null, Cell::Null) => Ordering::Equal,
        (Cell::Null, _) => Ordering::Less,
        (_, Cell::Null) => Ordering::Greater,
        (Cell::Text(x), Cell::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Cell::Int(x), Cell::Int(y)) | (Cell::Time(x), Cell::Time(y)) => x.cmp(y),
        (Cell::Bool(x), Cell::Bool(y)) => x.cmp(y),
        (Cell::Enum(x), Cell::Enum(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Orders two entities by `orderby` and then by the schema's key property, the same
/// order as [`Query::order_by_sql`]: nulls first ascending, last descending.
pub fn compare(orderby: &[OrderKey], a: &Value, b: &Value, schema: &EntitySchema) -> Ordering {
    for k in orderby {
        let o = cmp_cells(&cell(k.property, a), &cell(k.property, b));
        let o = if k.descending { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    match schema.key_property() {
        Some(kp) => cmp_cells(&cell(kp, a), &cell(kp, b)),
        None => Ordering::Equal,
    }
}

impl Query {
    /// Filters, orders and pages `entities` in memory. Returns the page and the
    /// number of matching entities before paging (the `@odata.count`).
    pub fn evaluate<'a>(
        &self,
        schema: &EntitySchema,
        entities: impl IntoIterator<Item = &'a Value>,
    ) -> (Vec<&'a Value>, usize) {
        let mut hits: Vec<&Value> = entities
            .into_iter()
            .filter(|e| self.filter.as_ref().is_none_or(|f| matches(f, e, schema)))
            .collect();
        let total = hits.len();
        hits.sort_by(|a, b| compare(&self.orderby, a, b, schema));
        let skip = (self.skip as usize).min(hits.len());
        hits.drain(..skip);
        if let Some(top) = self.top {
            hits.truncate(top as usize);
        }
        (hits, total)
    }

    /// Applies `$select` to one entity document: keeps the JSON keys of the selected
    /// properties and of the `$expand`ed names; everything when there is no `$select`.
    pub fn apply_select(&self, schema: &EntitySchema, entity: &Value) -> Value {
        let (Some(select), Value::Object(map)) = (&self.select, entity) else {
            return entity.clone();
        };
        let mut out = serde_json::Map::new();
        let keys = select
            .iter()
            .filter_map(|n| schema.property(n).map(|p| p.json_key))
            .chain(self.expand.iter().copied());
        for k in keys {
            if let Some(v) = map.get(k) {
                out.insert(k.to_string(), v.clone());
            }
        }
        Value::Object(out)
    }
}
