//! The error journal's policy: every error response is kept under its `target` tracking id, the
//! newest `capacity` of them, in the store (so `palisade trace` in another process finds them).

use crate::{Core, DomainResult};
use palisade_model::journal::ErrorRecord;

impl Core {
    /// Keeps an error response's record, dropping the oldest beyond `capacity`.
    pub fn record_error(&self, record: &ErrorRecord, capacity: usize) -> DomainResult<()> {
        Ok(self.store.record_error(record, capacity)?)
    }

    /// The record of an error target (any case), if it is still kept.
    pub fn find_error(&self, target: &str) -> DomainResult<Option<ErrorRecord>> {
        Ok(self.store.find_error(target)?)
    }
}
