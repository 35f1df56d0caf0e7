//! tr-run.
