//! The emulator's own controls, outside any emulated API: tenants and app registrations, loading
//! and exporting data, the demo population, fault rules, tenant features, rate limits, the clock
//! and the error journal.

pub mod apps;
pub mod clock;
pub mod data;
pub mod demo;
pub mod faults;
pub mod features;
pub mod journal;
pub mod ratelimit;
pub mod tenants;
