//! Palisade's data model: the entities exactly as the emulated APIs spell them, their OData
//! schemas and store tables, tenants and app registrations, and the few records the store keeps
//! besides (error journal, observations, relations). Serde and schemas only: no rules, no storage.
//!
//! Tour: [`entities`] the API's shapes; [`schemas`] their OData schemas and tables; [`tenant`]
//! tenants, app registrations and their settings; [`journal`] the error record; [`observation`]
//! what alert evidence observed; [`links`] relation kinds; [`time`] the API's timestamps; [`graph`]
//! the same entities in Microsoft Graph's security shapes.

pub mod entities;
pub mod graph;
pub mod journal;
pub mod links;
pub mod observation;
pub mod schemas;
pub mod tenant;
pub mod time;
