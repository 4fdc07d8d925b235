//! OData v4 query engine for Palisade's Defender for Endpoint list endpoints.
//!
//! Pure: no HTTP and no I/O. It turns the raw query string of a list request into a
//! validated [`Query`], which the store translates to SQL ([`Query::where_sql`],
//! [`Query::order_by_sql`]) or evaluates in memory ([`matches()`], [`compare`],
//! [`Query::evaluate`]); both paths have identical semantics (checked by a
//! property-based test against SQLite). No input makes it panic or run long.
//!
//! # Module tour
//! - `schema`: [`EntitySchema`], [`Property`], [`PropType`], supplied by callers.
//! - `query`: splitting the query string; [`parse_query`] and [`Query`]; `$orderby`,
//!   `$select`, `$expand`, `$top`, `$skip`, `$count`.
//! - `lexer` and `parser`: `$filter` text to an untyped tree with source spans.
//! - `validate`: type-checks that tree against the schema into [`Expr`] (`ast`).
//! - `sql`: [`Dialect`], [`SqlFragment`], [`SqlValue`]; translation with bound
//!   parameters.
//! - `eval`: in-memory evaluation and ordering.
//! - `encode`: how JSON values become comparable values and SQL column values
//!   ([`column_value`], [`column_values`]); shared by `eval` and the store.
//! - `datetime`: the one ISO-8601 parser for literals and documents.
//! - `error`: [`ODataError`].
//!
//! Tests: `tests/parse.rs` (every form, SQL shapes), `tests/errors.rs` (a table of
//! invalid queries and their messages), `tests/props.rs` (SQLite agrees with memory
//! on random and fixed corpora; fuzzing), `tests/postgres.rs` (the same against a
//! real PostgreSQL via `psql`, skipped unless `PALISADE_ODATA_PSQL` is set).
//!
//! # Supported syntax
//! Options: `$filter $orderby $select $expand $top $skip $count`, names matched
//! case-insensitively (OData 4.01), each at most once. Other `$` options are errors;
//! parameters without `$` are passed through decoded in [`Query::other_params`].
//!
//! `$filter`:
//! - comparisons `eq ne gt ge lt le`, `prop in (v1, v2, ...)`; the literal may also be
//!   on the left (`'x' eq name`);
//! - `and`, `or`, `not` and parentheses; precedence `not` > `and` > `or`, where `not`
//!   applies to a whole comparison (`not a eq 1` is `not (a eq 1)`);
//! - `contains(p,'x')`, `startswith(p,'x')`, `endswith(p,'x')`, all case-sensitive;
//!   `tolower(p)`, `toupper(p)` as comparison operands or function subjects;
//!   a Boolean condition may be compared with `true`/`false` (`contains(p,'x') eq
//!   false`), and a bare Bool property is `prop eq true`;
//! - lambdas over string collections: `tags/any(t: <cond on t>)`,
//!   `tags/all(t: ...)`, `tags/any()` (non-empty). Only the range variable may be
//!   used inside; lambdas do not nest;
//! - literals: `'text'` (`''` escapes a quote), integers and decimals (optionally
//!   negative, with exponent), `true`, `false`, `null`, GUIDs quoted or not,
//!   unquoted date-times `2019-11-22`, `2018-08-01Z`, `2019-11-22T00:00:00Z`,
//!   `...T00:00:00.1234567Z`, `...T00:00:00+02:00`, `...T00:00` (no offset = UTC).
//!
//! # Choices where OData or the Defender docs are silent
//! - **Keywords** (`and`, `eq`, `not`, `any`, `true`, `null`, function names) are
//!   matched case-insensitively: OData says lowercase, but real clients send `AND`,
//!   `EQ`, `startsWith`. Property names are also case-insensitive and resolve to the
//!   canonical name. The lambda variable is case-sensitive.
//! - A date-time followed by ` HH:MM` is read as offset `+HH:MM`, because clients
//!   often leave the `+` unencoded and form decoding turns it into a space.
//! - Typed literals (`Namespace.Type'High'`, `datetime'...'`, `guid'...'`) are
//!   rejected with a hint to use the plain form.
//! - Type checking is strict: strings must be quoted, date-times must not be, decimals
//!   are not compared with Int properties, Guid literals must be well-formed, enum
//!   values must be members (matched case-insensitively, canonicalised).
//! - `gt`/`ge`/`lt`/`le` on enums and `$orderby` on enums use the declaration
//!   order of the members (`riskScore gt 'Low'` means Medium or High), as OData enums
//!   compare by underlying value.
//! - `null` may only be used with `eq`/`ne`. A comparison with a missing/null value is
//!   false, except `ne`, which is true; `not` is plain negation.
//! - Text comparisons and ordering are byte-wise (code point order; `COLLATE "C"`
//!   in PostgreSQL). `tolower`/`toupper` fold ASCII letters only: SQLite's `lower()`
//!   does, and PostgreSQL's does under `COLLATE "C"`, which the translation adds.
//! - GUIDs compare case-insensitively (literals and stored values are lowercased).
//! - Date-times compare at microsecond precision, extra fraction digits truncated.
//! - Limits: nesting depth 100 ([`MAX_DEPTH`]), 1000 literal values per filter
//!   ([`MAX_VALUES`]).
//! - `$top` is `0..=max_top`; absent `$top` leaves the page size to the caller.
//!   `$skip` is `0..=u32::MAX`. `$count` is `true`/`false`. `$select=*` means all;
//!   `$expand=*` means every expandable name; nested `$expand` options are rejected.
//! - Ordering: NULLs first ascending, last descending; always finished by the
//!   schema's key column ascending so paging is stable.
//!
//! # Error messages
//! Every [`ODataError`] message starts with `Invalid OData URI query: `, names the
//! option, the offending token and its **1-based character position in the
//! percent-decoded option value**, and says what was expected or allowed. Syntax
//! errors read `$filter: unexpected ')' at position 31; expected a value`; errors
//! about a well-formed token read `$filter, position 14: 'Critical' is not a valid
//! value of riskScore; allowed values are: None, Informational, Low, Medium, High`.
//!
//! # Storage layout the SQL assumes
//! One table per entity set with `tenant_id TEXT`, `doc` (the entity's JSON exactly as
//! the API serialises it; TEXT in SQLite, TEXT or JSONB in PostgreSQL) and one column
//! per scalar property with [`Property::column`], filled with [`column_value`]:
//!
//! | type | column | value |
//! |------|--------|-------|
//! | String | TEXT | as is |
//! | Guid | TEXT | lowercase |
//! | Enum | TEXT | canonical member casing |
//! | Int | INTEGER / BIGINT | as is |
//! | Bool | INTEGER | 0 / 1 |
//! | DateTime | INTEGER / BIGINT | microseconds since the Unix epoch, UTC |
//!
//! Absent, null or ill-typed values (including unknown enum members and
//! unparsable date-times) are NULL. String collections live only in `doc` under
//! [`Property::json_key`] as a JSON array of strings (nulls allowed; anything but an
//! array counts as empty); lambdas use `json_each` (SQLite) or
//! `jsonb_array_elements_text` (PostgreSQL). Text must not contain NUL characters
//! (SQLite's string functions stop at them).
//!
//! ```
//! use palisade_odata::*;
//!
//! static PROPS: &[Property] = &[
//!     Property { name: "id", ty: PropType::String, filterable: true, sortable: true,
//!                column: Some("id"), json_key: "id" },
//!     Property { name: "riskScore", ty: PropType::Enum(&["None", "Low", "High"]),
//!                filterable: true, sortable: true, column: Some("risk_score"),
//!                json_key: "riskScore" },
//! ];
//! static MACHINE: EntitySchema = EntitySchema { entity: "Machine", set: "Machines",
//!     properties: PROPS, expandable: &[], max_top: 10000, key_column: "id" };
//!
//! let q = parse_query("$filter=RiskScore+eq+'high'&$top=10&tag=x", &MACHINE).unwrap();
//! let w = q.where_sql(&MACHINE, Dialect::Sqlite, 2).unwrap();
//! assert_eq!(w.sql, "(risk_score = ?2)");
//! assert_eq!(w.params, vec![SqlValue::Text("High".into())]);
//! assert_eq!(q.order_by_sql(&MACHINE, Dialect::Sqlite), "id ASC");
//! assert_eq!(q.other_params, vec![("tag".to_string(), "x".to_string())]);
//!
//! let doc = serde_json::json!({"id": "m1", "riskScore": "High"});
//! assert!(matches(q.filter.as_ref().unwrap(), &doc, &MACHINE));
//!
//! let err = parse_query("$filter=riskScore eq 'Critical'", &MACHINE).unwrap_err();
//! assert!(err.to_string().contains("'Critical' is not a valid value of riskScore"));
//! ```

mod ast;
mod datetime;
mod encode;
mod error;
mod eval;
mod lexer;
mod parser;
mod query;
mod schema;
mod sql;
mod validate;

pub use ast::{CmpOp, Expr, LambdaKind, Literal, Operand, OrderKey, StrFunc};
pub use datetime::{format_micros, parse_datetime};
pub use encode::{column_value, column_values};
pub use error::{ODataError, MESSAGE_PREFIX};
pub use eval::{compare, matches};
pub use parser::{MAX_DEPTH, MAX_VALUES};
pub use query::{parse_query, Query, SUPPORTED_OPTIONS};
pub use schema::{EntitySchema, PropType, Property};
pub use sql::{filter_sql, Dialect, SqlFragment, SqlValue, DOC_COLUMN};
