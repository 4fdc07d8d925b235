//! The behaviour every backend must show (filled in below).
