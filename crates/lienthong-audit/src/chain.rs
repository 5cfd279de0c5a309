//! The hash chain, with no I/O: the canonical encoding of a stored audit record, its hash, and
//! the walk that checks a sequence of records link up.
//!
//! Each record's hash is SHA-256 over an encoding of its sequence number, the previous record's
//! hash and every field. The encoding is prefix-free — fixed-width integers, every string and
//! list preceded by its length, an absent subject tagged differently from an empty one — so two
//! different records never encode to the same bytes: moving text from one field into its
//! neighbour, splitting one field path into two or dropping the subject always changes the hash.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Bytes of a SHA-256 hash.
pub const HASH_LEN: usize = 32;

/// A SHA-256 hash.
pub type Hash = [u8; HASH_LEN];

/// The `prev_hash` of the first record (seq 1): no record comes before it.
pub const GENESIS: Hash = [0; HASH_LEN];

/// Starts every encoding: names the format and its version, so a hash of this format can never
/// equal a hash of some other structure that happens to share the bytes after it.
const DOMAIN: &[u8] = b"lienthong.audit.record.v1\0";

/// One record as stored in `lienthong_audit.events`: an audit event with its place in the chain.
/// `at` has microsecond precision (PostgreSQL's `timestamptz`), so that what is hashed is exactly
/// what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub partner: String,
    pub method: String,
    /// HMAC-SHA256 of the personal ID (lowercase hex), never the ID itself.
    pub subject_hash: Option<String>,
    pub fields: Vec<String>,
    pub purpose: String,
    pub result: String,
    pub detail: String,
    pub prev_hash: Hash,
    pub hash: Hash,
}

impl ChainedRecord {
    /// The canonical encoding the hash is computed over (everything but `hash` itself).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(DOMAIN);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.prev_hash);
        out.extend_from_slice(&self.at.timestamp_micros().to_be_bytes());
        put_str(&mut out, &self.partner);
        put_str(&mut out, &self.method);
        match &self.subject_hash {
            None => out.push(0),
            Some(subject) => {
                out.push(1);
                put_str(&mut out, subject);
            }
        }
        out.extend_from_slice(&(self.fields.len() as u64).to_be_bytes());
        for field in &self.fields {
            put_str(&mut out, field);
        }
        put_str(&mut out, &self.purpose);
        put_str(&mut out, &self.result);
        put_str(&mut out, &self.detail);
        out
    }

    /// SHA-256 of [`Self::canonical_bytes`]: what `hash` must be.
    pub fn compute_hash(&self) -> Hash {
        Sha256::digest(self.canonical_bytes()).into()
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `at` as stored: PostgreSQL keeps microseconds, so finer digits are dropped before hashing.
pub fn stored_instant(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// What the chain head row says: the last sequence number appended and its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: Hash,
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first sequence number that does not check out (0: the chain head itself).
    pub seq: u64,
    pub kind: BreakKind,
}

/// Why a chain is broken, and what that most likely means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakKind {
    /// The record's stored hash is not the hash of its content: the row was changed.
    HashMismatch { stored: Hash, computed: Hash },
    /// Sequence numbers jump from `seq - 1` to `next_present`: rows were deleted.
    SeqGap { next_present: u64 },
    /// The record's `prev_hash` is not the hash of the record before it: the row's link, or the
    /// row before it (rewritten with a hash recomputed to match), was changed.
    PrevHashMismatch { stored: Hash, expected: Hash },
    /// The chain head says rows up to `head_seq` were appended, but the log ends before: the
    /// rows from `seq` on were deleted.
    Truncated { head_seq: u64 },
    /// A row past the chain head: it was inserted outside the audit log's append.
    BeyondHead { head_seq: u64 },
    /// The last row's hash is not the one the chain head recorded: the last row was rewritten
    /// with a recomputed hash.
    HeadMismatch { head_hash: Hash, last_hash: Hash },
    /// The row cannot be read as a record at all (a hash of the wrong length, a seq below 1):
    /// it was written or changed outside the audit log, past its constraints.
    Malformed { reason: String },
    /// The chain head row is gone or unreadable (reported at seq 0).
    HeadMissing { reason: String },
}

