//! A civil-servant list drawn from the register: a sample of people of working age with the
//! organisation that employs them, errors injected, people absent from the register mixed in,
//! and some people listed twice.
//!
//! The register streams past a [`ListSampler`] once ([`ListSampler::offer`] for every person),
//! which keeps a uniform sample of the eligible people (reservoir sampling), so the list never
//! needs the register in memory. [`ListSampler::finish`] then draws the absent people from the
//! same [`Register`] stream, after the register's last person, so their ID numbers are not the
//! register's.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::DatagenError;
use crate::date::Date;
use crate::errors::{ErrorKind, Rates};
use crate::noise::{Noise, StatedPerson};
use crate::organisations::{Organisation, central_organisations, provincial_organisations};
use crate::provinces::PROVINCES_FROM_2025;
use crate::register::{Person, Register};

/// Civil servants are between these ages (inclusive) on the list's reference date.
pub const WORKING_AGES: (u16, u16) = (18, 65);

/// Whether `person` can be on a civil-servant list dated `reference_date`: alive and of working
/// age.
pub fn is_eligible(person: &Person, reference_date: Date) -> bool {
    let age = person.age_on(reference_date);
    !person.deceased && (WORKING_AGES.0..=WORKING_AGES.1).contains(&age)
}

/// What list to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct ListOptions {
    /// Rows in the list, duplicates and absent people included (fewer when the register has
    /// fewer eligible people than the list needs).
    pub size: usize,
    pub reference_date: Date,
    pub rates: Rates,
    pub seed: u64,
}

impl ListOptions {
    /// A list of `size` rows with the default rates, dated 2026-01-01.
    pub fn new(size: usize, seed: u64) -> Self {
        Self {
            size,
            reference_date: DEFAULT_REFERENCE_DATE,
            rates: Rates::default(),
            seed,
        }
    }
}

/// The reference date of a list unless told otherwise.
pub const DEFAULT_REFERENCE_DATE: Date = match Date::checked(2026, 1, 1) {
    Some(date) => date,
    None => Date::MIN,
};

/// One row of the list, with its truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// `CS0000001`, ... in list order.
    pub record_id: String,
    /// The person the row describes (in the register or not).
    pub person: Person,
    pub in_register: bool,
    /// What the row states about the person.
    pub stated: StatedPerson,
    pub organisation: &'static Organisation,
    /// The errors of this row, in [`ErrorKind::ALL`] order; `not_in_register` and `duplicate`
    /// included.
    pub errors: Vec<ErrorKind>,
}

impl ListEntry {
    /// The person's current register number; `None` for a person absent from the register.
    pub fn truth_id(&self) -> Option<&str> {
        self.in_register.then_some(self.person.personal_id.as_str())
    }

    pub fn has(&self, kind: ErrorKind) -> bool {
        self.errors.contains(&kind)
    }
}

/// The list, in row order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CivilServantList {
    pub entries: Vec<ListEntry>,
}

