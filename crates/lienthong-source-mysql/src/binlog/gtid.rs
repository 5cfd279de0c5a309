//! Global transaction ids and the positions a connector stores to resume from.
//!
//! **MariaDB** numbers transactions `domain-server-sequence` (`0-1-42`): a *replication domain*
//! is an independent stream of transactions (usually one per primary that ever wrote
//! independently), and within a domain sequence numbers grow. A position is the last GTID applied
//! in each domain (`0-1-42,1-2-7`), which is what `@@gtid_slave_pos` holds and what
//! `SET @slave_connect_state=...` takes to resume a binlog stream. A connector keeps one
//! [`MariadbGtidPosition`] and [`advance`](MariadbGtidPosition::advance)s it with the GTID of
//! each transaction once that transaction is delivered.
//!
//! **MySQL** names a transaction `source_uuid:number` and a position is the *set* of every
//! transaction executed (`uuid:1-100:102,uuid2:1-7`), since transactions from one source can be
//! applied out of order on a multi-threaded replica. [`MysqlGtidSet`] holds such a set as sorted,
//! merged, inclusive intervals.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Why a GTID or GTID set text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtidParseError {
    #[error("{text:?} is not a MariaDB GTID (domain-server-sequence, e.g. 0-1-42)")]
    MariadbGtid { text: String },

    #[error("MariaDB GTID position lists domain {domain} twice")]
    DuplicateDomain { domain: u32 },

    #[error("{text:?} is not a UUID (8-4-4-4-12 hexadecimal digits)")]
    Uuid { text: String },

    #[error("{text:?} is not a GTID interval (n or n-m, 1 <= n <= m < 2^63)")]
    Interval { text: String },

    #[error("{text:?} has no intervals after its UUID")]
    MissingIntervals { text: String },

    #[error("{text:?} uses a tagged GTID (MySQL 8.3+), which is not supported")]
    TaggedGtid { text: String },
}

/// A MariaDB GTID: `domain_id-server_id-sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MariadbGtid {
    pub domain_id: u32,
    pub server_id: u32,
    pub sequence: u64,
}

impl fmt::Display for MariadbGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain_id, self.server_id, self.sequence)
    }
}

impl FromStr for MariadbGtid {
    type Err = GtidParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || GtidParseError::MariadbGtid {
            text: text.to_owned(),
        };
        let mut parts = text.trim().split('-');
        let mut next = || parts.next().ok_or_else(error);
        let domain_id = parse_decimal(next()?).ok_or_else(error)?;
        let server_id = parse_decimal(next()?).ok_or_else(error)?;
        let sequence = parse_decimal(next()?).ok_or_else(error)?;
        if parts.next().is_some() {
            return Err(error());
        }
        Ok(Self {
            domain_id,
            server_id,
            sequence,
        })
    }
}

/// Digits only (no sign, no spaces), fitting `T`.
fn parse_decimal<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// What [`MariadbGtidPosition::advance`] did to the position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// The position had no GTID of this domain yet.
    NewDomain,
    /// The sequence number grew, as it does in order.
    Forward,
    /// The sequence number did not grow: the GTID was recorded anyway, as a replica records the
    /// last GTID it applied. With `gtid_strict_mode` this points at a replayed transaction or a
    /// misconfigured source, so the connector should log it.
    NotForward { previous: MariadbGtid },
}

/// A MariaDB replication position: the last GTID of each domain (`0-1-42,1-2-7`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MariadbGtidPosition {
    by_domain: BTreeMap<u32, MariadbGtid>,
}

impl MariadbGtidPosition {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the transaction `gtid` has been delivered: it becomes its domain's position.
    pub fn advance(&mut self, gtid: MariadbGtid) -> Advance {
        match self.by_domain.insert(gtid.domain_id, gtid) {
            None => Advance::NewDomain,
            Some(previous) if gtid.sequence > previous.sequence => Advance::Forward,
            Some(previous) => Advance::NotForward { previous },
        }
    }

    /// Whether a transaction is at or before this position in its domain, i.e. was already
    /// delivered (a stream resumed from this position does not send it again).
    pub fn includes(&self, gtid: &MariadbGtid) -> bool {
        self.by_domain
            .get(&gtid.domain_id)
            .is_some_and(|current| gtid.sequence <= current.sequence)
    }

    /// The position's GTID in a domain.
    pub fn get(&self, domain_id: u32) -> Option<&MariadbGtid> {
        self.by_domain.get(&domain_id)
    }