impl std::fmt::Display for BreakKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HashMismatch { stored, computed } => write!(
                f,
                "hash mismatch: the row was changed after it was written (stored {}, content hashes to {})",
                to_hex(stored),
                to_hex(computed)
            ),
            Self::SeqGap { next_present } => write!(
                f,
                "seq gap: the row is missing (deleted); the next row present is seq {next_present}"
            ),
            Self::PrevHashMismatch { stored, expected } => write!(
                f,
                "prev_hash mismatch: the row does not link to the row before it (stored {}, expected {})",
                to_hex(stored),
                to_hex(expected)
            ),
            Self::Truncated { head_seq } => write!(
                f,
                "truncated: the chain head records seq {head_seq}, but the rows from here on are missing (deleted)"
            ),
            Self::BeyondHead { head_seq } => write!(
                f,
                "row beyond the chain head (seq {head_seq}): inserted outside the audit log"
            ),
            Self::HeadMismatch {
                head_hash,
                last_hash,
            } => write!(
                f,
                "head mismatch: the last row hashes to {}, the chain head recorded {}",
                to_hex(last_hash),
                to_hex(head_hash)
            ),
            Self::Malformed { reason } => {
                write!(f, "malformed row, written outside the audit log: {reason}")
            }
            Self::HeadMissing { reason } => write!(f, "the chain head is {reason}"),
        }
    }
}

/// Checks records one by one, in sequence order, holding only the previous hash: a log of any
/// length is verified in constant memory.
#[derive(Debug, Clone)]
pub struct ChainWalker {
    expected_seq: u64,
    expected_prev: Hash,
    checked: u64,
}

impl Default for ChainWalker {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainWalker {
    pub fn new() -> Self {
        Self {
            expected_seq: 1,
            expected_prev: GENESIS,
            checked: 0,
        }
    }

    /// Records that checked out so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The sequence number the next record must have.
    pub fn next_seq(&self) -> u64 {
        self.expected_seq
    }

    /// Checks the next record (records must come in ascending `seq` order). The checks run in
    /// the order that names the cause best: a missing row first, then the link to the row
    /// before, then the row's own content.
    pub fn check(&mut self, record: &ChainedRecord) -> Result<(), ChainBreak> {
        // Rows come in ascending order and the primary key forbids duplicates, so a seq out of
        // place is always one past a gap.
        if record.seq != self.expected_seq {
            return Err(ChainBreak {
                seq: self.expected_seq,
                kind: BreakKind::SeqGap {
                    next_present: record.seq,
                },
            });
        }
        if record.prev_hash != self.expected_prev {
            return Err(ChainBreak {
                seq: record.seq,
                kind: BreakKind::PrevHashMismatch {
                    stored: record.prev_hash,
                    expected: self.expected_prev,
                },
            });
        }
        let computed = record.compute_hash();
        if computed != record.hash {
            return Err(ChainBreak {
                seq: record.seq,
                kind: BreakKind::HashMismatch {
                    stored: record.hash,
                    computed,
                },
            });
        }
        self.expected_seq += 1;
        self.expected_prev = record.hash;
        self.checked += 1;
        Ok(())
    }

