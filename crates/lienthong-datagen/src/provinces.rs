//! The provinces: the 63 of birth registration before 2025-07-01, the 34 from that day, and how
//! the first became the second.
//!
//! Copied at design time from the project's reference data (not read at run time):
//! `vn_province_codes_63_pre_2025.csv` (GSO codes and the names of Thông tư 07/2016/TT-BCA,
//! Phụ lục 1), `vn_province_codes_34_from_2025-07-01.csv` (Nghị quyết 202/2025/QH15, codes per
//! Quyết định 19/2025/QĐ-TTg) and `vn_province_merger_map_63_to_34.csv`. No new codes were made
//! in 2025: each new unit kept the code of one old province, so a province that kept its code
//! has the same code in both lists, and an old code that changed is never a valid new code.
//! The tests check the tables against `lienthong_vietnamese::pin`, which carries the same
//! reference data.

/// Whether a unit is a province (tỉnh) or a centrally run city (thành phố).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnitKind {
    Province,
    Municipality,
}

impl UnitKind {
    /// The word in front of the name in an organisation's name: `tỉnh`, `thành phố`.
    pub fn vietnamese(self) -> &'static str {
        match self {
            UnitKind::Province => "tỉnh",
            UnitKind::Municipality => "thành phố",
        }
    }
}

/// A province of the pre-2025 list: its GSO code (also digits 2–3 of the three-digit ID-number
/// prefix `0xx`), short name, and the code of the province it is part of since 2025-07-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OldProvince {
    pub code: u8,
    pub name: &'static str,
    pub merged_into: u8,
}

/// A provincial unit from 2025-07-01 (names as of that day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurrentProvince {
    pub code: u8,
    pub name: &'static str,
    pub kind: UnitKind,
}

impl CurrentProvince {
    /// `tỉnh Nghệ An`, `thành phố Hà Nội`: the unit as an organisation's name ends.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.kind.vietnamese(), self.name)
    }
}

