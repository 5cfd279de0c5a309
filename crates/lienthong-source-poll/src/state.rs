//! The durable state of one polled table, saved in the state topic after the broker
//! acknowledged the events it covers. Pure: the connector loads, changes and saves it.
//!
//! **Cursor.** The ordering cells (cursor values, then key) of the last row of the last page
//! whose every event was acknowledged. The next page starts after it. A crash between a page's
//! publication and the save repeats that page only: same rows, same idempotency keys.
//!
//! **Safety window** (the `updated_at` race). A writer that puts `now()` into the cursor column
//! and commits later makes a row appear *below* a cursor the connector already passed: with two
//! concurrent transactions, T1 writes 10:00:00 and commits at 10:00:05, T2 writes and commits
//! 10:00:02 in between, a poll at 10:00:03 moves the cursor to 10:00:02, and T1's row is never
//! above the cursor again. Sequence-assigned ids have the same race. So each poll first reads
//! again the rows between a floor and the cursor — the floor lying the window's width below the
//! highest cursor value published — and publishes those it does not remember. It remembers the
//! rows it published whose first cursor value is at or above the floor, by fingerprint of
//! (cursor values, key), grouped by that value; the groups below the floor are forgotten. The
//! remembered set is saved with the cursor, so a restart neither loses nor repeats them.
//! A row committed more than the window's width after the value it carries is still missed.

use serde::{Deserialize, Serialize};

use crate::values::Cell;

/// Saved under `source-poll/<id>/table/<schema.table>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableState {
    /// Ordering cells of the last acknowledged row; `None` before the first.
    pub cursor: Option<Vec<Cell>>,
    /// True once a poll read the table to its end: later rows are changes, not the initial
    /// load.
    pub initial_load_done: bool,
    /// Pages read so far: the `poll_sequence` of event positions.
    pub poll_sequence: u64,
    #[serde(default)]
    pub window: Window,
}

/// The rows published inside the safety window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// By ascending point.
    groups: Vec<WindowGroup>,
    /// The window never starts below this point: the part of it below was given up to keep
    /// the window within `max_window_rows`.
    raised_floor: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WindowGroup {
    /// The first cursor column's point (see [`crate::cursor::window_point`]).
    point: i64,
    /// Fingerprints of the rows published with this point, ascending.
    #[serde(with = "fingerprints")]
    rows: Vec<u64>,
}

impl Window {
    /// Rows remembered.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.rows.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether the row `fingerprint` at `point` was published.
    pub fn contains(&self, point: i64, fingerprint: u64) -> bool {
        self.groups
            .binary_search_by_key(&point, |g| g.point)
            .is_ok_and(|i| self.groups[i].rows.binary_search(&fingerprint).is_ok())
    }

    /// Remembers a published row.
    pub fn insert(&mut self, point: i64, fingerprint: u64) {
        let index = match self.groups.binary_search_by_key(&point, |g| g.point) {
            Ok(i) => i,
            Err(i) => {
                self.groups.insert(
                    i,
                    WindowGroup {
                        point,
                        rows: Vec::new(),
                    },
                );
                i
            }
        };
        let rows = &mut self.groups[index].rows;
        if let Err(at) = rows.binary_search(&fingerprint) {
            rows.insert(at, fingerprint);
        }
    }

    /// Forgets the rows below `floor`: they are never read again.
    pub fn forget_below(&mut self, floor: i64) {
        self.groups.retain(|g| g.point >= floor);
    }

    /// The lowest point the window may start at, given the floor its width asks for.
    pub fn floor(&self, wanted: i64) -> i64 {
        self.raised_floor
            .map_or(wanted, |raised| raised.max(wanted))
    }

    /// The given-up part's bound, if any.
    pub fn raised_floor(&self) -> Option<i64> {
        self.raised_floor
    }

