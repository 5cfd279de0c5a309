//! QUERY_EVENT: a statement logged as SQL text.
//!
//! Under row-based logging the server still writes some statements as text: `BEGIN` at the start
//! of a transaction (MySQL; MariaDB starts a transaction with a GTID event instead but writes
//! `BEGIN` too), `COMMIT`/`ROLLBACK` to end one on non-transactional tables, and every DDL
//! statement (`CREATE`, `ALTER`, `DROP`, `RENAME`, `TRUNCATE`). A connector needs the text to tell
//! those apart ([`QueryEvent::kind`]) and to track schema changes.
//!
//! The statement text is in the client's character set (`character_set_client`, in the status
//! variables), so it is kept as bytes; [`QueryEvent::sql_text`] decodes it.
//!
//! Status variables are a list of (code, value) pairs whose value length depends on the code; a
//! code the decoder does not know ends the parse of the list (its length is unknown), as the
//! servers themselves do. The statement is still found: the list's total length is in the
//! post-header.

use super::charset::{TextError, decode_text};
use super::error::DecodeError;
use super::header::{EVENT_HEADER_LEN, event_type};
use super::reader::Reader;

/// The character sets of the session that ran the statement (status variable 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCharsets {
    /// Collation id of `character_set_client`: the encoding of the statement text.
    pub client: u16,
    pub connection: u16,
    pub server: u16,
}

/// The status variables of a query event; each is `None` when the event does not carry it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryStatus {
    pub flags2: Option<u32>,
    pub sql_mode: Option<u64>,
    pub catalog: Option<String>,
    /// `auto_increment_increment` and `auto_increment_offset`.
    pub auto_increment: Option<(u16, u16)>,
    pub charsets: Option<SessionCharsets>,
    pub time_zone: Option<String>,
    pub lc_time_names: Option<u16>,
    pub charset_database: Option<u16>,
    pub table_map_for_update: Option<u64>,
    pub master_data_written: Option<u32>,
    /// The definer a stored routine ran as: (user, host).
    pub invoker: Option<(String, String)>,
    /// MySQL: the databases a statement changed (multi-threaded replica scheduling).
    pub updated_databases: Option<Vec<String>>,
    /// Microseconds of the statement's start time (MySQL `Q_MICROSECONDS`, MariaDB `Q_HRNOW`).
    pub microseconds: Option<u32>,
    pub explicit_defaults_for_timestamp: Option<bool>,
    /// MySQL: the xid of a DDL statement logged with one (atomic DDL).
    pub ddl_xid: Option<u64>,
    pub default_collation_for_utf8mb4: Option<u16>,
    pub sql_require_primary_key: Option<bool>,
    pub default_table_encryption: Option<bool>,
    /// MariaDB: the xid of a transaction that ends in this query event.
    pub mariadb_xid: Option<u64>,
    /// MariaDB: the extra GTID flags of a split `ALTER TABLE` (start/commit/rollback).
    pub mariadb_gtid_flags_extra: Option<u8>,
    /// MariaDB: the sequence number of the `START ALTER` a commit/rollback of an `ALTER` ends.
    pub mariadb_start_alter_sequence: Option<u64>,
    /// The first status variable code the decoder did not know, after which it stopped reading
    /// the list.
    pub unparsed_from: Option<u8>,
}

/// What a query event's statement does, for transaction and schema tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// `BEGIN` (or `START TRANSACTION`).
    Begin,
    /// `COMMIT`: ends a transaction on non-transactional tables (transactional ones end with an
    /// XID event).
    Commit,
    /// `ROLLBACK` of a whole transaction.
    Rollback,
    /// `SAVEPOINT`, `ROLLBACK TO`, `RELEASE SAVEPOINT`.
    Savepoint,
    /// `XA START`, `XA END`, `XA PREPARE`, `XA COMMIT`, `XA ROLLBACK`.
    Xa,
    /// `CREATE`, `ALTER`, `DROP`, `RENAME` or `TRUNCATE`: the schema (or a whole table's data)
    /// changed.
    Ddl,
    /// Anything else: statement-based DML (`binlog_format` is not ROW for this statement),
    /// `GRANT`, `SET PASSWORD`, `FLUSH`, `ANALYZE`, ...
    Other,
}

/// A decoded QUERY_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryEvent {
    /// Id of the connection that ran the statement.
    pub thread_id: u32,
    /// Seconds the statement took to run.
    pub exec_time: u32,
    /// The default database when the statement ran (empty when none).
    pub schema: String,
    /// The error the statement got on the source (non-zero for a statement that failed partway
    /// on non-transactional tables).
    pub error_code: u16,
    pub status: QueryStatus,
    /// The statement, in the client's character set.
    pub sql: Vec<u8>,
}

