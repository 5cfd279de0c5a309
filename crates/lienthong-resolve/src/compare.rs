//! String comparators: Jaro, Jaro–Winkler, bounded Levenshtein and Damerau (optimal string
//! alignment) distances, and token comparisons for names whose parts come in another order.
//!
//! All work on Unicode scalar values (`char`), not bytes, so "Nguyễn" has six letters. Folded
//! names are ASCII, and for ASCII input the comparators run on bytes without allocating the
//! character vectors. Every similarity is symmetric, in `[0, 1]`, and 1 for identical inputs
//! (property-tested below); two empty strings are identical.

use std::cmp::Ordering;

/// Jaro–Winkler prefix scale: how much each shared leading character (up to
/// [`JARO_WINKLER_MAX_PREFIX`]) closes the remaining gap to 1.
pub const JARO_WINKLER_PREFIX_SCALE: f64 = 0.1;
/// Jaro–Winkler counts at most this many shared leading characters.
pub const JARO_WINKLER_MAX_PREFIX: usize = 4;
/// Jaro–Winkler only boosts pairs already this similar (Winkler's threshold, also applied by the
/// comparators Splink uses), so a shared initial cannot lift two unrelated names.
pub const JARO_WINKLER_BOOST_THRESHOLD: f64 = 0.7;

/// Runs `f` on both strings as bytes when both are ASCII, else as `char` vectors.
fn with_units<R>(a: &str, b: &str, f: impl Fn(&[u32], &[u32]) -> R) -> R {
    if a.is_ascii() && b.is_ascii() {
        // Short names: a fixed buffer avoids allocating for the common case.
        let mut left = [0u32; 64];
        let mut right = [0u32; 64];
        if a.len() <= 64 && b.len() <= 64 {
            for (slot, byte) in left.iter_mut().zip(a.bytes()) {
                *slot = u32::from(byte);
            }
            for (slot, byte) in right.iter_mut().zip(b.bytes()) {
                *slot = u32::from(byte);
            }
            return f(&left[..a.len()], &right[..b.len()]);
        }
    }
    let left: Vec<u32> = a.chars().map(u32::from).collect();
    let right: Vec<u32> = b.chars().map(u32::from).collect();
    f(&left, &right)
}

/// The two inputs in a fixed order (shorter first, then lexicographic). Jaro's greedy matching
/// scans one string against the other; fixing which one is scanned makes the result symmetric by
/// construction rather than by argument.
fn ordered<'a>(a: &'a [u32], b: &'a [u32]) -> (&'a [u32], &'a [u32]) {
    match a.len().cmp(&b.len()).then_with(|| a.cmp(b)) {
        Ordering::Greater => (b, a),
        _ => (a, b),
    }
}

fn jaro_units(a: &[u32], b: &[u32]) -> f64 {
    let (a, b) = ordered(a, b);
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_matched = vec![false; a.len()];
    let mut b_matched = vec![false; b.len()];
    let mut matches = 0usize;
    for (i, &unit) in a.iter().enumerate() {
        let low = i.saturating_sub(window);
        let high = (i + window + 1).min(b.len());
        for j in low..high {
            if !b_matched[j] && b[j] == unit {
                a_matched[i] = true;
                b_matched[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let a_in_order = a
        .iter()
        .zip(&a_matched)
        .filter(|(_, m)| **m)
        .map(|(u, _)| u);
    let b_in_order = b
        .iter()
        .zip(&b_matched)
        .filter(|(_, m)| **m)
        .map(|(u, _)| u);
    let half_transpositions = a_in_order.zip(b_in_order).filter(|(x, y)| x != y).count();
    let m = matches as f64;
    let t = (half_transpositions / 2) as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - t) / m) / 3.0
}

/// Jaro similarity.
pub fn jaro(a: &str, b: &str) -> f64 {
    with_units(a, b, jaro_units)
}

/// Jaro–Winkler similarity: Jaro, boosted for a shared prefix of up to four characters by the
/// standard scale 0.1 when Jaro already exceeds 0.7.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    with_units(a, b, |x, y| {
        let j = jaro_units(x, y);
        if j <= JARO_WINKLER_BOOST_THRESHOLD {
            return j;
        }
        let prefix = x
            .iter()
            .zip(y)
            .take(JARO_WINKLER_MAX_PREFIX)
            .take_while(|(p, q)| p == q)
            .count();
        j + prefix as f64 * JARO_WINKLER_PREFIX_SCALE * (1.0 - j)
    })
}

