//! `lienthong quality`: the six criteria over what the store holds now.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use lienthong_store::quality::{CRITERIA, criterion_name};
use lienthong_store::{EntityQuality, QualitySummary, Store};

use super::{exit_config, exit_dependency};

pub async fn run(file: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let Some(database) = cfg
        .store
        .database
        .as_ref()
        .and_then(|name| cfg.databases.get(name))
    else {
        eprintln!("error: [store] database is not set: the summary reads the store");
        return Ok(exit_config());
    };
    let store = match Store::connect(database.url.expose(), 2).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit_dependency());
        }
    };
    let summary = match store.quality_summary().await {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit_dependency());
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render(&summary));
    }
    Ok(ExitCode::SUCCESS)
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn row(out: &mut String, name: &str, counts: &EntityQuality) {
    let _ = write!(
        out,
        "{name:<20} {:>9} {:>9}",
        counts.records, counts.assessed
    );
    for passed in counts.passed {
        let _ = write!(out, " {:>11}", percent(passed, counts.assessed));
    }
    out.push('\n');
}

/// The summary as a text table: per entity the share of assessed records passing each
/// criterion, the register match outcomes and the most frequent flags.
pub fn render(summary: &QualitySummary) -> String {
    let mut out = String::new();
    out.push_str(
        "Data quality of the current records in the store (share passing each criterion)\n\n",
    );
    let _ = write!(out, "{:<20} {:>9} {:>9}", "entity", "records", "assessed");
    for criterion in CRITERIA {
        let (vi, _) = criterion_name(criterion);
        let _ = write!(out, " {vi:>11}");
    }
    out.push('\n');
    let _ = write!(out, "{:<20} {:>9} {:>9}", "", "", "");
    for criterion in CRITERIA {
        let (_, en) = criterion_name(criterion);
        let _ = write!(out, " {en:>11}");
    }
    out.push('\n');
    for (name, counts) in &summary.entities {
        row(&mut out, name, counts);
    }
    let total = summary.total();
    row(&mut out, "all", &total);

    for (name, counts) in &summary.entities {
        if counts.resolution.is_empty() {
            continue;
        }
        let resolved: u64 = counts.resolution.values().sum();
        let outcomes: Vec<String> = counts
            .resolution
            .iter()
            .map(|(status, n)| format!("{status} {n} ({})", percent(*n, resolved)))
            .collect();
        let _ = writeln!(
            out,
            "\nPopulation register, {name}: {}",
            outcomes.join(", ")
        );
    }
    let flags = total.top_flags(8);
    if !flags.is_empty() {
        out.push_str("\nMost frequent quality flags (records):\n");
        for (code, n) in flags {
            let _ = writeln!(out, "  {code:<36} {n:>9}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use lienthong_proto::v1::{
        CivilServant, MatchStatus, Quality, QualityCriterion, QualityFlag, ResolutionResult,
        ResolvedCivilServant,
    };
    use lienthong_store::Entity;
    use prost::Message as _;

    use super::*;

    #[test]
    fn renders_percentages_outcomes_and_flags() {
        let mut summary = QualitySummary::default();
        for (passed, status) in [
            (CRITERIA.to_vec(), MatchStatus::Matched),
            (vec![QualityCriterion::Complete], MatchStatus::NotFound),
        ] {
            let body = ResolvedCivilServant {
                record: Some(CivilServant {
                    quality: Some(Quality {
                        passed: passed.iter().map(|c| *c as i32).collect(),
                        flags: if status == MatchStatus::NotFound {
                            vec![QualityFlag {
                                code: "pin.invalid".into(),
                                ..Default::default()
                            }]
                        } else {
                            vec![]
                        },
                    }),
                    ..Default::default()
                }),
                resolution: Some(ResolutionResult {
                    status: status as i32,
                    ..Default::default()
                }),
            }
            .encode_to_vec();
            summary.add(Entity::CivilServant, &body).unwrap();
        }
        let text = render(&summary);
        assert!(
            text.contains("đúng") && text.contains("dùng chung"),
            "{text}"
        );
        let line = text
            .lines()
            .find(|l| l.starts_with("civil_servant"))
            .unwrap();
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[1..5], ["2", "2", "50.0%", "100.0%"], "{line}");
        assert!(
            text.contains("civil_servant: matched 1 (50.0%), not_found 1 (50.0%)"),
            "{text}"
        );
        assert!(text.contains("pin.invalid"), "{text}");
    }
}
