//! `lienthong policy check`: what a partner can see under the sharing policies.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use lienthong_policy::{Entity, PartnerPolicy, PolicySet, named_only_reason};

use super::exit_config;

/// Exit status when the partner has no policy.
fn exit_unknown_partner() -> ExitCode {
    ExitCode::from(1)
}

/// Prints, per entity, what `partner` may read: granted fields, sensitive fields masked or
/// granted, accepted purposes and partner topics. Exit status: 0 shown, 1 no such partner,
/// 2 the configuration or the policy directory does not load.
pub fn check(file: Option<&Path>, dir: Option<&Path>, partner: &str) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let dir = dir.unwrap_or(&cfg.policy.dir);
    let set = match PolicySet::load_dir(dir) {
        Ok(set) => set,
        Err(e) => {
            eprintln!(
                "error: the sharing policies in {} do not load:\n{e}",
                dir.display()
            );
            return Ok(exit_config());
        }
    };
    let Some(policy) = set.partner(partner) else {
        let known: Vec<&str> = set.partners().map(PartnerPolicy::id).collect();
        eprintln!(
            "error: no policy for partner `{partner}` in {} (partners: {})",
            dir.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
        return Ok(exit_unknown_partner());
    };
    print!("{}", describe(policy));
    Ok(ExitCode::SUCCESS)
}

/// The report `policy check` prints.
fn describe(policy: &PartnerPolicy) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "partner   {} ({})", policy.id(), policy.name());
    let _ = writeln!(out, "file      {}", policy.file().display());
    if let Some(basis) = policy.legal_basis() {
        let _ = writeln!(out, "basis     {basis}");
    }
    let _ = writeln!(out, "purposes  {}", policy.purposes().join(", "));
    let subjects = policy.certificate_subjects();
    let _ = writeln!(
        out,
        "auth      {} token(s); mutual TLS: {}",
        policy.token_count(),
        if subjects.is_empty() {
            "none".to_string()
        } else {
            subjects.join("; ")
        }
    );
    for entity in Entity::ALL {
        let _ = writeln!(out);
        let Some(rules) = policy.entity(entity) else {
            let _ = writeln!(out, "{entity}: denied");
            continue;
        };
        let _ = writeln!(out, "{entity}: granted ({})", entity.message_name());
        let _ = writeln!(out, "  purposes          {}", rules.purposes().join(", "));
        let _ = writeln!(out, "  fields            {}", rules.fields().join(", "));
        let masked = rules.masked_sensitive();
        let _ = writeln!(
            out,
            "  masked sensitive  {}",
            if masked.is_empty() {
                "none".to_string()
            } else {
                with_reasons(entity, &masked)
            }
        );
        let granted = rules.granted_sensitive();
        if !granted.is_empty() {
            let _ = writeln!(
                out,
                "  granted sensitive {}",
                with_reasons(entity, &granted)
            );
        }
        if entity.resolved_message_name().is_some() {
            let _ = writeln!(
                out,
                "  resolution        {}",
                if rules.shares_resolution() {
                    "shared (as the fields above say)"
                } else {
                    "not shared"
                }
            );
        }
        match rules.topic_purpose() {
            Some(purpose) => {
                let _ = writeln!(
                    out,
                    "  partner topic     {} (purpose {purpose})",
                    entity.partner_topic(policy.id())
                );
            }
            None => {
                let _ = writeln!(out, "  partner topic     none");
            }
        }
    }
    out
}

/// `a (why), b (why)` for named-only field paths of `entity`.
fn with_reasons(entity: Entity, paths: &[String]) -> String {
    paths
        .iter()
        .map(|path| match named_only_reason(entity, path) {
            Some(why) => format!("{path} ({why})"),
            None => path.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
