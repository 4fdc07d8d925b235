//! Execution limits, push-down requests as the source sees them, and the Defender
//! API rendering.

mod common;

use std::cell::RefCell;
use std::time::Duration;

use palisade_kql::*;

fn catalog() -> Catalog {
    Catalog::defender_hunting()
}

/// Records the requests and delegates to a memory source.
struct Recording {
    inner: MemorySource,
    seen: RefCell<Vec<ScanRequest>>,
}

impl RowSource for Recording {
    fn scan(&self, request: &ScanRequest) -> Result<RowIter<'_>, SourceError> {
        self.seen.borrow_mut().push(request.clone());
        self.inner.scan(request)
    }
}

fn big(n: usize) -> MemorySource {
    let mut src = MemorySource::new();
    let t = datetime_to_ticks(common::now());
    src.add_table(
        "DeviceEvents",
        vec!["Timestamp".into(), "DeviceName".into(), "ActionType".into()],
        (0..n)
            .map(|i| {
                vec![
                    Value::DateTime(t - i as i64),
                    Value::str(format!("h{}", i % 50)),
                    Value::str("X"),
                ]
            })
            .collect(),
    );
    src
}

#[test]
fn rows_beyond_the_cap_are_cut_and_flagged() {
    let mut opts = common::opts();
    opts.max_rows = 3;
    let r = run("DeviceProcessEvents", &catalog(), &common::dataset(), &opts).unwrap();
    assert_eq!(r.rows.len(), 3);
    assert!(r.truncated);
    opts.max_rows = 11;
    let r = run("DeviceProcessEvents", &catalog(), &common::dataset(), &opts).unwrap();
    assert_eq!(r.rows.len(), 11);
    assert!(!r.truncated);
}

#[test]
fn deadline_stops_execution() {
    let mut opts = common::opts();
    opts.timeout = Some(Duration::ZERO);
    let e = run(
        "DeviceEvents | summarize count() by DeviceName",
        &catalog(),
        &big(5000),
        &opts,
    )
    .unwrap_err();
    assert_eq!(e.message, "Query exceeded the timeout period.");
    assert_eq!((e.stage, e.kind), (Stage::Execution, ErrorKind::Timeout));
}

#[test]
fn memory_budget_applies_to_summarize_sort_and_join() {
    let mut opts = common::opts();
    opts.memory_rows = 10;
    for q in [
        "DeviceEvents | summarize count() by DeviceName",
        "DeviceEvents | sort by DeviceName",
        "DeviceEvents | join kind=inner (DeviceEvents) on DeviceName",
    ] {
        let e = run(q, &catalog(), &big(100), &opts).unwrap_err();
        assert_eq!(e.message, "Query stopped due to excessive resource consumption.", "{q}");
        assert_eq!(e.kind, ErrorKind::ResourceLimit);
    }
    // `top` keeps only N rows, so it is not limited by the budget.
    assert!(run("DeviceEvents | top 5 by DeviceName", &catalog(), &big(100), &opts).is_ok());
}

#[test]
fn lookback_window() {
    let mut opts = common::opts();
    let r = run(
        "DeviceProcessEvents | where FileName == 'old.exe'",
        &catalog(),
        &common::dataset(),
        &opts,
    )
    .unwrap();
    assert_eq!(r.rows.len(), 0);
    opts.lookback = None;
    let r = run(
        "DeviceProcessEvents | where FileName == 'old.exe'",
        &catalog(),
        &common::dataset(),
        &opts,
    )
    .unwrap();
    assert_eq!(r.rows.len(), 1);
}

