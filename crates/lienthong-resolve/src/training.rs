//! Estimating the model's parameters from unlabelled pairs, the way Splink does.
//!
//! 1. **u from random pairs.** Two records drawn at random are almost never the same person, so
//!    the level frequencies among random (record, register entry) pairs estimate u directly
//!    ([`estimate_u`]). Draw the records from the source being resolved, not from the register
//!    alone: a source's spelling errors (missing diacritics, swapped day and month) are part of
//!    what u must describe. The personal ID's u is better left at its designed value (distinct
//!    people never share a number), which random pairs can only bound.
//! 2. **m by expectation–maximisation** on candidate pairs ([`train_em`]): the pairs are a
//!    mixture of matches and non-matches; EM alternates between the probability that each pair
//!    matches and the m (and, optionally, u) that best explain those probabilities.
//!
//! Candidate pairs come from blocking, and blocking biases the fields it conditions on: in pairs
//! that share a birth date, the birth date agrees for matches and non-matches alike and says
//! nothing. Those fields are held fixed and left out of the likelihood for the session
//! ([`EmSettings::fixed_fields`]); a second session blocked on other fields trains them. Each
//! session updates only the fields it trains. With the index's keys, a session on
//! `BlockingKey::DateSex` pairs (trains names, province, personal ID) followed by one on
//! `BlockingKey::NameProvince` pairs (trains birth date, sex, personal ID) covers every field;
//! `BlockingKey::conditioned_fields` gives each session's fixed fields. The crate's accuracy test
//! (`tests/accuracy.rs`) runs exactly this recipe.
//!
//! Identical comparison vectors are counted once with their multiplicity ([`PatternCounts`]), so
//! a session over millions of pairs iterates over a few thousand patterns.

use std::collections::HashMap;

use crate::index::{BlockingKey, PopulationIndex};
use crate::levels::{ComparisonVector, Field};
use crate::matcher::{Matcher, MatcherConfig, QueryRecord};
use crate::model::Model;
use crate::model::{EmSessionRecord, LevelCounts, ModelError, ModelParams, UEstimateRecord};

/// How many pairs had each comparison vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternCounts {
    counts: HashMap<ComparisonVector, u64>,
    pairs: u64,
}

impl PatternCounts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, vector: ComparisonVector) {
        self.add_count(vector, 1);
    }

    pub fn add_count(&mut self, vector: ComparisonVector, count: u64) {
        if count == 0 {
            return;
        }
        *self.counts.entry(vector).or_insert(0) += count;
        self.pairs += count;
    }

    pub fn merge(&mut self, other: &Self) {
        for (vector, count) in &other.counts {
            self.add_count(*vector, *count);
        }
    }

    /// Number of pairs counted.
    pub fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Number of distinct vectors.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// The vectors with their counts, in a fixed order (so training is reproducible bit for bit).
    pub fn sorted(&self) -> Vec<(ComparisonVector, u64)> {
        let mut patterns: Vec<(ComparisonVector, u64)> =
            self.counts.iter().map(|(v, c)| (*v, *c)).collect();
        patterns.sort_unstable();
        patterns
    }

    /// Per field, how often each level (and the null level) occurred.
    pub fn level_counts(&self) -> Vec<LevelCounts> {
        Field::ALL
            .iter()
            .map(|&field| {
                let mut counts = LevelCounts {
                    field,
                    null: 0,
                    levels: vec![0; field.level_labels().len()],
                };
                for (vector, count) in &self.counts {
                    match vector.level(field) {
                        None => counts.null += count,
                        Some(level) => counts.levels[usize::from(level)] += count,
                    }
                }
                counts
            })
            .collect()
    }
}

impl FromIterator<ComparisonVector> for PatternCounts {
    fn from_iter<I: IntoIterator<Item = ComparisonVector>>(iter: I) -> Self {
        let mut patterns = Self::new();
        for vector in iter {
            patterns.add(vector);
        }
        patterns
    }
}

/// Why training could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainingError {
    #[error("no pairs to train on")]
    NoPairs,
    #[error("field {0} has a level in none of the pairs")]
    NoData(Field),
    #[error("invalid training settings: {0}")]
    InvalidSettings(String),
    #[error("the starting parameters are invalid: {0}")]
    Model(#[from] ModelError),
}

