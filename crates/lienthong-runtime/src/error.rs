//! The one classification of failures, used by every stage to decide what to do next:
//! retry, stop for an operator, or dead-letter the record and go on.
//!
//! Stages implement [`Classify`] for their own error types by delegating to the functions here
//! for the parts that come from shared components (Kafka, databases, HTTP platforms), so that a
//! given failure means the same thing everywhere.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What to do about a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Likely to succeed when tried again (network, broker leader change, timeout, 5xx, 429):
    /// retry with exponential backoff and jitter.
    Transient,
    /// Cannot succeed until someone changes something (credentials, privileges, missing topic,
    /// server settings): stop with this hint rather than spin.
    NeedsOperator { hint: String },
    /// This record can never be processed as it is: dead-letter it with `kind` and go on.
    DeadLetter { kind: &'static str },
}

impl ErrorClass {
    pub fn operator(hint: impl Into<String>) -> Self {
        Self::NeedsOperator { hint: hint.into() }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient)
    }
}

/// An error that knows its [`ErrorClass`].
pub trait Classify {
    fn class(&self) -> ErrorClass;
}

impl Classify for KafkaError {
    fn class(&self) -> ErrorClass {
        classify_kafka(self)
    }
}

impl Classify for crate::kafka::ProduceError {
    fn class(&self) -> ErrorClass {
        match self.kafka() {
            Some(e) => classify_kafka(e),
            // The producer is shutting down: the record was not acknowledged, try again later.
            None => ErrorClass::Transient,
        }
    }
}

impl Classify for crate::kafka::AdminError {
    fn class(&self) -> ErrorClass {
        use crate::kafka::AdminError;
        match self {
            AdminError::Unreachable { .. } => ErrorClass::Transient,
            AdminError::Missing { topic } => ErrorClass::operator(format!(
                "create topic {topic}, or set kafka.topics.create = true"
            )),
            AdminError::CreateFailed { code, topic } => match code {
                RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed => ErrorClass::operator(format!(
                    "grant this client CREATE on topic {topic} or create it beforehand"
                )),
                RDKafkaErrorCode::InvalidReplicationFactor => ErrorClass::operator(
                    "kafka.topics replication_factor exceeds the number of brokers",
                ),
                _ => ErrorClass::Transient,
            },
            AdminError::Request(e) => classify_kafka(e),
        }
    }
}

/// Kafka client errors.
pub fn classify_kafka(error: &KafkaError) -> ErrorClass {
    use RDKafkaErrorCode as C;
    let code = match error {
        KafkaError::ClientConfig(_, _, _, _) | KafkaError::ClientCreation(_) => {
            return ErrorClass::operator(format!("fix the Kafka client settings: {error}"));
        }
        other => other.rdkafka_error_code(),
    };
    match code {
        Some(C::MessageSizeTooLarge | C::InvalidMessageSize | C::InvalidRecord) => {
            ErrorClass::DeadLetter { kind: "too-large" }
        }
        Some(
            C::TopicAuthorizationFailed
            | C::GroupAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication,
        ) => ErrorClass::operator(format!("check the Kafka credentials and ACLs: {error}")),
        Some(C::UnknownTopic | C::UnknownTopicOrPartition) => ErrorClass::operator(format!(
            "a topic is missing; let the service create it (kafka.topics.create) or create it: {error}"
        )),
        _ => ErrorClass::Transient,
    }
}

/// Database errors (any sqlx driver). SQLSTATE classes: 08 connection, 40 transaction
/// rollback, 53 insufficient resources, 57 operator intervention are transient; 28 auth and
/// 42501 privilege need an operator; 22 data and 23 integrity are the record's fault.
pub fn classify_sqlx(error: &sqlx::Error) -> ErrorClass {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => ErrorClass::Transient,
        sqlx::Error::Configuration(e) => {
            ErrorClass::operator(format!("fix the database connection settings: {e}"))
        }
        sqlx::Error::PoolClosed => ErrorClass::operator("the database pool was closed"),
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
            ErrorClass::DeadLetter { kind: "decode" }
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            classify_sqlstate(&code, &db.to_string())
        }
        other => ErrorClass::operator(format!("unexpected database error: {other}")),
    }
}

/// A SQLSTATE code (five characters).
pub fn classify_sqlstate(code: &str, message: &str) -> ErrorClass {
    match code.get(..2).unwrap_or_default() {
        "08" | "40" | "53" | "57" | "HY" => ErrorClass::Transient,
        "28" => ErrorClass::operator(format!("database authentication failed: {message}")),
        "22" => ErrorClass::DeadLetter { kind: "data" },
        "23" => ErrorClass::DeadLetter { kind: "integrity" },
        "42" if code == "42501" => {
            ErrorClass::operator(format!("the database user lacks a privilege: {message}"))
        }
        _ => ErrorClass::operator(format!("database error {code}: {message}")),
    }
}

/// An HTTP response status from a platform endpoint.
pub fn classify_http_status(status: u16) -> ErrorClass {
    match status {
        408 | 425 | 429 | 500..=599 => ErrorClass::Transient,
        401 | 403 => ErrorClass::operator(format!(
            "the platform refused our credentials (HTTP {status}); check the token or certificate"
        )),
        400..=499 => ErrorClass::DeadLetter { kind: "http-4xx" },
        _ => ErrorClass::operator(format!("unexpected HTTP status {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::RDKafkaErrorCode as C;

    #[test]
    fn kafka_errors() {
        let transient = KafkaError::MessageProduction(C::BrokerTransportFailure);
        assert_eq!(classify_kafka(&transient), ErrorClass::Transient);
        let timeout = KafkaError::MessageProduction(C::MessageTimedOut);
        assert_eq!(classify_kafka(&timeout), ErrorClass::Transient);
        let too_large = KafkaError::MessageProduction(C::MessageSizeTooLarge);
        assert_eq!(
            classify_kafka(&too_large),
            ErrorClass::DeadLetter { kind: "too-large" }
        );
        let denied = KafkaError::MessageProduction(C::TopicAuthorizationFailed);
        assert!(matches!(
            classify_kafka(&denied),
            ErrorClass::NeedsOperator { .. }
        ));
    }

    #[test]
    fn sqlstates() {
        assert_eq!(classify_sqlstate("08006", "x"), ErrorClass::Transient);
        assert_eq!(classify_sqlstate("40001", "x"), ErrorClass::Transient);
        assert!(matches!(
            classify_sqlstate("28P01", "x"),
            ErrorClass::NeedsOperator { .. }
        ));
        assert!(matches!(
            classify_sqlstate("42501", "x"),
            ErrorClass::NeedsOperator { .. }
        ));
        assert_eq!(
            classify_sqlstate("22007", "x"),
            ErrorClass::DeadLetter { kind: "data" }
        );
    }

    #[test]
    fn http_statuses() {
        for s in [429, 500, 502, 503, 504, 408] {
            assert_eq!(classify_http_status(s), ErrorClass::Transient, "{s}");
        }
        for s in [401, 403] {
            assert!(matches!(
                classify_http_status(s),
                ErrorClass::NeedsOperator { .. }
            ));
        }
        for s in [400, 404, 409, 422] {
            assert_eq!(
                classify_http_status(s),
                ErrorClass::DeadLetter { kind: "http-4xx" },
                "{s}"
            );
        }
    }
}