#[test]
fn scan_requests_carry_projection_filter_window_and_limit() {
    let src = Recording {
        inner: common::dataset(),
        seen: RefCell::new(Vec::new()),
    };
    let cat = catalog();
    let opts = common::opts();
    run(
        "DeviceProcessEvents | where FileName =~ 'cmd.exe' and FileSize > 10 | take 2 | project DeviceName",
        &cat,
        &src,
        &opts,
    )
    .unwrap();
    {
        let seen = src.seen.borrow();
        let req = &seen[0];
        assert_eq!(req.table, "DeviceProcessEvents");
        assert_eq!(req.columns, vec!["Timestamp", "DeviceName", "FileName", "FileSize"]);
        assert_eq!(
            req.predicates,
            vec![
                Predicate::EqualsCi {
                    column: "FileName".into(),
                    value: "cmd.exe".into(),
                    negated: false
                },
                Predicate::Compare {
                    column: "FileSize".into(),
                    op: CmpOp::Gt,
                    value: Value::Long(10)
                },
            ]
        );
        assert_eq!(req.limit, Some(2));
        let w = req.time_window.as_ref().unwrap();
        assert_eq!(w.column, "Timestamp");
        assert_eq!(w.from, datetime_to_ticks(common::now()) - 30 * TICKS_PER_DAY);
    }
    src.seen.borrow_mut().clear();
    // A conjunct that cannot be pushed: no limit, the rest still pushed.
    run(
        "DeviceProcessEvents | where strlen(FileName) > 3 and ActionType == 'ProcessCreated' | take 2",
        &cat,
        &src,
        &opts,
    )
    .unwrap();
    let seen = src.seen.borrow();
    assert_eq!(seen[0].limit, None);
    assert_eq!(seen[0].predicates.len(), 1);
}

#[test]
fn defender_json_shape() {
    let r = run(
        "DeviceProcessEvents | where FileName == 'lsass.exe' | project Timestamp, FileName, FileSize, AdditionalFields, ProcessId, Age = now() - Timestamp, IsBig = FileSize > 1, Ratio = 1.5",
        &catalog(),
        &common::dataset(),
        &common::opts(),
    )
    .unwrap();
    let j = r.to_defender_json();
    assert_eq!(
        j["Schema"],
        serde_json::json!([
            {"Name": "Timestamp", "Type": "DateTime"},
            {"Name": "FileName", "Type": "String"},
            {"Name": "FileSize", "Type": "Int64"},
            {"Name": "AdditionalFields", "Type": "Dynamic"},
            {"Name": "ProcessId", "Type": "Int64"},
            {"Name": "Age", "Type": "TimeSpan"},
            {"Name": "IsBig", "Type": "Boolean"},
            {"Name": "Ratio", "Type": "Double"},
        ])
    );
    assert_eq!(
        j["Results"],
        serde_json::json!([{
            "Timestamp": "2025-06-13T12:30:00.0000000Z",
            "FileName": "lsass.exe",
            "FileSize": null,
            "AdditionalFields": null,
            "ProcessId": 4,
            "Age": "1.23:30:00",
            "IsBig": null,
            "Ratio": 1.5,
        }])
    );
    assert!(j["Stats"]["ExecutionTime"].is_number());
    assert!(j["Stats"]["resource_usage"]["cpu"]["total cpu"].is_string());
    // Strings are never null, even when a source returns null.
    let r = run(
        "DeviceInfo | where DeviceName == 'mac-1' | project OSVersion",
        &catalog(),
        &common::dataset(),
        &common::opts(),
    )
    .unwrap();
    assert_eq!(r.results_json(), serde_json::json!([{"OSVersion": ""}]));
}

#[test]
fn errors_carry_stage_and_position() {
    let cat = catalog();
    let e = compile("DeviceInfo\n| where OSBuild > 'x'", &cat).unwrap_err();
    assert_eq!((e.stage, e.line, e.column), (Stage::Semantic, 2, 9));
    let e = compile("DeviceInfo\n| where OSBuild > ", &cat).unwrap_err();
    assert_eq!((e.stage, e.line), (Stage::Parse, 2));
    let e = compile("DeviceInfo | where x == 'abc", &cat).unwrap_err();
    assert_eq!(e.stage, Stage::Lex);
    assert_eq!(e.trace(), format!("lex 1:25: {}", e.message));
}

#[test]
fn join_output_streams_past_the_memory_budget() {
    let mut opts = common::opts();
    opts.memory_rows = 150;
    opts.max_rows = 10;
    // 100 rows on each side, 50 keys: 200 output rows, more than the budget; only
    // the right side (100 rows) is held.
    let r = run(
        "DeviceEvents | join kind=inner (DeviceEvents) on DeviceName",
        &catalog(),
        &big(100),
        &opts,
    )
    .unwrap();
    assert_eq!(r.rows.len(), 10);
    assert!(r.truncated);
    opts.max_rows = 1000;
    let r = run(
        "DeviceEvents | join kind=fullouter (DeviceEvents | take 10) on DeviceName | count",
        &catalog(),
        &big(100),
        &opts,
    )
    .unwrap();
    assert_eq!(r.rows[0][0], Value::Long(100));
}

