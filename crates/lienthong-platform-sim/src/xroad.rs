//! X-Road-style request headers, as the national intermediary platforms (Decree 194/2025) expect
//! them from a member's information system.
//!
//! | header            | content                                                   | example                                  |
//! |-------------------|-----------------------------------------------------------|------------------------------------------|
//! | `X-Road-Client`   | `INSTANCE/CLASS/MEMBER/SUBSYSTEM` of the calling system     | `VN/GOV/000.00.00.H29/lienthong-hub`     |
//! | `X-Road-Id`       | unique id of this message, 1–255 visible ASCII characters | `01J9Z6W9D4Q5M1K3B7X2N8R0TS`              |
//! | `X-Road-UserId`   | the official or system account on whose behalf it is sent  | `VN/bnv/nguyenvana`                      |
//! | `X-Road-Purpose`  | why the data is shared (Decree 13/2023 asks for a purpose) | `civil-servant-db-sync`                  |
//!
//! Header values are visible ASCII; a purpose in Vietnamese is sent percent-encoded. Parsing is
//! pure; the server decides what to do with a [`XRoadError`].

use std::fmt;

/// Header carrying the caller's client identifier.
pub const HEADER_CLIENT: &str = "x-road-client";
/// Header carrying the message id.
pub const HEADER_ID: &str = "x-road-id";
/// Header carrying the end user's id.
pub const HEADER_USER_ID: &str = "x-road-userid";
/// Header carrying the purpose of the exchange.
pub const HEADER_PURPOSE: &str = "x-road-purpose";

/// Longest message id, user id or purpose accepted.
pub const MAX_VALUE_LEN: usize = 255;

/// A member subsystem identifier `INSTANCE/CLASS/MEMBER/SUBSYSTEM`.
///
/// Instance, member and subsystem codes are 1–100 characters from `A-Z a-z 0-9 . _ : -`
/// (member codes such as `000.00.00.H29` use dots); the member class is upper-case letters
/// (`GOV`, `COM`, `NGO`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XRoadClientId {
    pub instance: String,
    pub member_class: String,
    pub member_code: String,
    pub subsystem: String,
}

/// Why a set of X-Road headers was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XRoadError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("header {header} is not valid: {reason}")]
    Invalid {
        header: &'static str,
        reason: String,
    },
}

impl XRoadClientId {
    /// Parses `INSTANCE/CLASS/MEMBER/SUBSYSTEM`.
    pub fn parse(text: &str) -> Result<Self, XRoadError> {
        let invalid = |reason: String| XRoadError::Invalid {
            header: "X-Road-Client",
            reason,
        };
        let parts: Vec<&str> = text.split('/').collect();
        let [instance, member_class, member_code, subsystem] = parts.as_slice() else {
            return Err(invalid(format!(
                "expected INSTANCE/CLASS/MEMBER/SUBSYSTEM (4 parts), got {} part(s)",
                parts.len()
            )));
        };
        for (name, part) in [
            ("instance", instance),
            ("member code", member_code),
            ("subsystem", subsystem),
        ] {
            if part.is_empty() || part.len() > 100 {
                return Err(invalid(format!("{name} must be 1-100 characters")));
            }
            if !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
            {
                return Err(invalid(format!(
                    "{name} {part:?} may only contain A-Z a-z 0-9 . _ : -"
                )));
            }
        }
        if member_class.is_empty()
            || member_class.len() > 16
            || !member_class.chars().all(|c| c.is_ascii_uppercase())
        {
            return Err(invalid(format!(
                "member class {member_class:?} must be 1-16 upper-case letters"
            )));
        }
        Ok(Self {
            instance: (*instance).to_owned(),
            member_class: (*member_class).to_owned(),
            member_code: (*member_code).to_owned(),
            subsystem: (*subsystem).to_owned(),
        })
    }
}

impl fmt::Display for XRoadClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.instance, self.member_class, self.member_code, self.subsystem
        )
    }
}

/// The four headers of one request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XRoadHeaders {
    pub client: XRoadClientId,
    pub message_id: String,
    pub user_id: String,
    pub purpose: String,
}

impl XRoadHeaders {
    /// Checks the headers; `lookup` returns a header's value, `None` when absent and
    /// `Some(Err(()))` when it is not visible ASCII.
    pub fn from_lookup<'a>(
        lookup: impl Fn(&'static str) -> Option<Result<&'a str, ()>>,
    ) -> Result<Self, XRoadError> {
        let get = |header: &'static str, display: &'static str| -> Result<&'a str, XRoadError> {
            match lookup(header) {
                None => Err(XRoadError::Missing(display)),
                Some(Err(())) => Err(XRoadError::Invalid {
                    header: display,
                    reason: "not visible ASCII (percent-encode other characters)".into(),
                }),
                Some(Ok(v)) => {
                    let v = v.trim();
                    if v.is_empty() {
                        Err(XRoadError::Invalid {
                            header: display,
                            reason: "empty".into(),
                        })
                    } else if v.len() > MAX_VALUE_LEN {
                        Err(XRoadError::Invalid {
                            header: display,
                            reason: format!("longer than {MAX_VALUE_LEN} characters"),
                        })
                    } else {
                        Ok(v)
                    }
                }
            }
        };
        let client = XRoadClientId::parse(get(HEADER_CLIENT, "X-Road-Client")?)?;
        let message_id = get(HEADER_ID, "X-Road-Id")?;
        if message_id.contains(char::is_whitespace) {
            return Err(XRoadError::Invalid {
                header: "X-Road-Id",
                reason: "must not contain spaces".into(),
            });
        }
        Ok(Self {
            client,
            message_id: message_id.to_owned(),
            user_id: get(HEADER_USER_ID, "X-Road-UserId")?.to_owned(),
            purpose: get(HEADER_PURPOSE, "X-Road-Purpose")?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_four_part_client_id() {
        let id = XRoadClientId::parse("VN/GOV/000.00.00.H29/lienthong-hub").unwrap();
        assert_eq!(id.instance, "VN");
        assert_eq!(id.member_class, "GOV");
        assert_eq!(id.member_code, "000.00.00.H29");
        assert_eq!(id.subsystem, "lienthong-hub");
    }

    #[test]
    fn rejects_malformed_client_ids() {
        for bad in [
            "",
            "VN/GOV/000.00.00.H29",
            "VN/GOV/000.00.00.H29/hub/extra",
            "VN/gov/000/hub",
            "VN/GOV//hub",
            "VN/GOV/bad code/hub",
        ] {
            assert!(XRoadClientId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn missing_header_is_named() {
        let err = XRoadHeaders::from_lookup(|h| match h {
            HEADER_CLIENT => Some(Ok("VN/GOV/M1/S1")),
            HEADER_ID => Some(Ok("m-1")),
            HEADER_USER_ID => Some(Ok("u")),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(err, XRoadError::Missing("X-Road-Purpose"));
    }

    proptest! {
        #[test]
        fn display_round_trips(
            instance in "[A-Z]{2,4}",
            class in "[A-Z]{3}",
            member in "[0-9A-Za-z.]{1,20}",
            sub in "[a-z0-9_-]{1,20}",
        ) {
            let text = format!("{instance}/{class}/{member}/{sub}");
            let id = XRoadClientId::parse(&text).unwrap();
            prop_assert_eq!(id.to_string(), text);
        }
    }
}
