//! Reports task results as GitHub commit statuses, authenticated as a
//! GitHub App (SPEC §7).
//!
//! [`Reporter`] is the library entry point used by `tr-run`; [`rules`]
//! holds the decisions of when to report; [`run`] is the `tr-check`
//! binary. Everything is blocking: no async runtime is started, and
//! nothing touches the network before the first report.
//!
//! ```no_run
//! # fn main() -> Result<(), tr_check::CheckError> {
//! let state = tr_common::StateDir::from_env()?;
//! if tr_check::is_enabled() {
//!     let reporter = tr_check::Reporter::from_env(&state)?;
//!     let status = tr_check::rules::at_snapshot("build", false, true);
//!     if let Err(err) = reporter.report(&status) {
//!         // A failure to report is a warning, never a failed build.
//!         eprintln!("warning: {}", tr_common::diag::chain(&err));
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod cli;
mod config;
mod error;
mod http;
mod key;
pub mod rules;
mod status;
mod time;
mod token;

pub use cli::{command, run};
pub use config::{Config, ENABLE_VAR, REFRESH_THRESHOLD_VAR, RETRIES_VAR, TIMEOUT_VAR, is_enabled};
pub use error::CheckError;
pub use status::{Reporter, StatusRequest, StatusState};