impl CivilServantList {
    /// Rows per error kind, every kind present (zero where none).
    pub fn error_counts(&self) -> BTreeMap<ErrorKind, u64> {
        let mut counts: BTreeMap<ErrorKind, u64> =
            ErrorKind::ALL.into_iter().map(|kind| (kind, 0)).collect();
        for kind in self.entries.iter().flat_map(|e| &e.errors) {
            *counts.entry(*kind).or_default() += 1;
        }
        counts
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Draws a civil-servant list while the register streams past (see the module documentation).
#[derive(Debug)]
pub struct ListSampler {
    options: ListOptions,
    rng: StdRng,
    /// Rows planned for register people, absent people and duplicates.
    register_rows: usize,
    absent_rows: usize,
    duplicate_rows: usize,
    reservoir: Vec<Person>,
    eligible_seen: u64,
}

impl ListSampler {
    pub fn new(options: ListOptions) -> Result<Self, DatagenError> {
        options.rates.validate()?;
        let mut rng = StdRng::seed_from_u64(options.seed ^ 0x0C15_7A11_5EED_0001);
        let (mut register_rows, mut absent_rows, mut duplicate_rows) = (0, 0, 0);
        for _ in 0..options.size {
            let x = rng.random::<f64>();
            if x < options.rates.not_in_register {
                absent_rows += 1;
            } else if x < options.rates.not_in_register + options.rates.duplicate {
                duplicate_rows += 1;
            } else {
                register_rows += 1;
            }
        }
        Ok(Self {
            rng,
            register_rows,
            absent_rows,
            duplicate_rows,
            reservoir: Vec::with_capacity(register_rows),
            eligible_seen: 0,
            options,
        })
    }

    /// Shows the sampler the next register person.
    pub fn offer(&mut self, person: &Person) {
        if !is_eligible(person, self.options.reference_date) {
            return;
        }
        self.eligible_seen += 1;
        if self.reservoir.len() < self.register_rows {
            self.reservoir.push(person.clone());
        } else if self.register_rows > 0 {
            let j = self.rng.random_range(0..self.eligible_seen);
            if let Some(slot) = usize::try_from(j)
                .ok()
                .and_then(|j| self.reservoir.get_mut(j))
            {
                slot.clone_from(person);
            }
        }
    }

    /// Eligible register people seen so far.
    pub fn eligible_seen(&self) -> u64 {
        self.eligible_seen
    }

    /// The list. `after_register` must be the stream the register was taken from, positioned
    /// after its last person: the people absent from the register are drawn from it.
    pub fn finish(mut self, after_register: &mut Register) -> CivilServantList {
        let reference_date = self.options.reference_date;
        let mut listed: Vec<(Person, bool)> = std::mem::take(&mut self.reservoir)
            .into_iter()
            .map(|p| (p, true))
            .collect();
        // A stream in which nobody is eligible (a reference date before every birth) must not
        // hang the generator: give up after many more draws than the eligible share needs.
        let mut attempts = self.absent_rows.saturating_mul(1_000).saturating_add(1_000);
        let mut absent = 0;
        while absent < self.absent_rows && attempts > 0 {
            attempts -= 1;
            let person = after_register.person();
            if is_eligible(&person, reference_date) {
                listed.push((person, false));
                absent += 1;
            }
        }
        listed.shuffle(&mut self.rng);
        let organisations: Vec<&'static Organisation> = listed
            .iter()
            .map(|(person, _)| self.organisation(person))
            .collect();

        // Row order: every person once, and each duplicate somewhere after its first row.
        let registered: Vec<usize> = (0..listed.len()).filter(|&i| listed[i].1).collect();
        let mut order: Vec<(f64, usize, bool)> =
            (0..listed.len()).map(|i| (i as f64, i, false)).collect();
        if !registered.is_empty() {
            for _ in 0..self.duplicate_rows {
                let original = registered[self.rng.random_range(0..registered.len())];
                let after =
                    original as f64 + self.rng.random::<f64>() * (listed.len() - original) as f64;
                order.push((after.max(original as f64 + f64::EPSILON), original, true));
            }
        }
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));

        let mut noise = Noise::new(
            self.options.rates.clone(),
            self.options.seed ^ 0x0C15_7A11_5EED_0002,
        );
        let entries = order
            .into_iter()
            .enumerate()
            .map(|(row, (_, i, duplicate))| {
                let (person, in_register) = &listed[i];
                let (stated, mut errors) = noise.state(person);
                if !in_register {
                    errors.push(ErrorKind::NotInRegister);
                }
                if duplicate {
                    errors.push(ErrorKind::Duplicate);
                }
                errors.sort_unstable_by_key(|kind| ErrorKind::ALL.iter().position(|k| k == kind));
                ListEntry {
                    record_id: format!("CS{:07}", row + 1),
                    person: person.clone(),
                    in_register: *in_register,
                    stated,
                    organisation: organisations[i],
                    errors,
                }
            })
            .collect();
        CivilServantList { entries }
    }

    /// Most civil servants work in the province they were born in, some in a ministry, the rest
    /// anywhere.
    fn organisation(&mut self, person: &Person) -> &'static Organisation {
        let x = self.rng.random::<f64>();
        let pool = if x < 0.75 {
            provincial_organisations(person.current_birth_province())
        } else if x < 0.85 {
            central_organisations()
        } else {
            let unit = &PROVINCES_FROM_2025[self.rng.random_range(0..PROVINCES_FROM_2025.len())];
            provincial_organisations(unit.code)
        };
        let pool = if pool.is_empty() {
            central_organisations()
        } else {
            pool
        };
        &pool[self.rng.random_range(0..pool.len())]
    }
}

/// A list drawn from register people held in memory: `register` is the register (in stream
/// order), `after_register` its stream positioned after the last of them.
pub fn draw_list(
    register: &[Person],
    after_register: &mut Register,
    options: ListOptions,
) -> Result<CivilServantList, DatagenError> {
    let mut sampler = ListSampler::new(options)?;
    for person in register {
        sampler.offer(person);
    }
    Ok(sampler.finish(after_register))
}
