//! A client for PostgreSQL's streaming replication protocol (a "walsender" connection with
//! `replication=database`): replication commands over the simple query protocol, then
//! `START_REPLICATION` in copy-both mode with XLogData / keepalive frames from the server and
//! standby status updates from us.
//!
//! Message framing, authentication (cleartext, MD5, SCRAM-SHA-256) and frontend messages come
//! from `postgres-protocol`; the replication frames inside CopyData are decoded here, as pure
//! functions ([`decode_frame`], [`encode_status_update`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::{backend, frontend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pgoutput::{Lsn, lsn_to_string};

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC).
pub const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// Session settings every lienthong connection to a source uses, so that values arrive in one
/// text format whatever the server's defaults (see `values.rs`).
pub const SESSION_SETTINGS: &[(&str, &str)] = &[
    ("DateStyle", "ISO"),
    ("TimeZone", "UTC"),
    ("IntervalStyle", "iso_8601"),
    ("extra_float_digits", "3"),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
];

/// Where and how to connect.
#[derive(Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    pub application_name: String,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl ConnectOptions {
    /// From a `postgres://user:password@host:port/database` URL.
    pub fn from_url(raw: &str, application_name: &str) -> Result<Self, WalSenderError> {
        let url = url::Url::parse(raw).map_err(|e| WalSenderError::Url(e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(WalSenderError::Url(format!(
                "scheme {} is not postgres://",
                url.scheme()
            )));
        }
        let decode = |s: &str| {
            percent_decode(s).map_err(|_| WalSenderError::Url("bad percent-encoding".into()))
        };
        let user = decode(url.username())?;
        Ok(Self {
            host: url.host_str().unwrap_or("localhost").to_string(),
            port: url.port().unwrap_or(5432),
            password: url.password().map(decode).transpose()?,
            database: decode(url.path().trim_start_matches('/'))?,
            user: if user.is_empty() {
                "postgres".into()
            } else {
                user
            },
            application_name: application_name.to_string(),
        })
    }
}

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
}

/// Failures of the replication connection.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WalSenderError {
    #[error("invalid connection URL: {0}")]
    Url(String),
    #[error("cannot connect to {host}:{port}: {message}")]
    Connect {
        host: String,
        port: u16,
        message: String,
    },
    #[error("connection lost: {0}")]
    Io(String),
    #[error("PostgreSQL error {code}: {message}")]
    Server {
        /// SQLSTATE.
        code: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    #[error("authentication method {0} is not supported (use scram-sha-256, md5 or password)")]
    UnsupportedAuth(String),
    #[error("the server requires a password and none was given")]
    PasswordRequired,
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl WalSenderError {
    /// SQLSTATE of a server error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<std::io::Error> for WalSenderError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.to_string())
    }
}

/// What `IDENTIFY_SYSTEM` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemIdentity {
    pub system_id: String,
    pub timeline: u32,
    pub xlog_pos: Lsn,
    pub database: Option<String>,
}

/// A slot created by `CREATE_REPLICATION_SLOT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSlot {
    pub name: String,
    /// Changes committed after this position are streamed from the slot.
    pub consistent_point: Lsn,
    /// Exported snapshot name, valid until the next command on this connection.
    pub snapshot_name: Option<String>,
}

/// A frame of the copy-both stream from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    /// WAL data: one pgoutput message starting at `wal_start`.
    XLogData {
        wal_start: Lsn,
        wal_end: Lsn,
        send_time_us: i64,
        data: Bytes,
    },
    /// Keepalive; `reply_requested` asks for a status update now.
    Keepalive {
        wal_end: Lsn,
        send_time_us: i64,
        reply_requested: bool,
    },
}

