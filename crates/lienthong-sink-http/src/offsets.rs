//! Which input offsets may be committed: records finish out of order (lanes run concurrently),
//! but a partition's offset moves only past records that are all finished, so a crash never
//! skips a record whose delivery was not acknowledged.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
struct Partition {
    /// Read and not finished.
    pending: BTreeSet<i64>,
    /// One past the highest offset read.
    next: i64,
    /// The last committed next-offset.
    committed: Option<i64>,
}

impl Partition {
    /// The next offset to read after a restart: the oldest unfinished record, or past
    /// everything read.
    fn committable(&self) -> i64 {
        self.pending.first().copied().unwrap_or(self.next)
    }
}

/// Offsets of one consumer, per (topic, partition).
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: BTreeMap<(String, i32), Partition>,
}

impl OffsetTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A record was read.
    pub fn begin(&mut self, topic: &str, partition: i32, offset: i64) {
        let p = self
            .partitions
            .entry((topic.to_string(), partition))
            .or_default();
        p.pending.insert(offset);
        p.next = p.next.max(offset + 1);
    }

    /// A record is done: delivered, refused and dead-lettered, or skipped.
    pub fn finish(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(p) = self.partitions.get_mut(&(topic.to_string(), partition)) {
            p.pending.remove(&offset);
        }
    }

    /// Records read and not finished, over all partitions.
    pub fn pending(&self) -> usize {
        self.partitions.values().map(|p| p.pending.len()).sum()
    }

    /// Next-offsets that moved since the last [`OffsetTracker::committed`].
    pub fn to_commit(&self) -> Vec<(String, i32, i64)> {
        self.partitions
            .iter()
            .filter(|(_, p)| p.next > 0 && p.committed != Some(p.committable()))
            .map(|((topic, partition), p)| (topic.clone(), *partition, p.committable()))
            .collect()
    }

    /// Those offsets were committed.
    pub fn committed(&mut self, offsets: &[(String, i32, i64)]) {
        for (topic, partition, next) in offsets {
            if let Some(p) = self.partitions.get_mut(&(topic.clone(), *partition)) {
                p.committed = Some(*next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn commits_stop_at_the_oldest_unfinished_record() {
        let mut t = OffsetTracker::new();
        for offset in 10..15 {
            t.begin("a", 0, offset);
        }
        t.finish("a", 0, 11);
        t.finish("a", 0, 12);
        assert_eq!(t.to_commit(), vec![("a".to_string(), 0, 10)]);
        t.committed(&t.to_commit());
        assert!(t.to_commit().is_empty(), "nothing moved");
        t.finish("a", 0, 10);
        assert_eq!(t.to_commit(), vec![("a".to_string(), 0, 13)]);
        t.finish("a", 0, 13);
        t.finish("a", 0, 14);
        assert_eq!(t.to_commit(), vec![("a".to_string(), 0, 15)]);
        assert_eq!(t.pending(), 0);
    }

    proptest! {
        /// Whatever order records finish in, the committable offset never passes an
        /// unfinished record and reaches the end once all are finished.
        #[test]
        fn never_past_an_unfinished_record(order in Just((0i64..40).collect::<Vec<_>>()).prop_shuffle()) {
            let mut t = OffsetTracker::new();
            for offset in 0..40 {
                t.begin("t", 3, offset);
            }
            let mut finished = BTreeSet::new();
            for offset in order {
                t.finish("t", 3, offset);
                finished.insert(offset);
                for (_, _, next) in t.to_commit() {
                    prop_assert!((0..next).all(|o| finished.contains(&o)));
                }
            }
            prop_assert_eq!(t.to_commit(), vec![("t".to_string(), 3, 40)]);
        }
    }
}
