//! What every taskrunner tool shares: the state directory, settings read
//! from the environment, task names, exit codes, the clock used in output
//! lines and the way diagnostics are printed.
//!
//! No domain logic lives here; each tool owns its own concern.

pub mod clock;
pub mod diag;
pub mod env;
pub mod exit;
pub mod name;
pub mod state;

pub use name::TaskName;
pub use state::StateDir;
