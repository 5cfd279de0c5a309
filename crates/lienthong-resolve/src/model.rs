//! The Fellegi–Sunter model: how much each comparison level says for or against "same person".
//!
//! For every field and level the model holds `m` = P(level | same person) and `u` = P(level |
//! different persons). A pair's match weight is `log2(λ / (1 − λ)) + Σ log2(m / u)` over the fields
//! that have a level (a missing field adds nothing), and its match probability is
//! `1 / (1 + 2^−weight)`. λ, the prior, is the probability that a random (record, register entry)
//! pair is the same person: about `presence / register size`, since a record matches at most one
//! of the register's people ([`ModelParams::with_prior_for_register`]).
//!
//! **Term-frequency adjustment.** "Same family name" means little for Nguyễn (about 38% of
//! people) and a lot for a rare name. For the levels at which both names are the same up to
//! spelling, the weight gets `tf_weight · log2(u_exact / max(tf, min_u))`, where `tf` is the
//! share of the register holding that (folded) name and `u_exact` the u of the field's exact
//! level, i.e. the chance two random people share *some* name. A name more common than average
//! loses weight, a rarer one gains, bounded by `min_u` so one unique spelling cannot outweigh
//! everything else. This is the adjustment Splink applies.
//!
//! Parameters are a serde value ([`ModelParams`]) with a format version, a model version that
//! results quote, and a record of what they were trained on; [`Model`] is the validated form with
//! the logarithms precomputed. Training (EM, u from random pairs) is in [`crate::training`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::levels::{ComparisonVector, Field};

/// The parameter file format this crate reads and writes.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// The most levels any field has (the name ladder).
const MAX_LEVELS: usize = 8;

/// Model parameters as saved to JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// [`MODEL_FORMAT_VERSION`] of the file.
    pub format_version: u32,
    /// Names this parameter set in every result it produces (`ResolutionResult.model_version`).
    pub model_version: String,
    /// λ: probability that a random (record, register entry) pair is the same person.
    pub prior: f64,
    /// One entry per field, each field exactly once.
    pub comparisons: Vec<ComparisonParams>,
    /// What the parameters were estimated from.
    #[serde(default)]
    pub training: TrainingRecord,
}

/// The parameters of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonParams {
    pub field: Field,
    /// One entry per level, in the order of [`Field::level_labels`].
    pub levels: Vec<LevelParams>,
    /// Present to adjust the same-name levels for how common the name is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tf_adjustment: Option<TfAdjustment>,
}

/// m and u of one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelParams {
    /// The level's label ([`Field::level_labels`]), checked on load so a file cannot silently
    /// apply one level's numbers to another.
    pub level: String,
    /// P(level | same person).
    pub m: f64,
    /// P(level | different persons).
    pub u: f64,
}

/// Term-frequency adjustment of a name field.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TfAdjustment {
    /// How much of the adjustment applies, 0 (none) to 1 (full).
    pub weight: f64,
    /// Lower bound on the term frequency used, bounding the bonus of a rare name.
    pub min_u: f64,
}

/// What a parameter set was estimated from: enough to judge it and to reproduce it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingRecord {
    /// u estimated from random pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub u_estimate: Option<UEstimateRecord>,
    /// EM sessions, in the order they ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub em_sessions: Vec<EmSessionRecord>,
}

/// A u estimation from random pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UEstimateRecord {
    pub random_pairs: u64,
    /// The fields whose u was estimated.
    pub fields: Vec<Field>,
    /// How often each level occurred among the random pairs.
    pub level_counts: Vec<LevelCounts>,
}

/// One EM session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmSessionRecord {
    /// Label of the candidate pairs (typically the blocking key that produced them).
    pub pairs_from: String,
    /// Fields held fixed and left out of the likelihood (those the blocking conditioned on).
    pub fixed_fields: Vec<Field>,
    pub candidate_pairs: u64,
    pub distinct_patterns: u64,
    pub iterations: u32,
    pub converged: bool,
    /// Largest change of any parameter in the last iteration.
    pub final_max_change: f64,
    /// Estimated share of matches among the session's pairs.
    pub in_block_prior: f64,
    pub trained_u: bool,
    /// How often each level occurred among the session's pairs.
    pub level_counts: Vec<LevelCounts>,
}

