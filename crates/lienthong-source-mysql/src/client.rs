//! The binlog connection: registers as a replica and streams raw events from a position.
//!
//! Only the transport comes from `mysql_async` (handshake, every authentication plugin the
//! servers use, packet framing, `COM_REGISTER_SLAVE` and `COM_BINLOG_DUMP[_GTID]`). Each event is
//! handed on as the exact bytes the server sent — header, body and the server's own checksum —
//! and decoded by this crate's [`binlog`](crate::binlog) decoder, which verifies that checksum.
//!
//! How the stream is started depends on the server:
//!
//! | server | resumes by | how |
//! |---|---|---|
//! | MariaDB, GTID position known | GTID | `@mariadb_slave_capability=4` (the replica understands GTID events) and `@slave_connect_state=<position>`; the server finds the file and offset itself |
//! | MySQL, GTID set known | GTID | `COM_BINLOG_DUMP_GTID` with the executed set |
//! | either, no GTIDs | file and offset | `COM_BINLOG_DUMP` |

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use mysql_async::binlog::events::Event as TransportEvent;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, GnoInterval, Opts, OptsBuilder, Sid};

use crate::binlog::ServerFlavor;
use crate::position::{GtidState, StreamPosition};

/// Why the binlog connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("binlog connection URL: {0}")]
    Url(String),
    #[error("binlog connection: {0}")]
    Transport(#[from] mysql_async::Error),
    #[error("the server sent no event for {0:?} (heartbeats included): connection presumed dead")]
    Silent(Duration),
    #[error("the server ended the binlog stream")]
    Ended,
    #[error("re-encoding event: {0}")]
    Event(String),
}

impl ClientError {
    /// The server's error code, when the server refused something.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            Self::Transport(mysql_async::Error::Server(e)) => Some(e.code),
            _ => None,
        }
    }
}

/// Server error codes of the binlog dump that an operator must act on.
pub mod server_errors {
    /// `ER_MASTER_FATAL_ERROR_READING_BINLOG`: the requested position or GTID is gone (binlogs
    /// purged) or invalid.
    pub const FATAL_READING_BINLOG: u16 = 1236;
    /// `ER_SPECIFIC_ACCESS_DENIED_ERROR`: a privilege (REPLICATION SLAVE) is missing.
    pub const SPECIFIC_ACCESS_DENIED: u16 = 1227;
    /// `ER_ACCESS_DENIED_ERROR`: wrong user or password.
    pub const ACCESS_DENIED: u16 = 1045;
    /// `ER_DBACCESS_DENIED_ERROR`.
    pub const DB_ACCESS_DENIED: u16 = 1044;
}

/// Connection options of the binlog connection from a `mysql://` (or `mariadb://`) URL.
pub fn connection_options(url: &str) -> Result<Opts, ClientError> {
    let url = normalise_url(url);
    let opts = Opts::from_url(&url).map_err(|e| ClientError::Url(e.to_string()))?;
    Ok(OptsBuilder::from_opts(opts)
        // The server's own socket path is only valid on its host.
        .prefer_socket(false)
        .stmt_cache_size(0)
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .into())
}

/// `mariadb://` → `mysql://`, the scheme the client libraries know.
pub fn normalise_url(url: &str) -> String {
    match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_string(),
    }
}

/// A running binlog stream of raw events.
pub struct BinlogConnection {
    stream: Pin<Box<dyn Stream<Item = Result<TransportEvent, mysql_async::Error>> + Send>>,
    silence_limit: Duration,
}

impl std::fmt::Debug for BinlogConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogConnection")
            .field("silence_limit", &self.silence_limit)
            .finish_non_exhaustive()
    }
}

