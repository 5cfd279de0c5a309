//! Vietnamese personal names with their frequencies, and the weighted choice the generators
//! draw from.
//!
//! A name is family + middle + given name (`Nguyễn` `Văn` `An`). Family names are few and very
//! unequal: the shares of the 14 most common are those of the project's reference table
//! `vn_surnames_top14.csv` (estimates that circulate from the Wikipedia article "Vietnamese
//! name"; Nguyễn 38.4%, the 14 together 89.1%), copied here at design time. The table gives
//! Hoàng/Huỳnh and Vũ/Võ as one name each, regional spellings of the same Hán character
//! (northern Hoàng and Vũ, southern Huỳnh and Võ); here they are split roughly evenly. The
//! remaining 10.9% is spread over rarer real family names, compound ones included. Middle names
//! depend on sex (Văn and Thị dominate, as in older generations); given names follow a Zipf-like
//! law over a few hundred common names.

use rand::Rng;
use rand::rngs::StdRng;

/// Family names with their share of the population in percent (the table sums to 100).
#[rustfmt::skip]
pub const FAMILY_NAMES: &[(&str, f64)] = &[
    // The 14 of vn_surnames_top14.csv (89.1%).
    ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1),
    ("Hoàng", 2.7), ("Huỳnh", 2.4), // 5.1 together
    ("Phan", 4.5),
    ("Vũ", 2.0), ("Võ", 1.9), // 3.9 together
    ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0),
    ("Lý", 0.5),
    // Rarer names (10.9%).
    ("Trịnh", 0.76), ("Đinh", 0.76), ("Lâm", 0.68), ("Phùng", 0.54), ("Mai", 0.54), ("Tô", 0.41),
    ("Trương", 0.68), ("Hà", 0.68), ("Lưu", 0.41), ("Cao", 0.41), ("Lương", 0.41),
    ("Châu", 0.41), ("Tạ", 0.27), ("Quách", 0.27), ("Đoàn", 0.54), ("Vương", 0.27),
    ("Thái", 0.27), ("Kiều", 0.14), ("Mạc", 0.14), ("Âu", 0.07), ("La", 0.14), ("Tăng", 0.14),
    ("Khúc", 0.07), ("Đàm", 0.14), ("Chu", 0.27), ("Giang", 0.14), ("Hứa", 0.14),
    ("Thân", 0.14), ("Triệu", 0.27), ("Nghiêm", 0.14), ("Doãn", 0.07), ("Bạch", 0.07),
    ("Ông", 0.07), ("Ninh", 0.07), ("Diệp", 0.07), ("Lò", 0.07), ("Quan", 0.07), ("Lục", 0.07),
    ("Văn", 0.07), ("Hoàng Phủ", 0.01), ("Tôn Nữ", 0.01),
];

/// The family names whose shares come from `vn_surnames_top14.csv`, as that table groups them,
/// with the table's share in percent.
pub const TOP_FAMILY_NAMES: [(&[&str], f64); 14] = [
    (&["Nguyễn"], 38.4),
    (&["Trần"], 11.0),
    (&["Lê"], 9.5),
    (&["Phạm"], 7.1),
    (&["Hoàng", "Huỳnh"], 5.1),
    (&["Phan"], 4.5),
    (&["Vũ", "Võ"], 3.9),
    (&["Đặng"], 2.1),
    (&["Bùi"], 2.0),
    (&["Đỗ"], 1.4),
    (&["Hồ"], 1.3),
    (&["Ngô"], 1.3),
    (&["Dương"], 1.0),
    (&["Lý"], 0.5),
];

/// Middle names of men, with relative weights; the empty name is a person without one.
#[rustfmt::skip]
pub const MIDDLE_NAMES_MALE: &[(&str, f64)] = &[
    ("Văn", 32.0), ("Đức", 6.0), ("Minh", 7.0), ("Quang", 5.0), ("Hữu", 4.0), ("Thanh", 4.0),
    ("Công", 3.0), ("Xuân", 2.0), ("Ngọc", 3.0), ("Hoàng", 2.0), ("Quốc", 4.0), ("Duy", 2.0),
    ("Trọng", 2.0), ("Đình", 3.0), ("Mạnh", 1.5), ("Tiến", 1.5), ("Thế", 2.0), ("Bá", 1.0),
    ("Anh", 2.0), ("Hải", 1.0), ("Nhật", 1.0), ("Gia", 2.0), ("Tuấn", 1.0), ("Trung", 1.0),
    ("Kim", 0.5), ("Phúc", 0.5), ("Văn Minh", 0.5), ("Hoàng Gia", 0.3), ("", 5.0),
];

