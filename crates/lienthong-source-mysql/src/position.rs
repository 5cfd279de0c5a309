//! Binlog positions: where a transaction is, and where the connector resumes. Pure: no I/O.
//!
//! A [`StreamPosition`] is what the connector stores after the broker acknowledged every event up
//! to it: the GTID state (MariaDB's per-domain position or MySQL's executed set) *and* the binlog
//! file and offset just after the last delivered transaction. The connector resumes by GTID when
//! the server has GTIDs (a GTID survives a failover to a replica, where file names differ) and by
//! file and offset otherwise; keeping both makes either possible and lets an operator read the
//! position with `mariadb-binlog` or `SHOW BINLOG EVENTS`.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::binlog::gtid::{MysqlGtid, MysqlGtidSet};
use crate::binlog::{MariadbGtid, MariadbGtidPosition};

/// The GTID part of a position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GtidState {
    /// The server writes no GTIDs (MySQL with `gtid_mode=OFF`): positions are file and offset.
    #[default]
    None,
    Mariadb(MariadbGtidPosition),
    Mysql(MysqlGtidSet),
}

impl GtidState {
    /// Whether there is a GTID state to resume from. An empty MariaDB position (a server that
    /// never wrote a transaction) cannot be used: `@slave_connect_state=''` means "from the first
    /// binlog", which would replay history the snapshot already holds.
    pub fn usable(&self) -> bool {
        match self {
            Self::None => false,
            Self::Mariadb(p) => !p.is_empty(),
            Self::Mysql(s) => !s.is_empty(),
        }
    }

    /// Records that `transaction` was delivered.
    pub fn advance(&mut self, transaction: &TransactionGtid) {
        match (self, transaction) {
            (Self::Mariadb(position), TransactionGtid::Mariadb(gtid)) => {
                if let crate::binlog::gtid::Advance::NotForward { previous } =
                    position.advance(*gtid)
                {
                    tracing::warn!(%previous, gtid = %gtid, "GTID sequence did not grow in its domain");
                }
            }
            (Self::Mysql(set), TransactionGtid::Mysql(gtid)) => {
                set.add(*gtid);
            }
            // A MariaDB GTID on a position without GTIDs yet: the first transaction of a
            // server that had none.
            (state @ Self::None, TransactionGtid::Mariadb(gtid)) => {
                let mut position = MariadbGtidPosition::new();
                position.advance(*gtid);
                *state = Self::Mariadb(position);
            }
            (state @ Self::None, TransactionGtid::Mysql(gtid)) => {
                let mut set = MysqlGtidSet::new();
                set.add(*gtid);
                *state = Self::Mysql(set);
            }
            _ => {}
        }
    }

    /// Whether `transaction` is at or before this state, i.e. its effects are part of it.
    /// `None` when it cannot tell (no GTIDs on one side).
    pub fn includes(&self, transaction: &TransactionGtid) -> Option<bool> {
        match (self, transaction) {
            (Self::Mariadb(position), TransactionGtid::Mariadb(gtid)) => {
                Some(position.includes(gtid))
            }
            (Self::Mysql(set), TransactionGtid::Mysql(gtid)) => Some(set.contains(gtid)),
            _ => None,
        }
    }
}

impl fmt::Display for GtidState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::Mariadb(p) => p.fmt(f),
            Self::Mysql(s) => s.fmt(f),
        }
    }
}

/// The GTID of one transaction, when the server writes GTIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionGtid {
    None,
    Mariadb(MariadbGtid),
    Mysql(MysqlGtid),
}

impl fmt::Display for TransactionGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::Mariadb(g) => g.fmt(f),
            Self::Mysql(g) => g.fmt(f),
        }
    }
}

/// A resumable position: after the last delivered transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredPosition", into = "StoredPosition")]
pub struct StreamPosition {
    pub gtid: GtidState,
    /// Binlog file holding the next event to read.
    pub file: String,
    /// Offset of the next event to read in `file` (4 at the start of a file).
    pub offset: u64,
}

impl StreamPosition {
    /// Whether the transaction that started at `file`/`offset` with `gtid` was already part of
    /// this position (committed before it). By GTID when both sides have one, otherwise by file
    /// and offset (which assumes one server's binlog: file names carry a growing number).
    pub fn includes(&self, gtid: &TransactionGtid, file: &str, offset: u64) -> bool {
        if let Some(included) = self.gtid.includes(gtid) {
            return included;
        }
        compare_file_positions((file, offset), (&self.file, self.offset)) == Ordering::Less
    }
}