impl QueryEvent {
    /// Decodes a query event from its data (after the header, before the checksum).
    pub(crate) fn decode(data: &[u8], post_header_len: usize) -> Result<Self, DecodeError> {
        const NEEDED: usize = 13;
        if post_header_len < NEEDED {
            return Err(DecodeError::PostHeaderTooShort {
                event_type: event_type::QUERY,
                length: post_header_len,
                needed: NEEDED,
            });
        }
        let mut reader = Reader::new(data, EVENT_HEADER_LEN);
        let thread_id = reader.u32("thread id")?;
        let exec_time = reader.u32("execution time")?;
        let schema_len = usize::from(reader.u8("schema length")?);
        let error_code = reader.u16("error code")?;
        let status_len = usize::from(reader.u16("status variables length")?);
        reader.skip(post_header_len - NEEDED, "post-header")?;
        let status_position = reader.position();
        let status_bytes = reader.take(status_len, "status variables")?;
        let status = read_status(Reader::new(status_bytes, status_position))?;
        let schema_position = reader.position();
        let schema = reader.take(schema_len, "schema name")?;
        let schema =
            String::from_utf8(schema.to_vec()).map_err(|error| DecodeError::InvalidUtf8 {
                field: "schema name",
                offset: schema_position,
                valid_up_to: error.utf8_error().valid_up_to(),
            })?;
        reader.skip(1, "schema name terminator")?;
        let sql = reader.take_rest().to_vec();
        Ok(Self {
            thread_id,
            exec_time,
            schema,
            error_code,
            status,
            sql,
        })
    }

    /// The statement as text, decoded from the client's character set (UTF-8 when the event
    /// does not say).
    pub fn sql_text(&self) -> Result<String, TextError> {
        const UTF8MB4_GENERAL_CI: u16 = 45;
        let collation = self
            .status
            .charsets
            .map_or(UTF8MB4_GENERAL_CI, |charsets| charsets.client);
        decode_text(&self.sql, collation)
    }

    /// What the statement does, from its first keywords (after whitespace and comments; the
    /// body of a `/*!NNNNN ... */` executable comment counts as the statement).
    pub fn kind(&self) -> QueryKind {
        classify(&self.sql)
    }
}

fn read_status(mut reader: Reader<'_>) -> Result<QueryStatus, DecodeError> {
    let mut status = QueryStatus::default();
    while !reader.is_empty() {
        let code = reader.u8("status variable code")?;
        match code {
            0 => status.flags2 = Some(reader.u32("flags2")?),
            1 => status.sql_mode = Some(reader.u64("sql_mode")?),
            2 => {
                // MySQL 5.0.0–5.0.3: a length, the catalog, and a NUL.
                let len = usize::from(reader.u8("catalog")?);
                status.catalog = Some(lossy(reader.take(len, "catalog")?));
                reader.skip(1, "catalog")?;
            }
            3 => {
                let increment = reader.u16("auto_increment_increment")?;
                let offset = reader.u16("auto_increment_offset")?;
                status.auto_increment = Some((increment, offset));
            }
            4 => {
                status.charsets = Some(SessionCharsets {
                    client: reader.u16("character_set_client")?,
                    connection: reader.u16("collation_connection")?,
                    server: reader.u16("collation_server")?,
                });
            }
            5 => status.time_zone = Some(short_string(&mut reader, "time_zone")?),
            6 => status.catalog = Some(short_string(&mut reader, "catalog")?),
            7 => status.lc_time_names = Some(reader.u16("lc_time_names")?),
            8 => status.charset_database = Some(reader.u16("collation_database")?),
            9 => status.table_map_for_update = Some(reader.u64("table_map_for_update")?),
            10 => status.master_data_written = Some(reader.u32("master_data_written")?),
            11 => {
                let user = short_string(&mut reader, "invoker user")?;
                let host = short_string(&mut reader, "invoker host")?;
                status.invoker = Some((user, host));
            }
            12 => {
                let count = reader.u8("updated database count")?;
                // 254 means "more than fit": no names follow.
                let mut names = Vec::new();
                if count != 254 {
                    for _ in 0..count {
                        let rest = reader.rest();
                        let end = rest.iter().position(|&byte| byte == 0).ok_or(
                            DecodeError::Truncated {
                                field: "updated database name",
                                offset: reader.position(),
                                needed: rest.len() + 1,
                                available: rest.len(),
                            },
                        )?;
                        names.push(lossy(reader.take(end, "updated database name")?));
                        reader.skip(1, "updated database name")?;
                    }
                }
                status.updated_databases = Some(names);
            }
            13 | 128 => {
                status.microseconds = Some(reader.uint_le(3, "statement microseconds")? as u32);
            }
            16 => {
                status.explicit_defaults_for_timestamp =
                    Some(reader.u8("explicit_defaults_for_timestamp")? != 0);
            }
            17 => status.ddl_xid = Some(reader.u64("DDL xid")?),
            18 => {
                status.default_collation_for_utf8mb4 =
                    Some(reader.u16("default_collation_for_utf8mb4")?);
            }
            19 => status.sql_require_primary_key = Some(reader.u8("sql_require_primary_key")? != 0),
            20 => {
                status.default_table_encryption = Some(reader.u8("default_table_encryption")? != 0);
            }
            129 => status.mariadb_xid = Some(reader.u64("xid")?),
            130 => {
                let flags = reader.u8("GTID extra flags")?;
                status.mariadb_gtid_flags_extra = Some(flags);
                // FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1: the START ALTER's sequence number.
                if flags & (0x04 | 0x08) != 0 {
                    status.mariadb_start_alter_sequence = Some(reader.u64("start alter seq_no")?);
                }
            }
            unknown => {
                status.unparsed_from = Some(unknown);
                break;
            }
        }
    }
    Ok(status)
}