/// Sets u of `fields` to the level frequencies among random pairs.
///
/// A level never seen among `n` pairs gets `0.5 / n` rather than zero (a zero u would give that
/// level infinite weight), and the field's u are renormalised.
pub fn estimate_u(
    params: &ModelParams,
    random_pairs: &PatternCounts,
    fields: &[Field],
) -> Result<ModelParams, TrainingError> {
    params.validate()?;
    if random_pairs.pairs() == 0 {
        return Err(TrainingError::NoPairs);
    }
    let counts = random_pairs.level_counts();
    let mut trained = params.clone();
    for &field in fields {
        let field_counts = &counts[field.index()];
        let observed: u64 = field_counts.levels.iter().sum();
        if observed == 0 {
            return Err(TrainingError::NoData(field));
        }
        let floor = 0.5 / observed as f64;
        let estimates: Vec<f64> = field_counts
            .levels
            .iter()
            .map(|&c| c as f64 / observed as f64)
            .collect();
        let estimates = floored_and_normalised(&estimates, floor);
        if let Some(comparison) = trained.comparison_mut(field) {
            for (level, u) in comparison.levels.iter_mut().zip(estimates) {
                level.u = u;
            }
        }
    }
    trained.training.u_estimate = Some(UEstimateRecord {
        random_pairs: random_pairs.pairs(),
        fields: fields.to_vec(),
        level_counts: counts,
    });
    trained.validate()?;
    Ok(trained)
}

fn floored_and_normalised(values: &[f64], floor: f64) -> Vec<f64> {
    let floored: Vec<f64> = values.iter().map(|v| v.max(floor)).collect();
    let sum: f64 = floored.iter().sum();
    floored.iter().map(|v| v / sum).collect()
}

/// Settings of one EM session.
#[derive(Debug, Clone, PartialEq)]
pub struct EmSettings {
    /// Stop after this many iterations even when not converged.
    pub max_iterations: u32,
    /// Converged when no m, u or the in-block prior moves by more than this in an iteration.
    pub tolerance: f64,
    /// Re-estimate u as well as m. Usually off: u from random pairs is more reliable.
    pub train_u: bool,
    /// Fields the candidate pairs were blocked on: held fixed and left out of the likelihood.
    pub fixed_fields: Vec<Field>,
    /// Starting share of matches among the candidate pairs.
    pub initial_in_block_prior: f64,
    /// Smallest m or u an iteration may produce (then renormalised), so no level's weight
    /// becomes infinite because it was absent from one session's pairs. The default, 1e-4,
    /// treats a level never seen among the training matches as rare rather than impossible:
    /// training data seldom shows every kind of error a production source will.
    pub probability_floor: f64,
}

impl Default for EmSettings {
    fn default() -> Self {
        Self {
            max_iterations: 100,
            tolerance: 1e-5,
            train_u: false,
            fixed_fields: Vec::new(),
            initial_in_block_prior: 0.1,
            probability_floor: 1e-4,
        }
    }
}

impl EmSettings {
    fn validate(&self) -> Result<(), TrainingError> {
        let problem = if self.max_iterations == 0 {
            Some("max_iterations must be at least 1".to_owned())
        } else if !(self.tolerance > 0.0 && self.tolerance.is_finite()) {
            Some(format!("tolerance {} must be positive", self.tolerance))
        } else if !(self.initial_in_block_prior > 0.0 && self.initial_in_block_prior < 1.0) {
            Some(format!(
                "initial_in_block_prior {} must be in (0, 1)",
                self.initial_in_block_prior
            ))
        } else if !(self.probability_floor > 0.0 && self.probability_floor < 0.01) {
            Some(format!(
                "probability_floor {} must be in (0, 0.01)",
                self.probability_floor
            ))
        } else if Field::ALL.iter().all(|f| self.fixed_fields.contains(f)) {
            Some("every field is fixed: nothing to train".to_owned())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(TrainingError::InvalidSettings(p)))
    }
}

/// How an EM session ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmReport {
    pub iterations: u32,
    pub converged: bool,
    pub final_max_change: f64,
    /// Estimated share of matches among the pairs.
    pub in_block_prior: f64,
}

/// Per field, per level probabilities as a dense table.
type Table = Vec<Vec<f64>>;

fn table(params: &ModelParams, pick: impl Fn(&crate::model::LevelParams) -> f64) -> Table {
    Field::ALL
        .iter()
        .map(|&field| {
            params
                .comparison(field)
                .map(|c| c.levels.iter().map(&pick).collect())
                .unwrap_or_default()
        })
        .collect()
}

