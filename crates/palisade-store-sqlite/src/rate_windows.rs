//! Rate-limit windows: each window of a call is one `INSERT .. ON CONFLICT .. DO UPDATE ..
//! RETURNING` whose `WHERE` refuses a full window, all windows of a call in one `IMMEDIATE`
//! transaction, so the call is counted in every window or in none, whichever process asks.

use crate::SqliteStore;
use palisade_store::{Admission, RateWindowStore, StoreError, WindowLimit};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

/// Counts the call in an open window with room, or opens a new window; answers nothing (no row)
/// when the open window is full. `?2` now, `?3` the window's length, `?4` its limit.
const COUNT: &str = "INSERT INTO rate_windows (key, opened_ms, count) VALUES (?1, ?2, 1) \
    ON CONFLICT (key) DO UPDATE SET \
        opened_ms = CASE WHEN opened_ms <= ?2 AND ?2 < opened_ms + ?3 THEN opened_ms ELSE ?2 END, \
        count = CASE WHEN opened_ms <= ?2 AND ?2 < opened_ms + ?3 THEN count + 1 ELSE 1 END \
    WHERE NOT (opened_ms <= ?2 AND ?2 < opened_ms + ?3 AND count >= ?4) \
    RETURNING count";

fn window_key(key: &str, window: &WindowLimit) -> String {
    format!("{key}\u{0}{}", window.length_ms)
}

impl RateWindowStore for SqliteStore {
    fn count_call(&self, key: &str, windows: &[WindowLimit], now_ms: i64) -> Result<Admission, StoreError> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut refusal: Option<(usize, i64)> = None;
            for (n, window) in windows.iter().enumerate() {
                let counted: Option<i64> = tx
                    .prepare_cached(COUNT)?
                    .query_row(
                        params![window_key(key, window), now_ms, window.length_ms, window.limit],
                        |r| r.get(0),
                    )
                    .optional()?;
                if counted.is_some() {
                    continue;
                }
                let opened: i64 = tx.query_row(
                    "SELECT opened_ms FROM rate_windows WHERE key = ?1",
                    [window_key(key, window)],
                    |r| r.get(0),
                )?;
                let wait = opened + window.length_ms - now_ms;
                if refusal.is_none_or(|(_, longest)| wait > longest) {
                    refusal = Some((n, wait));
                }
            }
            Ok(match refusal {
                // Dropping the transaction rolls back what the other windows counted.
                Some((window, retry_after_ms)) => Admission::Refused { window, retry_after_ms },
                None => {
                    tx.commit()?;
                    Admission::Admitted
                }
            })
        })
    }

    fn clear_rate_windows(&self) -> Result<(), StoreError> {
        self.write(|c| Ok(c.execute("DELETE FROM rate_windows", []).map(|_| ())?))
    }
}