fn short_string(reader: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let len = usize::from(reader.u8(field)?);
    Ok(lossy(reader.take(len, field)?))
}

/// Status variable strings are identifiers in utf8mb3; anything else is shown, not trusted.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Skips whitespace, `-- `/`#` line comments and `/* */` comments; enters `/*!NNNNN` and `/*M!`
/// executable comments (their body is the statement the server runs).
fn skip_to_statement(sql: &[u8]) -> &[u8] {
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_ascii_start();
        if let Some(after) = trimmed
            .strip_prefix(b"/*!")
            .or_else(|| trimmed.strip_prefix(b"/*M!"))
        {
            let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
            rest = &after[digits..];
        } else if let Some(after) = trimmed.strip_prefix(b"/*") {
            rest = match after.windows(2).position(|w| w == b"*/") {
                Some(end) => &after[end + 2..],
                None => &[],
            };
        } else if trimmed.starts_with(b"-- ") || trimmed.starts_with(b"#") {
            rest = match trimmed.iter().position(|&b| b == b'\n') {
                Some(end) => &trimmed[end + 1..],
                None => &[],
            };
        } else {
            return trimmed;
        }
    }
}

fn first_words(sql: &[u8], count: usize) -> Vec<String> {
    skip_to_statement(sql)
        .split(|b| b.is_ascii_whitespace() || *b == b';' || *b == b'(' || *b == b'*')
        .filter(|word| !word.is_empty())
        .take(count)
        .map(|word| String::from_utf8_lossy(word).to_ascii_uppercase())
        .collect()
}

