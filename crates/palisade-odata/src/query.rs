//! Splitting the raw query string into options and parsing each of them.

use std::borrow::Cow;

use crate::ast::{Expr, OrderKey};
use crate::error::{char_pos, join, quote_token, suggest, ODataError};
use crate::parser::parse_filter;
use crate::schema::EntitySchema;
use crate::validate::validate_filter;

/// A validated query, ready for SQL translation or in-memory evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// `$filter`, if given.
    pub filter: Option<Expr>,
    /// `$orderby` keys in order (the key-column tie-breaker is *not* included here;
    /// SQL translation and [`crate::compare`] add it).
    pub orderby: Vec<OrderKey>,
    /// `$select` as canonical property names, in request order without duplicates;
    /// `None` when absent or `*`.
    pub select: Option<Vec<&'static str>>,
    /// `$expand` as canonical names from [`EntitySchema::expandable`], without
    /// duplicates (`*` expands everything).
    pub expand: Vec<&'static str>,
    /// `$top`, at most [`EntitySchema::max_top`]; `None` when absent (the caller picks
    /// its default page size).
    pub top: Option<u32>,
    /// `$skip`, 0 when absent.
    pub skip: u32,
    /// `$count=true`.
    pub count: bool,
    /// Parameters not starting with `$`, percent-decoded, in order of appearance.
    pub other_params: Vec<(String, String)>,
}

/// The supported system query options, in the order they are processed.
pub const SUPPORTED_OPTIONS: [&str; 7] = ["$filter", "$orderby", "$select", "$expand", "$top", "$skip", "$count"];

/// Standard OData options this engine deliberately does not implement; they get a
/// "not supported" rather than an "unknown" message.
const UNSUPPORTED_OPTIONS: [&str; 11] = [
    "$search",
    "$format",
    "$skiptoken",
    "$deltatoken",
    "$apply",
    "$compute",
    "$index",
    "$levels",
    "$schemaversion",
    "$id",
    "$batch",
];

/// Parses and validates the raw (still percent-encoded) query string of a request
/// URL against `schema`. A leading `?` is ignored.
///
/// `+` decodes to a space and `%XX` to the byte; invalid UTF-8 becomes U+FFFD.
/// System option names are matched case-insensitively (`$FILTER`), each may appear
/// once, and `$`-options outside [`SUPPORTED_OPTIONS`] are rejected.
pub fn parse_query(raw_query: &str, schema: &EntitySchema) -> Result<Query, ODataError> {
    let raw = raw_query.strip_prefix('?').unwrap_or(raw_query);
    let mut values: [Option<Cow<'_, str>>; 7] = Default::default();
    let mut query = Query::default();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        if !key.starts_with('$') {
            query.other_params.push((key.into_owned(), value.into_owned()));
            continue;
        }
        let Some(idx) = SUPPORTED_OPTIONS.iter().position(|o| o.eq_ignore_ascii_case(&key)) else {
            let known = UNSUPPORTED_OPTIONS.iter().any(|o| o.eq_ignore_ascii_case(&key));
            let hint = suggest(&key, SUPPORTED_OPTIONS.iter().copied())
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_default();
            return Err(ODataError::new(format_args!(
                "{} system query option {}; supported options are: {}{hint}",
                if known { "unsupported" } else { "unknown" },
                quote_token(&key),
                join(SUPPORTED_OPTIONS.iter().copied())
            )));
        };
        if values[idx].is_some() {
            return Err(ODataError::new(format_args!(
                "the system query option {} is given more than once{}",
                SUPPORTED_OPTIONS[idx],
                if idx == 0 {
                    "; combine the conditions into one $filter with 'and'"
                } else {
                    ""
                }
            )));
        }
        values[idx] = Some(value);
    }

    let [filter, orderby, select, expand, top, skip, count] = values;
    if let Some(v) = filter {
        let v = non_empty("$filter", &v, "a condition such as name eq 'value'")?;
        let node = parse_filter(v)?;
        query.filter = Some(validate_filter(&node, v, schema)?);
    }
    if let Some(v) = orderby {
        let v = non_empty("$orderby", &v, "a property name, optionally followed by asc or desc")?;
        query.orderby = parse_orderby(v, schema)?;
    }
    if let Some(v) = select {
        let v = non_empty("$select", &v, "a comma-separated list of property names")?;
        query.select = parse_select(v, schema)?;
    }
    if let Some(v) = expand {
        let v = non_empty("$expand", &v, "a comma-separated list of names to expand")?;
        query.expand = parse_expand(v, schema)?;
    }
    if let Some(v) = top {
        query.top = Some(parse_top(&v, schema.max_top)?);
    }
    if let Some(v) = skip {
        query.skip = parse_skip(&v)?;
    }
    if let Some(v) = count {
        query.count = parse_count(&v)?;
    }
    Ok(query)
}