    /// Checks the end of the log against the chain head, after the last record.
    pub fn finish(&self, head: &ChainHead) -> Result<(), ChainBreak> {
        let last_seq = self.expected_seq - 1;
        if last_seq < head.seq {
            return Err(ChainBreak {
                seq: self.expected_seq,
                kind: BreakKind::Truncated { head_seq: head.seq },
            });
        }
        if last_seq > head.seq {
            return Err(ChainBreak {
                seq: head.seq + 1,
                kind: BreakKind::BeyondHead { head_seq: head.seq },
            });
        }
        if self.expected_prev != head.hash {
            return Err(ChainBreak {
                seq: last_seq,
                kind: BreakKind::HeadMismatch {
                    head_hash: head.hash,
                    last_hash: self.expected_prev,
                },
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn record(seq: u64, prev_hash: Hash) -> ChainedRecord {
        let mut r = ChainedRecord {
            seq,
            at: DateTime::from_timestamp_micros(1_767_225_600_123_456).unwrap(),
            partner: "bhxh".into(),
            method: "lienthong.v1.LookupService/GetPerson".into(),
            subject_hash: Some("ab".repeat(32)),
            fields: vec!["name.family".into(), "birth_date".into()],
            purpose: "social insurance enrolment".into(),
            result: "ok".into(),
            detail: String::new(),
            prev_hash,
            hash: [0; HASH_LEN],
        };
        r.hash = r.compute_hash();
        r
    }

    fn chain(n: u64) -> Vec<ChainedRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let r = record(seq, prev);
                prev = r.hash;
                r
            })
            .collect()
    }

    /// Reads an encoding back into its parts: if this always recovers the record, the encoding
    /// is injective, so no two records share one.
    fn decode(bytes: &[u8]) -> Option<ChainedRecord> {
        struct Reader<'a>(&'a [u8]);
        impl Reader<'_> {
            fn take(&mut self, n: usize) -> Option<&[u8]> {
                if self.0.len() < n {
                    return None;
                }
                let (head, rest) = self.0.split_at(n);
                self.0 = rest;
                Some(head)
            }
            fn u64(&mut self) -> Option<u64> {
                Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
            }
            fn string(&mut self) -> Option<String> {
                let n = usize::try_from(self.u64()?).ok()?;
                String::from_utf8(self.take(n)?.to_vec()).ok()
            }
        }
        let mut r = Reader(bytes);
        if r.take(DOMAIN.len())? != DOMAIN {
            return None;
        }
        let seq = r.u64()?;
        let prev_hash: Hash = r.take(HASH_LEN)?.try_into().ok()?;
        let micros = i64::from_be_bytes(r.take(8)?.try_into().ok()?);
        let partner = r.string()?;
        let method = r.string()?;
        let subject_hash = match r.take(1)?[0] {
            0 => None,
            1 => Some(r.string()?),
            _ => return None,
        };
        let count = r.u64()?;
        let fields = (0..count).map(|_| r.string()).collect::<Option<Vec<_>>>()?;
        let purpose = r.string()?;
        let result = r.string()?;
        let detail = r.string()?;
        if !r.0.is_empty() {
            return None;
        }
        Some(ChainedRecord {
            seq,
            at: DateTime::from_timestamp_micros(micros)?,
            partner,
            method,
            subject_hash,
            fields,
            purpose,
            result,
            detail,
            prev_hash,
            hash: [0; HASH_LEN],
        })
    }

    #[test]
    fn shifting_a_boundary_between_fields_changes_the_hash() {
        let base = record(7, GENESIS);
        let mut shifted = base.clone();
        // "bhxh" + "lienthong..." vs "bhxhl" + "ienthong...": same concatenation.
        shifted.partner.push('l');
        shifted.method.remove(0);
        assert_eq!(
            format!("{}{}", base.partner, base.method),
            format!("{}{}", shifted.partner, shifted.method)
        );
        assert_ne!(base.compute_hash(), shifted.compute_hash());

        let mut purpose_into_result = base.clone();
        purpose_into_result.purpose = "social insurance enrolmento".into();
        purpose_into_result.result = "k".into();
        assert_ne!(base.compute_hash(), purpose_into_result.compute_hash());
    }

