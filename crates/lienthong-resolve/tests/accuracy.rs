//! End-to-end accuracy on synthetic data with known truth: a register of 50,000 people with
//! realistic Vietnamese name distributions, a model trained without labels (u from random pairs,
//! m by EM on blocked pairs), and source records with injected errors, a tenth of them describing
//! people absent from the register.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/synthetic.rs"]
mod synthetic;

use std::collections::BTreeMap;
use std::sync::Arc;

use lienthong_resolve::index::{BlockingKey, PopulationIndex};
use lienthong_resolve::matcher::{MatchMethod, MatchStatus, Matcher, MatcherConfig, QueryRecord};
use lienthong_resolve::model::{Model, ModelParams};
use lienthong_resolve::training::{EmSettings, estimate_u, train_em};
use lienthong_resolve::{Field, VietnameseNameNormaliser};

const REGISTER: usize = 50_000;

fn train(index: &PopulationIndex, records: &[QueryRecord]) -> ModelParams {
    let start = ModelParams::starting_values("synthetic-accuracy")
        .with_prior_for_register(index.len() as u64, 0.9);
    let bootstrap =
        Matcher::new(Model::new(start.clone()).unwrap(), MatcherConfig::default()).unwrap();
    let random = bootstrap.random_pairs(index, records, 300_000, 11);
    // The personal ID keeps its designed u: distinct people never share a number.
    let u_fields: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| *f != Field::PersonalId)
        .collect();
    let mut params = estimate_u(&start, &random, &u_fields).unwrap();
    for key in [BlockingKey::DateSex, BlockingKey::NameProvince] {
        let pairs = bootstrap.blocked_pairs(index, records, key);
        let settings = EmSettings {
            fixed_fields: key.conditioned_fields().to_vec(),
            ..EmSettings::default()
        };
        let (trained, report) = train_em(&params, &pairs, key.name(), &settings).unwrap();
        println!(
            "EM on {} pairs ({} patterns) blocked by {}: {report:?}",
            pairs.pairs(),
            pairs.distinct(),
            key.name()
        );
        assert!(
            report.converged,
            "EM blocked by {} did not converge",
            key.name()
        );
        params = trained;
    }
    params
}

#[test]
fn precision_and_recall_on_synthetic_population() {
    let mut generator = synthetic::Population::new(2026);
    let register = generator.people(REGISTER);
    let absent = generator.people(1_000);
    let index = PopulationIndex::build(
        register.iter().cloned(),
        Arc::new(VietnameseNameNormaliser::default()),
        synthetic::province_map(),
    )
    .unwrap();
    let rates = synthetic::ErrorRates::messy();

    let training: Vec<QueryRecord> = synthetic::source_records(
        &synthetic::sample(&register, 4_000, 1),
        &absent[..400],
        &rates,
        2,
    )
    .into_iter()
    .map(|(record, _, _)| record)
    .collect();
    let params = train(&index, &training);
    let json = params.to_json().unwrap();
    for comparison in &params.comparisons {
        let levels: Vec<String> = comparison
            .levels
            .iter()
            .map(|l| format!("{} m={:.4} u={:.5}", l.level, l.m, l.u))
            .collect();
        println!("{}: {}", comparison.field, levels.join(", "));
    }
    assert_eq!(ModelParams::from_json(&json).unwrap(), params);
    let matcher = Matcher::new(Model::new(params).unwrap(), MatcherConfig::default()).unwrap();

    let evaluation = synthetic::source_records(
        &synthetic::sample(&register, 5_000, 3),
        &absent[400..],
        &rates,
        4,
    );
    let present = evaluation
        .iter()
        .filter(|(_, truth, _)| truth.is_some())
        .count();
    let (mut right, mut wrong) = (0usize, 0usize);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut missed_with: BTreeMap<&str, usize> = BTreeMap::new();
    let mut injected_total: BTreeMap<&str, usize> = BTreeMap::new();
    for (record, truth, injected) in &evaluation {
        for what in &injected.0 {
            *injected_total.entry(what).or_default() += 1;
        }
        let resolution = matcher.resolve(&index, record);
        let method = match resolution.method {
            Some(MatchMethod::PersonalId) => "personal_id",
            Some(MatchMethod::Probabilistic) => "probabilistic",
            None => "none",
        };
        *by_status
            .entry(format!("{:?}/{method}", resolution.status))
            .or_default() += 1;
        let matched = matches!(
            resolution.status,
            MatchStatus::Matched | MatchStatus::MatchedWithDiscrepancies
        );
        if matched {
            if resolution.personal_id.is_some() && resolution.personal_id == *truth {
                right += 1;
            } else {
                wrong += 1;
                let why: Vec<String> = resolution
                    .comparisons
                    .iter()
                    .map(|c| format!("{}={}({:+.1})", c.field, c.level, c.match_weight))
                    .collect();
                println!(
                    "WRONG: {record:?} → {:?} p={:.4} (truth {truth:?}, injected {:?}): {}",
                    resolution.personal_id,
                    resolution.probability,
                    injected.0,
                    why.join(" ")
                );
            }
        } else if truth.is_some() {
            for what in &injected.0 {
                *missed_with.entry(what).or_default() += 1;
            }
        }
    }
    let precision = right as f64 / (right + wrong).max(1) as f64;
    let recall = right as f64 / present as f64;
    println!(
        "records: {} ({present} present in the register)",
        evaluation.len()
    );
    println!("outcomes: {by_status:?}");
    println!("errors injected: {injected_total:?}");
    println!("missed present people, by injected error: {missed_with:?}");
    println!("precision {precision:.4} ({right} right, {wrong} wrong), recall {recall:.4}");
    assert!(precision >= 0.99, "precision {precision:.4}");
    assert!(recall >= 0.95, "recall {recall:.4}");
}
