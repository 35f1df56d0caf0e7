//! tr-hash.
