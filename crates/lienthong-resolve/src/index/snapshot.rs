//! The index on disk, so a restart loads in seconds instead of re-reading the register.
//!
//! Format (all integers little-endian):
//!
//! ```text
//! magic            8 bytes  "LTPOPIDX"
//! format version   u32      SNAPSHOT_FORMAT_VERSION
//! slots            u64      person slots (retired included)
//! base people      u64      slots merged into the sorted arrays at the last compaction
//! province digest  u64      ProvinceMap::fingerprint of the map the index was built with
//! names digest     u64      digest of every derived name form (normaliser output)
//! arrays, each as  u64 element count, then the elements:
//!    name text (u8), name ends (u32),
//!    pins (u64), attrs (u32), flags (u8), family (u32), middle (u32), given (u32),
//!    pin keys (u64), pin people (u32), superseded keys (u64), superseded people (u32),
//!    pending superseded keys (u64), pending superseded people (u32), changed people (u32),
//!    one blocking table per key in BlockingKey::ALL order (u64)
//! checksum         u64      of every byte above
//! ```
//!
//! Only original name spellings are saved; their foldings are recomputed on load with the
//! normaliser given then (a few hundred thousand distinct names: milliseconds). If those
//! foldings, or the province map, differ from the ones the snapshot was written with, the
//! blocking tables are rebuilt from the people rather than trusted. Pending changes are saved as
//! the list of changed people; their lookup entries are recreated from the columns.
//!
//! Reading never trusts a length: arrays are read in bounded chunks (a corrupt count fails with
//! an early end of file, not an enormous allocation), the checksum is verified before anything
//! is used, and every id and order is then checked, so a damaged file is an error, not a panic.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::hash::Checksum;
use crate::normalise::NameNormaliser;
use crate::record::{PartialDate, Pin, ProvinceMap};

use super::blocking::{BlockTable, entry_person};
use super::names::{NameTable, StringTable};
use super::sorted::FencedKeys;
use super::{BlockingKey, PopulationIndex};

/// The snapshot format this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

const MAGIC: &[u8; 8] = b"LTPOPIDX";
/// Elements converted per chunk while reading or writing.
const CHUNK_BYTES: usize = 1 << 16;

/// Why a snapshot could not be written or read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot I/O failed: {0}")]
    Io(Arc<io::Error>),
    #[error("the snapshot ends early (truncated file)")]
    Truncated,
    #[error("not a population index snapshot")]
    NotASnapshot,
    #[error(
        "snapshot format {found} is not supported (this build reads {SNAPSHOT_FORMAT_VERSION})"
    )]
    UnsupportedVersion { found: u32 },
    #[error(
        "snapshot checksum {computed:016x} does not match the stored {stored:016x}: the file is damaged"
    )]
    ChecksumMismatch { stored: u64, computed: u64 },
    #[error("snapshot is inconsistent: {0}")]
    Corrupt(String),
}

impl From<io::Error> for SnapshotError {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            Self::Truncated
        } else {
            Self::Io(Arc::new(error))
        }
    }
}

/// A little-endian fixed-width value.
trait Element: Copy {
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn take(bytes: &[u8]) -> Self;
}

macro_rules! element {
    ($t:ty) => {
        impl Element for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn take(bytes: &[u8]) -> Self {
                let mut raw = [0u8; std::mem::size_of::<$t>()];
                raw.copy_from_slice(bytes);
                <$t>::from_le_bytes(raw)
            }
        }
    };
}

element!(u8);
element!(u32);
element!(u64);

struct SnapshotWriter<W: Write> {
    inner: W,
    buffer: Vec<u8>,
    checksum: Checksum,
}

