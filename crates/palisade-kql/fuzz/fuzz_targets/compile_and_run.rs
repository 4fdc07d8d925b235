//! Any text: compiling never panics; what compiles runs on an empty source within
//! a short deadline without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_kql::*;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let catalog = Catalog::defender_hunting();
    if let Ok(q) = compile(text, &catalog) {
        let mut opts = ExecOptions::hunting(chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default());
        opts.timeout = Some(std::time::Duration::from_millis(200));
        opts.memory_rows = 10_000;
        let _ = q.execute(&MemorySource::new(), &opts);
    }
});