/// The 63 provinces before 2025-07-01, in code order.
#[rustfmt::skip]
pub const PROVINCES_PRE_2025: [OldProvince; 63] = [
    OldProvince { code: 1, name: "Hà Nội", merged_into: 1 },
    OldProvince { code: 2, name: "Hà Giang", merged_into: 8 },
    OldProvince { code: 4, name: "Cao Bằng", merged_into: 4 },
    OldProvince { code: 6, name: "Bắc Kạn", merged_into: 19 },
    OldProvince { code: 8, name: "Tuyên Quang", merged_into: 8 },
    OldProvince { code: 10, name: "Lào Cai", merged_into: 15 },
    OldProvince { code: 11, name: "Điện Biên", merged_into: 11 },
    OldProvince { code: 12, name: "Lai Châu", merged_into: 12 },
    OldProvince { code: 14, name: "Sơn La", merged_into: 14 },
    OldProvince { code: 15, name: "Yên Bái", merged_into: 15 },
    OldProvince { code: 17, name: "Hòa Bình", merged_into: 25 },
    OldProvince { code: 19, name: "Thái Nguyên", merged_into: 19 },
    OldProvince { code: 20, name: "Lạng Sơn", merged_into: 20 },
    OldProvince { code: 22, name: "Quảng Ninh", merged_into: 22 },
    OldProvince { code: 24, name: "Bắc Giang", merged_into: 24 },
    OldProvince { code: 25, name: "Phú Thọ", merged_into: 25 },
    OldProvince { code: 26, name: "Vĩnh Phúc", merged_into: 25 },
    OldProvince { code: 27, name: "Bắc Ninh", merged_into: 24 },
    OldProvince { code: 30, name: "Hải Dương", merged_into: 31 },
    OldProvince { code: 31, name: "Hải Phòng", merged_into: 31 },
    OldProvince { code: 33, name: "Hưng Yên", merged_into: 33 },
    OldProvince { code: 34, name: "Thái Bình", merged_into: 33 },
    OldProvince { code: 35, name: "Hà Nam", merged_into: 37 },
    OldProvince { code: 36, name: "Nam Định", merged_into: 37 },
    OldProvince { code: 37, name: "Ninh Bình", merged_into: 37 },
    OldProvince { code: 38, name: "Thanh Hóa", merged_into: 38 },
    OldProvince { code: 40, name: "Nghệ An", merged_into: 40 },
    OldProvince { code: 42, name: "Hà Tĩnh", merged_into: 42 },
    OldProvince { code: 44, name: "Quảng Bình", merged_into: 44 },
    OldProvince { code: 45, name: "Quảng Trị", merged_into: 44 },
    OldProvince { code: 46, name: "Thừa Thiên Huế", merged_into: 46 },
    OldProvince { code: 48, name: "Đà Nẵng", merged_into: 48 },
    OldProvince { code: 49, name: "Quảng Nam", merged_into: 48 },
    OldProvince { code: 51, name: "Quảng Ngãi", merged_into: 51 },
    OldProvince { code: 52, name: "Bình Định", merged_into: 52 },
    OldProvince { code: 54, name: "Phú Yên", merged_into: 66 },
    OldProvince { code: 56, name: "Khánh Hòa", merged_into: 56 },
    OldProvince { code: 58, name: "Ninh Thuận", merged_into: 56 },
    OldProvince { code: 60, name: "Bình Thuận", merged_into: 68 },
    OldProvince { code: 62, name: "Kon Tum", merged_into: 51 },
    OldProvince { code: 64, name: "Gia Lai", merged_into: 52 },
    OldProvince { code: 66, name: "Đắk Lắk", merged_into: 66 },
    OldProvince { code: 67, name: "Đắk Nông", merged_into: 68 },
    OldProvince { code: 68, name: "Lâm Đồng", merged_into: 68 },
    OldProvince { code: 70, name: "Bình Phước", merged_into: 75 },
    OldProvince { code: 72, name: "Tây Ninh", merged_into: 80 },
    OldProvince { code: 74, name: "Bình Dương", merged_into: 79 },
    OldProvince { code: 75, name: "Đồng Nai", merged_into: 75 },
    OldProvince { code: 77, name: "Bà Rịa - Vũng Tàu", merged_into: 79 },
    OldProvince { code: 79, name: "Hồ Chí Minh", merged_into: 79 },
    OldProvince { code: 80, name: "Long An", merged_into: 80 },
    OldProvince { code: 82, name: "Tiền Giang", merged_into: 82 },
    OldProvince { code: 83, name: "Bến Tre", merged_into: 86 },
    OldProvince { code: 84, name: "Trà Vinh", merged_into: 86 },
    OldProvince { code: 86, name: "Vĩnh Long", merged_into: 86 },
    OldProvince { code: 87, name: "Đồng Tháp", merged_into: 82 },
    OldProvince { code: 89, name: "An Giang", merged_into: 91 },
    OldProvince { code: 91, name: "Kiên Giang", merged_into: 91 },
    OldProvince { code: 92, name: "Cần Thơ", merged_into: 92 },
    OldProvince { code: 93, name: "Hậu Giang", merged_into: 92 },
    OldProvince { code: 94, name: "Sóc Trăng", merged_into: 92 },
    OldProvince { code: 95, name: "Bạc Liêu", merged_into: 96 },
    OldProvince { code: 96, name: "Cà Mau", merged_into: 96 },
];

