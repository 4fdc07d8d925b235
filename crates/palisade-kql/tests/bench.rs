//! Timing figures (ignored by default; run with
//! `cargo test --release -p palisade-kql --test bench -- --ignored --nocapture`).

use std::time::Instant;

use palisade_kql::sql::{aggregate_sql, scan_sql, Dialect, SqlOptions, SqlValue};
use palisade_kql::*;

const N: usize = 1_000_000;

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
}

#[test]
#[ignore]
fn summarize_one_million_rows() {
    let cat = Catalog::defender_hunting();
    let base = datetime_to_ticks(now());
    let rows: Vec<Vec<Value>> = (0..N)
        .map(|i| {
            vec![
                Value::DateTime(base - (i as i64 % 1000) * TICKS_PER_MINUTE),
                Value::str(format!("host-{:04}", i % 1000)),
                Value::str(if i % 3 == 0 { "cmd.exe" } else { "svchost.exe" }),
            ]
        })
        .collect();
    let mut src = MemorySource::new();
    src.add_table(
        "DeviceProcessEvents",
        vec!["Timestamp".into(), "DeviceName".into(), "FileName".into()],
        rows.clone(),
    );
    let opts = ExecOptions::hunting(now());
    for q in [
        "DeviceProcessEvents | summarize count() by DeviceName",
        "DeviceProcessEvents | where FileName == \"cmd.exe\" | summarize count() by DeviceName",
        "DeviceProcessEvents | where FileName has \"cmd\" | count",
        "DeviceProcessEvents | top 10 by Timestamp desc",
    ] {
        let t = Instant::now();
        let r = run(q, &cat, &src, &opts).unwrap();
        println!(
            "memory  {:>8.1} ms  {} rows  {q}",
            t.elapsed().as_secs_f64() * 1000.0,
            r.rows.len()
        );
    }

    // SQLite: the aggregate push-down and a streamed scan, as a store would run them.
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE dpe (ts INTEGER NOT NULL, device_name TEXT NOT NULL, file_name TEXT NOT NULL)")
        .unwrap();
    {
        let tx = conn.unchecked_transaction().unwrap();
        let mut st = tx.prepare("INSERT INTO dpe VALUES (?1, ?2, ?3)").unwrap();
        for r in &rows {
            let (Value::DateTime(t), Value::String(d), Value::String(f)) = (&r[0], &r[1], &r[2]) else {
                continue;
            };
            st.execute(rusqlite::params![t, d, f]).unwrap();
        }
        drop(st);
        tx.commit().unwrap();
    }
    conn.execute_batch("CREATE INDEX dpe_dev ON dpe (device_name, ts)")
        .unwrap();
    let col = |c: &str| match c {
        "Timestamp" => "ts".to_string(),
        "DeviceName" => "device_name".to_string(),
        "FileName" => "file_name".to_string(),
        other => format!("\"{other}\""),
    };
    let opts_sql = SqlOptions {
        dialect: Dialect::Sqlite,
        strings_not_null: true,
        first_param: 1,
    };
    let req = AggregateRequest {
        scan: ScanRequest {
            table: "DeviceProcessEvents".into(),
            columns: vec![],
            predicates: vec![],
            time_window: Some(TimeWindow {
                column: "Timestamp".into(),
                from: base - 30 * TICKS_PER_DAY,
            }),
            limit: None,
            order_by: vec![],
            deadline: None,
        },
        group_by: vec![GroupKey::Column("DeviceName".into())],
        aggregates: vec![PushedAggregate::Count],
    };
    let f = aggregate_sql(&req, "dpe", None, &col, &|_| true, opts_sql).unwrap();
    let params: Vec<i64> = f
        .params
        .iter()
        .map(|p| if let SqlValue::Int(i) = p { *i } else { 0 })
        .collect();
    let t = Instant::now();
    let mut st = conn.prepare(&f.sql).unwrap();
    let n = st
        .query_map(rusqlite::params_from_iter(params.iter()), |_| Ok(()))
        .unwrap()
        .count();
    println!(
        "sqlite  {:>8.1} ms  {n} groups  {}",
        t.elapsed().as_secs_f64() * 1000.0,
        f.sql
    );
    let scan = scan_sql(&req.scan, "dpe", None, &col, opts_sql);
    let t = Instant::now();
    let mut st = conn
        .prepare(&scan.sql.replace("SELECT 1", "SELECT device_name"))
        .unwrap();
    let n = st
        .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get::<_, String>(0))
        .unwrap()
        .count();
    println!(
        "sqlite  {:>8.1} ms  {n} rows streamed  {}",
        t.elapsed().as_secs_f64() * 1000.0,
        scan.sql
    );
}
