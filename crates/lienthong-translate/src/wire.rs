//! The canonical records as protobuf bytes, written in one pass.
//!
//! prost writes a nested message after measuring it (`encoded_len`), and measuring walks the
//! message and everything inside it. A civil-servant file nests four deep (file → person →
//! place → coded value), so its innermost fields are measured at every level above them before
//! they are written once, and measuring and writing cost about the same. This writer instead
//! leaves one byte for a nested message's length, writes the message, and fills the length in
//! afterwards; when the length needs more bytes (a message of 128 bytes or more: the person, the
//! provenance, the findings), the message is moved up to make room, once per such message.
//!
//! The bytes are prost's, field for field: fields in tag order; proto3 defaults (empty strings,
//! zero numbers and enums) left out; a message written whenever it is set, even empty; repeated
//! enums packed. Only the messages of the records the translator makes most — civil-servant
//! files and persons, with what they hold — are written here; every other message (source
//! positions, the other entities) goes through prost. The tests compare both on generated
//! records, and check against the descriptor set that every field of the messages written here
//! is written.

use lienthong_proto::v1::{CivilServant, Date, Person, Quality, QualityFlag};
use prost::Message;
use prost_types::Timestamp;

use crate::draft::{
    CivilServantDraft, CodedDraft, Envelope, NameDraft, PersonDraft, PlaceDraft, ProvenanceDraft,
    Text,
};

/// A civil-servant file with `quality` in place of its own (as `CivilServant.quality` would be
/// after setting it), encoded.
pub(crate) fn civil_servant(record: &CivilServant, quality: Option<&Quality>) -> Vec<u8> {
    civil_servant_draft(&CivilServantDraft::of(record), None, quality)
}

/// A person with `quality` in place of its own, encoded.
pub(crate) fn person(record: &Person, quality: Option<&Quality>) -> Vec<u8> {
    person_draft(&PersonDraft::of(record), None, quality)
}

/// [`civil_servant`] of a draft: the bytes of the message it stands for, with the record ids
/// and provenance of `envelope` when it has one.
pub(crate) fn civil_servant_draft(
    record: &CivilServantDraft<'_>,
    envelope: Option<Envelope<'_>>,
    quality: Option<&Quality>,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(2048);
    w.civil_servant(record, envelope, quality);
    w.buf
}

/// [`person`] of a draft (see [`civil_servant_draft`]).
pub(crate) fn person_draft(
    record: &PersonDraft<'_>,
    envelope: Option<Envelope<'_>>,
    quality: Option<&Quality>,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(1024);
    w.person(record, envelope, quality);
    w.buf
}