/// Runs one EM session over `patterns` starting from `params`, returning the parameters with
/// the trained fields' m (and u when [`EmSettings::train_u`]) replaced and the session added to
/// their training record. `pairs_from` labels the pairs in that record.
pub fn train_em(
    params: &ModelParams,
    patterns: &PatternCounts,
    pairs_from: &str,
    settings: &EmSettings,
) -> Result<(ModelParams, EmReport), TrainingError> {
    params.validate()?;
    settings.validate()?;
    if patterns.pairs() == 0 {
        return Err(TrainingError::NoPairs);
    }
    let active: Vec<Field> = Field::ALL
        .iter()
        .copied()
        .filter(|f| !settings.fixed_fields.contains(f))
        .collect();
    let sorted = patterns.sorted();
    let total = patterns.pairs() as f64;
    let mut m = table(params, |l| l.m);
    let mut u = table(params, |l| l.u);
    let mut lambda = settings.initial_in_block_prior;
    let mut report = EmReport {
        iterations: 0,
        converged: false,
        final_max_change: f64::INFINITY,
        in_block_prior: lambda,
    };

    for iteration in 1..=settings.max_iterations {
        let mut m_sums: Table = m.iter().map(|levels| vec![0.0; levels.len()]).collect();
        let mut u_sums: Table = m_sums.clone();
        let mut match_mass = 0.0;
        for (vector, count) in &sorted {
            let count = *count as f64;
            // Log odds of a match for this pattern under the current parameters.
            let mut log_odds = (lambda / (1.0 - lambda)).ln();
            for &field in &active {
                if let Some(level) = vector.level(field) {
                    let (f, l) = (field.index(), usize::from(level));
                    log_odds += m[f][l].ln() - u[f][l].ln();
                }
            }
            let p = 1.0 / (1.0 + (-log_odds).exp());
            match_mass += count * p;
            for &field in &active {
                if let Some(level) = vector.level(field) {
                    let (f, l) = (field.index(), usize::from(level));
                    m_sums[f][l] += count * p;
                    u_sums[f][l] += count * (1.0 - p);
                }
            }
        }
        let mut max_change: f64 = 0.0;
        let new_lambda = (match_mass / total).clamp(1e-9, 1.0 - 1e-9);
        max_change = max_change.max((new_lambda - lambda).abs());
        lambda = new_lambda;
        for &field in &active {
            let f = field.index();
            let update = |current: &mut Vec<f64>, sums: &Vec<f64>| {
                let mass: f64 = sums.iter().sum();
                if mass <= 0.0 {
                    return 0.0f64;
                }
                let shares: Vec<f64> = sums.iter().map(|s| s / mass).collect();
                let next = floored_and_normalised(&shares, settings.probability_floor);
                let change = current
                    .iter()
                    .zip(&next)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                *current = next;
                change
            };
            max_change = max_change.max(update(&mut m[f], &m_sums[f]));
            if settings.train_u {
                max_change = max_change.max(update(&mut u[f], &u_sums[f]));
            }
        }
        report = EmReport {
            iterations: iteration,
            converged: max_change < settings.tolerance,
            final_max_change: max_change,
            in_block_prior: lambda,
        };
        if report.converged {
            break;
        }
    }

    let mut trained = params.clone();
    for &field in &active {
        let f = field.index();
        if let Some(comparison) = trained.comparison_mut(field) {
            for (l, level) in comparison.levels.iter_mut().enumerate() {
                level.m = m[f][l];
                if settings.train_u {
                    level.u = u[f][l];
                }
            }
        }
    }
    trained.training.em_sessions.push(EmSessionRecord {
        pairs_from: pairs_from.to_owned(),
        fixed_fields: settings.fixed_fields.clone(),
        candidate_pairs: patterns.pairs(),
        distinct_patterns: patterns.distinct() as u64,
        iterations: report.iterations,
        converged: report.converged,
        final_max_change: report.final_max_change,
        in_block_prior: report.in_block_prior,
        trained_u: settings.train_u,
        level_counts: patterns.level_counts(),
    });
    trained.validate()?;
    Ok((trained, report))
}

/// Settings of [`fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct FitSettings {
    /// Random (record, person) pairs drawn for u.
    pub random_pairs: usize,
    pub seed: u64,
    /// Share of the records expected to be in the register at all (sets the prior).
    pub presence: f64,
}

impl Default for FitSettings {
    fn default() -> Self {
        Self {
            random_pairs: 300_000,
            seed: 11,
            presence: 0.9,
        }
    }
}

/// How [`fit`] went: one EM session per blocking key.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    pub random_pairs: u64,
    /// (blocking key, pairs, EM report) per session.
    pub sessions: Vec<(&'static str, u64, EmReport)>,
}

