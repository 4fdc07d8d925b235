//! Microsoft Defender for Endpoint (`https://api.securitycenter.microsoft.com/api/...`): one module
//! per API family, each holding the operations and the rules the reference documents for it.

pub mod actions;
pub mod alerts;
pub mod indicators;
pub mod investigations;
pub mod library;
pub mod lookups;
pub mod machines;
pub mod support;
pub mod users;
pub mod validate;
