//! Why a store operation failed, and what to do about it.

use lienthong_runtime::error::{Classify, ErrorClass, classify_sqlx};

use crate::entity::Entity;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the store database {url}: {source}")]
    Connect {
        /// The URL with its password hidden.
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("the store's schema migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("store database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A page token this store did not issue, or issued for another query.
    #[error("the page token is not one this store issued for this query")]
    InvalidPageToken,
    /// A stored body that is not the entity's message: the table was written by something else.
    #[error("the stored {entity} version {record_id} is not a lienthong.v1.{message}: {source}", message = entity.message_name())]
    Corrupt {
        entity: Entity,
        record_id: String,
        #[source]
        source: prost::DecodeError,
    },
}

impl Classify for StoreError {
    fn class(&self) -> ErrorClass {
        match self {
            StoreError::Connect { source, .. } => match classify_sqlx(source) {
                // Refused connections and unknown hosts come as I/O errors: the database may
                // be starting.
                ErrorClass::DeadLetter { .. } => ErrorClass::Transient,
                class => class,
            },
            StoreError::Migrate(e) => ErrorClass::operator(format!(
                "the store's schema (lienthong_store) cannot be migrated: {e}"
            )),
            StoreError::Database(e) => classify_database(e),
            StoreError::InvalidPageToken => ErrorClass::DeadLetter { kind: "page-token" },
            StoreError::Corrupt { .. } => ErrorClass::operator(self.to_string()),
        }
    }
}

/// A unique violation while writing means another writer stored the same record at the same
/// moment (a rebalance handing a partition over): trying again sees its row. Other data and
/// integrity errors are the record's fault.
fn classify_database(error: &sqlx::Error) -> ErrorClass {
    if let sqlx::Error::Database(db) = error
        && db.code().as_deref() == Some("23505")
    {
        return ErrorClass::Transient;
    }
    classify_sqlx(error)
}
