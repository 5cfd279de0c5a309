//! The shapes of the store's answers, and the page tokens of civil-servant search. Pure.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use lienthong_proto::v1::{
    AdministrativeUnit, CivilServant, Organisation, Person, ResolutionResult, ResolvedCivilServant,
    ResolvedPerson, SocialInsuranceRecord,
};
use lienthong_vietnamese::text::fold;
use sha2::{Digest as _, Sha256};

use crate::entity::Entity;
use crate::error::StoreError;
use crate::version::KafkaOrigin;

/// Whom [`crate::Store::civil_servant`] looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The person's personal ID; a superseded number finds the person by their current one.
    PersonalId(String),
    /// The civil servant's canonical record id.
    RecordId(String),
}

/// A person as the store knows them now.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonView {
    pub person: Person,
    /// The resolver's verdict for the stored record.
    pub resolution: Option<ResolutionResult>,
    /// The number asked for, when the register re-issued it and the answer is the person under
    /// their current number.
    pub redirected_from: Option<String>,
}

/// A civil servant as the store knows them now.
#[derive(Debug, Clone, PartialEq)]
pub struct CivilServantView {
    pub civil_servant: CivilServant,
    pub resolution: Option<ResolutionResult>,
}

/// A search of current civil servants. Every filter given must hold; none given lists all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CivilServantQuery {
    /// The organisation's record id.
    pub organisation_id: Option<String>,
    /// A prefix of the full name, compared after folding (case, tone marks, đ): "nguyen van"
    /// finds "Nguyễn Văn An".
    pub name_prefix: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// 1–[`MAX_PAGE_SIZE`]; 0 means [`DEFAULT_PAGE_SIZE`], larger values are capped.
    pub page_size: u32,
    /// The `next_page_token` of the previous page of the same query.
    pub page_token: Option<String>,
}

/// One page of a search, in a stable order (folded name, then record id).
#[derive(Debug, Clone, PartialEq)]
pub struct CivilServantPage {
    pub items: Vec<CivilServantView>,
    /// `None` on the last page.
    pub next_page_token: Option<String>,
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

/// A stored version of a record, as [`crate::Store::as_of`] and [`crate::Store::history`]
/// return it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    pub entity: Entity,
    pub record_id: String,
    /// Increases with every version stored (across records).
    pub version_id: i64,
    pub personal_id: Option<String>,
    pub organisation_id: Option<String>,
    pub name_folded: String,
    pub birth_date: Option<NaiveDate>,
    pub code: Option<String>,
    /// The encoded message; `None` for a version a tombstone wrote.
    pub body: Option<Vec<u8>>,
    pub source_position: Option<String>,
    pub idempotency_key: String,
    pub valid_from: DateTime<Utc>,
    /// `None` while current.
    pub valid_to: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub origin: Option<KafkaOrigin>,
    pub stored_at: DateTime<Utc>,
}

/// A stored body, decoded (boxed: the messages are kilobytes and differ in size).
#[derive(Debug, Clone, PartialEq)]
pub enum StoredRecord {
    Person(Box<ResolvedPerson>),
    CivilServant(Box<ResolvedCivilServant>),
    Organisation(Box<Organisation>),
    AdministrativeUnit(Box<AdministrativeUnit>),
    SocialInsurance(Box<SocialInsuranceRecord>),
}

impl StoredVersion {
    /// The body decoded as its entity's message; `None` for a tombstone's version.
    pub fn record(&self) -> Result<Option<StoredRecord>, StoreError> {
        let Some(body) = self.body.as_deref() else {
            return Ok(None);
        };
        let corrupt = |source| StoreError::Corrupt {
            entity: self.entity,
            record_id: self.record_id.clone(),
            source,
        };
        Ok(Some(match self.entity {
            Entity::Person => StoredRecord::Person(Box::new(decode(body).map_err(corrupt)?)),
            Entity::CivilServant => {
                StoredRecord::CivilServant(Box::new(decode(body).map_err(corrupt)?))
            }
            Entity::Organisation => {
                StoredRecord::Organisation(Box::new(decode(body).map_err(corrupt)?))
            }
            Entity::AdministrativeUnit => {
                StoredRecord::AdministrativeUnit(Box::new(decode(body).map_err(corrupt)?))
            }
            Entity::SocialInsurance => {
                StoredRecord::SocialInsurance(Box::new(decode(body).map_err(corrupt)?))
            }
        }))
    }
}

fn decode<M: prost::Message + Default>(body: &[u8]) -> Result<M, prost::DecodeError> {
    M::decode(body)
}

/// A search after folding its name and sizing its page: what the SQL is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreparedSearch {
    pub organisation_id: Option<String>,
    /// Folded; `None` when the prefix folds to nothing.
    pub name_prefix: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub page_size: u32,
    pub after: Option<PageCursor>,
    /// Digest of the filters, which a token is bound to.
    filters: [u8; 32],
}

/// Where a page ends: the sort key of its last item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageCursor {
    pub name_folded: String,
    pub record_id: String,
}

const TOKEN_VERSION: u8 = 1;