/// Level occurrence counts of one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelCounts {
    pub field: Field,
    /// Pairs where the field was missing on a side.
    pub null: u64,
    /// Per level, in the order of [`Field::level_labels`].
    pub levels: Vec<u64>,
}

/// Why parameters are not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error(
        "model parameter format {found} is not supported (this build reads {MODEL_FORMAT_VERSION})"
    )]
    UnsupportedFormat { found: u32 },
    #[error("model parameters do not cover field {0}")]
    MissingField(Field),
    #[error("model parameters cover field {0} twice")]
    DuplicateField(Field),
    #[error("field {field} has levels {found:?}, expected {expected:?}")]
    LevelMismatch {
        field: Field,
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error("{which} of level {level} of field {field} is {value}, outside (0, 1]")]
    ProbabilityOutOfRange {
        field: Field,
        level: String,
        which: &'static str,
        value: f64,
    },
    #[error("the {which} probabilities of field {field} sum to {sum}, not 1")]
    NotNormalised {
        field: Field,
        which: &'static str,
        sum: f64,
    },
    #[error("prior {0} is outside (0, 1)")]
    PriorOutOfRange(f64),
    #[error("term-frequency adjustment of field {field}: {reason}")]
    InvalidTfAdjustment { field: Field, reason: String },
    #[error("model version is empty")]
    EmptyVersion,
    #[error("model parameters are not valid JSON for this format: {0}")]
    Json(String),
}

/// Sums of probabilities may be off by rounding in a hand-edited or re-serialised file.
const NORMALISATION_TOLERANCE: f64 = 1e-6;

impl ModelParams {
    /// Hand-set parameters from what is known about Vietnamese registers, usable before any
    /// training and as EM's starting point. The u of the name levels assume ~38% Nguyễn, a few
    /// dozen common middle names and a few thousand given names; the date u assume birth years
    /// spread over ~80 years. The prior assumes a register of one million people: set it with
    /// [`ModelParams::with_prior_for_register`].
    pub fn starting_values(model_version: &str) -> Self {
        let names = |u_exact: f64, m_regional: f64| -> Vec<(f64, f64)> {
            let m = [0.80, 0.04, 0.08, m_regional, 0.02, 0.01, 0.005];
            let u = [u_exact, 0.002, 0.004, 0.002, 0.01, 0.02, 0.0001];
            with_remainder(&m, &u)
        };
        let comparisons = vec![
            comparison(
                Field::PersonalId,
                // Distinct people never share a number; agreement without a match needs a typo
                // that hits an existing number.
                with_remainder(&[0.90, 0.07], &[1e-10, 1e-8]),
                None,
            ),
            comparison(Field::FamilyName, names(0.18, 0.03), Some(TF_DEFAULT)),
            comparison(Field::MiddleName, names(0.10, 0.001), Some(TF_DEFAULT)),
            comparison(Field::GivenName, names(0.01, 0.001), Some(TF_DEFAULT)),
            comparison(
                Field::BirthDate,
                with_remainder(
                    &[0.85, 0.08, 0.02, 0.01, 0.02],
                    &[3.5e-5, 0.002, 1.4e-5, 6.8e-5, 0.0125],
                ),
                None,
            ),
            comparison(Field::Sex, vec![(0.98, 0.5), (0.02, 0.5)], None),
            comparison(
                Field::BirthProvince,
                with_remainder(&[0.75, 0.2], &[0.04, 0.02]),
                None,
            ),
        ];
        Self {
            format_version: MODEL_FORMAT_VERSION,
            model_version: model_version.to_owned(),
            prior: 1e-6,
            comparisons,
            training: TrainingRecord::default(),
        }
    }

    /// The same parameters with λ set for matching against a register of `register_size`
    /// people, a share `presence` of the records being in it at all.
    pub fn with_prior_for_register(mut self, register_size: u64, presence: f64) -> Self {
        let size = register_size.max(1) as f64;
        self.prior = (presence.clamp(1e-9, 1.0) / size).clamp(1e-15, 0.5);
        self
    }

    /// The parameters of a field.
    pub fn comparison(&self, field: Field) -> Option<&ComparisonParams> {
        self.comparisons.iter().find(|c| c.field == field)
    }

    pub(crate) fn comparison_mut(&mut self, field: Field) -> Option<&mut ComparisonParams> {
        self.comparisons.iter_mut().find(|c| c.field == field)
    }