/// Decodes the content of a CopyData message of the replication stream.
pub fn decode_frame(mut data: Bytes) -> Result<ServerFrame, WalSenderError> {
    let short = || WalSenderError::Protocol("replication frame too short".into());
    if data.is_empty() {
        return Err(short());
    }
    match data.get_u8() {
        b'w' => {
            if data.remaining() < 24 {
                return Err(short());
            }
            Ok(ServerFrame::XLogData {
                wal_start: data.get_u64(),
                wal_end: data.get_u64(),
                send_time_us: data.get_i64(),
                data,
            })
        }
        b'k' => {
            if data.remaining() < 17 {
                return Err(short());
            }
            Ok(ServerFrame::Keepalive {
                wal_end: data.get_u64(),
                send_time_us: data.get_i64(),
                reply_requested: data.get_u8() == 1,
            })
        }
        other => Err(WalSenderError::Protocol(format!(
            "unknown replication frame type {:?}",
            other as char
        ))),
    }
}

/// Encodes a standby status update: positions written, flushed (durable on our side: for us,
/// acknowledged by the broker) and applied. PostgreSQL may discard WAL before `flushed`.
pub fn encode_status_update(
    written: Lsn,
    flushed: Lsn,
    applied: Lsn,
    now_us: i64,
    reply: bool,
) -> Bytes {
    let mut b = BytesMut::with_capacity(34);
    b.put_u8(b'r');
    b.put_u64(written);
    b.put_u64(flushed);
    b.put_u64(applied);
    b.put_i64(now_us);
    b.put_u8(u8::from(reply));
    b.freeze()
}

/// Microseconds since the PostgreSQL epoch, now.
pub fn pg_now_us() -> i64 {
    let unix_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as i64;
    unix_us - PG_EPOCH_OFFSET_US
}

/// A walsender connection in command mode.
#[derive(Debug)]
pub struct ReplicationConnection {
    stream: TcpStream,
    read: BytesMut,
    write: BytesMut,
    server_version: Option<String>,
}

/// A row of a simple-query result, as text.
pub type TextRow = Vec<Option<String>>;

impl ReplicationConnection {
    /// Connects with `replication=database` and authenticates.
    pub async fn connect(opts: &ConnectOptions) -> Result<Self, WalSenderError> {
        let stream = TcpStream::connect((opts.host.as_str(), opts.port))
            .await
            .map_err(|e| WalSenderError::Connect {
                host: opts.host.clone(),
                port: opts.port,
                message: e.to_string(),
            })?;
        stream.set_nodelay(true)?;
        let mut conn = Self {
            stream,
            read: BytesMut::with_capacity(64 * 1024),
            write: BytesMut::with_capacity(1024),
            server_version: None,
        };
        let mut params: Vec<(&str, &str)> = vec![
            ("user", &opts.user),
            ("database", &opts.database),
            ("replication", "database"),
            ("application_name", &opts.application_name),
        ];
        params.extend_from_slice(SESSION_SETTINGS);
        frontend::startup_message(params.iter().copied(), &mut conn.write)?;
        conn.flush().await?;
        conn.authenticate(opts).await?;
        Ok(conn)
    }

    /// The server's `server_version` parameter.
    pub fn server_version(&self) -> Option<&str> {
        self.server_version.as_deref()
    }

    async fn authenticate(&mut self, opts: &ConnectOptions) -> Result<(), WalSenderError> {
        loop {
            match self.next_message().await? {
                backend::Message::AuthenticationOk => {}
                backend::Message::AuthenticationCleartextPassword => {
                    let pw = password(opts)?;
                    frontend::password_message(pw.as_bytes(), &mut self.write)?;
                    self.flush().await?;
                }
                backend::Message::AuthenticationMd5Password(body) => {
                    let pw = password(opts)?;
                    let hash = postgres_protocol::authentication::md5_hash(
                        opts.user.as_bytes(),
                        pw.as_bytes(),
                        body.salt(),
                    );
                    frontend::password_message(hash.as_bytes(), &mut self.write)?;
                    self.flush().await?;
                }
                backend::Message::AuthenticationSasl(body) => {
                    let pw = password(opts)?;
                    let mut mechanisms = body.mechanisms();
                    let mut has_scram = false;
                    while let Some(m) = mechanisms.next()? {
                        has_scram |= m == SCRAM_SHA_256;
                    }
                    if !has_scram {
                        return Err(WalSenderError::UnsupportedAuth(
                            "SASL without SCRAM-SHA-256".into(),
                        ));
                    }
                    self.scram(pw).await?;
                }
                backend::Message::ParameterStatus(body) => {
                    if body.name()? == "server_version" {
                        self.server_version = Some(body.value()?.to_string());
                    }
                }
                backend::Message::BackendKeyData(_) | backend::Message::NoticeResponse(_) => {}
                backend::Message::ReadyForQuery(_) => return Ok(()),
                backend::Message::ErrorResponse(body) => return Err(server_error(&body)),
                other => {
                    return Err(WalSenderError::UnsupportedAuth(message_name(&other).into()));
                }
            }
        }
    }

