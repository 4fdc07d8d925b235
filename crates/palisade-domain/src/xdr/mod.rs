//! Microsoft Defender XDR (`https://api.security.microsoft.com/api/...`): incidents and advanced
//! hunting go here, one module per API family as under [`crate::mde`]. Nothing is emulated yet.
