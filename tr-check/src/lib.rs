//! tr-check.
