//! Organisations that employ civil servants: central bodies of the government after the 2025
//! restructuring, and the specialised departments and offices of every provincial unit.
//!
//! The codes are made for this data set (`TW.BNV`, `T40.SNV`: central or province code, then
//! an abbreviation of the body); they are not the electronic identifier codes of Quyết định
//! 20/2020/QĐ-TTg, which this project does not hold.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::provinces::PROVINCES_FROM_2025;

/// An employing organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Organisation {
    pub code: String,
    pub name: String,
    /// The provincial unit (code from 2025-07-01) of a provincial body; `None` for central ones.
    pub province: Option<u8>,
}

/// Ministries and ministry-level bodies whose staff are civil servants (the armed forces and
/// the police keep their own personnel records).
const CENTRAL: [(&str, &str); 17] = [
    ("BNV", "Bộ Nội vụ"),
    ("BNG", "Bộ Ngoại giao"),
    ("BTP", "Bộ Tư pháp"),
    ("BTC", "Bộ Tài chính"),
    ("BCT", "Bộ Công Thương"),
    ("BNNMT", "Bộ Nông nghiệp và Môi trường"),
    ("BXD", "Bộ Xây dựng"),
    ("BVHTTDL", "Bộ Văn hóa, Thể thao và Du lịch"),
    ("BKHCN", "Bộ Khoa học và Công nghệ"),
    ("BGDDT", "Bộ Giáo dục và Đào tạo"),
    ("BYT", "Bộ Y tế"),
    ("BDTTG", "Bộ Dân tộc và Tôn giáo"),
    ("NHNN", "Ngân hàng Nhà nước Việt Nam"),
    ("TTCP", "Thanh tra Chính phủ"),
    ("VPCP", "Văn phòng Chính phủ"),
    ("TTXVN", "Thông tấn xã Việt Nam"),
    ("BHXH", "Bảo hiểm xã hội Việt Nam"),
];

/// Bodies of every provincial People's Committee: (abbreviation, name before the unit's name).
const PROVINCIAL: [(&str, &str); 13] = [
    ("VP", "Văn phòng Ủy ban nhân dân"),
    ("SNV", "Sở Nội vụ"),
    ("STC", "Sở Tài chính"),
    ("STP", "Sở Tư pháp"),
    ("SXD", "Sở Xây dựng"),
    ("SCT", "Sở Công Thương"),
    ("SNNMT", "Sở Nông nghiệp và Môi trường"),
    ("SGDDT", "Sở Giáo dục và Đào tạo"),
    ("SYT", "Sở Y tế"),
    ("SKHCN", "Sở Khoa học và Công nghệ"),
    ("SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch"),
    ("SDTTG", "Sở Dân tộc và Tôn giáo"),
    ("TT", "Thanh tra"),
];

static ORGANISATIONS: LazyLock<Vec<Organisation>> = LazyLock::new(|| {
    let central = CENTRAL.iter().map(|(code, name)| Organisation {
        code: format!("TW.{code}"),
        name: (*name).to_owned(),
        province: None,
    });
    let provincial = PROVINCES_FROM_2025.iter().flat_map(|province| {
        PROVINCIAL.iter().map(move |(code, body)| Organisation {
            code: format!("T{:02}.{code}", province.code),
            name: format!("{body} {}", province.full_name()),
            province: Some(province.code),
        })
    });
    central.chain(provincial).collect()
});

/// Every organisation: the central ones first, then each provincial unit's in code order.
pub fn organisations() -> &'static [Organisation] {
    &ORGANISATIONS
}

/// The position of the organisation with this code in [`organisations`].
pub fn organisation_index(code: &str) -> Option<usize> {
    static INDEX: LazyLock<HashMap<&'static str, usize>> = LazyLock::new(|| {
        organisations()
            .iter()
            .enumerate()
            .map(|(i, o)| (o.code.as_str(), i))
            .collect()
    });
    INDEX.get(code).copied()
}

/// The central organisations.
pub fn central_organisations() -> &'static [Organisation] {
    &ORGANISATIONS[..CENTRAL.len()]
}

/// The organisations of one provincial unit (code from 2025-07-01); empty for an unknown code.
pub fn provincial_organisations(province: u8) -> &'static [Organisation] {
    match PROVINCES_FROM_2025.iter().position(|p| p.code == province) {
        Some(row) => {
            let start = CENTRAL.len() + row * PROVINCIAL.len();
            &ORGANISATIONS[start..start + PROVINCIAL.len()]
        }
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_names_read_naturally() {
        let all = organisations();
        assert_eq!(all.len(), 17 + 34 * 13);
        let codes: HashSet<&str> = all.iter().map(|o| o.code.as_str()).collect();
        assert_eq!(codes.len(), all.len());
        let nghe_an = provincial_organisations(40);
        assert!(
            nghe_an
                .iter()
                .any(|o| o.code == "T40.SNV" && o.name == "Sở Nội vụ tỉnh Nghệ An")
        );
        assert!(
            provincial_organisations(1)
                .iter()
                .any(|o| o.name == "Văn phòng Ủy ban nhân dân thành phố Hà Nội")
        );
        assert!(nghe_an.iter().all(|o| o.province == Some(40)));
        assert!(central_organisations().iter().all(|o| o.province.is_none()));
        for (i, o) in all.iter().enumerate() {
            assert_eq!(organisation_index(&o.code), Some(i));
        }
        assert_eq!(organisation_index("T02.SNV"), None);
        assert!(
            provincial_organisations(2).is_empty(),
            "02 is no longer a unit"
        );
    }
}