    /// The GTIDs, by ascending domain.
    pub fn iter(&self) -> impl Iterator<Item = &MariadbGtid> {
        self.by_domain.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    /// The position a GTID list event describes (the binlog state at the start of a file): per
    /// domain, the GTID with the highest sequence number.
    pub fn from_gtid_list(gtids: &[MariadbGtid]) -> Self {
        let mut position = Self::new();
        for gtid in gtids {
            let keep = position
                .by_domain
                .get(&gtid.domain_id)
                .is_none_or(|current| gtid.sequence > current.sequence);
            if keep {
                position.by_domain.insert(gtid.domain_id, *gtid);
            }
        }
        position
    }
}

impl fmt::Display for MariadbGtidPosition {
    /// Comma-separated by ascending domain, as `@@gtid_slave_pos` prints it; empty when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, gtid) in self.by_domain.values().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{gtid}")?;
        }
        Ok(())
    }
}

impl FromStr for MariadbGtidPosition {
    type Err = GtidParseError;

    /// Comma-separated GTIDs with optional spaces; the empty string is the empty position.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut position = Self::new();
        if text.trim().is_empty() {
            return Ok(position);
        }
        for part in text.split(',') {
            let gtid: MariadbGtid = part.parse()?;
            if position.by_domain.insert(gtid.domain_id, gtid).is_some() {
                return Err(GtidParseError::DuplicateDomain {
                    domain: gtid.domain_id,
                });
            }
        }
        Ok(position)
    }
}

/// A 128-bit UUID (MySQL's `server_uuid`), printed lowercase and hyphenated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, byte) in self.0.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Uuid {
    type Err = GtidParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || GtidParseError::Uuid {
            text: text.to_owned(),
        };
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] {
            return Err(error());
        }
        let hex: Vec<u8> = groups.concat().into_bytes();
        let mut bytes = [0u8; 16];
        for (index, pair) in hex.chunks(2).enumerate() {
            let digit = |b: u8| char::from(b).to_digit(16);
            let (Some(high), Some(low)) = (digit(pair[0]), digit(pair[1])) else {
                return Err(error());
            };
            bytes[index] = (high * 16 + low) as u8;
        }
        Ok(Self(bytes))
    }
}

/// A MySQL GTID: the UUID of the server that first committed the transaction, and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MysqlGtid {
    pub source: Uuid,
    pub number: u64,
}

impl fmt::Display for MysqlGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.number)
    }
}

/// An inclusive range of transaction numbers, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GtidInterval {
    pub start: u64,
    pub end: u64,
}

/// Largest transaction number MySQL assigns (`GNO_END - 1`).
pub const MAX_GTID_NUMBER: u64 = i64::MAX as u64 - 1;

/// A MySQL GTID set: per source UUID, sorted, non-overlapping, non-adjacent inclusive intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MysqlGtidSet {
    sets: BTreeMap<Uuid, Vec<GtidInterval>>,
}

impl MysqlGtidSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Adds one transaction; returns whether it was not in the set before.
    pub fn add(&mut self, gtid: MysqlGtid) -> bool {
        if self.contains(&gtid) {
            return false;
        }
        self.add_interval(
            gtid.source,
            GtidInterval {
                start: gtid.number,
                end: gtid.number,
            },
        );
        true
    }

    /// Adds an inclusive interval of transactions of one source (ignored when `start > end`).
    pub fn add_interval(&mut self, source: Uuid, interval: GtidInterval) {
        if interval.start > interval.end {
            return;
        }
        let intervals = self.sets.entry(source).or_default();
        intervals.push(interval);
        intervals.sort_unstable();
        let mut merged: Vec<GtidInterval> = Vec::with_capacity(intervals.len());
        for next in intervals.drain(..) {
            match merged.last_mut() {
                Some(last) if next.start <= last.end.saturating_add(1) => {
                    last.end = last.end.max(next.end);
                }
                _ => merged.push(next),
            }
        }
        *intervals = merged;
    }

    /// Adds every transaction of `other`.
    pub fn union(&mut self, other: &MysqlGtidSet) {
        for (source, intervals) in &other.sets {
            for interval in intervals {
                self.add_interval(*source, *interval);
            }
        }
    }

    pub fn contains(&self, gtid: &MysqlGtid) -> bool {
        self.sets.get(&gtid.source).is_some_and(|intervals| {
            intervals
                .iter()
                .any(|interval| interval.start <= gtid.number && gtid.number <= interval.end)
        })
    }

    /// The intervals of one source, ascending.
    pub fn intervals(&self, source: &Uuid) -> &[GtidInterval] {
        self.sets.get(source).map_or(&[], Vec::as_slice)
    }

    /// The sources, ascending.
    pub fn sources(&self) -> impl Iterator<Item = &Uuid> {
        self.sets.keys()
    }
}

