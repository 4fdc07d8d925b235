//! Property tests.
//! - Random well-typed filters, projections, takes and summarizes give the same rows
//!   evaluated in memory (source ignores push-down) and through the SQL rendering
//!   of the push-down on an in-memory SQLite database (scans and GROUP BY).
//! - The lexer, parser and semantic pass never panic and always terminate on
//!   arbitrary text and on mutations of valid queries.

mod common;

use palisade_kql::sql::{aggregate_sql, scan_sql, SqlOptions, SqlValue};
use palisade_kql::*;
use proptest::prelude::*;
use rusqlite::Connection;

const COLS: &[(&str, KqlType)] = &[
    ("Timestamp", KqlType::DateTime),
    ("Name", KqlType::String),
    ("Kind", KqlType::String),
    ("N", KqlType::Long),
    ("R", KqlType::Real),
    ("Flag", KqlType::Bool),
    ("Dur", KqlType::TimeSpan),
    ("Id", KqlType::Guid),
];

const IDS: &[&str] = &[
    "00000000-0000-0000-0000-000000000001",
    "0a0b0c0d-0000-0000-0000-00000000000f",
];

fn catalog() -> Catalog {
    Catalog::new(vec![TableSchema::new(
        "T",
        COLS.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
    )])
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
}

const NAMES: &[&str] = &[
    "alpha",
    "Alpha",
    "beta",
    "cmd.exe",
    "C:\\cmd.exe run",
    "",
    "net user",
    "a_b%c",
];
const KINDS: &[&str] = &["x", "y", "Z"];

prop_compose! {
    fn row()(ago in 0i64..40, name in 0..NAMES.len(), kind in 0..KINDS.len(), n in prop::option::of(-5i64..20),
             r in prop::option::of(-3.0f64..3.0), flag in any::<bool>(), null_name in prop::bool::weighted(0.1),
             dur in prop::option::of(0i64..180), id in prop::option::of(0..IDS.len())) -> Vec<Value> {
        let t = datetime_to_ticks(now()) - ago * TICKS_PER_DAY;
        vec![
            Value::DateTime(t),
            if null_name { Value::Null } else { Value::str(NAMES[name]) },
            Value::str(KINDS[kind]),
            n.map(Value::Long).unwrap_or(Value::Null),
            r.map(|x| Value::Real((x * 4.0).round() / 4.0)).unwrap_or(Value::Null),
            Value::Bool(flag),
            dur.map(|m| Value::TimeSpan(m * TICKS_PER_MINUTE)).unwrap_or(Value::Null),
            id.map(|i| Value::Guid(IDS[i].to_string())).unwrap_or(Value::Null),
        ]
    }
}