fn non_empty<'v>(option: &str, v: &'v str, expected: &str) -> Result<&'v str, ODataError> {
    if v.trim().is_empty() {
        return Err(ODataError::new(format_args!(
            "{option} has an empty value; expected {expected}"
        )));
    }
    Ok(v)
}

/// Comma-separated items with the byte offset of each trimmed item.
fn items(v: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    v.split(',').map(move |raw| {
        let lead = raw.len() - raw.trim_start().len();
        let at = offset + lead;
        offset += raw.len() + 1;
        (at, raw.trim())
    })
}

/// Whitespace-separated words with their byte offsets relative to `item`.
fn words(item: &str) -> impl Iterator<Item = (usize, &str)> {
    item.split([' ', '\t'])
        .scan(0usize, |off, w| {
            let at = *off;
            *off += w.len() + 1;
            Some((at, w))
        })
        .filter(|(_, w)| !w.is_empty())
}

fn is_plain_name(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn empty_item(option: &str, v: &str, at: usize) -> ODataError {
    ODataError::in_option(
        option,
        format_args!(
            "empty item at position {} (check for a doubled or trailing comma)",
            char_pos(v, at)
        ),
    )
}

fn parse_orderby(v: &str, schema: &EntitySchema) -> Result<Vec<OrderKey>, ODataError> {
    const OPT: &str = "$orderby";
    let mut keys = Vec::new();
    for (at, item) in items(v) {
        if item.is_empty() {
            return Err(empty_item(OPT, v, at));
        }
        let mut ws = words(item).map(|(o, w)| (at + o, w));
        let Some((pat, name)) = ws.next() else {
            return Err(empty_item(OPT, v, at));
        };
        let pos = char_pos(v, pat);
        if !is_plain_name(name) {
            return Err(ODataError::in_option(
                OPT,
                format_args!(
                    "only property names can be used, got {} at position {pos}",
                    quote_token(name)
                ),
            ));
        }
        let sortable = schema.sortable_names();
        let Some(p) = schema.property(name) else {
            let hint = suggest(name, sortable.iter().copied())
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            return Err(ODataError::in_option(
                format_args!("{OPT}, position {pos}"),
                format_args!(
                    "property {} does not exist on {}; sortable properties are: {}{hint}",
                    quote_token(name),
                    schema.entity,
                    join(sortable.iter().copied())
                ),
            ));
        };
        if !p.can_sort() {
            return Err(ODataError::in_option(
                format_args!("{OPT}, position {pos}"),
                format_args!(
                    "property '{}' of {} cannot be used in $orderby; sortable properties are: {}",
                    p.name,
                    schema.entity,
                    join(sortable.iter().copied())
                ),
            ));
        }
        let descending = match ws.next() {
            None => false,
            Some((_, w)) if w.eq_ignore_ascii_case("asc") => false,
            Some((_, w)) if w.eq_ignore_ascii_case("desc") => true,
            Some((wat, w)) => {
                return Err(ODataError::in_option(
                    OPT,
                    format_args!(
                        "expected 'asc' or 'desc' after {}, got {} at position {}",
                        p.name,
                        quote_token(w),
                        char_pos(v, wat)
                    ),
                ))
            }
        };
        if let Some((wat, w)) = ws.next() {
            return Err(ODataError::in_option(
                OPT,
                format_args!(
                    "unexpected {} at position {}; separate sort keys with ','",
                    quote_token(w),
                    char_pos(v, wat)
                ),
            ));
        }
        keys.push(OrderKey {
            property: p,
            descending,
        });
    }
    Ok(keys)
}

fn parse_select(v: &str, schema: &EntitySchema) -> Result<Option<Vec<&'static str>>, ODataError> {
    const OPT: &str = "$select";
    if v.trim() == "*" {
        return Ok(None);
    }
    let mut out: Vec<&'static str> = Vec::new();
    for (at, item) in items(v) {
        if item.is_empty() {
            return Err(empty_item(OPT, v, at));
        }
        let pos = char_pos(v, at);
        if !is_plain_name(item) {
            return Err(ODataError::in_option(
                OPT,
                format_args!(
                    "{} at position {pos} is not a property name (paths, functions and '*' \
                     mixed with names are not supported)",
                    quote_token(item)
                ),
            ));
        }
        let Some(p) = schema.property(item) else {
            let all = schema.all_names();
            let hint = suggest(item, all.iter().copied())
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            return Err(ODataError::in_option(
                format_args!("{OPT}, position {pos}"),
                format_args!(
                    "property {} does not exist on {}; properties are: {}{hint}",
                    quote_token(item),
                    schema.entity,
                    join(all.iter().copied())
                ),
            ));
        };
        if !out.contains(&p.name) {
            out.push(p.name);
        }
    }
    Ok(Some(out))
}

