//! The emulator's clock: system time shifted by an offset, or frozen at an instant.
//!
//! Everything time-dependent (token expiry, action progression, data ages) reads this clock, so tests
//! and users can move time instead of sleeping.
//!
//! **Shared by every process on the store.** The clock's setting (offset or frozen instant, and a
//! version) is stored under the meta key [`CLOCK_META`]. A change ([`Core::change_clock`]) takes
//! the store lock `clock`, starts from the stored setting, applies itself, stores the result with
//! the next version and only then applies it here (so this process reads its own change at
//! once). Every process also runs a [`ClockSync`] thread that reads the stored setting every
//! [`CLOCK_REFRESH`] and applies a newer version: another process's change is seen here within
//! that period (plus one store read). `now()` itself stays a read of process memory.

use crate::{Core, DomainResult};
use chrono::{DateTime, TimeDelta, Utc};
use palisade_store::Store;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

/// The meta key of the shared clock setting.
pub const CLOCK_META: &str = "emulator_clock";
/// How often each process reads the shared clock setting: the bound on how late another
/// process's clock change is seen here.
pub const CLOCK_REFRESH: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub struct Clock {
    state: RwLock<ClockState>,
}

/// The clock's setting, as stored: the offset from system time and the frozen instant, in
/// milliseconds, and the version of the change that wrote it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ClockState {
    #[serde(with = "millis")]
    offset: TimeDelta,
    #[serde(with = "instant_millis")]
    frozen_at: Option<DateTime<Utc>>,
    version: u64,
}

mod millis {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_milliseconds())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        Ok(TimeDelta::milliseconds(i64::deserialize(d)?))
    }
}

mod instant_millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_some(&at.timestamp_millis()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.and_then(DateTime::from_timestamp_millis))
    }
}

impl Clock {
    fn snapshot(&self) -> ClockState {
        *self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a stored setting if it is newer than the one applied here.
    fn adopt(&self, stored: ClockState) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if stored.version > state.version {
            *state = stored;
        }
    }

    /// Reads the stored setting and adopts it if newer.
    pub(crate) fn sync_from(&self, store: &dyn Store) -> DomainResult<()> {
        if let Some(text) = store.get_meta(CLOCK_META)? {
            let stored: ClockState = serde_json::from_str(&text).map_err(palisade_store::StoreError::from)?;
            self.adopt(stored);
        }
        Ok(())
    }
}

impl Core {
    /// Changes the emulator's clock for every process on the store (see the module doc): `change`
    /// is applied to the current shared setting, which is then stored and applied here.
    pub fn change_clock(&self, change: impl FnOnce(&Clock)) -> DomainResult<()> {
        let _section = self.exclusive("clock")?;
        self.clock.sync_from(self.store.as_ref())?;
        let before = self.clock.snapshot();
        let scratch = Clock {
            state: RwLock::new(before),
        };
        change(&scratch);
        let after = ClockState {
            version: before.version + 1,
            ..scratch.snapshot()
        };
        let text = serde_json::to_string(&after).map_err(palisade_store::StoreError::from)?;
        self.store.set_meta(CLOCK_META, &text)?;
        self.clock.adopt(after);
        Ok(())
    }
}

/// The thread that keeps this process's clock on the shared setting (see the module doc), its
/// copy of the shared fault rules (see [`faults`](crate::control::faults)), and the leases of the
/// store locks it holds (see [`exclusive`](crate::exclusive)); stops when dropped.
pub struct ClockSync {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ClockSync {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        clock: Arc<Clock>,
        faults: Arc<crate::control::faults::FaultRules>,
        releases: Arc<crate::exclusive::Releases>,
    ) -> ClockSync {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("palisade-clock".into())
            .spawn(move || loop {
                if let Err(e) = clock.sync_from(store.as_ref()) {
                    tracing::warn!(error = %e, "shared clock not read; keeping the last setting");
                }
                if let Err(e) = faults.refresh(store.as_ref()) {
                    tracing::warn!(error = %e, "shared fault rules not read; keeping the last copy");
                }
                releases.renew(store.as_ref());
                let (stopped, wake) = &*thread_stop;
                let guard = stopped.lock().unwrap_or_else(|e| e.into_inner());
                let (guard, _) = wake
                    .wait_timeout_while(guard, CLOCK_REFRESH, |stopped| !*stopped)
                    .unwrap_or_else(|e| e.into_inner());
                if *guard {
                    return;
                }
            })
            .ok();
        ClockSync { stop, thread }
    }
}

impl Drop for ClockSync {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Clock {
    pub fn new() -> Self {
        Self::default()
    }

    /// The emulator's current time.
    pub fn now(&self) -> DateTime<Utc> {
        let state = *self.state.read().unwrap_or_else(|e| e.into_inner());
        state.frozen_at.unwrap_or_else(|| Utc::now() + state.offset)
    }

    /// Current time as Unix seconds (token claims).
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// Moves time forward (or back, with a negative delta), frozen or not.
    pub fn advance(&self, by: TimeDelta) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.offset += by;
        if let Some(at) = state.frozen_at.as_mut() {
            *at += by;
        }
    }

    /// Stops time at its current value.
    pub fn freeze(&self) {
        let now = self.now();
        self.state.write().unwrap_or_else(|e| e.into_inner()).frozen_at = Some(now);
    }

    /// Lets a frozen clock run again from where it stands.
    pub fn unfreeze(&self) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = state.frozen_at.take() {
            state.offset = at - Utc::now();
        }
    }

    /// Jumps to `at` (frozen or not).
    pub fn set(&self, at: DateTime<Utc>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match state.frozen_at.as_mut() {
            Some(frozen) => *frozen = at,
            None => state.offset = at - Utc::now(),
        }
    }

    /// Whether time stands still.
    pub fn is_frozen(&self) -> bool {
        self.state.read().unwrap_or_else(|e| e.into_inner()).frozen_at.is_some()
    }

    /// How far the clock is from real time.
    pub fn offset(&self) -> TimeDelta {
        self.now() - Utc::now()
    }

    /// Back to real time.
    pub fn reset(&self) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        *state = ClockState {
            version: state.version,
            ..ClockState::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let clock = Clock::new();
        clock.freeze();
        let t0 = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), t0);
        clock.advance(TimeDelta::hours(2));
        assert_eq!(clock.now(), t0 + TimeDelta::hours(2));
        clock.unfreeze();
        assert!(!clock.is_frozen());
        assert!((clock.offset() - TimeDelta::hours(2)).num_seconds().abs() < 2);
        let target = Utc::now() - TimeDelta::days(10);
        clock.set(target);
        assert!((clock.now() - target).num_seconds().abs() < 2);
        clock.reset();
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 2);
    }
}