/// Estimates a model from the data alone, no labels: starting from
/// [`ModelParams::starting_values`], u of every field but the personal ID from random pairs
/// (distinct people never share a number, so its designed u stays), then m by EM on the
/// candidate pairs of two blocking keys that condition on different fields (birth date + sex,
/// then name + province), each session holding its blocked fields fixed.
pub fn fit(
    index: &PopulationIndex,
    records: &[QueryRecord],
    model_version: &str,
    settings: &FitSettings,
) -> Result<(ModelParams, FitReport), TrainingError> {
    let start = ModelParams::starting_values(model_version)
        .with_prior_for_register(index.len() as u64, settings.presence);
    let bootstrap = Matcher::new(Model::new(start.clone())?, MatcherConfig::default())
        .map_err(|e| TrainingError::InvalidSettings(e.to_string()))?;
    let random = bootstrap.random_pairs(index, records, settings.random_pairs, settings.seed);
    let u_fields: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| *f != Field::PersonalId)
        .collect();
    let mut params = estimate_u(&start, &random, &u_fields)?;
    let mut report = FitReport {
        random_pairs: random.pairs(),
        sessions: Vec::new(),
    };
    for key in [BlockingKey::DateSex, BlockingKey::NameProvince] {
        let pairs = bootstrap.blocked_pairs(index, records, key);
        let em = EmSettings {
            fixed_fields: key.conditioned_fields().to_vec(),
            ..EmSettings::default()
        };
        let (trained, session) = train_em(&params, &pairs, key.name(), &em)?;
        report.sessions.push((key.name(), pairs.pairs(), session));
        params = trained;
    }
    Ok((params, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::levels::ComparisonVector;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Draws a level index from a distribution.
    fn draw(rng: &mut StdRng, probabilities: &[f64]) -> u8 {
        let mut x: f64 = rng.random();
        for (i, p) in probabilities.iter().enumerate() {
            if x < *p {
                return i as u8;
            }
            x -= p;
        }
        (probabilities.len() - 1) as u8
    }

    /// Pairs drawn from known m and u, with a known share of matches.
    fn simulate(
        truth: &ModelParams,
        pairs: usize,
        match_share: f64,
        seed: u64,
    ) -> (PatternCounts, PatternCounts) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut mixed = PatternCounts::new();
        let mut random = PatternCounts::new();
        let distributions = |pick: fn(&crate::model::LevelParams) -> f64| -> Vec<Vec<f64>> {
            Field::ALL
                .iter()
                .map(|f| {
                    truth
                        .comparison(*f)
                        .unwrap()
                        .levels
                        .iter()
                        .map(pick)
                        .collect()
                })
                .collect()
        };
        let m = distributions(|l| l.m);
        let u = distributions(|l| l.u);
        for _ in 0..pairs {
            let is_match = rng.random::<f64>() < match_share;
            let source = if is_match { &m } else { &u };
            let mut levels = [None; Field::COUNT];
            for (f, slot) in levels.iter_mut().enumerate() {
                // 10% missing values, independent of match status.
                if rng.random::<f64>() >= 0.1 {
                    *slot = Some(draw(&mut rng, &source[f]));
                }
            }
            mixed.add(ComparisonVector::from_levels(levels).unwrap());
            let mut random_levels = [None; Field::COUNT];
            for (f, slot) in random_levels.iter_mut().enumerate() {
                *slot = Some(draw(&mut rng, &u[f]));
            }
            random.add(ComparisonVector::from_levels(random_levels).unwrap());
        }
        (mixed, random)
    }

    /// A "true" model with strongly separated m and u, so EM has something to find.
    fn truth() -> ModelParams {
        let mut truth = ModelParams::starting_values("truth");
        for comparison in &mut truth.comparisons {
            let n = comparison.levels.len();
            for (i, level) in comparison.levels.iter_mut().enumerate() {
                // m decreasing, u increasing with the level index.
                level.m = (n - i) as f64;
                level.u = (i + 1) as f64;
            }
            let (sum_m, sum_u): (f64, f64) = comparison
                .levels
                .iter()
                .fold((0.0, 0.0), |(a, b), l| (a + l.m, b + l.u));
            for level in &mut comparison.levels {
                level.m /= sum_m;
                level.u /= sum_u;
            }
        }
        truth
    }

    #[test]
    fn estimate_u_recovers_random_pair_frequencies() {
        let truth = truth();
        let (_, random) = simulate(&truth, 50_000, 0.0, 7);
        let start = ModelParams::starting_values("start");
        let fields = [Field::BirthDate, Field::Sex, Field::GivenName];
        let estimated = estimate_u(&start, &random, &fields).unwrap();
        for field in fields {
            let want = truth.comparison(field).unwrap();
            let got = estimated.comparison(field).unwrap();
            for (w, g) in want.levels.iter().zip(&got.levels) {
                assert!(
                    (w.u - g.u).abs() < 0.01,
                    "{field} {}: {} vs {}",
                    w.level,
                    w.u,
                    g.u
                );
            }
        }
        // Fields not asked for keep their u.
        assert_eq!(
            estimated.comparison(Field::PersonalId),
            start.comparison(Field::PersonalId)
        );
        let record = estimated.training.u_estimate.unwrap();
        assert_eq!(record.random_pairs, 50_000);
        assert_eq!(record.fields, fields.to_vec());
    }

    #[test]
    fn estimate_u_floors_unseen_levels() {
        let start = ModelParams::starting_values("start");
        let mut pairs = PatternCounts::new();
        let mut levels = [None; Field::COUNT];
        levels[Field::Sex.index()] = Some(1);
        pairs.add_count(ComparisonVector::from_levels(levels).unwrap(), 100);
        let estimated = estimate_u(&start, &pairs, &[Field::Sex]).unwrap();
        let sex = estimated.comparison(Field::Sex).unwrap();
        assert!(sex.levels[0].u > 0.0 && sex.levels[0].u < 0.01);
        assert_eq!(
            estimate_u(&start, &pairs, &[Field::BirthDate]),
            Err(TrainingError::NoData(Field::BirthDate))
        );
        assert_eq!(
            estimate_u(&start, &PatternCounts::new(), &[Field::Sex]),
            Err(TrainingError::NoPairs)
        );
    }

    #[test]
    fn em_recovers_m_and_the_match_share() {
        let truth = truth();
        let (mixed, random) = simulate(&truth, 60_000, 0.3, 11);
        let all_fields: Vec<Field> = Field::ALL.to_vec();
        let start =
            estimate_u(&ModelParams::starting_values("start"), &random, &all_fields).unwrap();
        let settings = EmSettings {
            initial_in_block_prior: 0.05,
            ..EmSettings::default()
        };
        let (trained, report) = train_em(&start, &mixed, "simulated", &settings).unwrap();
        assert!(report.converged, "{report:?}");
        assert!((report.in_block_prior - 0.3).abs() < 0.02, "{report:?}");
        for field in Field::ALL {
            let want = truth.comparison(field).unwrap();
            let got = trained.comparison(field).unwrap();
            for (w, g) in want.levels.iter().zip(&got.levels) {
                assert!(
                    (w.m - g.m).abs() < 0.03,
                    "{field} {}: {} vs {}",
                    w.level,
                    w.m,
                    g.m
                );
            }
        }
        let session = &trained.training.em_sessions[0];
        assert_eq!(session.candidate_pairs, 60_000);
        assert_eq!(session.pairs_from, "simulated");
        assert!(session.converged);
        // The trained parameters survive a JSON round trip with their training record.
        let json = trained.to_json().unwrap();
        assert_eq!(ModelParams::from_json(&json).unwrap(), trained);
    }

    #[test]
    fn fixed_fields_are_left_alone() {
        let truth = truth();
        let (mixed, _) = simulate(&truth, 5_000, 0.3, 3);
        let start = ModelParams::starting_values("start");
        let settings = EmSettings {
            fixed_fields: vec![Field::BirthDate, Field::Sex],
            max_iterations: 5,
            ..EmSettings::default()
        };
        let (trained, report) = train_em(&start, &mixed, "date_sex", &settings).unwrap();
        assert_eq!(report.iterations, 5);
        assert_eq!(
            trained.comparison(Field::BirthDate),
            start.comparison(Field::BirthDate)
        );
        assert_eq!(trained.comparison(Field::Sex), start.comparison(Field::Sex));
        assert_ne!(
            trained.comparison(Field::GivenName),
            start.comparison(Field::GivenName)
        );
        assert_eq!(
            trained.training.em_sessions[0].fixed_fields,
            settings.fixed_fields
        );
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let start = ModelParams::starting_values("start");
        let mut pairs = PatternCounts::new();
        pairs.add(ComparisonVector::default());
        let bad = EmSettings {
            max_iterations: 0,
            ..EmSettings::default()
        };
        assert!(matches!(
            train_em(&start, &pairs, "x", &bad),
            Err(TrainingError::InvalidSettings(_))
        ));
        let all_fixed = EmSettings {
            fixed_fields: Field::ALL.to_vec(),
            ..EmSettings::default()
        };
        assert!(matches!(
            train_em(&start, &pairs, "x", &all_fixed),
            Err(TrainingError::InvalidSettings(_))
        ));
        assert_eq!(
            train_em(&start, &PatternCounts::new(), "x", &EmSettings::default()),
            Err(TrainingError::NoPairs)
        );
    }
}