impl fmt::Display for MysqlGtidSet {
    /// `uuid:1-5:7,uuid2:1-3` with sources ascending (MySQL separates sources with `,\n` in
    /// `SHOW` output; both forms parse).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (source, intervals)) in self.sets.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{source}")?;
            for interval in intervals {
                if interval.start == interval.end {
                    write!(f, ":{}", interval.start)?;
                } else {
                    write!(f, ":{}-{}", interval.start, interval.end)?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for MysqlGtidSet {
    type Err = GtidParseError;

    /// Comma-separated `uuid:interval[:interval...]` entries, whitespace (including newlines)
    /// allowed around each; the empty string is the empty set. A source may appear more than
    /// once; overlapping intervals merge.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut set = Self::new();
        if text.trim().is_empty() {
            return Ok(set);
        }
        for entry in text.split(',') {
            let entry = entry.trim();
            let mut parts = entry.split(':');
            let source: Uuid = parts.next().unwrap_or_default().trim().parse()?;
            let mut any = false;
            for part in parts {
                let part = part.trim();
                let interval = parse_interval(part).ok_or_else(|| {
                    if part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                        GtidParseError::TaggedGtid {
                            text: entry.to_owned(),
                        }
                    } else {
                        GtidParseError::Interval {
                            text: part.to_owned(),
                        }
                    }
                })?;
                set.add_interval(source, interval);
                any = true;
            }
            if !any {
                return Err(GtidParseError::MissingIntervals {
                    text: entry.to_owned(),
                });
            }
        }
        Ok(set)
    }
}

fn parse_interval(text: &str) -> Option<GtidInterval> {
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (parse_decimal::<u64>(start)?, parse_decimal::<u64>(end)?),
        None => {
            let number = parse_decimal::<u64>(text)?;
            (number, number)
        }
    };
    (1 <= start && start <= end && end <= MAX_GTID_NUMBER).then_some(GtidInterval { start, end })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gtid(domain_id: u32, server_id: u32, sequence: u64) -> MariadbGtid {
        MariadbGtid {
            domain_id,
            server_id,
            sequence,
        }
    }