impl fmt::Display for StreamPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.offset)?;
        if self.gtid.usable() {
            write!(f, " gtid={}", self.gtid)?;
        }
        Ok(())
    }
}

/// Orders binlog coordinates: by the number after the file name's last dot (`mariadb-bin.000027`),
/// then by offset. Files without a number compare by name.
pub fn compare_file_positions(a: (&str, u64), b: (&str, u64)) -> Ordering {
    fn number(file: &str) -> Option<u64> {
        file.rsplit_once('.').and_then(|(_, n)| n.parse().ok())
    }
    let files = match (number(a.0), number(b.0)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.0.cmp(b.0),
    };
    files.then(a.1.cmp(&b.1))
}

/// The stored form of a position: text, readable in the state topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredPosition {
    /// `mariadb`, `mysql` or `none`.
    gtid_kind: String,
    gtid: String,
    file: String,
    offset: u64,
}

impl From<StreamPosition> for StoredPosition {
    fn from(p: StreamPosition) -> Self {
        let kind = match p.gtid {
            GtidState::None => "none",
            GtidState::Mariadb(_) => "mariadb",
            GtidState::Mysql(_) => "mysql",
        };
        Self {
            gtid_kind: kind.into(),
            gtid: p.gtid.to_string(),
            file: p.file,
            offset: p.offset,
        }
    }
}

impl TryFrom<StoredPosition> for StreamPosition {
    type Error = String;

    fn try_from(s: StoredPosition) -> Result<Self, Self::Error> {
        let gtid = match s.gtid_kind.as_str() {
            "none" => GtidState::None,
            "mariadb" => GtidState::Mariadb(s.gtid.parse().map_err(|e| format!("{e}"))?),
            "mysql" => GtidState::Mysql(s.gtid.parse().map_err(|e| format!("{e}"))?),
            other => return Err(format!("unknown GTID kind {other:?}")),
        };
        Ok(Self {
            gtid,
            file: s.file,
            offset: s.offset,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mariadb(text: &str) -> GtidState {
        GtidState::Mariadb(text.parse().unwrap())
    }

    #[test]
    fn positions_round_trip_through_json() {
        for gtid in [
            GtidState::None,
            mariadb("0-1-42,1-2-7"),
            GtidState::Mysql(
                "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7"
                    .parse()
                    .unwrap(),
            ),
        ] {
            let position = StreamPosition {
                gtid,
                file: "mariadb-bin.000027".into(),
                offset: 389,
            };
            let json = serde_json::to_string(&position).unwrap();
            let back: StreamPosition = serde_json::from_str(&json).unwrap();
            assert_eq!(back, position, "{json}");
        }
        assert!(
            serde_json::from_str::<StreamPosition>(
                r#"{"gtid_kind":"x","gtid":"","file":"f","offset":4}"#
            )
            .is_err()
        );
    }

    #[test]
    fn advancing_and_including() {
        let mut state = mariadb("0-1-10");
        let next = TransactionGtid::Mariadb("0-1-11".parse().unwrap());
        assert_eq!(state.includes(&next), Some(false));
        state.advance(&next);
        assert_eq!(state.includes(&next), Some(true));
        assert_eq!(state.to_string(), "0-1-11");
        let other_domain = TransactionGtid::Mariadb("1-3-1".parse().unwrap());
        assert_eq!(state.includes(&other_domain), Some(false));

        let mut none = GtidState::None;
        assert!(!none.usable());
        none.advance(&next);
        assert!(none.usable());
        assert!(!mariadb("").usable());
    }

    #[test]
    fn file_positions_order_by_number_then_offset() {
        assert_eq!(
            compare_file_positions(("bin.000009", 900), ("bin.000010", 4)),
            Ordering::Less
        );
        assert_eq!(
            compare_file_positions(("bin.000010", 4), ("bin.000010", 4)),
            Ordering::Equal
        );
        let p = StreamPosition {
            gtid: GtidState::None,
            file: "bin.000010".into(),
            offset: 500,
        };
        assert!(p.includes(&TransactionGtid::None, "bin.000010", 120));
        assert!(!p.includes(&TransactionGtid::None, "bin.000010", 500));
        assert!(!p.includes(&TransactionGtid::None, "bin.000011", 4));
        // With GTIDs on both sides, the GTID decides.
        let p = StreamPosition {
            gtid: mariadb("0-1-5"),
            ..p
        };
        let later = TransactionGtid::Mariadb("0-1-6".parse().unwrap());
        assert!(!p.includes(&later, "bin.000001", 4));
    }
}