    async fn scram(&mut self, password: &str) -> Result<(), WalSenderError> {
        let mut scram = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
        frontend::sasl_initial_response(SCRAM_SHA_256, scram.message(), &mut self.write)?;
        self.flush().await?;
        match self.next_message().await? {
            backend::Message::AuthenticationSaslContinue(body) => scram.update(body.data())?,
            backend::Message::ErrorResponse(body) => return Err(server_error(&body)),
            _ => return Err(unexpected("SASL continue")),
        }
        frontend::sasl_response(scram.message(), &mut self.write)?;
        self.flush().await?;
        match self.next_message().await? {
            backend::Message::AuthenticationSaslFinal(body) => scram.finish(body.data())?,
            backend::Message::ErrorResponse(body) => return Err(server_error(&body)),
            _ => return Err(unexpected("SASL final")),
        }
        Ok(())
    }

    /// Runs one command with the simple query protocol and returns its rows as text.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<TextRow>, WalSenderError> {
        frontend::query(sql, &mut self.write)?;
        self.flush().await?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.next_message().await? {
                backend::Message::DataRow(body) => {
                    let buf = body.buffer();
                    let mut row = Vec::new();
                    let mut ranges = body.ranges();
                    while let Some(range) = ranges.next()? {
                        row.push(match range {
                            None => None,
                            Some(r) => Some(
                                std::str::from_utf8(buf.get(r).unwrap_or_default())
                                    .map_err(|e| WalSenderError::Protocol(e.to_string()))?
                                    .to_string(),
                            ),
                        });
                    }
                    rows.push(row);
                }
                backend::Message::ErrorResponse(body) => error = Some(server_error(&body)),
                backend::Message::ReadyForQuery(_) => {
                    return match error {
                        Some(e) => Err(e),
                        None => Ok(rows),
                    };
                }
                _ => {}
            }
        }
    }

    pub async fn identify_system(&mut self) -> Result<SystemIdentity, WalSenderError> {
        let rows = self.simple_query("IDENTIFY_SYSTEM").await?;
        let row = rows
            .first()
            .ok_or_else(|| WalSenderError::Protocol("IDENTIFY_SYSTEM returned no row".into()))?;
        let col = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        Ok(SystemIdentity {
            system_id: col(0),
            timeline: col(1).parse().unwrap_or(0),
            xlog_pos: crate::pgoutput::parse_lsn(&col(2))
                .map_err(|e| WalSenderError::Protocol(e.to_string()))?,
            database: row.get(3).cloned().flatten(),
        })
    }

    /// Creates a permanent logical slot for pgoutput. With `export_snapshot`, the snapshot of
    /// its consistent point is exported (usable by `SET TRANSACTION SNAPSHOT` until the next
    /// command on this connection).
    pub async fn create_slot(
        &mut self,
        slot: &str,
        export_snapshot: bool,
    ) -> Result<CreatedSlot, WalSenderError> {
        let snapshot = if export_snapshot {
            "EXPORT_SNAPSHOT"
        } else {
            "NOEXPORT_SNAPSHOT"
        };
        let sql = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {snapshot}",
            quote_ident(slot)
        );
        let rows = self.simple_query(&sql).await?;
        let row = rows.first().ok_or_else(|| {
            WalSenderError::Protocol("CREATE_REPLICATION_SLOT returned no row".into())
        })?;
        Ok(CreatedSlot {
            name: row.first().cloned().flatten().unwrap_or_default(),
            consistent_point: crate::pgoutput::parse_lsn(
                &row.get(1).cloned().flatten().unwrap_or_default(),
            )
            .map_err(|e| WalSenderError::Protocol(e.to_string()))?,
            snapshot_name: row.get(2).cloned().flatten(),
        })
    }

    /// Starts streaming from `slot` at `start` with pgoutput protocol version 2: in-progress
    /// transactions streamed, logical messages included.
    pub async fn start_replication(
        mut self,
        slot: &str,
        start: Lsn,
        publication: &str,
    ) -> Result<ReplicationStream, WalSenderError> {
        let sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {} (proto_version '2', publication_names {}, messages 'true', streaming 'on')",
            quote_ident(slot),
            lsn_to_string(start),
            quote_literal(&quote_ident(publication)),
        );
        frontend::query(&sql, &mut self.write)?;
        self.flush().await?;
        loop {
            // CopyBothResponse ('W') is not in postgres-protocol's message enum: look for it first.
            if self.take_copy_both_response() {
                return Ok(ReplicationStream { conn: self });
            }
            if let Some(msg) = backend::Message::parse(&mut self.read)? {
                match msg {
                    backend::Message::ErrorResponse(body) => {
                        let err = server_error(&body);
                        return Err(err);
                    }
                    backend::Message::NoticeResponse(_) => continue,
                    _ => return Err(unexpected("CopyBothResponse")),
                }
            }
            self.fill().await?;
        }
    }

    /// Consumes a complete CopyBothResponse at the head of the buffer, if there is one.
    fn take_copy_both_response(&mut self) -> bool {
        if self.read.len() < 5 || self.read[0] != b'W' {
            return false;
        }
        let len =
            u32::from_be_bytes([self.read[1], self.read[2], self.read[3], self.read[4]]) as usize;
        if self.read.len() < len + 1 {
            return false;
        }
        self.read.advance(len + 1);
        true
    }

    async fn next_message(&mut self) -> Result<backend::Message, WalSenderError> {
        loop {
            if let Some(msg) = backend::Message::parse(&mut self.read)? {
                return Ok(msg);
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), WalSenderError> {
        if self.read.capacity() - self.read.len() < 8 * 1024 {
            self.read.reserve(64 * 1024);
        }
        let n = self.stream.read_buf(&mut self.read).await?;
        if n == 0 {
            return Err(WalSenderError::Io("server closed the connection".into()));
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), WalSenderError> {
        self.stream.write_all(&self.write).await?;
        self.write.clear();
        Ok(())
    }
}

/// The copy-both stream after `START_REPLICATION`.
#[derive(Debug)]
pub struct ReplicationStream {
    conn: ReplicationConnection,
}

impl ReplicationStream {
    /// The next frame. Cancel-safe: a partially read frame stays buffered for the next call.
    pub async fn next_frame(&mut self) -> Result<ServerFrame, WalSenderError> {
        loop {
            if let Some(msg) = backend::Message::parse(&mut self.conn.read)? {
                match msg {
                    backend::Message::CopyData(body) => {
                        return decode_frame(body.into_bytes());
                    }
                    backend::Message::ErrorResponse(body) => return Err(server_error(&body)),
                    backend::Message::CopyDone => {
                        return Err(WalSenderError::Io(
                            "server ended the replication stream".into(),
                        ));
                    }
                    backend::Message::NoticeResponse(_) | backend::Message::ParameterStatus(_) => {
                        continue;
                    }
                    _ => return Err(unexpected("CopyData")),
                }
            }
            self.conn.fill().await?;
        }
    }

    /// Sends a standby status update.
    pub async fn send_status(
        &mut self,
        written: Lsn,
        flushed: Lsn,
        applied: Lsn,
    ) -> Result<(), WalSenderError> {
        let body = encode_status_update(written, flushed, applied, pg_now_us(), false);
        frontend::CopyData::new(&body[..])?.write(&mut self.conn.write);
        self.conn.flush().await
    }
}

fn server_error(body: &backend::ErrorResponseBody) -> WalSenderError {
    let mut code = String::new();
    let mut message = String::new();
    let mut detail = None;
    let mut hint = None;
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
        match field.type_() {
            b'C' => code = value,
            b'M' => message = value,
            b'D' => detail = Some(value),
            b'H' => hint = Some(value),
            _ => {}
        }
    }
    WalSenderError::Server {
        code,
        message,
        detail,
        hint,
    }
}

fn message_name(msg: &backend::Message) -> &'static str {
    match msg {
        backend::Message::AuthenticationGss => "GSSAPI",
        backend::Message::AuthenticationKerberosV5 => "Kerberos V5",
        backend::Message::AuthenticationScmCredential => "SCM credential",
        backend::Message::AuthenticationSspi => "SSPI",
        _ => "an unexpected message",
    }
}