fn parse_expand(v: &str, schema: &EntitySchema) -> Result<Vec<&'static str>, ODataError> {
    const OPT: &str = "$expand";
    let allowed = if schema.expandable.is_empty() {
        format!("{} has no expandable properties", schema.entity)
    } else {
        format!("expandable properties are: {}", join(schema.expandable.iter().copied()))
    };
    if v.trim() == "*" {
        return Ok(schema.expandable.to_vec());
    }
    if let Some(open) = v.find('(') {
        return Err(ODataError::in_option(
            OPT,
            format_args!(
                "nested options at position {} are not supported; {allowed}",
                char_pos(v, open)
            ),
        ));
    }
    let mut out: Vec<&'static str> = Vec::new();
    for (at, item) in items(v) {
        if item.is_empty() {
            return Err(empty_item(OPT, v, at));
        }
        let Some(name) = schema.expandable.iter().find(|e| e.eq_ignore_ascii_case(item)) else {
            return Err(ODataError::in_option(
                format_args!("{OPT}, position {}", char_pos(v, at)),
                format_args!(
                    "{} cannot be expanded on {}; {allowed}",
                    quote_token(item),
                    schema.entity
                ),
            ));
        };
        if !out.contains(name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Non-negative decimal integer without sign; `None` if malformed or above `max`.
fn parse_bounded(v: &str, max: u64) -> Option<u64> {
    let t = v.trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<u64>().ok().filter(|n| *n <= max)
}

fn parse_top(v: &str, max_top: u32) -> Result<u32, ODataError> {
    parse_bounded(v, u64::from(max_top))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            ODataError::new(format_args!(
                "$top must be an integer between 0 and {max_top}, got {}",
                quote_token(v)
            ))
        })
}

fn parse_skip(v: &str) -> Result<u32, ODataError> {
    parse_bounded(v, u64::from(u32::MAX))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            ODataError::new(format_args!(
                "$skip must be an integer between 0 and {}, got {}",
                u32::MAX,
                quote_token(v)
            ))
        })
}

fn parse_count(v: &str) -> Result<bool, ODataError> {
    match v.trim() {
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        t if t.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ODataError::new(format_args!(
            "$count must be true or false, got {}",
            quote_token(v)
        ))),
    }
}
