//! tr-lock.