fn classify(sql: &[u8]) -> QueryKind {
    let words = first_words(sql, 2);
    let first = words.first().map(String::as_str).unwrap_or("");
    let second = words.get(1).map(String::as_str).unwrap_or("");
    match first {
        "BEGIN" => QueryKind::Begin,
        "START" if second == "TRANSACTION" => QueryKind::Begin,
        "COMMIT" => QueryKind::Commit,
        "ROLLBACK" if second == "TO" => QueryKind::Savepoint,
        "ROLLBACK" => QueryKind::Rollback,
        "SAVEPOINT" | "RELEASE" => QueryKind::Savepoint,
        "XA" => QueryKind::Xa,
        "CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE" => QueryKind::Ddl,
        _ => QueryKind::Other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn query_data(status: &[u8], schema: &str, sql: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend(77u32.to_le_bytes());
        data.extend(2u32.to_le_bytes());
        data.push(schema.len() as u8);
        data.extend(0u16.to_le_bytes());
        data.extend((status.len() as u16).to_le_bytes());
        data.extend(status);
        data.extend(schema.as_bytes());
        data.push(0);
        data.extend(sql);
        data
    }

    #[test]
    fn decodes_status_variables_of_both_servers() {
        let mut status = vec![0];
        status.extend(0x0400_0000u32.to_le_bytes());
        status.push(1);
        status.extend(0x1234u64.to_le_bytes());
        status.extend([6, 3, b's', b't', b'd']);
        status.push(4);
        status.extend([8, 0, 224, 0, 45, 0]);
        status.extend([5, 6, b'+', b'0', b'7', b':', b'0', b'0']);
        status.extend([12, 2, b'a', 0, b'b', 0]);
        status.extend([128, 0x40, 0xE2, 0x01]);
        status.push(129);
        status.extend(99u64.to_le_bytes());
        status.extend([130, 0x04]);
        status.extend(5u64.to_le_bytes());
        let data = query_data(&status, "lienthong", b"ALTER TABLE t ADD c INT");
        let query = QueryEvent::decode(&data, 13).unwrap();
        assert_eq!(query.thread_id, 77);
        assert_eq!(query.exec_time, 2);
        assert_eq!(query.schema, "lienthong");
        let s = &query.status;
        assert_eq!(s.flags2, Some(0x0400_0000));
        assert_eq!(s.sql_mode, Some(0x1234));
        assert_eq!(s.catalog.as_deref(), Some("std"));
        assert_eq!(
            s.charsets,
            Some(SessionCharsets {
                client: 8,
                connection: 224,
                server: 45
            })
        );
        assert_eq!(s.time_zone.as_deref(), Some("+07:00"));
        assert_eq!(s.updated_databases, Some(vec!["a".into(), "b".into()]));
        assert_eq!(s.microseconds, Some(123_456));
        assert_eq!(s.mariadb_xid, Some(99));
        assert_eq!(s.mariadb_gtid_flags_extra, Some(0x04));
        assert_eq!(s.mariadb_start_alter_sequence, Some(5));
        assert_eq!(s.unparsed_from, None);
        assert_eq!(query.kind(), QueryKind::Ddl);
    }

    #[test]
    fn unknown_status_codes_stop_the_list_but_not_the_statement() {
        let status = [4, 45, 0, 45, 0, 45, 0, 99, 1, 2, 3];
        let data = query_data(&status, "", b"BEGIN");
        let query = QueryEvent::decode(&data, 13).unwrap();
        assert_eq!(query.status.unparsed_from, Some(99));
        assert_eq!(query.status.charsets.map(|c| c.client), Some(45));
        assert_eq!(query.sql, b"BEGIN");
        assert_eq!(query.kind(), QueryKind::Begin);
    }

    #[test]
    fn statement_text_in_the_client_charset() {
        // A latin1 client sent cp1252 bytes.
        let status = [4, 8, 0, 8, 0, 8, 0];
        let data = query_data(&status, "", b"INSERT INTO t VALUES ('\x93x\x94')");
        let query = QueryEvent::decode(&data, 13).unwrap();
        assert_eq!(query.sql_text().unwrap(), "INSERT INTO t VALUES ('“x”')");
        assert_eq!(query.kind(), QueryKind::Other);
    }

    #[test]
    fn classification() {
        let cases: &[(&str, QueryKind)] = &[
            ("BEGIN", QueryKind::Begin),
            ("  begin work", QueryKind::Begin),
            ("START TRANSACTION", QueryKind::Begin),
            ("COMMIT", QueryKind::Commit),
            ("ROLLBACK", QueryKind::Rollback),
            ("ROLLBACK TO SAVEPOINT a", QueryKind::Savepoint),
            ("SAVEPOINT a", QueryKind::Savepoint),
            ("XA START 'x'", QueryKind::Xa),
            ("CREATE TABLE t (a INT)", QueryKind::Ddl),
            ("create or replace table t(a int)", QueryKind::Ddl),
            ("DROP TABLE `t` /* generated by server */", QueryKind::Ddl),
            ("/* a comment */ TRUNCATE t", QueryKind::Ddl),
            ("-- note\nRENAME TABLE a TO b", QueryKind::Ddl),
            ("/*!40000 ALTER TABLE t DISABLE KEYS */", QueryKind::Ddl),
            ("/*M!100100 ALTER TABLE t FORCE */", QueryKind::Ddl),
            ("INSERT INTO t VALUES (1)", QueryKind::Other),
            ("GRANT ALL ON *.* TO x", QueryKind::Other),
            ("", QueryKind::Other),
            ("/* unterminated", QueryKind::Other),
        ];
        for &(sql, kind) in cases {
            assert_eq!(classify(sql.as_bytes()), kind, "{sql}");
        }
    }

    #[test]
    fn truncations_are_errors() {
        let data = query_data(&[4, 45, 0, 45, 0, 45, 0], "db", b"COMMIT");
        assert!(QueryEvent::decode(&data, 13).is_ok());
        // Cutting into the post-header, status variables or schema is an error; cutting into
        // the statement only shortens it.
        for len in 0..(13 + 7 + 3) {
            assert!(
                QueryEvent::decode(&data[..len], 13).is_err(),
                "prefix {len}"
            );
        }
        assert!(matches!(
            QueryEvent::decode(&data, 11),
            Err(DecodeError::PostHeaderTooShort { .. })
        ));
    }
}
