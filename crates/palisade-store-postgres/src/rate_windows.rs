//! Rate-limit windows: each window of a call is one `INSERT .. ON CONFLICT .. DO UPDATE .. WHERE
//! .. RETURNING` that refuses a full window, all windows of a call in one transaction, so the call
//! is counted in every window or in none, whichever process asks. The upsert locks the window's
//! row until the transaction ends, so two processes counting the same window take turns.

use crate::PostgresStore;
use palisade_store::{Admission, RateWindowStore, StoreError, WindowLimit};

/// Counts the call in an open window with room, or opens a new window; answers no row when the
/// open window is full. `$2` now, `$3` the window's length, `$4` its limit.
const COUNT: &str = "INSERT INTO rate_windows AS w (key, opened_ms, count) VALUES ($1, $2, 1) \
    ON CONFLICT (key) DO UPDATE SET \
        opened_ms = CASE WHEN w.opened_ms <= $2 AND $2 < w.opened_ms + $3 THEN w.opened_ms ELSE $2 END, \
        count = CASE WHEN w.opened_ms <= $2 AND $2 < w.opened_ms + $3 THEN w.count + 1 ELSE 1 END \
    WHERE NOT (w.opened_ms <= $2 AND $2 < w.opened_ms + $3 AND w.count >= $4) \
    RETURNING count";

/// The row key of one window of `key`. PostgreSQL text cannot hold NUL, which the domain's keys
/// use as their separator: NUL, U+0001 and U+0002 are escaped (U+0001 then a digit), so distinct
/// keys stay distinct, and U+0002 then separates the window's length.
fn window_key(key: &str, window: &WindowLimit) -> String {
    let mut escaped = String::with_capacity(key.len() + 16);
    for c in key.chars() {
        match c {
            '\u{0}' => escaped.push_str("\u{1}0"),
            '\u{1}' => escaped.push_str("\u{1}1"),
            '\u{2}' => escaped.push_str("\u{1}2"),
            c => escaped.push(c),
        }
    }
    escaped.push('\u{2}');
    escaped.push_str(&window.length_ms.to_string());
    escaped
}

impl RateWindowStore for PostgresStore {
    fn count_call(&self, key: &str, windows: &[WindowLimit], now_ms: i64) -> Result<Admission, StoreError> {
        self.write(|c| {
            let count = c.statement(COUNT)?;
            let opened = c.statement("SELECT opened_ms FROM rate_windows WHERE key = $1")?;
            let mut tx = c.client.transaction()?;
            let mut refusal: Option<(usize, i64)> = None;
            for (n, window) in windows.iter().enumerate() {
                let window_key = window_key(key, window);
                let limit = i64::from(window.limit);
                if tx
                    .query_opt(&count, &[&window_key, &now_ms, &window.length_ms, &limit])?
                    .is_some()
                {
                    continue;
                }
                // The refused upsert still locked the row: this reads the window that refused.
                let opened: i64 = tx.query_one(&opened, &[&window_key])?.get(0);
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
        self.write(|c| Ok(c.client.execute("DELETE FROM rate_windows", &[]).map(|_| ())?))
    }
}