    /// Checks everything [`Model::new`] relies on.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.format_version != MODEL_FORMAT_VERSION {
            return Err(ModelError::UnsupportedFormat {
                found: self.format_version,
            });
        }
        if self.model_version.trim().is_empty() {
            return Err(ModelError::EmptyVersion);
        }
        if !(self.prior > 0.0 && self.prior < 1.0) {
            return Err(ModelError::PriorOutOfRange(self.prior));
        }
        for field in Field::ALL {
            match self.comparisons.iter().filter(|c| c.field == field).count() {
                0 => return Err(ModelError::MissingField(field)),
                1 => {}
                _ => return Err(ModelError::DuplicateField(field)),
            }
        }
        for comparison in &self.comparisons {
            comparison.validate()?;
        }
        Ok(())
    }

    /// Reads and validates a JSON parameter file.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let params: Self =
            serde_json::from_str(text).map_err(|e| ModelError::Json(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// Pretty JSON, for files a reviewer reads.
    pub fn to_json(&self) -> Result<String, ModelError> {
        serde_json::to_string_pretty(self).map_err(|e| ModelError::Json(e.to_string()))
    }
}

const TF_DEFAULT: TfAdjustment = TfAdjustment {
    weight: 1.0,
    min_u: 1e-4,
};

/// Pairs (m, u) for the given levels plus a last "different" level taking what is left.
fn with_remainder(m: &[f64], u: &[f64]) -> Vec<(f64, f64)> {
    let mut levels: Vec<(f64, f64)> = m.iter().copied().zip(u.iter().copied()).collect();
    levels.push((1.0 - m.iter().sum::<f64>(), 1.0 - u.iter().sum::<f64>()));
    levels
}

fn comparison(field: Field, levels: Vec<(f64, f64)>, tf: Option<TfAdjustment>) -> ComparisonParams {
    ComparisonParams {
        field,
        levels: field
            .level_labels()
            .iter()
            .zip(levels)
            .map(|(label, (m, u))| LevelParams {
                level: (*label).to_owned(),
                m,
                u,
            })
            .collect(),
        tf_adjustment: tf,
    }
}

impl ComparisonParams {
    fn validate(&self) -> Result<(), ModelError> {
        let field = self.field;
        let expected = field.level_labels();
        let found: Vec<&str> = self.levels.iter().map(|l| l.level.as_str()).collect();
        if found != expected {
            return Err(ModelError::LevelMismatch {
                field,
                expected: expected.iter().map(|s| (*s).to_owned()).collect(),
                found: found.iter().map(|s| (*s).to_owned()).collect(),
            });
        }
        for level in &self.levels {
            for (which, value) in [("m", level.m), ("u", level.u)] {
                if !(value > 0.0 && value <= 1.0) {
                    return Err(ModelError::ProbabilityOutOfRange {
                        field,
                        level: level.level.clone(),
                        which,
                        value,
                    });
                }
            }
        }
        for (which, sum) in [
            ("m", self.levels.iter().map(|l| l.m).sum::<f64>()),
            ("u", self.levels.iter().map(|l| l.u).sum::<f64>()),
        ] {
            if (sum - 1.0).abs() > NORMALISATION_TOLERANCE {
                return Err(ModelError::NotNormalised { field, which, sum });
            }
        }
        if let Some(tf) = self.tf_adjustment {
            let reason = if !field.is_name() {
                Some("only name fields have term frequencies".to_owned())
            } else if !(0.0..=1.0).contains(&tf.weight) {
                Some(format!("weight {} is outside [0, 1]", tf.weight))
            } else if !(tf.min_u > 0.0 && tf.min_u <= 1.0) {
                Some(format!("min_u {} is outside (0, 1]", tf.min_u))
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(ModelError::InvalidTfAdjustment { field, reason });
            }
        }
        Ok(())
    }
}

/// Term frequencies for one pair: per field, the share of the register holding the compared
/// value (the larger of the two sides' when they differ in spelling), `None` when not known.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TermFrequencies([Option<f64>; Field::COUNT]);

impl TermFrequencies {
    pub fn set(&mut self, field: Field, frequency: Option<f64>) {
        self.0[field.index()] = frequency;
    }

    pub fn get(&self, field: Field) -> Option<f64> {
        self.0[field.index()]
    }
}

/// A pair's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Prior weight plus every field's weight, in bits.
    pub match_weight: f64,
    pub probability: f64,
    /// Each field's weight including its term-frequency adjustment; 0 for a missing field.
    pub field_weights: [f64; Field::COUNT],
}