#[test]
fn compiled_queries_and_results_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CompiledQuery>();
    send_sync::<QueryResult>();
    send_sync::<KqlError>();
    send_sync::<Catalog>();
    send_sync::<ScanRequest>();
}

#[test]
fn sort_then_take_is_a_top_n() {
    let mut opts = common::opts();
    opts.memory_rows = 10;
    let r = run(
        "DeviceEvents | sort by Timestamp asc | take 3 | project DeviceName",
        &catalog(),
        &big(100),
        &opts,
    )
    .unwrap();
    assert_eq!(
        r.rows,
        vec![
            vec![Value::str("h49")],
            vec![Value::str("h48")],
            vec![Value::str("h47")]
        ]
    );
}

#[test]
fn top_is_offered_to_the_source_with_its_order() {
    let src = Recording {
        inner: common::dataset(),
        seen: RefCell::new(Vec::new()),
    };
    let r = run(
        "DeviceProcessEvents | where ActionType == 'ProcessCreated' | top 2 by FileSize asc nulls last | project FileName, FileSize",
        &catalog(),
        &src,
        &common::opts(),
    )
    .unwrap();
    assert_eq!(
        r.rows,
        vec![
            vec![Value::str("notepad.exe"), Value::Long(200)],
            vec![Value::str("whoami.exe"), Value::Long(300)]
        ]
    );
    let seen = src.seen.borrow();
    assert_eq!(seen[0].limit, Some(2));
    assert_eq!(
        seen[0].order_by,
        vec![OrderKey {
            column: "FileSize".into(),
            descending: false,
            nulls_first: false,
            is_string: false
        }]
    );
    let sql = sql::scan_sql(
        &seen[0],
        "t",
        None,
        &|c| c.to_string(),
        sql::SqlOptions {
            dialect: sql::Dialect::Sqlite,
            strings_not_null: false,
            first_param: 1,
        },
    );
    assert!(
        sql.sql.ends_with("ORDER BY FileSize IS NULL ASC, FileSize ASC LIMIT 2"),
        "{}",
        sql.sql
    );
}

#[test]
fn extreme_values_do_not_overflow() {
    let cat = catalog();
    let src = common::dataset();
    let opts = common::opts();
    for q in [
        "print bin(-9223372036854775807 - 1, 3), bin(-9223372036854775807, 7), -(-9223372036854775807 - 1)",
        "print x = (-9223372036854775807 - 1) / -1, y = (-9223372036854775807 - 1) % -1, z = 9223372036854775807 + 1",
        "print d = datetime(2025-01-01) + 3650000d * 1000, e = datetime_diff('week', datetime(2025-01-01) + 1000000d * 100, datetime(2025-01-01))",
        "print startofweek(datetime(2025-01-01), 9223372036854775807), endofday(datetime(2025-01-01), -9223372036854775807), endofmonth(datetime(2025-01-01), 9223372036854775807)",
        "print dayofweek(datetime(2025-01-01) - 1000000d * 10000), bin(datetime(2025-01-01) - 1000000d * 10000, 7d)",
        "print unixtime_seconds_todatetime(9223372036854775807), unixtime_milliseconds_todatetime(1e300), datetime_add('year', 9223372036854775807, now())",
        "print bin(-1000000d * 10675, 3h), abs(-9223372036854775807 - 1), round(1e308, 15), toint(1e300)",
        "print format_datetime(datetime(2025-01-01) + 1000000d * 100, 'yyyy'), tostring(datetime(2025-01-01) - 1000000d * 1000)",
        "print substring('abc', -5, 9223372036854775807), split('a', '', 9223372036854775807), strlen(strcat_delim(',', '', ''))",
    ] {
        if let Err(e) = run(q, &cat, &src, &opts) {
            eprintln!("{q}: {e}");
        }
    }
}