fn pred() -> impl Strategy<Value = String> {
    let s = prop::sample::select(vec![
        "alpha", "ALPHA", "cmd", "cmd.exe", "", "net", "a_b%", "user", "C:\\",
    ]);
    let op = prop::sample::select(vec![
        "==",
        "!=",
        "=~",
        "!~",
        "has",
        "!has",
        "has_cs",
        "contains",
        "!contains",
        "contains_cs",
        "startswith",
        "!startswith",
        "startswith_cs",
        "endswith",
        "endswith_cs",
        "!endswith",
        "<",
        ">=",
    ]);
    prop_oneof![
        (op, s.clone()).prop_map(|(o, v)| format!("Name {o} \"{}\"", v.replace('\\', "\\\\"))),
        (prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]), -6i64..22)
            .prop_map(|(o, v)| format!("N {o} {v}")),
        (prop::sample::select(vec!["<", ">="]), -3i64..3).prop_map(|(o, v)| format!("R {o} {v}.5")),
        (-5i64..10, 0i64..10).prop_map(|(a, b)| format!("N between ({a} .. {})", a + b)),
        (-5i64..10, 0i64..10).prop_map(|(a, b)| format!("N !between ({a} .. {})", a + b)),
        prop::collection::vec(-5i64..20, 1..4).prop_map(|v| format!(
            "N in ({})",
            v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
        )),
        prop::sample::select(vec!["in", "!in", "in~", "!in~"]).prop_map(|o| format!("Kind {o} (\"x\", \"z\")")),
        (1i64..45).prop_map(|d| format!("Timestamp > ago({d}d)")),
        Just("Flag".to_string()),
        Just("Flag == false".to_string()),
        Just("isnull(N)".to_string()),
        Just("isempty(Name)".to_string()),
        (prop::sample::select(vec![">", "<=", "=="]), 0i64..180).prop_map(|(o, m)| format!("Dur {o} {m}m")),
        (0i64..90, 0i64..90).prop_map(|(a, b)| format!("Dur between ({a}m .. {}m)", a + b)),
        prop::sample::select(vec!["==", "!="]).prop_map(|o| format!("Id {o} guid({})", IDS[0])),
        Just(format!("Id in (guid({}), guid({}))", IDS[0], IDS[1])),
        Just("isnull(Id)".to_string()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let filter = prop::collection::vec(pred(), 0..3)
        .prop_map(|ps| ps.iter().map(|p| format!(" | where {p}")).collect::<String>());
    let tail = prop_oneof![
        Just(" | project Name, N, Kind".to_string()),
        (0u64..6).prop_map(|n| format!(" | take {n} | project Name, N")),
        Just(" | summarize count() by Name".to_string()),
        Just(" | summarize count(), dcount(Kind), sum(N), min(N), max(N) by Kind".to_string()),
        Just(" | summarize count(), sum(N), min(Timestamp), max(N)".to_string()),
        Just(" | summarize dcount(Name) by Kind, Flag".to_string()),
        Just(" | summarize avg(R), make_set(Kind) by Name | project Name, avg_R, array_length(set_Kind)".to_string()),
        Just(" | extend M = N * 2 | where M > 4 | project Name, M".to_string()),
        Just(" | count".to_string()),
        Just(" | summarize min(Dur), max(Dur), count() by Kind".to_string()),
        Just(" | summarize count(), dcount(Kind) by Id".to_string()),
        Just(" | summarize sum(Dur), avg(Dur) by Flag".to_string()),
        Just(" | distinct Kind, Flag".to_string()),
        (1i64..10).prop_map(|d| format!(" | summarize count(), max(N) by bin(Timestamp, {d}d)")),
        (1i64..7).prop_map(|s| format!(" | summarize count(), dcount(Kind) by bin(N, {s}), Kind")),
        (1i64..50).prop_map(|m| format!(" | summarize sum(N) by bin(Timestamp, {m}h), Flag")),
        Just(" | summarize count(), min(Dur) by startofday(Timestamp)".to_string()),
        (1u64..5).prop_map(|n| format!(" | top {n} by N asc | project N")),
        (1u64..5).prop_map(|n| format!(" | top {n} by Name | project Name")),
        (1u64..5).prop_map(|n| format!(" | sort by Timestamp desc | take {n} | project Timestamp")),
        (1u64..5).prop_map(|n| format!(" | top {n} by R nulls first | project R")),
        (1u64..5).prop_map(|n| format!(" | top {n} by Dur asc nulls last | project Dur")),
        (1u64..5).prop_map(|n| format!(" | top {n} by Id | project Id")),
        (1u64..5).prop_map(|n| format!(" | order by Flag asc | take {n} | project Flag")),
    ];
    (filter, tail).prop_map(|(f, t)| format!("T{f}{t}"))
}

struct Sqlite {
    conn: Connection,
    strings_not_null: bool,
}

fn to_sql(v: &SqlValue) -> rusqlite::types::Value {
    match v {
        SqlValue::Null => rusqlite::types::Value::Null,
        SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
        SqlValue::Real(r) => rusqlite::types::Value::Real(*r),
        SqlValue::Text(s) => rusqlite::types::Value::Text(s.clone()),
    }
}

impl Sqlite {
    fn new(rows: &[Vec<Value>], strings_not_null: bool) -> Self {
        let conn = Connection::open_in_memory().expect("sqlite");
        conn.execute_batch(
            "CREATE TABLE t (Timestamp INTEGER, Name TEXT, Kind TEXT, N INTEGER, R REAL, Flag INTEGER, Dur INTEGER, Id TEXT)",
        )
            .expect("create");
        for r in rows {
            let vals: Vec<rusqlite::types::Value> = r
                .iter()
                .zip(COLS)
                .map(|(v, (_, t))| match (v, t) {
                    (Value::Null, KqlType::String) if strings_not_null => rusqlite::types::Value::Text(String::new()),
                    _ => to_sql(&sql::sql_value(v)),
                })
                .collect();
            conn.execute(
                "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params_from_iter(vals),
            )
            .expect("insert");
        }
        Sqlite { conn, strings_not_null }
    }

