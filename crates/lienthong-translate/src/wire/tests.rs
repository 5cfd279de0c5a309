#![allow(clippy::unwrap_used)]

use lienthong_proto::v1::{
    CodedValue, Decimal, PersonName, Place, PostgresPosition, Provenance, SourcePosition,
    source_position,
};
use prost_types::{DescriptorProto, FileDescriptorSet};

use super::*;

/// Values from a seed, the same on every run (SplitMix64).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Empty, short, long (a length of two bytes), or not ASCII.
    fn text(&mut self) -> String {
        match self.below(5) {
            0 | 1 => String::new(),
            2 => "Nguyễn Văn Đức".into(),
            3 => "x".repeat(self.below(300) as usize),
            _ => format!("{}", self.next()),
        }
    }

    fn int32(&mut self) -> i32 {
        match self.below(4) {
            0 => 0,
            1 => -(self.below(1000) as i32) - 1,
            2 => self.below(200) as i32,
            _ => self.next() as i32,
        }
    }

    fn some<T>(&mut self, make: impl FnOnce(&mut Self) -> T) -> Option<T> {
        (self.below(3) != 0).then(|| make(self))
    }

    fn date(&mut self) -> Date {
        Date {
            year: self.int32(),
            month: self.int32(),
            day: self.int32(),
        }
    }

    fn coded(&mut self) -> CodedValue {
        CodedValue {
            code_system: self.text(),
            code: self.text(),
            display: self.text(),
            original: self.text(),
        }
    }

    fn timestamp(&mut self) -> Timestamp {
        Timestamp {
            seconds: self.next() as i64 >> self.below(64),
            nanos: self.int32(),
        }
    }

    fn place(&mut self) -> Place {
        Place {
            province: self.some(Self::coded),
            district: self.some(Self::coded),
            commune: self.some(Self::coded),
            detail: self.text(),
            text: self.text(),
            as_of: self.some(Self::date),
        }
    }

    fn provenance(&mut self) -> Provenance {
        Provenance {
            source_id: self.text(),
            schema: self.text(),
            table: self.text(),
            source_key: self.text(),
            position: self.some(|d| SourcePosition {
                kind: d.some(|d| {
                    source_position::Kind::Postgres(PostgresPosition {
                        commit_lsn: d.next(),
                        lsn: d.next() >> 20,
                        sequence: d.below(3),
                        xid: d.next() as u32,
                    })
                }),
            }),
            mapping_id: self.text(),
            mapping_version: self.text(),
            source_commit_time: self.some(Self::timestamp),
            translated_at: self.some(Self::timestamp),
            source_operation: self.int32(),
            idempotency_key: self.text(),
        }
    }

    fn quality(&mut self) -> Quality {
        Quality {
            flags: (0..self.below(12))
                .map(|_| QualityFlag {
                    criterion: self.int32(),
                    severity: self.int32(),
                    field: self.text(),
                    code: self.text(),
                    message: self.text(),
                })
                .collect(),
            passed: (0..self.below(8)).map(|_| self.int32()).collect(),
        }
    }

    fn person(&mut self) -> Person {
        Person {
            record_id: self.text(),
            personal_id: self.text(),
            former_id_number: self.text(),
            name: self.some(|d| PersonName {
                full: d.text(),
                family: d.text(),
                middle: d.text(),
                given: d.text(),
                original: d.text(),
            }),
            birth_date: self.some(Self::date),
            sex: self.int32(),
            birth_place: self.some(Self::place),
            hometown: self.some(Self::place),
            permanent_residence: self.some(Self::place),
            current_residence: self.some(Self::place),
            ethnicity: self.some(Self::coded),
            religion: self.some(Self::coded),
            nationality: self.some(Self::coded),
            phone: self.text(),
            email: self.text(),
            provenance: self.some(Self::provenance),
            quality: self.some(Self::quality),
        }
    }

    fn civil_servant(&mut self) -> CivilServant {
        CivilServant {
            record_id: self.text(),
            person: self.some(Self::person),
            category: self.int32(),
            status: self.int32(),
            organisation_id: self.text(),
            organisation_name: self.text(),
            position: self.some(Self::coded),
            rank: self.some(Self::coded),
            salary_step: self.int32(),
            salary_coefficient: self.some(|d| Decimal { value: d.text() }),
            position_allowance: self.some(|d| Decimal { value: d.text() }),
            recruitment_date: self.some(Self::date),
            rank_appointment_date: self.some(Self::date),
            education_level: self.some(Self::coded),
            political_theory_level: self.some(Self::coded),
            party_admission_date: self.some(Self::date),
            provenance: self.some(Self::provenance),
            quality: self.some(Self::quality),
        }
    }
}

#[test]
fn civil_servants_are_written_as_prost_writes_them() {
    let mut dice = Dice(7);
    for _ in 0..3_000 {
        let mut record = dice.civil_servant();
        let quality = dice.some(Dice::quality);
        let written = civil_servant(&record, quality.as_ref());
        record.quality = quality;
        assert_eq!(written, record.encode_to_vec(), "{record:?}");
    }
}

#[test]
fn persons_are_written_as_prost_writes_them() {
    let mut dice = Dice(11);
    for _ in 0..3_000 {
        let mut record = dice.person();
        let quality = dice.some(Dice::quality);
        let written = person(&record, quality.as_ref());
        record.quality = quality;
        assert_eq!(written, record.encode_to_vec(), "{record:?}");
    }
}

#[test]
fn empty_records_are_empty() {
    assert!(civil_servant(&CivilServant::default(), None).is_empty());
    assert_eq!(
        civil_servant(&CivilServant::default(), Some(&Quality::default())),
        [18 << 3 | 2, 1, 0]
    );
}

/// The fields each message written here has, as the writer knows them. A field added to one of
/// these messages in `proto/` must be added to the writer (and here), or records lose it.
const WRITTEN: &[(&str, &[i32])] = &[
    (
        "CivilServant",
        &[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
        ],
    ),
    (
        "Person",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    ),
    ("PersonName", &[1, 2, 3, 4, 5]),
    ("Place", &[1, 2, 3, 4, 5, 6]),
    ("CodedValue", &[1, 2, 3, 4]),
    ("Date", &[1, 2, 3]),
    ("Decimal", &[1]),
    ("Provenance", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ("Quality", &[1, 2]),
    ("QualityFlag", &[1, 2, 3, 4, 5]),
];

#[test]
fn every_field_of_the_written_messages_is_written() {
    let set = FileDescriptorSet::decode(lienthong_proto::FILE_DESCRIPTOR_SET).unwrap();
    let messages: Vec<&DescriptorProto> = set
        .file
        .iter()
        .filter(|f| f.package() == "lienthong.v1")
        .flat_map(|f| &f.message_type)
        .collect();
    for (name, written) in WRITTEN {
        let message = messages
            .iter()
            .find(|m| m.name() == *name)
            .unwrap_or_else(|| panic!("no message {name} in lienthong.v1"));
        let mut fields: Vec<i32> = message.field.iter().map(|f| f.number()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields, *written,
            "lienthong.v1.{name} has other fields than src/wire.rs writes"
        );
    }
}
