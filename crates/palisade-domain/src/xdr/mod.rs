//! Microsoft Defender XDR (`https://api.security.microsoft.com/api/...`), one module per API
//! family as under [`crate::mde`]: [`incidents`] (advanced hunting to come).

pub mod incidents;
