//! SQL rendering of push-down requests (placeholder; filled below).
