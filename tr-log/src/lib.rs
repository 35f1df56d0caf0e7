//! tr-log.
