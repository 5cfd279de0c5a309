//! A bounds-checked cursor over one event's bytes.
//!
//! Every read checks the bytes that remain and reports what it was reading and where, so an error
//! names the field that did not fit. Offsets count from the start of the event (the first byte of
//! its 19-byte header), the way `mariadb-binlog --hexdump` numbers them.

use super::error::DecodeError;

#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    /// Invariant: `offset <= bytes.len()`.
    offset: usize,
    /// Offset of `bytes[0]` inside the event, added to every offset an error reports.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which start `base` bytes into the event.
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Self {
        Self {
            bytes,
            offset: 0,
            base,
        }
    }

    /// Offset of the next byte, counted from the start of the event.
    pub(crate) fn position(&self) -> usize {
        self.base + self.offset
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.offset..).unwrap_or_default()
    }

    /// Takes everything that is left.
    pub(crate) fn take_rest(&mut self) -> &'a [u8] {
        let rest = self.rest();
        self.offset = self.bytes.len();
        rest
    }

    pub(crate) fn take(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<&'a [u8], DecodeError> {
        let rest = self.rest();
        match rest.get(..len) {
            Some(taken) => {
                self.offset += len;
                Ok(taken)
            }
            None => Err(DecodeError::Truncated {
                field,
                offset: self.position(),
                needed: len,
                available: rest.len(),
            }),
        }
    }

    pub(crate) fn skip(&mut self, len: usize, field: &'static str) -> Result<(), DecodeError> {
        self.take(len, field).map(|_| ())
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let position = self.position();
        let taken = self.take(N, field)?;
        <[u8; N]>::try_from(taken).map_err(|_| DecodeError::Truncated {
            field,
            offset: position,
            needed: N,
            available: taken.len(),
        })
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.array::<1>(field).map(|[byte]| byte)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.array(field).map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// An unsigned little-endian integer of `len` bytes (at most 8).
    pub(crate) fn uint_le(&mut self, len: usize, field: &'static str) -> Result<u64, DecodeError> {
        let bytes = self.take(len.min(8), field)?;
        Ok(uint_le(bytes))
    }

    /// MySQL's length-encoded ("packed") integer: one byte below 251, else a marker byte 252, 253
    /// or 254 followed by 2, 3 or 8 little-endian bytes. 251 (SQL NULL in result sets) and 255
    /// never start a length in the binlog and are rejected.
    pub(crate) fn packed_u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let position = self.position();
        match self.u8(field)? {
            byte @ 0..=250 => Ok(u64::from(byte)),
            252 => self.uint_le(2, field),
            253 => self.uint_le(3, field),
            254 => self.uint_le(8, field),
            byte => Err(DecodeError::InvalidPackedInteger {
                field,
                offset: position,
                byte,
            }),
        }
    }

    /// A packed integer used as a length or count of items in this event: it must fit `usize`.
    pub(crate) fn packed_usize(&mut self, field: &'static str) -> Result<usize, DecodeError> {
        let position = self.position();
        let value = self.packed_u64(field)?;
        usize::try_from(value).map_err(|_| DecodeError::CountExceedsInput {
            field,
            count: value,
            offset: position,
            min_bytes: value,
            available: self.remaining(),
        })
    }

    /// A packed length followed by that many bytes.
    pub(crate) fn packed_bytes(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.packed_usize(field)?;
        self.take(len, field)
    }

    /// Rejects a count whose items could not fit in the remaining bytes, before anything is
    /// allocated for them: a corrupt count must not reserve memory the input cannot back.
    pub(crate) fn check_count_fits(
        &self,
        count: usize,
        min_bytes_each: usize,
        field: &'static str,
    ) -> Result<(), DecodeError> {
        let min_bytes = count.saturating_mul(min_bytes_each);
        let available = self.remaining();
        if min_bytes > available {
            Err(DecodeError::CountExceedsInput {
                field,
                count: count as u64,
                offset: self.position(),
                min_bytes: min_bytes as u64,
                available,
            })
        } else {
            Ok(())
        }
    }

    /// Fails when bytes are left: every byte of an event must be accounted for.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        let count = self.remaining();
        if count == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                what,
                offset: self.position(),
                count,
            })
        }
    }
}

/// An unsigned little-endian integer from up to 8 bytes (more are ignored).
pub(crate) fn uint_le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte))
}

/// An unsigned big-endian integer from up to 8 bytes (more are ignored).
pub(crate) fn uint_be(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .take(8)
        .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte))
}

/// A bitmap of `bits` bits, least significant bit of the first byte first, as the binlog writes
/// column bitmaps (columns present, NULL flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bitmap<'a> {
    bytes: &'a [u8],
    bits: usize,
}

impl<'a> Bitmap<'a> {
    pub(crate) fn byte_len(bits: usize) -> usize {
        bits.div_ceil(8)
    }

    pub(crate) fn read(
        reader: &mut Reader<'a>,
        bits: usize,
        field: &'static str,
    ) -> Result<Self, DecodeError> {
        let bytes = reader.take(Self::byte_len(bits), field)?;
        Ok(Self { bytes, bits })
    }

    pub(crate) fn get(&self, index: usize) -> bool {
        index < self.bits
            && self
                .bytes
                .get(index / 8)
                .is_some_and(|byte| byte & (1 << (index % 8)) != 0)
    }

    pub(crate) fn to_vec(&self) -> Vec<bool> {
        (0..self.bits).map(|index| self.get(index)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_integers_of_every_width() {
        let bytes = [
            0xfa, 0xfc, 0x34, 0x12, 0xfd, 0x56, 0x34, 0x12, 0xfe, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        let mut reader = Reader::new(&bytes, 0);
        assert_eq!(reader.packed_u64("a").ok(), Some(250));
        assert_eq!(reader.packed_u64("b").ok(), Some(0x1234));
        assert_eq!(reader.packed_u64("c").ok(), Some(0x12_3456));
        assert_eq!(reader.packed_u64("d").ok(), Some(0x0807_0605_0403_0201));
        assert!(reader.is_empty());
    }

    #[test]
    fn packed_integer_markers_251_and_255_are_rejected() {
        for byte in [251u8, 255] {
            let bytes = [byte];
            let mut reader = Reader::new(&bytes, 40);
            assert_eq!(
                reader.packed_u64("count"),
                Err(DecodeError::InvalidPackedInteger {
                    field: "count",
                    offset: 40,
                    byte
                })
            );
        }
    }

    #[test]
    fn truncation_reports_event_offsets() {
        let bytes = [1u8, 2, 3];
        let mut reader = Reader::new(&bytes, 19);
        assert_eq!(reader.u16("first").ok(), Some(0x0201));
        assert_eq!(
            reader.u32("second"),
            Err(DecodeError::Truncated {
                field: "second",
                offset: 21,
                needed: 4,
                available: 1
            })
        );
    }

    #[test]
    fn bitmaps_read_least_significant_bit_first() {
        let bytes = [0b0000_0101u8, 0b0000_0001];
        let mut reader = Reader::new(&bytes, 0);
        let bitmap = Bitmap::read(&mut reader, 9, "bitmap").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            bitmap.to_vec(),
            vec![true, false, true, false, false, false, false, false, true]
        );
        assert!(!bitmap.get(9));
    }

    #[test]
    fn integers_of_any_width() {
        assert_eq!(uint_le(&[0x01, 0x02, 0x03]), 0x03_0201);
        assert_eq!(uint_be(&[0x01, 0x02, 0x03]), 0x01_0203);
        assert_eq!(uint_le(&[]), 0);
    }
}