    #[test]
    fn mariadb_gtid_text() {
        assert_eq!("0-1-42".parse::<MariadbGtid>().unwrap(), gtid(0, 1, 42));
        assert_eq!(
            " 4294967295-4294967295-18446744073709551615 "
                .parse::<MariadbGtid>()
                .unwrap()
                .to_string(),
            "4294967295-4294967295-18446744073709551615"
        );
        for bad in [
            "",
            "0-1",
            "0-1-2-3",
            "a-1-2",
            "-1-1-1",
            "0-1-+2",
            "4294967296-1-1",
        ] {
            assert!(bad.parse::<MariadbGtid>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mariadb_position_text() {
        let position: MariadbGtidPosition = "1-2-7, 0-1-42".parse().unwrap();
        assert_eq!(position.to_string(), "0-1-42,1-2-7");
        assert_eq!(position.get(1), Some(&gtid(1, 2, 7)));
        assert!("".parse::<MariadbGtidPosition>().unwrap().is_empty());
        assert_eq!(
            "0-1-1,0-2-2".parse::<MariadbGtidPosition>(),
            Err(GtidParseError::DuplicateDomain { domain: 0 })
        );
        assert!("0-1-1,".parse::<MariadbGtidPosition>().is_err());
    }

    #[test]
    fn mariadb_position_advances_per_domain() {
        let mut position = MariadbGtidPosition::new();
        assert_eq!(position.advance(gtid(0, 1, 1)), Advance::NewDomain);
        assert_eq!(position.advance(gtid(0, 1, 2)), Advance::Forward);
        assert_eq!(position.advance(gtid(1, 5, 100)), Advance::NewDomain);
        // A new primary in domain 0 continues its sequence.
        assert_eq!(position.advance(gtid(0, 2, 3)), Advance::Forward);
        assert_eq!(position.to_string(), "0-2-3,1-5-100");
        assert!(position.includes(&gtid(0, 1, 2)));
        assert!(position.includes(&gtid(0, 2, 3)));
        assert!(!position.includes(&gtid(0, 2, 4)));
        assert!(!position.includes(&gtid(2, 1, 1)));
        // A replayed transaction is reported, and recorded like a replica records it.
        assert_eq!(
            position.advance(gtid(1, 5, 99)),
            Advance::NotForward {
                previous: gtid(1, 5, 100)
            }
        );
        assert_eq!(position.to_string(), "0-2-3,1-5-99");
    }

    #[test]
    fn mariadb_position_from_a_gtid_list() {
        let list = [
            gtid(0, 1, 10),
            gtid(0, 2, 12),
            gtid(0, 3, 11),
            gtid(5, 1, 1),
        ];
        assert_eq!(
            MariadbGtidPosition::from_gtid_list(&list).to_string(),
            "0-2-12,5-1-1"
        );
    }

    const A: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    const B: &str = "b5a7cd9e-0c4b-11ef-9a42-0242ac120002";

    #[test]
    fn mysql_gtid_set_text() {
        let text = format!("{B}:1-3,\n {A}:1-5:7:9-10, {A}:6");
        let set: MysqlGtidSet = text.parse().unwrap();
        assert_eq!(set.to_string(), format!("{A}:1-7:9-10,{B}:1-3"));
        let upper: MysqlGtidSet = format!("{}:1", A.to_uppercase()).parse().unwrap();
        assert_eq!(upper.to_string(), format!("{A}:1"));
        assert!("".parse::<MysqlGtidSet>().unwrap().is_empty());
        for bad in [
            A.to_string(),
            format!("{A}:0"),
            format!("{A}:5-3"),
            format!("{A}:1-x"),
            "3e11fa47:1".to_owned(),
            format!("{A}:9223372036854775807"),
        ] {
            assert!(bad.parse::<MysqlGtidSet>().is_err(), "{bad:?}");
        }
        assert!(matches!(
            format!("{A}:mytag:1-3").parse::<MysqlGtidSet>(),
            Err(GtidParseError::TaggedGtid { .. })
        ));
    }

    #[test]
    fn mysql_gtid_set_add_and_contains() {
        let source: Uuid = A.parse().unwrap();
        let mut set = MysqlGtidSet::new();
        for number in [5, 3, 4, 1, 9] {
            assert!(set.add(MysqlGtid { source, number }));
        }
        assert!(!set.add(MysqlGtid { source, number: 4 }));
        assert_eq!(set.to_string(), format!("{A}:1:3-5:9"));
        assert!(set.add(MysqlGtid { source, number: 2 }));
        assert_eq!(
            set.intervals(&source),
            &[
                GtidInterval { start: 1, end: 5 },
                GtidInterval { start: 9, end: 9 }
            ]
        );
        assert!(set.contains(&MysqlGtid { source, number: 5 }));
        assert!(!set.contains(&MysqlGtid { source, number: 6 }));
        let other: MysqlGtidSet = format!("{A}:6-8,{B}:1").parse().unwrap();
        set.union(&other);
        assert_eq!(set.to_string(), format!("{A}:1-9,{B}:1"));
    }

    proptest! {
        #[test]
        fn mysql_set_text_round_trips(
            intervals in proptest::collection::vec((1u64..1000, 0u64..50), 1..10)
        ) {
            let source: Uuid = A.parse().unwrap();
            let mut set = MysqlGtidSet::new();
            for (start, len) in intervals {
                set.add_interval(source, GtidInterval { start, end: start + len });
            }
            let text = set.to_string();
            prop_assert_eq!(text.parse::<MysqlGtidSet>().unwrap(), set.clone());
            // Stored intervals are sorted with gaps between them.
            let stored = set.intervals(&source);
            for pair in stored.windows(2) {
                prop_assert!(pair[0].end + 1 < pair[1].start);
            }
        }

        #[test]
        fn mariadb_position_text_round_trips(
            gtids in proptest::collection::btree_map(any::<u32>(), (any::<u32>(), any::<u64>()), 0..6)
        ) {
            let mut position = MariadbGtidPosition::new();
            for (domain_id, (server_id, sequence)) in gtids {
                position.advance(MariadbGtid { domain_id, server_id, sequence });
            }
            prop_assert_eq!(position.to_string().parse::<MariadbGtidPosition>().unwrap(), position);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,60}") {
            let _ = text.parse::<MysqlGtidSet>();
            let _ = text.parse::<MariadbGtidPosition>();
        }
    }
}