/// Middle names of women, with relative weights; the empty name is a person without one.
#[rustfmt::skip]
pub const MIDDLE_NAMES_FEMALE: &[(&str, f64)] = &[
    ("Thị", 42.0), ("Thu", 4.0), ("Ngọc", 6.0), ("Thanh", 4.0), ("Minh", 3.0), ("Hồng", 3.0),
    ("Kim", 3.0), ("Bích", 2.0), ("Mai", 1.5), ("Phương", 2.0), ("Thùy", 2.0), ("Khánh", 1.5),
    ("Diệu", 1.0), ("Quỳnh", 1.0), ("Bảo", 1.5), ("Thị Thu", 2.0), ("Thị Minh", 1.5),
    ("Thị Ngọc", 1.5), ("Thị Kim", 1.0), ("Hoài", 1.0), ("Tường", 0.5), ("Lan", 1.0), ("", 4.0),
];

/// Given names of men, the most common first (weights fall as a Zipf law by rank).
#[rustfmt::skip]
pub const GIVEN_NAMES_MALE: &[&str] = &[
    "Anh", "Minh", "Hùng", "Dũng", "Tuấn", "Nam", "Hải", "Long", "Sơn", "Thắng", "Cường", "Huy",
    "Hoàng", "Hưng", "Đức", "Quang", "Phong", "Trung", "Thành", "Bình", "Hòa", "Tùng", "Khoa",
    "Việt", "Lâm", "Hiếu", "Tài", "Vinh", "Toàn", "Phúc", "Khánh", "Thịnh", "Tiến", "Kiên",
    "Quân", "Đạt", "Duy", "Hậu", "Hiển", "Hiệp", "Khang", "Khôi", "Lộc", "Luân", "Mạnh", "Nghĩa",
    "Nhân", "Nhật", "Phát", "Phước", "Quốc", "Tâm", "Tân", "Thái", "Thiện", "Thông", "Trí",
    "Trọng", "Tú", "Vũ", "Vương", "Xuân", "Bảo", "Chiến", "Chính", "Công", "Cảnh", "Châu", "Danh",
    "Dương", "Định", "Đông", "Giang", "Hào", "Hiền", "Hoan", "Hội", "Học", "Khải", "Khương",
    "Lực", "Lượng", "Mẫn", "Ninh", "Pháp", "Quyết", "Quý", "Sang", "Tấn", "Thạch", "Thuận",
    "Thụy", "Toản", "Tráng", "Triều", "Trường", "Tuyên", "Uy", "Văn", "Vĩnh", "Vỹ", "Yên", "Ân",
    "Bằng", "Cần", "Cương", "Diệu", "Đăng", "Điệp", "Hạnh", "Hòe", "Huân", "Kha", "Khiêm", "Lãm",
    "Lĩnh", "Lợi", "Mạo", "Nguyên", "Phi", "Phú", "Quảng", "Sỹ", "Tín", "Tuệ", "Tường", "Vĩ",
];

/// Given names of women, the most common first (weights fall as a Zipf law by rank).
#[rustfmt::skip]
pub const GIVEN_NAMES_FEMALE: &[&str] = &[
    "Linh", "Hương", "Trang", "Hà", "Lan", "Hằng", "Anh", "Ngọc", "Thảo", "Phương", "Mai", "Hoa",
    "Hạnh", "Dung", "Huyền", "Nhung", "Thủy", "Yến", "Hiền", "Vân", "Thúy", "Hồng", "Loan", "Nga",
    "Quỳnh", "Tâm", "Thu", "Trinh", "Uyên", "Vy", "Chi", "Giang", "Hòa", "Huệ", "Ly", "My",
    "Ngân", "Nhi", "Oanh", "Phượng", "Quyên", "Thanh", "Thơ", "Thùy", "Trâm", "Tuyết", "Xuân",
    "Ánh", "Diệp", "Diệu", "Duyên", "Đào", "Hảo", "Hậu", "Khánh", "Kiều", "Lam", "Lệ", "Liên",
    "Liễu", "Loan Anh", "Lụa", "Mơ", "Mỹ", "Nguyệt", "Nhàn", "Nhạn", "Nương", "Phấn", "Sen",
    "Sương", "Thắm", "Thoa", "Thoan", "Thương", "Tiên", "Trà", "Tú", "Tươi", "Vui", "Xoan", "Yên",
    "Ái", "Bích", "Cúc", "Dịu", "Đan", "Gấm", "Hân", "Hiên", "Hường", "Khuê", "Lài", "Minh", "Na",
    "Nết", "Nhã", "Ngà", "Nhài", "Phúc", "Quế", "Son", "Tâm Anh", "Thi", "Thục", "Thư", "Trúc",
    "Uyển", "Vàng", "Vinh", "Xuyến", "Ý", "Bảo Ngọc", "Bảo Anh", "Khánh Linh",
];