const VARINT: u32 = 0;
const LENGTH_DELIMITED: u32 = 2;

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn with_capacity(capacity: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(capacity),
        }
    }

    #[inline]
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    #[inline]
    fn key(&mut self, field: u32, wire_type: u32) {
        self.varint(u64::from(field << 3 | wire_type));
    }

    /// A `string` field: left out when empty.
    #[inline(always)]
    fn string(&mut self, field: u32, value: &str) {
        if value.is_empty() {
            return;
        }
        let key = field << 3 | LENGTH_DELIMITED;
        if key < 0x80 && value.len() < 0x80 {
            // Key and length a byte each, as for most strings: added at once.
            self.buf.extend_from_slice(&[key as u8, value.len() as u8]);
        } else {
            self.key(field, LENGTH_DELIMITED);
            self.varint(value.len() as u64);
        }
        self.buf.extend_from_slice(value.as_bytes());
    }

    /// An `int32` or enum field: left out when zero; a negative value takes ten bytes, sign
    /// extended, as in every protobuf library.
    #[inline]
    fn int32(&mut self, field: u32, value: i32) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(i64::from(value) as u64);
        }
    }

    #[inline]
    fn int64(&mut self, field: u32, value: i64) {
        if value != 0 {
            self.key(field, VARINT);
            self.varint(value as u64);
        }
    }

    /// A nested message: its key, its length, then what `write` writes.
    #[inline]
    fn message(&mut self, field: u32, write: impl FnOnce(&mut Self)) {
        self.key(field, LENGTH_DELIMITED);
        let at = self.buf.len();
        self.buf.push(0);
        write(self);
        let end = self.buf.len();
        let len = end - at - 1;
        if len < 0x80 {
            self.buf[at] = len as u8;
            return;
        }
        let mut prefix = [0u8; 10];
        let mut n = 0;
        let mut rest = len as u64;
        while rest >= 0x80 {
            prefix[n] = (rest as u8) | 0x80;
            rest >>= 7;
            n += 1;
        }
        prefix[n] = rest as u8;
        n += 1;
        self.buf.resize(end + n - 1, 0);
        self.buf.copy_within(at + 1..end, at + n);
        self.buf[at..at + n].copy_from_slice(&prefix[..n]);
    }

    /// A nested message written by prost.
    fn prost_message(&mut self, field: u32, message: &impl Message) {
        self.key(field, LENGTH_DELIMITED);
        // A vector grows as needed: writing into one cannot run out of room.
        let _ = message.encode_length_delimited(&mut self.buf);
    }

    fn civil_servant(
        &mut self,
        cs: &CivilServantDraft<'_>,
        envelope: Option<Envelope<'_>>,
        quality: Option<&Quality>,
    ) {
        self.string(1, envelope.map_or(&cs.record_id, |e| e.record_id));
        if let Some(person) = &cs.person {
            // The person of the file: the engine's has the file's record id, and no provenance.
            let envelope = envelope.map(|e| (e.record_id, None));
            self.message(2, |w| w.person_with(person, envelope, person.quality));
        }
        self.int32(3, cs.category);
        self.int32(4, cs.status);
        self.string(5, &cs.organisation_id);
        self.string(6, &cs.organisation_name);
        self.coded(7, cs.position.as_ref());
        self.coded(8, cs.rank.as_ref());
        self.int32(9, cs.salary_step);
        self.decimal(10, cs.salary_coefficient.as_ref());
        self.decimal(11, cs.position_allowance.as_ref());
        self.date(12, cs.recruitment_date.as_ref());
        self.date(13, cs.rank_appointment_date.as_ref());
        self.coded(14, cs.education_level.as_ref());
        self.coded(15, cs.political_theory_level.as_ref());
        self.date(16, cs.party_admission_date.as_ref());
        match envelope {
            Some(e) => self.message(17, |w| w.provenance(e.provenance)),
            None => {
                if let Some(provenance) = cs.provenance {
                    self.message(17, |w| w.provenance(&ProvenanceDraft::of(provenance)));
                }
            }
        }
        if let Some(quality) = quality {
            self.message(18, |w| w.quality(quality));
        }
    }

    fn person(
        &mut self,
        p: &PersonDraft<'_>,
        envelope: Option<Envelope<'_>>,
        quality: Option<&Quality>,
    ) {
        let envelope = envelope.map(|e| (e.record_id, Some(e.provenance)));
        self.person_with(p, envelope, quality);
    }

    /// A person, with the record id and provenance `envelope` gives when it gives them.
    fn person_with(
        &mut self,
        p: &PersonDraft<'_>,
        envelope: Option<(&str, Option<&ProvenanceDraft<'_>>)>,
        quality: Option<&Quality>,
    ) {
        self.string(1, envelope.map_or(&p.record_id, |(id, _)| id));
        self.string(2, &p.personal_id);
        self.string(3, &p.former_id_number);
        if let Some(name) = &p.name {
            self.message(4, |w| w.name(name));
        }
        self.date(5, p.birth_date.as_ref());
        self.int32(6, p.sex);
        for (field, place) in [
            (7, &p.birth_place),
            (8, &p.hometown),
            (9, &p.permanent_residence),
            (10, &p.current_residence),
        ] {
            if let Some(place) = place {
                self.message(field, |w| w.place(place));
            }
        }
        self.coded(11, p.ethnicity.as_ref());
        self.coded(12, p.religion.as_ref());
        self.coded(13, p.nationality.as_ref());
        self.string(14, &p.phone);
        self.string(15, &p.email);
        match envelope {
            Some((_, Some(provenance))) => self.message(16, |w| w.provenance(provenance)),
            Some((_, None)) => {}
            None => {
                if let Some(provenance) = p.provenance {
                    self.message(16, |w| w.provenance(&ProvenanceDraft::of(provenance)));
                }
            }
        }
        if let Some(quality) = quality {
            self.message(17, |w| w.quality(quality));
        }
    }

    fn name(&mut self, name: &NameDraft<'_>) {
        self.string(1, &name.full);
        self.string(2, &name.family);
        self.string(3, &name.middle);
        self.string(4, &name.given);
        self.string(5, &name.original);
    }

    fn place(&mut self, place: &PlaceDraft<'_>) {
        self.coded(1, place.province.as_ref());
        self.coded(2, place.district.as_ref());
        self.coded(3, place.commune.as_ref());
        self.string(4, &place.detail);
        self.string(5, &place.text);
        self.date(6, place.as_of.as_ref());
    }

    fn coded(&mut self, field: u32, coded: Option<&CodedDraft<'_>>) {
        if let Some(c) = coded {
            self.message(field, |w| {
                w.string(1, &c.code_system);
                w.string(2, &c.code);
                w.string(3, &c.display);
                w.string(4, &c.original);
            });
        }
    }

    fn date(&mut self, field: u32, date: Option<&Date>) {
        if let Some(d) = date {
            self.message(field, |w| {
                w.int32(1, d.year);
                w.int32(2, d.month);
                w.int32(3, d.day);
            });
        }
    }

    /// A `Decimal`, given by its value.
    fn decimal(&mut self, field: u32, decimal: Option<&Text<'_>>) {
        if let Some(value) = decimal {
            self.message(field, |w| w.string(1, value));
        }
    }

    fn timestamp(&mut self, field: u32, timestamp: Option<&Timestamp>) {
        if let Some(t) = timestamp {
            self.message(field, |w| {
                w.int64(1, t.seconds);
                w.int32(2, t.nanos);
            });
        }
    }

    fn provenance(&mut self, p: &ProvenanceDraft<'_>) {
        self.string(1, &p.source_id);
        self.string(2, &p.schema);
        self.string(3, &p.table);
        self.string(4, &p.source_key);
        if let Some(position) = p.position {
            self.prost_message(5, position);
        }
        self.string(6, &p.mapping_id);
        self.string(7, &p.mapping_version);
        self.timestamp(8, p.source_commit_time.as_ref());
        self.timestamp(9, p.translated_at.as_ref());
        self.int32(10, p.source_operation);
        self.string(11, &p.idempotency_key);
    }

    fn quality(&mut self, q: &Quality) {
        for flag in &q.flags {
            self.message(1, |w| w.flag(flag));
        }
        if !q.passed.is_empty() {
            // Packed: one length-delimited field of varints.
            self.message(2, |w| {
                for &criterion in &q.passed {
                    w.varint(i64::from(criterion) as u64);
                }
            });
        }
    }

    fn flag(&mut self, f: &QualityFlag) {
        self.int32(1, f.criterion);
        self.int32(2, f.severity);
        self.string(3, &f.field);
        self.string(4, &f.code);
        self.string(5, &f.message);
    }
}

#[cfg(test)]
mod tests;
