//! Database connection settings and the reachability check `lienthong validate` runs.
//! PostgreSQL, MySQL/MariaDB and SQLite are chosen by URL scheme.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::Connection;

use crate::config::{Problems, Secret, Validate, redact_url};

/// `[databases.<name>]`: one database a service reads or writes.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/db`, `mysql://...` (MariaDB too) or `sqlite://path`.
    /// A secret: it usually holds a password.
    pub url: Secret<String>,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}

/// The database kinds lienthong speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Postgres,
    MySql,
    Sqlite,
}

impl DatabaseConfig {
    pub fn kind(&self) -> Option<DatabaseKind> {
        let url = self.url.expose();
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => Some(DatabaseKind::Postgres),
            "mysql" | "mariadb" => Some(DatabaseKind::MySql),
            "sqlite" => Some(DatabaseKind::Sqlite),
            _ => None,
        }
    }

    /// The URL with its password hidden, for messages.
    pub fn display_url(&self) -> String {
        redact_url(self.url.expose())
    }
}

impl Validate for DatabaseConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.kind().is_none() {
            problems.push(
                "url",
                format!(
                    "{} is not a postgres://, mysql:// or sqlite:// URL",
                    self.display_url()
                ),
            );
        }
        if self.connect_timeout_ms == 0 {
            problems.push("connect_timeout_ms", "must be positive");
        }
    }
}

/// What a reachable database said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseCheckError {
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("no answer from {url} within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("connected to {url} but `SELECT 1` failed: {source}")]
    Query {
        url: String,
        #[source]
        source: sqlx::Error,
    },
}

/// Connects, runs `SELECT 1` and reads the server version; moves no data.
pub async fn check(config: &DatabaseConfig) -> Result<DatabaseInfo, DatabaseCheckError> {
    sqlx::any::install_default_drivers();
    let url = config.display_url();
    let timeout = Duration::from_millis(config.connect_timeout_ms);
    let connect = sqlx::AnyConnection::connect(config.url.expose());
    let mut conn = match tokio::time::timeout(timeout, connect).await {
        Err(_) => {
            return Err(DatabaseCheckError::Timeout {
                url,
                timeout_ms: config.connect_timeout_ms,
            });
        }
        Ok(Err(source)) => return Err(DatabaseCheckError::Connect { url, source }),
        Ok(Ok(conn)) => conn,
    };
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .map_err(|source| DatabaseCheckError::Query {
            url: url.clone(),
            source,
        })?;
    debug_assert_eq!(one, 1);
    let version_sql = match config.kind() {
        Some(DatabaseKind::Sqlite) => "SELECT 'SQLite ' || sqlite_version()",
        _ => "SELECT version()",
    };
    let version: String = sqlx::query_scalar(version_sql)
        .fetch_one(&mut conn)
        .await
        .map_err(|source| DatabaseCheckError::Query { url, source })?;
    let _ = conn.close().await;
    Ok(DatabaseInfo { version })
}