    fn opts(&self) -> SqlOptions {
        SqlOptions {
            dialect: sql::Dialect::Sqlite,
            strings_not_null: self.strings_not_null,
            first_param: 1,
        }
    }

    fn query(&self, f: &sql::SqlFragment, n: usize) -> Result<Vec<Row>, SourceError> {
        let mut st = self
            .conn
            .prepare(&f.sql)
            .map_err(|e| SourceError(format!("{e}: {}", f.sql)))?;
        let params: Vec<rusqlite::types::Value> = f.params.iter().map(to_sql).collect();
        let rows = st
            .query_map(rusqlite::params_from_iter(params), |r| {
                let mut out = Vec::with_capacity(n);
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i)?;
                    out.push(match v {
                        rusqlite::types::Value::Null => Value::Null,
                        rusqlite::types::Value::Integer(i) => Value::Long(i),
                        rusqlite::types::Value::Real(x) => Value::Real(x),
                        rusqlite::types::Value::Text(s) => Value::String(s),
                        rusqlite::types::Value::Blob(_) => Value::Null,
                    });
                }
                Ok(out)
            })
            .map_err(|e| SourceError(e.to_string()))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| SourceError(e.to_string()))
    }
}

impl RowSource for Sqlite {
    fn scan(&self, req: &ScanRequest) -> Result<RowIter<'_>, SourceError> {
        let f = scan_sql(req, "t", None, &|c| c.to_string(), self.opts());
        let rows = self.query(&f, req.columns.len().max(1))?;
        let rows: Vec<Row> = if req.columns.is_empty() {
            rows.into_iter().map(|_| Vec::new()).collect()
        } else {
            rows
        };
        Ok(Box::new(rows.into_iter().map(Ok)))
    }

    fn aggregate(&self, req: &AggregateRequest) -> Result<Option<RowIter<'_>>, SourceError> {
        let is_string = |c: &str| COLS.iter().any(|(n, t)| *n == c && *t == KqlType::String);
        let Some(f) = aggregate_sql(req, "t", None, &|c| c.to_string(), &is_string, self.opts()) else {
            return Ok(None);
        };
        let rows = self.query(&f, req.group_by.len() + req.aggregates.len())?;
        Ok(Some(Box::new(rows.into_iter().map(Ok))))
    }
}

fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by(|a, b| {
        for (x, y) in a.iter().zip(b) {
            let o = total_cmp(x, y);
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    rows
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn sql_and_memory_agree(rows in prop::collection::vec(row(), 0..25), q in query(), not_null in any::<bool>()) {
        let cat = catalog();
        let compiled = compile(&q, &cat).map_err(|e| TestCaseError::fail(format!("{q}: {e}")))?;
        let opts = ExecOptions::hunting(now());
        let mut mem = MemorySource::new();
        mem.apply_pushdown = false;
        mem.add_table("T", COLS.iter().map(|(n, _)| n.to_string()).collect(), rows.clone());
        let a = compiled.execute(&mem, &opts).map_err(|e| TestCaseError::fail(format!("{q}: {e}")))?;
        let db = Sqlite::new(&rows, not_null);
        let b = compiled.execute(&db, &opts).map_err(|e| TestCaseError::fail(format!("{q}: {e}")))?;
        prop_assert_eq!(&a.columns, &b.columns);
        if q.contains("| take") && !q.contains("by") {
            // Which rows `take` returns is unspecified; the count must agree.
            prop_assert_eq!(a.rows.len(), b.rows.len(), "{}", q);
        } else {
            prop_assert_eq!(sorted(a.rows), sorted(b.rows), "{}", q);
        }
    }

    #[test]
    fn front_end_never_panics(s in "\\PC{0,200}") {
        let _ = compile(&s, &Catalog::defender_hunting());
    }

    #[test]
    fn mutated_queries_never_panic(i in 0usize..8, cut in 0usize..120, junk in "[ -~]{0,6}") {
        const BASE: &[&str] = &[
            "DeviceProcessEvents | where FileName =~ \"cmd.exe\" | summarize count() by DeviceName",
            "let f = (x:long) { x * 2 };\nDeviceInfo | extend y = f(OSBuild) | top 3 by y",
            "DeviceInfo | join kind=leftouter (DeviceNetworkEvents | distinct DeviceId) on DeviceId",
            "union withsource=S DeviceInfo, DeviceEvents | summarize arg_max(Timestamp, *) by DeviceId",
            "DeviceProcessEvents | parse ProcessCommandLine with * \"-s \" X:long | mv-expand AdditionalFields.Tags",
            "print datetime(2025-01-01) + 1d, dynamic({\"a\":[1,2]}).a[1], bin(now(), 1h)",
            "DeviceFileEvents | where Timestamp between (ago(1d) .. now()) and FolderPath has_any (\"temp\", \"x\")",
            "DeviceLogonEvents | project-away Init* | project-rename A = AccountName | getschema",
        ];
        let base = BASE[i];
        let chars: Vec<char> = base.chars().collect();
        let cut = cut.min(chars.len());
        let mutated: String = chars[..cut].iter().collect::<String>() + &junk + &chars[cut..].iter().collect::<String>();
        let cat = Catalog::defender_hunting();
        if let Ok(q) = compile(&mutated, &cat) {
            let mut opts = ExecOptions::hunting(now());
            opts.timeout = Some(std::time::Duration::from_secs(5));
            let _ = q.execute(&MemorySource::new(), &opts);
        }
    }
}

fn corpus_queries() -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/valid.txt")).unwrap_or_default();
    text.split("\n----\n")
        .filter_map(|b| b.trim_matches('\n').lines().next())
        .map(|q| q.replace("\\n", "\n"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

    /// Every corpus query, cut, spliced with junk or with a piece of another query,
    /// compiles or fails cleanly, and what compiles runs on the dataset without
    /// panicking.
    #[test]
    fn mutated_corpus_queries_run_or_fail_cleanly(
        i in any::<prop::sample::Index>(),
        j in any::<prop::sample::Index>(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        junk in "[ -~]{0,4}",
        mode in 0u8..3,
    ) {
        let qs = corpus_queries();
        prop_assume!(!qs.is_empty());
        let q: Vec<char> = qs[i.index(qs.len())].chars().collect();
        let other: Vec<char> = qs[j.index(qs.len())].chars().collect();
        let x = a.index(q.len() + 1);
        let y = b.index(q.len() + 1);
        let (x, y) = (x.min(y), x.max(y));
        let mutated: String = match mode {
            0 => q[..x].iter().chain(junk.chars().collect::<Vec<_>>().iter()).chain(q[y..].iter()).collect(),
            1 => q[..x].iter().chain(other[b.index(other.len() + 1)..].iter()).collect(),
            _ => q[..x].iter().chain(q[y..].iter()).collect(),
        };
        let cat = Catalog::defender_hunting();
        if let Ok(c) = compile(&mutated, &cat) {
            let mut opts = common::opts();
            opts.timeout = Some(std::time::Duration::from_secs(5));
            let _ = c.execute(&common::dataset(), &opts);
        }
    }
}

#[test]
fn deep_and_long_inputs_are_refused_not_crashing() {
    let cat = Catalog::defender_hunting();
    for q in [
        format!("print {}1{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("print 1{}", " + 1".repeat(50_000)),
        format!("DeviceInfo{}", " | take 1".repeat(1000)),
        format!("print {}", "-".repeat(10_000) + "1"),
        format!("print {}x", "not(".repeat(5000)),
        format!("print dynamic({}{})", "[".repeat(10_000), "]".repeat(10_000)),
        "let f = (x:long) { f(x) };\nprint f(1)".to_string(),
        (0..30)
            .map(|i| format!("let t{} = union t{i}, t{i};\n", i + 1))
            .collect::<String>()
            .replacen("union t0, t0", "DeviceInfo", 1)
            + "t30",
    ] {
        let r = compile(&q, &cat);
        assert!(r.is_err(), "{}", &q[..q.len().min(80)]);
    }
}

#[test]
fn sql_shapes() {
    let req = ScanRequest {
        table: "T".into(),
        columns: vec!["Name".into(), "N".into()],
        predicates: vec![
            Predicate::Text {
                column: "Name".into(),
                op: StrOp::Contains,
                needle: "a%b".into(),
                case_sensitive: false,
                negated: false,
            },
            Predicate::Compare {
                column: "N".into(),
                op: CmpOp::Ge,
                value: Value::Long(3),
            },
            Predicate::Compare {
                column: "Name".into(),
                op: CmpOp::Ne,
                value: Value::str("x"),
            },
        ],
        time_window: Some(TimeWindow {
            column: "Timestamp".into(),
            from: 5,
        }),
        limit: Some(10),
        order_by: vec![],
        deadline: None,
    };
    let f = scan_sql(
        &req,
        "t",
        Some("tenant_id = ?1"),
        &|c| format!("c_{c}"),
        SqlOptions {
            dialect: sql::Dialect::Sqlite,
            strings_not_null: false,
            first_param: 2,
        },
    );
    assert_eq!(f.sql, "SELECT c_Name, c_N FROM t WHERE (tenant_id = ?1) AND c_Timestamp >= ?2 AND (c_Name LIKE ?3 ESCAPE '\\') AND (c_N >= ?4) AND (COALESCE(c_Name, '') <> ?5) LIMIT 10");
    assert_eq!(f.params[1], SqlValue::Text("%a\\%b%".into()));
    let f = scan_sql(
        &req,
        "t",
        None,
        &|c| c.to_string(),
        SqlOptions {
            dialect: sql::Dialect::Postgres,
            strings_not_null: true,
            first_param: 1,
        },
    );
    assert_eq!(f.sql, "SELECT Name, N FROM t WHERE Timestamp >= $1 AND (Name COLLATE \"C\" ILIKE $2 ESCAPE '\\') AND (N >= $3) AND (Name COLLATE \"C\" <> $4) LIMIT 10");
}

#[test]
fn summarize_count_is_pushed_to_sql() {
    let rows: Vec<Vec<Value>> = (0..100)
        .map(|i| {
            vec![
                Value::DateTime(datetime_to_ticks(now())),
                Value::str(format!("h{}", i % 7)),
                Value::str("x"),
                Value::Long(i),
                Value::Null,
                Value::Bool(true),
                Value::Null,
                Value::Null,
            ]
        })
        .collect();
    let db = Sqlite::new(&rows, true);
    let r = run(
        "T | where N >= 10 | summarize count() by Name",
        &catalog(),
        &db,
        &ExecOptions::hunting(now()),
    )
    .unwrap();
    assert_eq!(r.stats.pushed_aggregates, 1);
    assert_eq!(r.stats.rows_read, 0);
    assert_eq!(r.rows.len(), 7);
    let r = run(
        "T | summarize count() by bin(N, 25), bin(Timestamp, 1h)",
        &catalog(),
        &db,
        &ExecOptions::hunting(now()),
    )
    .unwrap();
    assert_eq!(r.stats.pushed_aggregates, 1);
    let hour = datetime_to_ticks(now()) / TICKS_PER_HOUR * TICKS_PER_HOUR;
    let mut got = r.rows.clone();
    got.sort_by(|a, b| total_cmp(&a[0], &b[0]));
    assert_eq!(
        got,
        (0..4)
            .map(|k| vec![Value::Long(k * 25), Value::DateTime(hour), Value::Long(25)])
            .collect::<Vec<_>>()
    );
}

const FUNCTION_NAMES: &[&str] = &[
    "ago",
    "now",
    "bin",
    "floor",
    "startofday",
    "startofweek",
    "startofmonth",
    "startofyear",
    "endofday",
    "endofweek",
    "endofmonth",
    "format_datetime",
    "datetime_diff",
    "datetime_add",
    "dayofweek",
    "dayofmonth",
    "dayofyear",
    "getyear",
    "getmonth",
    "hourofday",
    "unixtime_seconds_todatetime",
    "unixtime_milliseconds_todatetime",
    "tolower",
    "toupper",
    "strlen",
    "substring",
    "strcat",
    "strcat_delim",
    "split",
    "replace_string",
    "replace_regex",
    "trim",
    "indexof",
    "countof",
    "reverse",
    "extract",
    "extract_all",
    "base64_encode_tostring",
    "base64_decode_tostring",
    "parse_json",
    "todynamic",
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "tobool",
    "todatetime",
    "totimespan",
    "toguid",
    "iff",
    "case",
    "coalesce",
    "isnull",
    "isnotnull",
    "isempty",
    "isnotempty",
    "array_length",
    "array_concat",
    "pack",
    "bag_pack",
    "pack_array",
    "bag_keys",
    "not",
    "abs",
    "round",
    "sqrt",
    "log10",
    "gettype",
    "ipv4_is_private",
    "ipv4_is_in_range",
    "toscalar",
    "prev",
    "next",
    "row_number",
];

const AGG_NAMES: &[&str] = &[
    "count",
    "countif",
    "dcount",
    "dcountif",
    "sum",
    "sumif",
    "avg",
    "avgif",
    "min",
    "max",
    "make_set",
    "make_list",
    "make_set_if",
    "make_list_if",
    "arg_max",
    "arg_min",
    "any",
    "take_any",
    "percentile",
    "stdev",
    "variancep",
    "stdevif",
    "maxif",
    "minif",
    "anyif",
];

const ARGS: &[&str] = &[
    "(-9223372036854775807 - 1)",
    "9223372036854775807",
    "0",
    "-1",
    "7",
    "1.5",
    "-0.0",
    "1e308",
    "\"\"",
    "\"abc\"",
    "\"a.b.c\"",
    "\"(\\\\d+)\"",
    "\"\\\\1\"",
    "\"10.1.2.3\"",
    "\"10.0.0.0/8\"",
    "\"aGk=\"",
    "\"2025-01-01\"",
    "\"01:00:00\"",
    "\"day\"",
    "\"month\"",
    "datetime(2025-01-01)",
    "datetime(null)",
    "1d",
    "-1d",
    "0d",
    "dynamic([1, \"a\", null])",
    "dynamic({\"a\": 1})",
    "dynamic(null)",
    "dynamic(\"s\")",
    "long(null)",
    "real(null)",
    "true",
    "false",
    "guid(00000000-0000-0000-0000-000000000001)",
    "V",
    "N",
    "S",
    "D",
    "T",
    "J",
    "B",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, .. ProptestConfig::default() })]

    /// Every function and aggregate with arbitrary literal and column arguments
    /// (including extreme values) is refused or evaluated without panicking.
    #[test]
    fn functions_on_odd_arguments(
        f in prop::sample::select(FUNCTION_NAMES),
        agg in prop::sample::select(AGG_NAMES),
        args in prop::collection::vec(prop::sample::select(ARGS), 0..4),
        use_agg in any::<bool>(),
    ) {
        let table = "datatable(V:long, N:real, S:string, D:datetime, T:timespan, J:dynamic, B:bool) \
            [9223372036854775807, 1e308, \"x\", datetime(2025-01-01), 1d, dynamic([1]), true, \
             long(null), real(null), \"\", datetime(null), timespan(null), dynamic(null), bool(null), \
             (-9223372036854775807 - 1), -0.0, \"10.0.0.1\", datetime(1970-01-01), -1d, dynamic({\"a\":[1]}), false]";
        let call = format!("{}({})", if use_agg { agg } else { f }, args.join(", "));
        let q = if use_agg {
            format!("{table} | summarize x = {call} by B")
        } else {
            format!("{table} | serialize | extend x = {call} | summarize count() by tostring(x)")
        };
        let cat = Catalog::defender_hunting();
        if let Ok(c) = compile(&q, &cat) {
            let _ = c.execute(&MemorySource::new(), &ExecOptions::hunting(now()));
        }
    }
}

/// Regressions found by `functions_on_odd_arguments`: a month offset of `i64::MIN` was negated
/// (overflow panic) in `startofmonth` and `datetime_add`.
#[test]
fn month_offsets_of_i64_min_do_not_panic() {
    let cat = Catalog::defender_hunting();
    for q in [
        "print x = startofmonth(datetime(2025-01-01), (-9223372036854775807 - 1))",
        "print x = datetime_add('month', (-9223372036854775807 - 1), datetime(2025-01-01))",
        "print x = datetime_add('year', (-9223372036854775807 - 1), datetime(2025-01-01))",
    ] {
        if let Ok(c) = compile(q, &cat) {
            let _ = c.execute(&MemorySource::new(), &ExecOptions::hunting(now()));
        }
    }
}

/// Found by `mutated_corpus_queries_run_or_fail_cleanly`: a pattern naming one column twice (here a
/// missing `|` turned `project Rest` into pattern words) broke the column mapping.
#[test]
fn a_parse_pattern_naming_a_column_twice_is_refused() {
    let cat = Catalog::defender_hunting();
    let query = r#"DeviceProcessEvents | parse ProcessCommandLine with Exe " " Rest  project Rest | take 3"#;
    match compile(query, &cat) {
        Ok(_) => panic!("compiled: {query}"),
        Err(e) => assert!(e.message.contains("'Rest' is already declared"), "{}", e.message),
    }
}