impl Score {
    /// The sum of the weights of every field except `field` (without the prior).
    pub fn weight_without(&self, field: Field) -> f64 {
        Field::ALL
            .iter()
            .filter(|f| **f != field)
            .map(|f| self.field_weights[f.index()])
            .sum()
    }
}

/// The values a pair compared, per field, for explanations (`record_value`, `register_value`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldValues {
    record: [String; Field::COUNT],
    register: [String; Field::COUNT],
}

impl FieldValues {
    pub fn set(&mut self, field: Field, record: impl Into<String>, register: impl Into<String>) {
        self.record[field.index()] = record.into();
        self.register[field.index()] = register.into();
    }

    pub fn record(&self, field: Field) -> &str {
        &self.record[field.index()]
    }

    pub fn register(&self, field: Field) -> &str {
        &self.register[field.index()]
    }
}

/// Why a pair scored what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub model_version: String,
    /// `log2(λ / (1 − λ))`.
    pub prior_weight: f64,
    pub match_weight: f64,
    pub probability: f64,
    /// Every field, in [`Field::ALL`] order, including missing ones (level `"null"`, weight 0).
    pub fields: Vec<FieldExplanation>,
}

/// One field's part in an [`Explanation`]; maps onto `lienthong.v1.FieldComparison`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldExplanation {
    pub field: Field,
    /// The level's label, `"null"` when the field was missing on a side.
    pub level: &'static str,
    /// `log2(m / u)` of the level.
    pub level_weight: f64,
    /// The term-frequency adjustment added to it.
    pub tf_adjustment: f64,
    /// `level_weight + tf_adjustment`: this field's contribution.
    pub match_weight: f64,
    pub record_value: String,
    pub register_value: String,
    /// True when the values differ in a way a data steward should see.
    pub discrepancy: bool,
}

/// Validated parameters with their logarithms precomputed; cheap to share.
#[derive(Clone)]
pub struct Model {
    params: ModelParams,
    prior_weight: f64,
    weights: [[f64; MAX_LEVELS]; Field::COUNT],
    u_exact: [f64; Field::COUNT],
    tf: [Option<TfAdjustment>; Field::COUNT],
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("model_version", &self.params.model_version)
            .field("prior", &self.params.prior)
            .finish_non_exhaustive()
    }
}

