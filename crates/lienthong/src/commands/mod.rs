//! One module per operator command.

use std::process::ExitCode;

pub mod config;
pub mod mapping;
pub mod schema;
pub mod source_mysql;
pub mod source_poll;
pub mod source_postgres;
pub mod topics;
pub mod translate;
pub mod validate;

/// A dependency (broker, database) could not be reached or refused us.
pub fn exit_dependency() -> ExitCode {
    ExitCode::from(1)
}
/// The configuration could not be loaded or is invalid.
pub fn exit_config() -> ExitCode {
    ExitCode::from(2)
}