impl PreparedSearch {
    pub fn new(query: &CivilServantQuery) -> Result<Self, StoreError> {
        let organisation_id = query
            .organisation_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let name_prefix = query
            .name_prefix
            .as_deref()
            .map(fold)
            .filter(|s| !s.is_empty());
        let page_size = match query.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let mut hash = Sha256::new();
        for part in [
            organisation_id.as_deref(),
            name_prefix.as_deref(),
            query.birth_date.map(|d| d.to_string()).as_deref(),
        ] {
            match part {
                Some(text) => {
                    hash.update([1]);
                    hash.update((text.len() as u64).to_be_bytes());
                    hash.update(text.as_bytes());
                }
                None => hash.update([0]),
            }
        }
        let filters: [u8; 32] = hash.finalize().into();
        let after = match query.page_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(decode_token(token, &filters)?),
        };
        Ok(Self {
            organisation_id,
            name_prefix,
            birth_date: query.birth_date,
            page_size,
            after,
            filters,
        })
    }

    /// The token of the page after the one ending at `last`.
    pub fn token_after(&self, last: &PageCursor) -> String {
        let mut bytes = Vec::with_capacity(13 + last.name_folded.len() + last.record_id.len());
        bytes.push(TOKEN_VERSION);
        bytes.extend_from_slice(&tag(&self.filters, last));
        bytes.extend_from_slice(&(last.name_folded.len() as u32).to_be_bytes());
        bytes.extend_from_slice(last.name_folded.as_bytes());
        bytes.extend_from_slice(last.record_id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// Binds a cursor to the filters of its query, and detects a damaged token.
fn tag(filters: &[u8; 32], cursor: &PageCursor) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(filters)
        .chain_update(cursor.name_folded.as_bytes())
        .chain_update([0])
        .chain_update(cursor.record_id.as_bytes())
        .finalize();
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&digest[..8]);
    tag
}

/// A token is opaque to clients: the sort key of the last item of the previous page, and a tag
/// of it with the query's filters, so that a token used with other filters (or damaged) is
/// refused rather than answered with a wrong page. Not a secret: any cursor is harmless.
fn decode_token(token: &str, filters: &[u8; 32]) -> Result<PageCursor, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| StoreError::InvalidPageToken)?;
    let (&version, rest) = bytes.split_first().ok_or(StoreError::InvalidPageToken)?;
    if version != TOKEN_VERSION || rest.len() < 12 {
        return Err(StoreError::InvalidPageToken);
    }
    let claimed = &rest[..8];
    let mut len = [0u8; 4];
    len.copy_from_slice(&rest[8..12]);
    let len = u32::from_be_bytes(len) as usize;
    let rest = &rest[12..];
    if rest.len() < len {
        return Err(StoreError::InvalidPageToken);
    }
    let (name, record_id) = rest.split_at(len);
    let text = |b: &[u8]| {
        String::from_utf8(b.to_vec())
            .ok()
            .filter(|s| !s.contains('\0'))
            .ok_or(StoreError::InvalidPageToken)
    };
    let cursor = PageCursor {
        name_folded: text(name)?,
        record_id: text(record_id)?,
    };
    if tag(filters, &cursor) != claimed {
        return Err(StoreError::InvalidPageToken);
    }
    Ok(cursor)
}

/// The least string greater than every string that starts with `prefix`, in code-point order
/// (the order of the `COLLATE "C"` columns); `None` when there is none. A prefix search is then
/// the range `[prefix, bound)`, which an index answers with a generic plan too (a `LIKE`
/// pattern held in a parameter is not turned into an index range by a generic plan).
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str) -> CivilServantQuery {
        CivilServantQuery {
            organisation_id: Some("org:1".into()),
            name_prefix: Some(name.into()),
            ..CivilServantQuery::default()
        }
    }

    #[test]
    fn names_fold_and_page_sizes_are_bounded() {
        let p = PreparedSearch::new(&query("  NGUYỄN Văn ")).unwrap();
        assert_eq!(p.name_prefix.as_deref(), Some("nguyen van"));
        assert_eq!(p.page_size, DEFAULT_PAGE_SIZE);
        let big = PreparedSearch::new(&CivilServantQuery {
            page_size: 10_000,
            ..CivilServantQuery::default()
        })
        .unwrap();
        assert_eq!(big.page_size, MAX_PAGE_SIZE);
        let blank = PreparedSearch::new(&query("   ")).unwrap();
        assert_eq!(blank.name_prefix, None);
    }

    #[test]
    fn tokens_round_trip_for_their_own_query_only() {
        let p = PreparedSearch::new(&query("nguyen")).unwrap();
        let cursor = PageCursor {
            name_folded: "nguyen van an".into(),
            record_id: "cs:42".into(),
        };
        let token = p.token_after(&cursor);
        assert!(!token.contains('/') && !token.contains('+') && !token.contains('='));
        let next = PreparedSearch::new(&CivilServantQuery {
            page_token: Some(token.clone()),
            ..query("Nguyễn")
        })
        .unwrap();
        assert_eq!(next.after, Some(cursor));
        // The same token with another filter, a damaged token, garbage: refused.
        for (q, t) in [
            (query("tran"), token.clone()),
            (query("nguyen"), token[..token.len() - 2].to_string()),
            (query("nguyen"), "not a token!".to_string()),
            (query("nguyen"), URL_SAFE_NO_PAD.encode([2u8; 20])),
        ] {
            let err = PreparedSearch::new(&CivilServantQuery {
                page_token: Some(t),
                ..q
            })
            .unwrap_err();
            assert!(matches!(err, StoreError::InvalidPageToken), "{err}");
        }
    }

    #[test]
    fn a_prefix_range_holds_exactly_the_strings_with_the_prefix() {
        assert_eq!(
            prefix_upper_bound("nguyen van").as_deref(),
            Some("nguyen vao")
        );
        assert_eq!(
            prefix_upper_bound("ab\u{D7FF}").as_deref(),
            Some("ab\u{E000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        let bound = prefix_upper_bound("tran").unwrap();
        for inside in ["tran", "tran thi", "tranh", "tran\u{10FFFF}"] {
            assert!(inside >= "tran" && inside < bound.as_str(), "{inside}");
        }
        for outside in ["tra", "trao", "trb", "tram z"] {
            assert!(
                !(outside >= "tran" && outside < bound.as_str()),
                "{outside}"
            );
        }
    }
}
