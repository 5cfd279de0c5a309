//! Errors of the simulator's own operation (not the platform errors it answers with, which are
//! HTTP responses described in the crate docs).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::ConfigProblem;

/// Why the simulator could not start or keep running. `Clone` so a supervisor can both log and
/// return it; sources are shared behind `Arc`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SimError {
    #[error("invalid platform-sim configuration: {}", join_problems(.0))]
    InvalidConfig(Vec<ConfigProblem>),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("platform-sim database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),
    #[error("platform-sim server failed: {0}")]
    Serve(#[source] Arc<std::io::Error>),
}

fn join_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
