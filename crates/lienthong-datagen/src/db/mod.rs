//! The source databases themselves: connecting (creating the database when asked), creating
//! the tables the shipped mappings expect, and bulk-loading generated rows.
//!
//! | module | database | loads with |
//! |---|---|---|
//! | [`postgres`] | civil-servant database, `public.ho_so_can_bo` | `COPY ... FROM STDIN` |
//! | [`mariadb`] | social-security database, `QUA_TRINH_THAM_GIA` | multi-row `INSERT`s in one transaction |
//!
//! URLs carry passwords: they are shown only through [`redact`].

pub mod mariadb;
pub mod postgres;

/// Why a database could not be prepared, loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{target}: not a database URL: {reason}")]
    Url { target: String, reason: String },
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{target}: {what}: {source}")]
    Statement {
        target: String,
        what: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "{target}: table {table} already holds {rows} row(s): seed an empty database, or pass --replace to drop and recreate the table"
    )]
    NotEmpty {
        target: String,
        table: String,
        rows: i64,
    },
}

impl DbError {
    /// Whether the error is the connection's (the server went away, a network problem), not a
    /// refusal of the statement by the server: the work can be retried after reconnecting.
    pub fn is_connection_lost(&self) -> bool {
        let source = match self {
            DbError::Connect { source, .. } | DbError::Statement { source, .. } => source,
            DbError::Url { .. } | DbError::NotEmpty { .. } => return false,
        };
        match source {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception: MariaDB's "server shutdown in progress"
            // is 08S01), PostgreSQL's "terminating connection due to administrator command" and
            // "the database system is shutting down / starting up" (57P01-57P03), MariaDB's
            // "connection was killed" (70100).
            sqlx::Error::Database(e) => e.code().is_some_and(|code| {
                code.starts_with("08")
                    || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "70100")
            }),
            _ => false,
        }
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Only URLs that cannot have a password refuse this.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<database URL>".to_owned(),
    }
}

/// The database a URL names (its path), if any.
pub fn database_name(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let name = parsed.path().trim_start_matches('/');
    (!name.is_empty()).then(|| name.to_owned())
}

/// Whether a database name can be written in SQL without quoting surprises: letters, digits
/// and underscores, not starting with a digit. Names the seed command creates must be such.
pub fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let shown = redact("postgres://lienthong:secret@127.0.0.1:55432/csdl");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("127.0.0.1:55432/csdl"), "{shown}");
        assert_eq!(redact("not a url"), "<database URL>");
        assert_eq!(
            database_name("mysql://u:p@h:1/bhxh").as_deref(),
            Some("bhxh")
        );
        assert_eq!(database_name("mysql://u:p@h:1"), None);
        assert!(is_plain_identifier("csdl_cbccvc"));
        assert!(!is_plain_identifier("x; DROP"));
        assert!(!is_plain_identifier("1abc"));
    }
}