/// How steeply given-name frequencies fall with rank.
pub const GIVEN_NAME_ZIPF_EXPONENT: f64 = 0.9;

/// Regional spellings of one family name: the pairs a source may hold the other way round.
pub const REGIONAL_VARIANTS: [(&str, &str); 2] = [("Hoàng", "Huỳnh"), ("Vũ", "Võ")];

/// The other regional spelling of a family name (`Hoàng` ↔ `Huỳnh`, `Vũ` ↔ `Võ`), if it has one.
pub fn regional_variant(family: &str) -> Option<&'static str> {
    REGIONAL_VARIANTS.iter().find_map(|&(north, south)| {
        if family == north {
            Some(south)
        } else if family == south {
            Some(north)
        } else {
            None
        }
    })
}

/// A choice among weighted items, drawn by inverse transform over the cumulative weights.
#[derive(Debug, Clone)]
pub(crate) struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T: Copy> Weighted<T> {
    /// Items with positive weights; at least one.
    pub(crate) fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (item, weight) in pairs {
            total += weight;
            items.push(item);
            cumulative.push(total);
        }
        assert!(
            !items.is_empty() && total > 0.0,
            "a weighted choice needs an item with positive weight"
        );
        Self { items, cumulative }
    }

    /// Items weighted 1/rank^exponent, the first the most likely.
    pub(crate) fn zipf(items: impl IntoIterator<Item = T>, exponent: f64) -> Self {
        Self::new(
            items
                .into_iter()
                .enumerate()
                .map(|(rank, item)| (item, 1.0 / ((rank + 1) as f64).powf(exponent))),
        )
    }

    pub(crate) fn pick(&self, rng: &mut StdRng) -> T {
        let total = self.cumulative[self.cumulative.len() - 1];
        let x = rng.random::<f64>() * total;
        let i = self
            .cumulative
            .partition_point(|&c| c <= x)
            .min(self.items.len() - 1);
        self.items[i]
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn family_shares_sum_to_the_whole_population() {
        let total: f64 = FAMILY_NAMES.iter().map(|(_, share)| share).sum();
        assert!((total - 100.0).abs() < 1e-9, "{total}");
        // The top-14 groups are exactly the table's shares.
        for (names, share) in TOP_FAMILY_NAMES {
            let ours: f64 = FAMILY_NAMES
                .iter()
                .filter(|(name, _)| names.contains(name))
                .map(|(_, s)| s)
                .sum();
            assert!((ours - share).abs() < 1e-9, "{names:?}: {ours} vs {share}");
        }
        let top: f64 = TOP_FAMILY_NAMES.iter().map(|(_, s)| s).sum();
        assert!((top - 89.1).abs() < 1e-9);
    }

    #[test]
    fn names_are_distinct_within_each_table() {
        let tables: [Vec<&str>; 5] = [
            FAMILY_NAMES.iter().map(|(n, _)| *n).collect(),
            MIDDLE_NAMES_MALE.iter().map(|(n, _)| *n).collect(),
            MIDDLE_NAMES_FEMALE.iter().map(|(n, _)| *n).collect(),
            GIVEN_NAMES_MALE.to_vec(),
            GIVEN_NAMES_FEMALE.to_vec(),
        ];
        for table in tables {
            let mut sorted = table.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), table.len());
        }
    }

    #[test]
    fn weighted_choice_follows_the_weights() {
        let choice = Weighted::new([('a', 1.0), ('b', 3.0)]);
        let mut rng = StdRng::seed_from_u64(1);
        let draws = 40_000;
        let b = (0..draws).filter(|_| choice.pick(&mut rng) == 'b').count();
        let share = b as f64 / draws as f64;
        assert!((share - 0.75).abs() < 0.01, "{share}");
        let zipf = Weighted::zipf(['x', 'y'], 1.0);
        let x = (0..draws).filter(|_| zipf.pick(&mut rng) == 'x').count();
        let share = x as f64 / draws as f64;
        assert!((share - 2.0 / 3.0).abs() < 0.01, "{share}");
    }

    #[test]
    fn regional_variants_go_both_ways() {
        assert_eq!(regional_variant("Hoàng"), Some("Huỳnh"));
        assert_eq!(regional_variant("Huỳnh"), Some("Hoàng"));
        assert_eq!(regional_variant("Vũ"), Some("Võ"));
        assert_eq!(regional_variant("Võ"), Some("Vũ"));
        assert_eq!(regional_variant("Nguyễn"), None);
    }
}