    #[test]
    fn field_lists_cannot_be_regrouped() {
        let mut one = record(1, GENESIS);
        one.fields = vec!["name.familybirth_date".into()];
        let mut two = one.clone();
        two.fields = vec!["name.family".into(), "birth_date".into()];
        let mut with_empty = one.clone();
        with_empty.fields = vec!["name.familybirth_date".into(), String::new()];
        let mut none = one.clone();
        none.fields = vec![];
        let mut one_empty = one.clone();
        one_empty.fields = vec![String::new()];
        let hashes = [&one, &two, &with_empty, &none, &one_empty].map(|r| r.compute_hash());
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn no_subject_differs_from_an_empty_one() {
        let mut none = record(1, GENESIS);
        none.subject_hash = None;
        let mut empty = none.clone();
        empty.subject_hash = Some(String::new());
        assert_ne!(none.compute_hash(), empty.compute_hash());
    }

    #[test]
    fn seq_prev_hash_and_time_are_covered() {
        let base = record(5, GENESIS);
        let mut other_seq = base.clone();
        other_seq.seq = 6;
        let mut other_prev = base.clone();
        other_prev.prev_hash[31] = 1;
        let mut other_at = base.clone();
        other_at.at += chrono::Duration::microseconds(1);
        for changed in [other_seq, other_prev, other_at] {
            assert_ne!(base.compute_hash(), changed.compute_hash());
        }
    }

    #[test]
    fn stored_instant_drops_nanoseconds() {
        let at = DateTime::from_timestamp(1_767_225_600, 123_456_789).unwrap();
        assert_eq!(stored_instant(at).timestamp_subsec_nanos(), 123_456_000);
    }

    #[test]
    fn an_intact_chain_walks_through() {
        let records = chain(5);
        let mut walker = ChainWalker::new();
        for r in &records {
            walker.check(r).unwrap();
        }
        let head = ChainHead {
            seq: 5,
            hash: records[4].hash,
        };
        walker.finish(&head).unwrap();
        assert_eq!(walker.checked(), 5);
        // An empty log with an empty head is intact.
        ChainWalker::new()
            .finish(&ChainHead {
                seq: 0,
                hash: GENESIS,
            })
            .unwrap();
    }

    fn first_break(records: &[ChainedRecord], head: ChainHead) -> ChainBreak {
        let walk = || {
            let mut walker = ChainWalker::new();
            for r in records {
                walker.check(r)?;
            }
            walker.finish(&head)
        };
        walk().expect_err("the chain should be broken")
    }

    #[test]
    fn each_kind_of_tampering_is_named_at_its_seq() {
        let records = chain(6);
        let head = ChainHead {
            seq: 6,
            hash: records[5].hash,
        };

        let mut changed = records.clone();
        changed[2].fields.push("ethnicity".into());
        let b = first_break(&changed, head);
        assert_eq!(b.seq, 3);
        assert!(matches!(b.kind, BreakKind::HashMismatch { .. }), "{b:?}");

        let mut deleted = records.clone();
        deleted.remove(3);
        let b = first_break(&deleted, head);
        assert_eq!(b.seq, 4);
        assert_eq!(b.kind, BreakKind::SeqGap { next_present: 5 });

        let mut relinked = records.clone();
        relinked[1].prev_hash = [7; HASH_LEN];
        let b = first_break(&relinked, head);
        assert_eq!(b.seq, 2);
        assert!(
            matches!(b.kind, BreakKind::PrevHashMismatch { .. }),
            "{b:?}"
        );

        // Rewritten with a recomputed hash: the next row's link gives it away.
        let mut rehashed = records.clone();
        rehashed[1].result = "not_found".into();
        rehashed[1].hash = rehashed[1].compute_hash();
        let b = first_break(&rehashed, head);
        assert_eq!(b.seq, 3);
        assert!(
            matches!(b.kind, BreakKind::PrevHashMismatch { .. }),
            "{b:?}"
        );

        let b = first_break(&records[..4], head);
        assert_eq!(b.seq, 5);
        assert_eq!(b.kind, BreakKind::Truncated { head_seq: 6 });

        let mut last_rehashed = records.clone();
        last_rehashed[5].detail = "nothing to see".into();
        last_rehashed[5].hash = last_rehashed[5].compute_hash();
        let b = first_break(&last_rehashed, head);
        assert_eq!(b.seq, 6);
        assert!(matches!(b.kind, BreakKind::HeadMismatch { .. }), "{b:?}");

        let extra = record(7, records[5].hash);
        let mut appended_outside = records.clone();
        appended_outside.push(extra);
        let b = first_break(&appended_outside, head);
        assert_eq!(b.seq, 7);
        assert_eq!(b.kind, BreakKind::BeyondHead { head_seq: 6 });
    }

    fn arb_record() -> impl Strategy<Value = ChainedRecord> {
        let text = || proptest::string::string_regex(".{0,12}").unwrap();
        (
            any::<u64>(),
            any::<[u8; HASH_LEN]>(),
            -62_000_000_000_000_000i64..250_000_000_000_000_000,
            (text(), text(), proptest::option::of(text())),
            proptest::collection::vec(text(), 0..5),
            (text(), text(), text()),
        )
            .prop_map(
                |(seq, prev_hash, micros, (partner, method, subject_hash), fields, rest)| {
                    ChainedRecord {
                        seq,
                        at: DateTime::from_timestamp_micros(micros).unwrap_or_default(),
                        partner,
                        method,
                        subject_hash,
                        fields,
                        purpose: rest.0,
                        result: rest.1,
                        detail: rest.2,
                        prev_hash,
                        hash: [0; HASH_LEN],
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn the_encoding_decodes_back_to_the_record(record in arb_record()) {
            prop_assert_eq!(decode(&record.canonical_bytes()), Some(record));
        }

        #[test]
        fn different_records_encode_differently(a in arb_record(), b in arb_record()) {
            prop_assume!(a != b);
            prop_assert_ne!(a.canonical_bytes(), b.canonical_bytes());
        }
    }
}
