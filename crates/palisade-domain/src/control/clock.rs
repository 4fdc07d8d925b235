//! The emulator's clock: system time shifted by an offset, or frozen at an instant.
//!
//! Everything time-dependent (token expiry, action progression, data ages) reads this clock, so tests
//! and users can move time instead of sleeping.

use chrono::{DateTime, TimeDelta, Utc};
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct Clock {
    state: RwLock<ClockState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClockState {
    offset: TimeDelta,
    frozen_at: Option<DateTime<Utc>>,
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
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = ClockState::default();
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