    /// Keeps at most `max_rows` rows by giving up the oldest groups whole; the window then
    /// starts at the oldest group kept, or after `cursor_point` when none is. Returns how many
    /// rows were given up.
    pub fn limit(&mut self, max_rows: usize, cursor_point: i64) -> usize {
        let mut total = self.len();
        let mut dropped = 0;
        while total > max_rows && !self.groups.is_empty() {
            let group = self.groups.remove(0);
            total -= group.rows.len();
            dropped += group.rows.len();
        }
        if dropped > 0 {
            let bound = self
                .groups
                .first()
                .map_or(cursor_point.saturating_add(1), |g| g.point);
            self.raised_floor = Some(self.raised_floor.map_or(bound, |r| r.max(bound)));
        }
        dropped
    }
}

/// Fingerprints as one base64 string of big-endian `u64`s: about 11 characters a row in JSON.
mod fingerprints {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(rows: &[u64], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = rows.iter().flat_map(|r| r.to_be_bytes()).collect();
        s.serialize_str(&STANDARD_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD_NO_PAD
            .decode(text)
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % 8 != 0 {
            return Err(serde::de::Error::custom(
                "fingerprint list is not a multiple of 8 bytes",
            ));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_be_bytes(b)
            })
            .collect())
    }
}

/// When the last full compare of the source ran (saved under `source-poll/<id>/compare`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareState {
    /// Unix milliseconds of the last completed compare; 0 before the first.
    pub last_completed_ms: u64,
    /// Compares completed: the `poll_sequence` of the deletes they find.
    pub runs: u64,
}

impl CompareState {
    /// Whether a compare is due at `now_ms` with `interval_ms` between compares (0: never).
    pub fn due(&self, now_ms: u64, interval_ms: u64) -> bool {
        interval_ms > 0 && now_ms.saturating_sub(self.last_completed_ms) >= interval_ms
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_survives_serialisation() {
        let mut w = Window::default();
        w.insert(10, 7);
        w.insert(10, 3);
        w.insert(10, 7);
        w.insert(5, 1);
        w.insert(20, 9);
        assert_eq!(w.len(), 4);
        assert!(w.contains(10, 3) && w.contains(10, 7) && w.contains(5, 1));
        assert!(!w.contains(10, 1), "same fingerprint, other point");
        let state = TableState {
            cursor: Some(vec![Cell::Int(20), Cell::Text("k".into())]),
            initial_load_done: true,
            poll_sequence: 4,
            window: w.clone(),
        };
        let json = serde_json::to_string(&state).unwrap();
        let back: TableState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
        w.forget_below(10);
        assert!(!w.contains(5, 1));
        assert!(w.contains(10, 7));
        assert_eq!(w.floor(3), 3);
    }

    #[test]
    fn limiting_gives_up_the_oldest_groups_and_raises_the_floor() {
        let mut w = Window::default();
        for fp in 0..5 {
            w.insert(1, fp);
        }
        for fp in 0..3 {
            w.insert(2, fp);
            w.insert(3, fp);
        }
        assert_eq!(w.limit(100, 3), 0);
        assert_eq!(w.raised_floor(), None);
        assert_eq!(w.limit(6, 3), 5);
        assert_eq!(w.len(), 6);
        assert_eq!(
            w.floor(0),
            2,
            "the window now starts at the oldest group kept"
        );
        assert_eq!(w.floor(3), 3);
        // One group larger than the limit: nothing is kept, the window starts past the cursor.
        let mut burst = Window::default();
        for fp in 0..10 {
            burst.insert(7, fp);
        }
        assert_eq!(burst.limit(4, 7), 10);
        assert!(burst.is_empty());
        assert_eq!(burst.floor(0), 8);
    }

    #[test]
    fn old_states_without_a_window_load() {
        let state: TableState =
            serde_json::from_str(r#"{"cursor":null,"initial_load_done":false,"poll_sequence":0}"#)
                .unwrap();
        assert!(state.window.is_empty());
        assert!(
            serde_json::from_str::<Window>(r#"{"groups":[{"point":1,"rows":"AAA"}]}"#).is_err()
        );
    }

    #[test]
    fn compares_fall_due_after_their_interval() {
        let c = CompareState {
            last_completed_ms: 1_000,
            runs: 1,
        };
        assert!(!c.due(1_500, 0));
        assert!(!c.due(1_500, 1_000));
        assert!(c.due(2_000, 1_000));
        assert!(CompareState::default().due(5, 1));
    }
}