/// Edit distance with insertions, deletions and substitutions (and, when `transpositions`,
/// swaps of two adjacent characters: the optimal string alignment distance), if it is at most
/// `bound`. Work is limited to a band of width `2·bound+1`, so a small bound is cheap on long
/// strings.
fn bounded_distance(a: &[u32], b: &[u32], bound: usize, transpositions: bool) -> Option<usize> {
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if b.len() - a.len() > bound {
        return None;
    }
    if a.is_empty() {
        return Some(b.len());
    }
    // Rows over b (the longer); cells outside the band stay at `infinity`.
    let infinity = bound + 1;
    let width = b.len() + 1;
    let mut before_previous = vec![infinity; width];
    let mut previous: Vec<usize> = (0..width).map(|j| j.min(infinity)).collect();
    let mut current = vec![infinity; width];
    for i in 1..=a.len() {
        let low = i.saturating_sub(bound).max(1);
        let high = (i + bound).min(b.len());
        current.fill(infinity);
        current[0] = i.min(infinity);
        let mut row_min = current[0];
        for j in low..=high {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut cell = (previous[j - 1] + cost)
                .min(previous[j] + 1)
                .min(current[j - 1] + 1);
            if transpositions && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cell = cell.min(before_previous[j - 2] + 1);
            }
            current[j] = cell.min(infinity);
            row_min = row_min.min(current[j]);
        }
        if row_min > bound {
            return None;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[b.len()];
    (distance <= bound).then_some(distance)
}

/// Levenshtein distance if it is at most `bound`, else `None`.
pub fn levenshtein_within(a: &str, b: &str, bound: usize) -> Option<usize> {
    with_units(a, b, |x, y| bounded_distance(x, y, bound, false))
}

/// Damerau distance in its optimal-string-alignment form (an adjacent swap costs 1, no substring
/// is edited twice) if it is at most `bound`, else `None`.
pub fn damerau_within(a: &str, b: &str, bound: usize) -> Option<usize> {
    with_units(a, b, |x, y| bounded_distance(x, y, bound, true))
}

/// Levenshtein distance.
pub fn levenshtein(a: &str, b: &str) -> usize {
    with_units(a, b, |x, y| {
        let bound = x.len().max(y.len());
        bounded_distance(x, y, bound, false).unwrap_or(bound)
    })
}

/// Damerau (optimal string alignment) distance.
pub fn damerau(a: &str, b: &str) -> usize {
    with_units(a, b, |x, y| {
        let bound = x.len().max(y.len());
        bounded_distance(x, y, bound, true).unwrap_or(bound)
    })
}

/// `1 − levenshtein / longer length`; 1 for two empty strings.
pub fn levenshtein_similarity(a: &str, b: &str) -> f64 {
    let longer = a.chars().count().max(b.chars().count());
    if longer == 0 {
        return 1.0;
    }
    1.0 - levenshtein(a, b) as f64 / longer as f64
}

/// The whitespace-separated tokens, sorted.
fn sorted_tokens(text: &str) -> Vec<&str> {
    let mut tokens: Vec<&str> = text.split_whitespace().collect();
    tokens.sort_unstable();
    tokens
}

/// True when both texts have the same tokens (as a multiset) in a different order:
/// "Văn Nguyễn An" and "Nguyễn Văn An".
pub fn same_tokens_reordered(a: &str, b: &str) -> bool {
    let in_order_equal = a.split_whitespace().eq(b.split_whitespace());
    !in_order_equal && sorted_tokens(a) == sorted_tokens(b)
}

/// Multiset Jaccard similarity of the tokens: shared tokens over all tokens, order ignored.
/// 1 when both have no token.
pub fn token_set_similarity(a: &str, b: &str) -> f64 {
    let left = sorted_tokens(a);
    let right = sorted_tokens(b);
    if left.is_empty() && right.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < left.len() && j < right.len() {
        match left[i].cmp(right[j]) {
            Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
        }
    }
    let union = left.len() + right.len() - shared;
    shared as f64 / union as f64
}

/// Jaro–Winkler of the texts with their tokens sorted: tolerant of reordering *and* of small
/// spelling differences inside the tokens.
pub fn token_sort_jaro_winkler(a: &str, b: &str) -> f64 {
    jaro_winkler(&sorted_tokens(a).join(" "), &sorted_tokens(b).join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 0.001
    }

    #[test]
    fn jaro_and_jaro_winkler_textbook_values() {
        // The examples of Winkler's papers and most textbooks.
        assert!(
            close(jaro("MARTHA", "MARHTA"), 0.944),
            "{}",
            jaro("MARTHA", "MARHTA")
        );
        assert!(close(jaro_winkler("MARTHA", "MARHTA"), 0.961));
        assert!(close(jaro("DWAYNE", "DUANE"), 0.822));
        assert!(close(jaro_winkler("DWAYNE", "DUANE"), 0.840));
        assert!(close(jaro("DIXON", "DICKSONX"), 0.767));
        assert!(close(jaro_winkler("DIXON", "DICKSONX"), 0.813));
        assert_eq!(jaro("abc", "xyz"), 0.0);
        assert_eq!(jaro("", ""), 1.0);
        assert_eq!(jaro("a", ""), 0.0);
    }

    #[test]
    fn jaro_counts_characters_not_bytes() {
        // One differing letter out of six, whatever its UTF-8 length.
        assert!(close(jaro("Nguyễn", "Nguyên"), jaro("Nguyen", "Nguyan")));
    }

    #[test]
    fn prefix_boost_needs_similarity_above_threshold() {
        // Same first four letters but otherwise unrelated: Jaro below 0.7, no boost.
        let j = jaro("abcdwxyzqrst", "abcdefghijkl");
        assert!(j <= JARO_WINKLER_BOOST_THRESHOLD);
        assert_eq!(jaro_winkler("abcdwxyzqrst", "abcdefghijkl"), j);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein_within("kitten", "sitting", 2), None);
        assert_eq!(levenshtein_within("kitten", "sitting", 3), Some(3));
        assert_eq!(levenshtein("ab", "ba"), 2);
        assert_eq!(damerau("ab", "ba"), 1);
        assert_eq!(damerau_within("001090012345", "001090012354", 1), Some(1));
        assert_eq!(damerau_within("001090012345", "001090012435", 1), Some(1));
        assert_eq!(damerau_within("001090012345", "001090021354", 1), None);
        // Optimal string alignment: "ca" → "abc" is 3 (no editing inside a swapped pair).
        assert_eq!(damerau("ca", "abc"), 3);
        assert_eq!(levenshtein("Hòa", "Hoà"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein_within("", "abc", 2), None);
    }

    #[test]
    fn token_comparisons() {
        assert!(same_tokens_reordered("van nguyen an", "nguyen van an"));
        assert!(!same_tokens_reordered("nguyen van an", "nguyen  van an"));
        assert!(!same_tokens_reordered("nguyen van an", "nguyen van anh"));
        assert!(!same_tokens_reordered("thi thi", "thi"));
        assert_eq!(token_set_similarity("thi thu", "thu thi"), 1.0);
        assert!(close(token_set_similarity("thi thu", "thi"), 0.5));
        assert_eq!(token_set_similarity("", ""), 1.0);
        assert_eq!(token_sort_jaro_winkler("minh thi", "thi minh"), 1.0);
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-e ]{0,12}",
            crate::testing::vietnamese_text(),
            any::<String>().prop_map(|s| s.chars().take(80).collect()),
        ]
    }

    proptest! {
        #[test]
        fn similarities_are_symmetric_bounded_and_reflexive(a in text(), b in text()) {
            type Similarity = fn(&str, &str) -> f64;
            let similarities: [(&str, Similarity); 5] = [
                ("jaro", jaro),
                ("jaro_winkler", jaro_winkler),
                ("levenshtein_similarity", levenshtein_similarity),
                ("token_set_similarity", token_set_similarity),
                ("token_sort_jaro_winkler", token_sort_jaro_winkler),
            ];
            for (name, similarity) in similarities {
                let ab = similarity(&a, &b);
                let ba = similarity(&b, &a);
                prop_assert!(ab == ba, "{} not symmetric: {} vs {}", name, ab, ba);
                prop_assert!((0.0..=1.0).contains(&ab), "{} out of range: {}", name, ab);
                prop_assert_eq!(similarity(&a, &a), 1.0, "{} of identical inputs", name);
            }
            prop_assert!(jaro_winkler(&a, &b) >= jaro(&a, &b));
        }

        #[test]
        fn distances_are_metrics_and_bounds_agree(a in text(), b in text(), c in "[a-e]{0,8}", bound in 0usize..6) {
            let lev = levenshtein(&a, &b);
            let dam = damerau(&a, &b);
            prop_assert_eq!(lev, levenshtein(&b, &a));
            prop_assert_eq!(dam, damerau(&b, &a));
            prop_assert!(dam <= lev);
            prop_assert_eq!(levenshtein(&a, &a), 0);
            prop_assert_eq!(levenshtein_within(&a, &b, bound), (lev <= bound).then_some(lev));
            prop_assert_eq!(damerau_within(&a, &b, bound), (dam <= bound).then_some(dam));
            prop_assert!(levenshtein(&a, &c) <= lev + levenshtein(&b, &c));
        }

        #[test]
        fn one_adjacent_swap_is_damerau_one(s in "[a-z]{2,12}", at in 0usize..11) {
            let mut chars: Vec<char> = s.chars().collect();
            let at = at % (chars.len() - 1);
            prop_assume!(chars[at] != chars[at + 1]);
            chars.swap(at, at + 1);
            let swapped: String = chars.into_iter().collect();
            prop_assert_eq!(damerau(&s, &swapped), 1);
            prop_assert!(!same_tokens_reordered(&s, &swapped));
        }
    }
}
