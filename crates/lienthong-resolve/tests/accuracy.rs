//! End-to-end accuracy on synthetic data with known truth (`lienthong-datagen`): a register of
//! 50,000 people with realistic Vietnamese name distributions, a model trained without labels (u
//! from random pairs, m by EM on blocked pairs), and civil-servant lists with injected errors, a
//! tenth of their rows describing people absent from the register.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/synthetic.rs"]
mod synthetic;

use std::collections::BTreeMap;
use std::sync::Arc;

use lienthong_datagen::{ErrorKind, Person};
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
        // EM converges linearly, and slowly where the blocked pairs hold few matches: allow it
        // the iterations it needs, and still require it to converge.
        let settings = EmSettings {
            fixed_fields: key.conditioned_fields().to_vec(),
            max_iterations: 1_000,
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
    let mut population = synthetic::Population::new(2026);
    let register: Vec<Person> = population.register().by_ref().take(REGISTER).collect();
    let index = PopulationIndex::build(
        register.iter().map(synthetic::entry),
        Arc::new(VietnameseNameNormaliser::default()),
        synthetic::province_map(),
    )
    .unwrap();
    let rates = synthetic::messy_rates();

    let training: Vec<QueryRecord> =
        synthetic::source_records(&register, population.register(), 4_400, &rates, 1)
            .into_iter()
            .map(|source| source.record)
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

    let evaluation = synthetic::source_records(&register, population.register(), 5_600, &rates, 3);
    let present = evaluation
        .iter()
        .filter(|source| source.truth.is_some())
        .count();
    let (mut right, mut wrong) = (0usize, 0usize);
    let mut absent_matched = 0usize;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    // Per error kind: rows of present people holding it, and how many of them were found.
    let mut with_kind: BTreeMap<ErrorKind, (usize, usize)> = BTreeMap::new();
    for source in &evaluation {
        let (record, truth) = (&source.record, &source.truth);
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
        let found = matched && resolution.personal_id.is_some() && resolution.personal_id == *truth;
        if truth.is_some() {
            for kind in &source.errors {
                let counts = with_kind.entry(*kind).or_default();
                counts.0 += 1;
                counts.1 += usize::from(found);
            }
        }
        if found {
            right += 1;
        } else if matched {
            wrong += 1;
            absent_matched += usize::from(truth.is_none());
            let why: Vec<String> = resolution
                .comparisons
                .iter()
                .map(|c| format!("{}={}({:+.1})", c.field, c.level, c.match_weight))
                .collect();
            println!(
                "WRONG: {record:?} → {:?} p={:.4} (truth {truth:?}, errors {:?}): {}",
                resolution.personal_id,
                resolution.probability,
                source.errors,
                why.join(" ")
            );
        }
    }
    let precision = right as f64 / (right + wrong).max(1) as f64;
    let recall = right as f64 / present as f64;
    println!(
        "records: {} ({present} present in the register)",
        evaluation.len()
    );
    println!("outcomes: {by_status:?}");
    for (kind, (rows, found)) in &with_kind {
        println!(
            "  {kind:<22} {rows:>5} rows of present people, recall {:.4}",
            *found as f64 / *rows as f64
        );
    }
    println!("precision {precision:.4} ({right} right, {wrong} wrong), recall {recall:.4}");
    assert!(precision >= 0.99, "precision {precision:.4}");
    assert!(recall >= 0.95, "recall {recall:.4}");
    assert!(
        absent_matched * 100 <= evaluation.len() - present,
        "{absent_matched} people absent from the register were matched"
    );
    // Every kind of error the messy source injects was exercised.
    for kind in ErrorKind::ALL {
        if rates.rate(kind) > 0.0 && kind != ErrorKind::NotInRegister {
            assert!(
                with_kind.get(&kind).is_some_and(|(rows, _)| *rows >= 10),
                "{kind}"
            );
        }
    }
}
