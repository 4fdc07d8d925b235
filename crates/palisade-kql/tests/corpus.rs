//! The query corpus: `corpus/valid.txt` (queries and their exact results on the
//! dataset of `common`) and `corpus/invalid.txt` (queries and their exact error
//! messages with stage, line and column).
//!
//! File format: blocks separated by a line `----`; a block's first line is the query
//! (`\n` in it stands for a line break), the rest is the expected output. Set
//! `KQL_BLESS=1` to rewrite the files from the current results (then review the
//! diff).

mod common;

use palisade_kql::*;

const VALID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/valid.txt");
const INVALID: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/invalid.txt");

fn blocks(text: &str) -> Vec<(String, String)> {
    text.split("\n----\n")
        .map(|b| b.trim_matches('\n'))
        .filter(|b| !b.is_empty())
        .map(|b| match b.split_once('\n') {
            Some((q, rest)) => (q.to_string(), rest.to_string()),
            None => (b.to_string(), String::new()),
        })
        .collect()
}

fn write(path: &str, items: &[(String, String)]) {
    let text: Vec<String> = items.iter().map(|(q, e)| format!("{q}\n{e}")).collect();
    std::fs::write(path, text.join("\n----\n") + "\n").expect("write corpus");
}

fn outcome(query: &str, src: &MemorySource) -> String {
    let catalog = Catalog::defender_hunting();
    match run(&query.replace("\\n", "\n"), &catalog, src, &common::opts()) {
        Ok(r) => common::format_result(&r),
        Err(e) => format!("ERROR {}", e.trace()),
    }
}

fn check(path: &str, want_error: bool, min: usize) {
    let text = std::fs::read_to_string(path).expect("read corpus");
    let items = blocks(&text);
    assert!(
        items.len() >= min,
        "{path}: {} entries, want at least {min}",
        items.len()
    );
    let src = common::dataset();
    let mut unpushed = common::dataset();
    unpushed.apply_pushdown = false;
    let bless = std::env::var("KQL_BLESS").is_ok();
    let mut out = Vec::new();
    let mut failures = Vec::new();
    for (q, expected) in &items {
        let got = outcome(q, &src);
        // The source applying the pushed filter or not must not matter.
        let got2 = outcome(q, &unpushed);
        assert_eq!(got, got2, "push-down changed the result of {q}");
        if got.starts_with("ERROR") != want_error {
            failures.push(format!("{q}\n  unexpected outcome: {got}"));
        }
        if !bless && got != *expected {
            failures.push(format!("{q}\n  expected:\n{expected}\n  got:\n{got}"));
        }
        out.push((q.clone(), got));
    }
    if bless {
        write(path, &out);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn valid_queries() {
    check(VALID, false, 150);
}

#[test]
fn invalid_queries() {
    check(INVALID, true, 40);
}
