//! faults (being built).