/// `1 / (1 + 2^−weight)`.
pub fn probability_from_weight(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

impl Model {
    pub fn new(params: ModelParams) -> Result<Self, ModelError> {
        params.validate()?;
        let mut weights = [[0.0; MAX_LEVELS]; Field::COUNT];
        let mut u_exact = [1.0; Field::COUNT];
        let mut tf = [None; Field::COUNT];
        for comparison in &params.comparisons {
            let i = comparison.field.index();
            for (slot, level) in weights[i].iter_mut().zip(&comparison.levels) {
                *slot = (level.m / level.u).log2();
            }
            u_exact[i] = comparison.levels.first().map_or(1.0, |l| l.u);
            tf[i] = comparison.tf_adjustment;
        }
        let prior_weight = (params.prior / (1.0 - params.prior)).log2();
        Ok(Self {
            params,
            prior_weight,
            weights,
            u_exact,
            tf,
        })
    }

    pub fn params(&self) -> &ModelParams {
        &self.params
    }

    pub fn version(&self) -> &str {
        &self.params.model_version
    }

    /// `log2(λ / (1 − λ))`.
    pub fn prior_weight(&self) -> f64 {
        self.prior_weight
    }

    /// `log2(m / u)` of a level (0 for an index the field does not have).
    pub fn level_weight(&self, field: Field, level: u8) -> f64 {
        self.weights[field.index()]
            .get(usize::from(level))
            .copied()
            .filter(|_| usize::from(level) < field.level_labels().len())
            .unwrap_or(0.0)
    }

    /// The term-frequency adjustment of a level given the compared value's frequency: 0 for a
    /// field without adjustment, a level other than the same-name ones, or an unknown frequency.
    pub fn tf_adjustment(&self, field: Field, level: u8, frequency: Option<f64>) -> f64 {
        let (Some(tf), Some(frequency)) = (self.tf[field.index()], frequency) else {
            return 0.0;
        };
        if !field.is_same_value_level(level) || !frequency.is_finite() {
            return 0.0;
        }
        let bounded = frequency.clamp(tf.min_u, 1.0);
        tf.weight * (self.u_exact[field.index()] / bounded).log2()
    }

    /// Scores a comparison vector.
    pub fn score(&self, vector: &ComparisonVector, frequencies: &TermFrequencies) -> Score {
        let mut field_weights = [0.0; Field::COUNT];
        for field in Field::ALL {
            if let Some(level) = vector.level(field) {
                field_weights[field.index()] = self.level_weight(field, level)
                    + self.tf_adjustment(field, level, frequencies.get(field));
            }
        }
        let match_weight = self.prior_weight + field_weights.iter().sum::<f64>();
        Score {
            match_weight,
            probability: probability_from_weight(match_weight),
            field_weights,
        }
    }

    /// Scores a vector and says why, field by field.
    pub fn explain(
        &self,
        vector: &ComparisonVector,
        frequencies: &TermFrequencies,
        values: FieldValues,
    ) -> Explanation {
        let FieldValues {
            mut record,
            mut register,
        } = values;
        let score = self.score(vector, frequencies);
        let fields = Field::ALL
            .iter()
            .map(|&field| {
                let level = vector.level(field);
                let level_weight = level.map_or(0.0, |l| self.level_weight(field, l));
                let tf_adjustment = level.map_or(0.0, |l| {
                    self.tf_adjustment(field, l, frequencies.get(field))
                });
                FieldExplanation {
                    field,
                    level: vector.label(field),
                    level_weight,
                    tf_adjustment,
                    match_weight: level_weight + tf_adjustment,
                    record_value: std::mem::take(&mut record[field.index()]),
                    register_value: std::mem::take(&mut register[field.index()]),
                    discrepancy: level.is_some_and(|l| field.is_discrepancy(l)),
                }
            })
            .collect();
        Explanation {
            model_version: self.params.model_version.clone(),
            prior_weight: self.prior_weight,
            match_weight: score.match_weight,
            probability: score.probability,
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::levels::{DateLevel, FieldLevels, NameLevel, SexLevel};
    use proptest::prelude::*;

    fn model() -> Model {
        Model::new(ModelParams::starting_values("test-1")).unwrap()
    }

    #[test]
    fn starting_values_are_valid_and_round_trip_through_json() {
        let params = ModelParams::starting_values("test-1");
        params.validate().unwrap();
        let json = params.to_json().unwrap();
        assert_eq!(ModelParams::from_json(&json).unwrap(), params);
    }

    #[test]
    fn invalid_files_are_rejected_with_the_reason() {
        let params = ModelParams::starting_values("test-1");

        let mut wrong_format = params.clone();
        wrong_format.format_version = 99;
        assert_eq!(
            wrong_format.validate(),
            Err(ModelError::UnsupportedFormat { found: 99 })
        );

        let mut missing = params.clone();
        missing.comparisons.retain(|c| c.field != Field::Sex);
        assert_eq!(
            missing.validate(),
            Err(ModelError::MissingField(Field::Sex))
        );

        let mut swapped = params.clone();
        let date = swapped.comparison_mut(Field::BirthDate).unwrap();
        date.levels.swap(0, 1);
        assert!(matches!(
            swapped.validate(),
            Err(ModelError::LevelMismatch {
                field: Field::BirthDate,
                ..
            })
        ));

        let mut zero = params.clone();
        zero.comparison_mut(Field::Sex).unwrap().levels[1].m = 0.0;
        assert!(matches!(
            zero.validate(),
            Err(ModelError::ProbabilityOutOfRange {
                field: Field::Sex,
                which: "m",
                ..
            })
        ));

        let mut unnormalised = params.clone();
        unnormalised.comparison_mut(Field::Sex).unwrap().levels[1].u = 0.6;
        assert!(matches!(
            unnormalised.validate(),
            Err(ModelError::NotNormalised {
                field: Field::Sex,
                which: "u",
                ..
            })
        ));

        let mut tf_on_date = params.clone();
        tf_on_date
            .comparison_mut(Field::BirthDate)
            .unwrap()
            .tf_adjustment = Some(TF_DEFAULT);
        assert!(matches!(
            tf_on_date.validate(),
            Err(ModelError::InvalidTfAdjustment {
                field: Field::BirthDate,
                ..
            })
        ));

        let unknown_key =
            params
                .to_json()
                .unwrap()
                .replacen("\"prior\"", "\"surprise\": 1, \"prior\"", 1);
        assert!(matches!(
            ModelParams::from_json(&unknown_key),
            Err(ModelError::Json(_))
        ));
    }

    #[test]
    fn weights_follow_fellegi_sunter() {
        let model = model();
        let sex = model.params().comparison(Field::Sex).unwrap();
        let expected = (sex.levels[0].m / sex.levels[0].u).log2();
        assert!((model.level_weight(Field::Sex, 0) - expected).abs() < 1e-12);

        let levels = FieldLevels {
            sex: Some(SexLevel::Equal),
            birth_date: Some(DateLevel::Exact),
            ..FieldLevels::default()
        };
        let score = model.score(&levels.vector(), &TermFrequencies::default());
        let by_hand = model.prior_weight()
            + model.level_weight(Field::Sex, 0)
            + model.level_weight(Field::BirthDate, 0);
        assert!((score.match_weight - by_hand).abs() < 1e-12);
        assert!((score.probability - probability_from_weight(by_hand)).abs() < 1e-15);
        assert_eq!(
            score.field_weights[Field::GivenName.index()],
            0.0,
            "null level adds nothing"
        );
    }

    #[test]
    fn common_family_name_weighs_less_than_rare_one() {
        let model = model();
        let levels = FieldLevels {
            family_name: Some(NameLevel::Exact),
            ..FieldLevels::default()
        };
        let vector = levels.vector();
        let with_frequency = |frequency: f64| {
            let mut tf = TermFrequencies::default();
            tf.set(Field::FamilyName, Some(frequency));
            model.score(&vector, &tf).field_weights[Field::FamilyName.index()]
        };
        let nguyen = with_frequency(0.384);
        let rare = with_frequency(0.0005);
        let unique = with_frequency(1e-9);
        assert!(
            nguyen < model.level_weight(Field::FamilyName, 0),
            "Nguyễn is commoner than average"
        );
        assert!(rare > nguyen + 8.0, "rare {rare} vs Nguyễn {nguyen}");
        // Bounded by min_u: a unique spelling gains no more than a name at min_u.
        assert_eq!(unique, with_frequency(TF_DEFAULT.min_u));
        // No adjustment off the same-name levels.
        let different = FieldLevels {
            family_name: Some(NameLevel::Different),
            ..FieldLevels::default()
        }
        .vector();
        let mut tf = TermFrequencies::default();
        tf.set(Field::FamilyName, Some(0.384));
        assert_eq!(
            model.score(&different, &tf).field_weights[Field::FamilyName.index()],
            model.level_weight(Field::FamilyName, NameLevel::Different.index())
        );
    }

    #[test]
    fn explanation_lists_every_field_with_values() {
        let model = model();
        let levels = FieldLevels {
            given_name: Some(NameLevel::DiacriticFolded),
            sex: Some(SexLevel::Equal),
            ..FieldLevels::default()
        };
        let mut values = FieldValues::default();
        values.set(Field::GivenName, "Hoa", "Hòa");
        let explanation = model.explain(&levels.vector(), &TermFrequencies::default(), values);
        assert_eq!(explanation.fields.len(), Field::COUNT);
        let given = &explanation.fields[Field::GivenName.index()];
        assert_eq!(given.level, "diacritic_folded");
        assert_eq!(
            (given.record_value.as_str(), given.register_value.as_str()),
            ("Hoa", "Hòa")
        );
        assert!(given.discrepancy);
        assert_eq!(explanation.fields[Field::BirthDate.index()].level, "null");
        let total: f64 = explanation.fields.iter().map(|f| f.match_weight).sum();
        assert!((explanation.prior_weight + total - explanation.match_weight).abs() < 1e-9);
    }

    #[test]
    fn prior_for_register() {
        let params = ModelParams::starting_values("v").with_prior_for_register(10_000_000, 0.9);
        assert!((params.prior - 9e-8).abs() < 1e-20);
        params.validate().unwrap();
    }

    proptest! {
        #[test]
        fn probability_is_monotone_in_weight(a in -60.0f64..60.0, b in -60.0f64..60.0) {
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(probability_from_weight(low) <= probability_from_weight(high));
            let p = probability_from_weight(a);
            prop_assert!((0.0..=1.0).contains(&p));
        }
    }
}