/// The 34 provincial units from 2025-07-01, in code order.
#[rustfmt::skip]
pub const PROVINCES_FROM_2025: [CurrentProvince; 34] = [
    CurrentProvince { code: 1, name: "Hà Nội", kind: UnitKind::Municipality },
    CurrentProvince { code: 4, name: "Cao Bằng", kind: UnitKind::Province },
    CurrentProvince { code: 8, name: "Tuyên Quang", kind: UnitKind::Province },
    CurrentProvince { code: 11, name: "Điện Biên", kind: UnitKind::Province },
    CurrentProvince { code: 12, name: "Lai Châu", kind: UnitKind::Province },
    CurrentProvince { code: 14, name: "Sơn La", kind: UnitKind::Province },
    CurrentProvince { code: 15, name: "Lào Cai", kind: UnitKind::Province },
    CurrentProvince { code: 19, name: "Thái Nguyên", kind: UnitKind::Province },
    CurrentProvince { code: 20, name: "Lạng Sơn", kind: UnitKind::Province },
    CurrentProvince { code: 22, name: "Quảng Ninh", kind: UnitKind::Province },
    CurrentProvince { code: 24, name: "Bắc Ninh", kind: UnitKind::Province },
    CurrentProvince { code: 25, name: "Phú Thọ", kind: UnitKind::Province },
    CurrentProvince { code: 31, name: "Hải Phòng", kind: UnitKind::Municipality },
    CurrentProvince { code: 33, name: "Hưng Yên", kind: UnitKind::Province },
    CurrentProvince { code: 37, name: "Ninh Bình", kind: UnitKind::Province },
    CurrentProvince { code: 38, name: "Thanh Hóa", kind: UnitKind::Province },
    CurrentProvince { code: 40, name: "Nghệ An", kind: UnitKind::Province },
    CurrentProvince { code: 42, name: "Hà Tĩnh", kind: UnitKind::Province },
    CurrentProvince { code: 44, name: "Quảng Trị", kind: UnitKind::Province },
    CurrentProvince { code: 46, name: "Huế", kind: UnitKind::Municipality },
    CurrentProvince { code: 48, name: "Đà Nẵng", kind: UnitKind::Municipality },
    CurrentProvince { code: 51, name: "Quảng Ngãi", kind: UnitKind::Province },
    CurrentProvince { code: 52, name: "Gia Lai", kind: UnitKind::Province },
    CurrentProvince { code: 56, name: "Khánh Hòa", kind: UnitKind::Province },
    CurrentProvince { code: 66, name: "Đắk Lắk", kind: UnitKind::Province },
    CurrentProvince { code: 68, name: "Lâm Đồng", kind: UnitKind::Province },
    CurrentProvince { code: 75, name: "Đồng Nai", kind: UnitKind::Province },
    CurrentProvince { code: 79, name: "Hồ Chí Minh", kind: UnitKind::Municipality },
    CurrentProvince { code: 80, name: "Tây Ninh", kind: UnitKind::Province },
    CurrentProvince { code: 82, name: "Đồng Tháp", kind: UnitKind::Province },
    CurrentProvince { code: 86, name: "Vĩnh Long", kind: UnitKind::Province },
    CurrentProvince { code: 91, name: "An Giang", kind: UnitKind::Province },
    CurrentProvince { code: 92, name: "Cần Thơ", kind: UnitKind::Municipality },
    CurrentProvince { code: 96, name: "Cà Mau", kind: UnitKind::Province },
];

/// The pre-2025 province with this code.
pub fn old_province(code: u8) -> Option<&'static OldProvince> {
    PROVINCES_PRE_2025.iter().find(|p| p.code == code)
}

/// The post-2025 unit with this code.
pub fn current_province(code: u8) -> Option<&'static CurrentProvince> {
    PROVINCES_FROM_2025.iter().find(|p| p.code == code)
}

/// The code since 2025-07-01 of a pre-2025 province; `None` for a code that is not one.
pub fn current_code(old_code: u8) -> Option<u8> {
    old_province(old_code).map(|p| p.merged_into)
}

/// Every (pre-2025 code, code from 2025) pair, in old-code order.
pub fn merger_pairs() -> impl Iterator<Item = (u8, u8)> {
    PROVINCES_PRE_2025.iter().map(|p| (p.code, p.merged_into))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use lienthong_vietnamese::pin::province_prefixes;

    use super::*;

    #[test]
    fn tables_agree_with_the_vietnamese_crate_reference_data() {
        let prefixes = province_prefixes();
        assert_eq!(prefixes.len(), PROVINCES_PRE_2025.len());
        for (ours, theirs) in PROVINCES_PRE_2025.iter().zip(prefixes) {
            assert_eq!(format!("{:03}", ours.code), theirs.code);
            assert_eq!(
                format!("{:02}", ours.merged_into),
                theirs.merged_into_gso_code
            );
        }
    }

    #[test]
    fn every_new_unit_kept_one_old_code() {
        let targets: BTreeSet<u8> = merger_pairs().map(|(_, new)| new).collect();
        let current: BTreeSet<u8> = PROVINCES_FROM_2025.iter().map(|p| p.code).collect();
        assert_eq!(targets, current);
        assert_eq!(current.len(), 34);
        for code in current {
            assert_eq!(current_code(code), Some(code), "{code} kept its own code");
        }
        // An old code that changed is not a code of the new list.
        for (old, new) in merger_pairs().filter(|(old, new)| old != new) {
            assert!(current_province(old).is_none(), "{old} → {new}");
        }
        assert_eq!(
            current_province(40)
                .map(CurrentProvince::full_name)
                .as_deref(),
            Some("tỉnh Nghệ An")
        );
        assert_eq!(
            current_province(1)
                .map(CurrentProvince::full_name)
                .as_deref(),
            Some("thành phố Hà Nội")
        );
    }
}