impl BinlogConnection {
    /// Connects, registers as replica `server_id` and starts the stream after `from`.
    /// The server sends a heartbeat event after `heartbeat` without events.
    pub async fn start(
        opts: Opts,
        server_id: u32,
        flavor: ServerFlavor,
        from: &StreamPosition,
        heartbeat: Duration,
    ) -> Result<Self, ClientError> {
        let mut conn = Conn::new(opts).await?;
        let heartbeat_ns = heartbeat.as_nanos().min(u128::from(u64::MAX)) as u64;
        conn.query_drop(format!("SET @master_heartbeat_period = {heartbeat_ns}"))
            .await?;
        let use_gtid = from.gtid.usable();
        let request = BinlogStreamRequest::new(server_id);
        let request = match (&from.gtid, flavor, use_gtid) {
            (GtidState::Mariadb(position), ServerFlavor::MariaDb, true) => {
                // The text comes from our own formatting (digits, '-' and ','), quoted all the same.
                let text = position.to_string().replace('\'', "");
                for statement in [
                    "SET @mariadb_slave_capability = 4".to_string(),
                    format!("SET @slave_connect_state = '{text}'"),
                    "SET @slave_gtid_strict_mode = 0".to_string(),
                    "SET @slave_gtid_ignore_duplicates = 0".to_string(),
                ] {
                    conn.query_drop(statement).await?;
                }
                // The server finds the file and offset from the connect state.
                request
            }
            (GtidState::Mysql(set), ServerFlavor::MySql, true) => {
                let sids: Vec<Sid<'static>> = set
                    .sources()
                    .map(|source| {
                        let intervals = set
                            .intervals(source)
                            .iter()
                            // The protocol's intervals end exclusively.
                            .map(|i| GnoInterval::new(i.start, i.end.saturating_add(1)))
                            .collect();
                        Sid::new(source.0).with_intervals(intervals)
                    })
                    .collect();
                request.with_gtid().with_gtid_set(sids)
            }
            _ => {
                if flavor == ServerFlavor::MariaDb {
                    // Keep GTID events as they are (not rewritten as BEGIN queries).
                    conn.query_drop("SET @mariadb_slave_capability = 4").await?;
                }
                request
                    .with_filename(from.file.as_bytes())
                    .with_pos(from.offset)
            }
        };
        let stream = conn.get_binlog_stream(request).await?;
        Ok(Self {
            stream: Box::pin(stream),
            silence_limit: heartbeat * 3,
        })
    }

    /// The next event's bytes, exactly as the server sent them.
    pub async fn next_event(&mut self) -> Result<Vec<u8>, ClientError> {
        let next = tokio::time::timeout(self.silence_limit, self.stream.next())
            .await
            .map_err(|_| ClientError::Silent(self.silence_limit))?;
        match next {
            None => Err(ClientError::Ended),
            Some(Err(e)) => Err(e.into()),
            Some(Ok(event)) => raw_bytes(&event),
        }
    }
}

/// Rebuilds an event's bytes from the transport's pieces: the 19-byte header, the body, for a
/// format description its checksum-algorithm byte, and the checksum the server wrote (not a
/// recomputed one, so the decoder's CRC check covers the bytes end to end).
fn raw_bytes(event: &TransportEvent) -> Result<Vec<u8>, ClientError> {
    use mysql_async::binlog::EventType;
    let header = event.header();
    let mut bytes = Vec::with_capacity(header.event_size() as usize);
    bytes.extend(header.timestamp().to_le_bytes());
    bytes.push(header.event_type_raw());
    bytes.extend(header.server_id().to_le_bytes());
    bytes.extend(header.event_size().to_le_bytes());
    bytes.extend(header.log_pos().to_le_bytes());
    bytes.extend(header.flags_raw().to_le_bytes());
    bytes.extend_from_slice(event.data());
    if header.event_type_raw() == EventType::FORMAT_DESCRIPTION_EVENT as u8 {
        let algorithm = event
            .footer()
            .get_checksum_alg()
            .map_err(|e| ClientError::Event(e.to_string()))?;
        if let Some(algorithm) = algorithm {
            bytes.push(algorithm as u8);
        }
    }
    if let Some(checksum) = event.checksum() {
        bytes.extend(checksum);
    }
    if bytes.len() != header.event_size() as usize {
        return Err(ClientError::Event(format!(
            "event of type {} rebuilt to {} bytes, its header says {}",
            header.event_type_raw(),
            bytes.len(),
            header.event_size()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(normalise_url("mariadb://u:p@h:1/d"), "mysql://u:p@h:1/d");
        assert_eq!(normalise_url("mysql://u:p@h:1/d"), "mysql://u:p@h:1/d");
        assert!(connection_options("mysql://u:p@127.0.0.1:3306/db").is_ok());
        assert!(connection_options("postgres://x").is_err());
    }
}