fn password(opts: &ConnectOptions) -> Result<&str, WalSenderError> {
    opts.password
        .as_deref()
        .ok_or(WalSenderError::PasswordRequired)
}

fn unexpected(wanted: &str) -> WalSenderError {
    WalSenderError::Protocol(format!(
        "expected {wanted} from the server, got another message"
    ))
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlogdata_and_keepalive_frames() {
        let mut b = BytesMut::new();
        b.put_u8(b'w');
        b.put_u64(0x16_B374_D848);
        b.put_u64(0x16_B374_D900);
        b.put_i64(42);
        b.put_slice(b"B...");
        assert_eq!(
            decode_frame(b.freeze()).unwrap(),
            ServerFrame::XLogData {
                wal_start: 0x16_B374_D848,
                wal_end: 0x16_B374_D900,
                send_time_us: 42,
                data: Bytes::from_static(b"B..."),
            }
        );
        let mut k = BytesMut::new();
        k.put_u8(b'k');
        k.put_u64(7);
        k.put_i64(9);
        k.put_u8(1);
        assert_eq!(
            decode_frame(k.freeze()).unwrap(),
            ServerFrame::Keepalive {
                wal_end: 7,
                send_time_us: 9,
                reply_requested: true
            }
        );
    }

    #[test]
    fn truncated_or_unknown_frames_are_errors() {
        assert!(decode_frame(Bytes::new()).is_err());
        assert!(decode_frame(Bytes::from_static(b"w\0\0\0")).is_err());
        assert!(decode_frame(Bytes::from_static(b"k\0")).is_err());
        assert!(decode_frame(Bytes::from_static(b"x")).is_err());
    }

    #[test]
    fn status_update_layout() {
        let b = encode_status_update(1, 2, 3, 4, true);
        assert_eq!(b.len(), 34);
        assert_eq!(b[0], b'r');
        assert_eq!(&b[1..9], &1u64.to_be_bytes());
        assert_eq!(&b[9..17], &2u64.to_be_bytes());
        assert_eq!(&b[17..25], &3u64.to_be_bytes());
        assert_eq!(&b[25..33], &4i64.to_be_bytes());
        assert_eq!(b[33], 1);
    }

    #[test]
    fn url_parsing() {
        let o = ConnectOptions::from_url("postgres://app:p%40ss@db.example:6543/cb%20ccvc", "x")
            .unwrap();
        assert_eq!(o.host, "db.example");
        assert_eq!(o.port, 6543);
        assert_eq!(o.user, "app");
        assert_eq!(o.password.as_deref(), Some("p@ss"));
        assert_eq!(o.database, "cb ccvc");
        assert!(!format!("{o:?}").contains("p@ss"));
        assert!(ConnectOptions::from_url("mysql://x/y", "x").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