impl<W: Write> SnapshotWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            buffer: Vec::with_capacity(CHUNK_BYTES * 2),
            checksum: Checksum::new(),
        }
    }

    fn flush_buffer(&mut self) -> io::Result<()> {
        self.checksum.update(&self.buffer);
        self.inner.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }

    fn value<T: Element>(&mut self, value: T) -> io::Result<()> {
        value.put(&mut self.buffer);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush_buffer()?;
        }
        Ok(())
    }

    fn array<T: Element>(&mut self, values: &[T]) -> io::Result<()> {
        self.value(values.len() as u64)?;
        for chunk in values.chunks(CHUNK_BYTES / T::SIZE) {
            for &value in chunk {
                value.put(&mut self.buffer);
            }
            if self.buffer.len() >= CHUNK_BYTES {
                self.flush_buffer()?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.flush_buffer()?;
        let sum = self.checksum.finish();
        self.inner.write_all(&sum.to_le_bytes())?;
        self.inner.flush()
    }
}

pub(super) fn write<W: Write>(index: &PopulationIndex, writer: W) -> Result<(), SnapshotError> {
    let mut out = SnapshotWriter::new(writer);
    out.buffer.extend_from_slice(MAGIC);
    out.value(SNAPSHOT_FORMAT_VERSION)?;
    out.value(index.pins.len() as u64)?;
    out.value(u64::from(index.base_people))?;
    out.value(index.provinces.fingerprint())?;
    out.value(index.names.fingerprint())?;
    let originals = index.names.originals();
    out.array(originals.text().as_bytes())?;
    out.array(originals.ends())?;
    out.array(&index.pins)?;
    out.array(&index.attrs)?;
    out.array(&index.flags)?;
    out.array(&index.family)?;
    out.array(&index.middle)?;
    out.array(&index.given)?;
    out.array(index.pin_keys.as_slice())?;
    out.array(&index.pin_people)?;
    out.array(&index.superseded_keys)?;
    out.array(&index.superseded_people)?;
    let mut pending: Vec<(u64, u32)> = index
        .delta_superseded
        .iter()
        .map(|(k, p)| (*k, *p))
        .collect();
    pending.sort_unstable();
    let (pending_keys, pending_people): (Vec<u64>, Vec<u32>) = pending.into_iter().unzip();
    out.array(&pending_keys)?;
    out.array(&pending_people)?;
    let mut dirty: Vec<u32> = index.dirty.iter().copied().collect();
    dirty.sort_unstable();
    out.array(&dirty)?;
    for key in BlockingKey::ALL {
        out.array(index.blocks[key.index()].base.as_slice())?;
    }
    out.finish()?;
    Ok(())
}

struct SnapshotReader<R: Read> {
    inner: R,
    checksum: Checksum,
    buffer: Vec<u8>,
}

impl<R: Read> SnapshotReader<R> {
    fn bytes(&mut self, out: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(out)?;
        self.checksum.update(out);
        Ok(())
    }

    fn value<T: Element>(&mut self) -> io::Result<T> {
        let mut raw = [0u8; 8];
        let raw = &mut raw[..T::SIZE];
        self.bytes(raw)?;
        Ok(T::take(raw))
    }

    /// An array of at most `limit` elements.
    fn array<T: Element>(&mut self, what: &str, limit: u64) -> Result<Vec<T>, SnapshotError> {
        let count: u64 = self.value()?;
        if count > limit {
            return Err(SnapshotError::Corrupt(format!(
                "{what} claims {count} elements, more than the {limit} possible"
            )));
        }
        // Bounded by `limit`, which fits in usize on the platforms this runs on.
        let mut remaining = usize::try_from(count)
            .map_err(|_| SnapshotError::Corrupt(format!("{what} is too large")))?;
        let per_chunk = CHUNK_BYTES / T::SIZE;
        let mut values = Vec::with_capacity(remaining.min(per_chunk));
        while remaining > 0 {
            let n = remaining.min(per_chunk);
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.resize(n * T::SIZE, 0);
            self.bytes(&mut buffer)?;
            if values.capacity() - values.len() < n {
                // Grow geometrically but never past the stated count, and only as data
                // actually arrives: the final capacity equals the length.
                values.reserve_exact(remaining.min(values.len().max(n)));
            }
            values.extend(buffer.chunks_exact(T::SIZE).map(T::take));
            self.buffer = buffer;
            remaining -= n;
        }
        Ok(values)
    }
}

fn corrupt(message: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(message.into())
}

fn check_sorted_unique(what: &str, keys: &[u64]) -> Result<(), SnapshotError> {
    if keys.windows(2).all(|w| w[0] < w[1]) {
        Ok(())
    } else {
        Err(corrupt(format!("{what} are not sorted and distinct")))
    }
}

fn check_people(what: &str, people: &[u32], slots: usize) -> Result<(), SnapshotError> {
    match people.iter().find(|&&p| p as usize >= slots) {
        None => Ok(()),
        Some(p) => Err(corrupt(format!("{what} refer to person {p} of {slots}"))),
    }
}

pub(super) fn read<R: Read>(
    reader: R,
    normaliser: Arc<dyn NameNormaliser>,
    provinces: ProvinceMap,
) -> Result<PopulationIndex, SnapshotError> {
    let mut input = SnapshotReader {
        inner: reader,
        checksum: Checksum::new(),
        buffer: Vec::new(),
    };
    let mut magic = [0u8; 8];
    input.bytes(&mut magic)?;
    if &magic != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let version: u32 = input.value()?;
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion { found: version });
    }
    let people_limit = u64::from(u32::MAX);
    let slots: u64 = input.value()?;
    let base_people: u64 = input.value()?;
    let province_digest: u64 = input.value()?;
    let names_digest: u64 = input.value()?;
    if slots > people_limit || base_people > slots {
        return Err(corrupt(format!(
            "{slots} slots with {base_people} in the base"
        )));
    }
    let text: Vec<u8> = input.array("name text", people_limit)?;
    let ends: Vec<u32> = input.array("name ends", people_limit)?;
    let pins: Vec<u64> = input.array("pins", slots)?;
    let attrs: Vec<u32> = input.array("attrs", slots)?;
    let flags: Vec<u8> = input.array("flags", slots)?;
    let family: Vec<u32> = input.array("family names", slots)?;
    let middle: Vec<u32> = input.array("middle names", slots)?;
    let given: Vec<u32> = input.array("given names", slots)?;
    let pin_keys: Vec<u64> = input.array("pin keys", slots)?;
    let pin_people: Vec<u32> = input.array("pin people", slots)?;
    let superseded_keys: Vec<u64> = input.array("superseded keys", people_limit)?;
    let superseded_people: Vec<u32> = input.array("superseded people", people_limit)?;
    let pending_keys: Vec<u64> = input.array("pending superseded keys", people_limit)?;
    let pending_people: Vec<u32> = input.array("pending superseded people", people_limit)?;
    let dirty: Vec<u32> = input.array("changed people", slots)?;
    let mut bases: Vec<Vec<u64>> = Vec::with_capacity(BlockingKey::COUNT);
    for key in BlockingKey::ALL {
        bases.push(input.array(key.name(), slots)?);
    }
    let computed = input.checksum.finish();
    let mut trailer = [0u8; 8];
    input.inner.read_exact(&mut trailer)?;
    let stored = u64::from_le_bytes(trailer);
    if stored != computed {
        return Err(SnapshotError::ChecksumMismatch { stored, computed });
    }

    // The checksum says the bytes are the ones written; these checks guard against a writer
    // bug or a forged file, so nothing below can index out of bounds.
    let slot_count = slots as usize;
    for (what, len) in [
        ("pins", pins.len()),
        ("attrs", attrs.len()),
        ("flags", flags.len()),
        ("family names", family.len()),
        ("middle names", middle.len()),
        ("given names", given.len()),
    ] {
        if len != slot_count {
            return Err(corrupt(format!(
                "{what} hold {len} entries for {slots} slots"
            )));
        }
    }
    if let Some(pin) = pins.iter().find(|&&p| p > Pin::MAX) {
        return Err(corrupt(format!("{pin} is not a 12-digit number")));
    }
    // A valid date in bits 0..21, a sex code 0..=2 in bits 21..23, bit 31 unused.
    let attrs_valid =
        |a: u32| PartialDate::unpack(a).is_some() && (a >> 21) & 0b11 != 3 && a >> 31 == 0;
    if let Some(a) = attrs.iter().find(|&&a| !attrs_valid(a)) {
        return Err(corrupt(format!("person attributes {a:#x} are not valid")));
    }
    let text = String::from_utf8(text).map_err(|_| corrupt("name text is not UTF-8"))?;
    let originals = StringTable::from_parts(text, ends).map_err(corrupt)?;
    let name_count = originals.len();
    for (what, ids) in [("family", &family), ("middle", &middle), ("given", &given)] {
        if let Some(id) = ids.iter().find(|&&id| id as usize >= name_count) {
            return Err(corrupt(format!("{what} name id {id} of {name_count}")));
        }
    }
    for (what, keys, people) in [
        ("pin keys", &pin_keys, &pin_people),
        ("superseded keys", &superseded_keys, &superseded_people),
        ("pending superseded keys", &pending_keys, &pending_people),
    ] {
        if keys.len() != people.len() {
            return Err(corrupt(format!("{what} and their people differ in length")));
        }
        check_sorted_unique(what, keys)?;
        check_people(what, people, slot_count)?;
    }
    if !dirty.windows(2).all(|w| w[0] < w[1]) || dirty.iter().any(|&p| u64::from(p) >= base_people)
    {
        return Err(corrupt("changed people are not sorted base people"));
    }
    for (key, base) in BlockingKey::ALL.iter().zip(&bases) {
        if !base.windows(2).all(|w| w[0] <= w[1]) {
            return Err(corrupt(format!(
                "blocking table {} is not sorted",
                key.name()
            )));
        }
        let people: Vec<u32> = base.iter().map(|&e| entry_person(e)).collect();
        check_people(key.name(), &people, slot_count)?;
    }

    let names = NameTable::from_originals(normaliser.as_ref(), originals).map_err(corrupt)?;
    let derived_changed =
        names.fingerprint() != names_digest || provinces.fingerprint() != province_digest;
    let mut blocks: [BlockTable; BlockingKey::COUNT] = Default::default();
    for (table, base) in blocks.iter_mut().zip(bases) {
        table.base = FencedKeys::new(base);
    }
    let mut index = PopulationIndex {
        normaliser,
        provinces,
        names,
        pins,
        attrs,
        flags,
        family,
        middle,
        given,
        pin_keys: FencedKeys::new(pin_keys),
        pin_people,
        superseded_keys,
        superseded_people,
        blocks,
        // Checked against u32::MAX above.
        base_people: base_people as u32,
        dirty: dirty.into_iter().collect::<HashSet<u32>>(),
        delta_pins: HashMap::new(),
        delta_superseded: pending_keys.into_iter().zip(pending_people).collect(),
        term_counts: Default::default(),
        live: 0,
    };
    index.recount_terms();
    index.rebuild_delta();
    if derived_changed {
        index.rebuild_all_blocks();
    }
    Ok(index)
}
