//! The reconciliation report for officials: a CSV that opens correctly in Excel (UTF-8 with a
//! byte-order mark), a JSON file for systems, and an HTML summary with charts that needs nothing
//! but a browser (inline SVG, no scripts). Labels are Vietnamese unless English is asked for.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ReconcileError, Reconciled, Summary};
use crate::matcher::MatchStatus;
use crate::service::status_label;

/// Report language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Vi,
    En,
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vi" => Ok(Self::Vi),
            "en" => Ok(Self::En),
            other => Err(format!("`{other}`: the report language is vi or en")),
        }
    }
}

/// A label in the report's language.
fn t(lang: Language, key: &str) -> &'static str {
    let (vi, en) = match key {
        "matched" => ("Khớp", "Matched"),
        "matched_with_discrepancies" => ("Khớp, có sai lệch", "Matched with discrepancies"),
        "not_found" => ("Không tìm thấy", "Not found"),
        "ambiguous" => ("Nhiều khả năng", "Ambiguous"),
        "invalid_input" => ("Không đủ thông tin", "Invalid input"),
        "personal_id" => ("Số định danh", "Personal ID"),
        "family_name" => ("Họ", "Family name"),
        "middle_name" => ("Tên đệm", "Middle name"),
        "given_name" => ("Tên", "Given name"),
        "birth_date" => ("Ngày sinh", "Birth date"),
        "sex" => ("Giới tính", "Sex"),
        "birth_province" => ("Nơi đăng ký khai sinh", "Birth province"),
        "title" => (
            "Báo cáo đối soát với Cơ sở dữ liệu quốc gia về dân cư",
            "Reconciliation with the National Population Database",
        ),
        "records" => ("Số hồ sơ", "Records"),
        "status" => ("Kết quả", "Outcome"),
        "count" => ("Số lượng", "Count"),
        "share" => ("Tỷ lệ", "Share"),
        "by_status" => ("Kết quả đối soát", "Outcome"),
        "by_organisation" => ("Theo cơ quan, đơn vị", "By organisation"),
        "by_province" => (
            "Theo tỉnh (nơi đăng ký khai sinh)",
            "By province (birth registration)",
        ),
        "by_field" => ("Sai lệch theo trường thông tin", "Discrepancies by field"),
        "organisation" => ("Cơ quan, đơn vị", "Organisation"),
        "province" => ("Tỉnh", "Province"),
        "field" => ("Trường thông tin", "Field"),
        "notes" => ("Ghi chú", "Notes"),
        "superseded" => (
            "Hồ sơ ghi số định danh cũ (đã được cấp lại)",
            "Records stating a superseded personal ID",
        ),
        "legacy" => (
            "Họ tên lưu bằng mã cũ (TCVN3/VNI), đã chuyển sang Unicode",
            "Names stored in a legacy encoding (TCVN3/VNI), converted",
        ),
        "same_person" => (
            "Hồ sơ trùng một người (cần rà soát)",
            "Rows resolving to the same person (to review)",
        ),
        "deceased" => (
            "Người đã mất theo CSDL dân cư",
            "Deceased according to the register",
        ),
        "generated" => ("Lập lúc", "Generated"),
        "model" => ("Phiên bản mô hình", "Model version"),
        "record_id" => ("Mã hồ sơ", "Record ID"),
        "stated_id" => ("Số định danh trên hồ sơ", "Stated personal ID"),
        "register_id" => ("Số định danh trong CSDL dân cư", "Register personal ID"),
        "probability" => ("Xác suất khớp", "Match probability"),
        "discrepancies" => ("Sai lệch", "Discrepancies"),
        "candidates" => ("Các ứng viên", "Candidates"),
        "reason" => ("Lý do", "Reason"),
        "position" => ("Vị trí trong tệp", "Position in input"),
        "record_value" => ("hồ sơ", "record"),
        "register_value" => ("CSDL dân cư", "register"),
        _ => ("", ""),
    };
    match lang {
        Language::Vi => vi,
        Language::En => en,
    }
}

const STATUSES: [&str; 5] = [
    "matched",
    "matched_with_discrepancies",
    "not_found",
    "ambiguous",
    "invalid_input",
];

const COLOURS: [&str; 5] = ["#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#616161"];

/// Writes `report.csv`, `report.json` and `report.html` into `dir`; returns their paths.
pub fn write_all(
    dir: &Path,
    rows: &[Reconciled],
    summary: &Summary,
    lang: Language,
    model_version: &str,
    generated: &str,
) -> Result<Vec<PathBuf>, ReconcileError> {
    std::fs::create_dir_all(dir).map_err(|source| ReconcileError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let csv_path = dir.join("report.csv");
    let json_path = dir.join("report.json");
    let html_path = dir.join("report.html");
    write_csv(&csv_path, rows, lang)?;
    let json = serde_json::json!({
        "generated": generated,
        "model_version": model_version,
        "summary": summary,
        "records": rows.iter().map(row_json).collect::<Vec<_>>(),
    });
    write_file(
        &json_path,
        &serde_json::to_vec_pretty(&json).unwrap_or_default(),
    )?;
    write_file(
        &html_path,
        html(summary, lang, model_version, generated).as_bytes(),
    )?;
    Ok(vec![csv_path, json_path, html_path])
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReconcileError> {
    std::fs::write(path, bytes).map_err(|source| ReconcileError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn discrepancy_text(row: &Reconciled, lang: Language) -> String {
    row.resolution
        .discrepancies
        .iter()
        .map(|d| {
            format!(
                "{}: {} «{}» ≠ {} «{}»",
                t(lang, d.field.name()),
                t(lang, "record_value"),
                d.record_value,
                t(lang, "register_value"),
                d.register_value
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn notes(row: &Reconciled, lang: Language) -> String {
    let mut notes = Vec::new();
    if row.resolution.stated_id_superseded {
        notes.push(t(lang, "superseded").to_string());
    }
    if row.input.legacy_name {
        notes.push(t(lang, "legacy").to_string());
    }
    if !row.same_person_as.is_empty() {
        notes.push(format!(
            "{}: {}",
            t(lang, "same_person"),
            row.same_person_as.join(", ")
        ));
    }
    if row.resolution.deceased {
        notes.push(t(lang, "deceased").to_string());
    }
    notes.extend(row.input.value_problems.iter().cloned());
    notes.join("; ")
}

fn write_csv(path: &Path, rows: &[Reconciled], lang: Language) -> Result<(), ReconcileError> {
    let fail = |source: std::io::Error| ReconcileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = std::io::BufWriter::new(file);
    // Excel reads a CSV as UTF-8 only when it starts with a byte-order mark.
    out.write_all(b"\xef\xbb\xbf").map_err(fail)?;
    let mut writer = csv::Writer::from_writer(out);
    let header = [
        "record_id",
        "organisation",
        "stated_id",
        "status",
        "register_id",
        "probability",
        "discrepancies",
        "candidates",
        "reason",
        "notes",
        "position",
    ]
    .map(|k| t(lang, k));
    let csv_fail = |e: csv::Error| fail(std::io::Error::other(e));
    writer.write_record(header).map_err(csv_fail)?;
    for row in rows {
        let r = &row.resolution;
        let candidates = if r.status == MatchStatus::Ambiguous {
            r.candidates
                .iter()
                .map(|c| format!("{} ({:.3})", c.personal_id, c.probability))
                .collect::<Vec<_>>()
                .join("; ")
        } else {
            String::new()
        };
        writer
            .write_record([
                row.input.record_id.as_str(),
                row.input.organisation.as_str(),
                r.stated_personal_id.as_str(),
                t(lang, status_label(r.status)),
                &r.personal_id.map(|p| p.to_string()).unwrap_or_default(),
                &format!("{:.4}", r.probability),
                &discrepancy_text(row, lang),
                &candidates,
                &r.invalid_reason
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                &notes(row, lang),
                row.input.position.as_str(),
            ])
            .map_err(csv_fail)?;
    }
    writer.flush().map_err(fail)?;
    Ok(())
}

fn row_json(row: &Reconciled) -> serde_json::Value {
    serde_json::json!({
        "record_id": row.input.record_id,
        "organisation": row.input.organisation,
        "position": row.input.position,
        "status": status_label(row.resolution.status),
        "resolution": row.resolution,
        "same_person_as": row.same_person_as,
        "legacy_name": row.input.legacy_name,
        "value_problems": row.input.value_problems,
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Horizontal stacked bars, one per group, segments by status; the largest `limit` groups.
fn stacked_bars(
    groups: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>>,
    limit: usize,
    lang: Language,
) -> String {
    let mut ordered: Vec<(&String, usize)> = groups
        .iter()
        .map(|(g, by)| (g, by.values().sum()))
        .collect();
    ordered.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    ordered.truncate(limit);
    let (label_w, bar_w, row_h) = (260.0, 520.0, 22.0);
    let height = row_h * ordered.len() as f64 + 10.0;
    let mut svg = format!(
        r#"<svg role="img" width="{w}" height="{height}" viewBox="0 0 {w} {height}" xmlns="http://www.w3.org/2000/svg">"#,
        w = label_w + bar_w + 80.0
    );
    for (i, (group, total)) in ordered.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{ty}" text-anchor="end" font-size="12">{name}</text>"#,
            x = label_w - 6.0,
            ty = y + 13.0,
            name = escape(&shorten(group, 40))
        );
        let mut x = label_w;
        for (status, colour) in STATUSES.iter().zip(COLOURS) {
            let n = groups[*group].get(*status).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let w = bar_w * n as f64 / (*total).max(1) as f64;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="16" fill="{colour}"><title>{label}: {n}</title></rect>"#,
                label = t(lang, status)
            );
            x += w;
        }
        let _ = write!(
            svg,
            r#"<text x="{x}" y="{ty}" font-size="12">{total}</text>"#,
            x = label_w + bar_w + 6.0,
            ty = y + 13.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

/// Simple horizontal bars with counts.
fn bars(items: &[(String, usize, &str)]) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1);
    let (label_w, bar_w, row_h) = (260.0, 420.0, 24.0);
    let height = row_h * items.len() as f64 + 10.0;
    let mut svg = format!(
        r#"<svg role="img" width="{w}" height="{height}" viewBox="0 0 {w} {height}" xmlns="http://www.w3.org/2000/svg">"#,
        w = label_w + bar_w + 90.0
    );
    for (i, (label, n, colour)) in items.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = bar_w * *n as f64 / max as f64;
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end" font-size="13">{label}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="18" fill="{colour}"/><text x="{nx:.1}" y="{ty}" font-size="13">{n}</text>"#,
            lx = label_w - 6.0,
            ty = y + 14.0,
            label = escape(label),
            nx = label_w + w + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The HTML summary.
pub fn html(summary: &Summary, lang: Language, model_version: &str, generated: &str) -> String {
    let mut body = String::new();
    let total = summary.records;
    let status_items: Vec<(String, usize, &str)> = STATUSES
        .iter()
        .zip(COLOURS)
        .map(|(s, c)| {
            (
                t(lang, s).to_string(),
                summary.by_status.get(*s).copied().unwrap_or(0),
                c,
            )
        })
        .collect();
    let _ = write!(
        body,
        "<h1>{}</h1><p>{}: {} · {}: {} · {}: {}</p>",
        t(lang, "title"),
        t(lang, "records"),
        total,
        t(lang, "generated"),
        escape(generated),
        t(lang, "model"),
        escape(model_version)
    );
    let _ = write!(
        body,
        "<h2>{}</h2>{}<table><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(lang, "by_status"),
        bars(&status_items),
        t(lang, "status"),
        t(lang, "count"),
        t(lang, "share")
    );
    for (label, n, _) in &status_items {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{n}</td><td>{:.2}%</td></tr>",
            escape(label),
            percent(*n, total)
        );
    }
    body.push_str("</table>");
    let legend: String = STATUSES
        .iter()
        .zip(COLOURS)
        .map(|(s, c)| {
            format!(
                r#"<span class="key"><span style="background:{c}"></span>{}</span>"#,
                t(lang, s)
            )
        })
        .collect();
    let _ = write!(
        body,
        "<h2>{}</h2><p>{legend}</p>{}",
        t(lang, "by_organisation"),
        stacked_bars(&summary.by_organisation, 30, lang)
    );
    let _ = write!(
        body,
        "<h2>{}</h2><p>{legend}</p>{}",
        t(lang, "by_province"),
        stacked_bars(&summary.by_province, 70, lang)
    );
    let mut fields: Vec<(String, usize, &str)> = summary
        .discrepancies_by_field
        .iter()
        .map(|(f, n)| (t(lang, f).to_string(), *n, "#f9a825"))
        .collect();
    fields.sort_by_key(|f| std::cmp::Reverse(f.1));
    let _ = write!(body, "<h2>{}</h2>{}", t(lang, "by_field"), bars(&fields));
    let _ = write!(
        body,
        "<h2>{}</h2><ul><li>{}: {}</li><li>{}: {}</li><li>{}: {}</li><li>{}: {}</li></ul>",
        t(lang, "notes"),
        t(lang, "superseded"),
        summary.superseded_ids,
        t(lang, "legacy"),
        summary.legacy_names,
        t(lang, "same_person"),
        summary.same_person_rows,
        t(lang, "deceased"),
        summary.deceased
    );
    format!(
        r#"<!DOCTYPE html>
<html lang="{lang_code}"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, "Segoe UI", Roboto, Arial, sans-serif; margin: 2rem; color: #222; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.15rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; margin-top: .5rem; }} td, th {{ border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }}
.key {{ margin-right: 1rem; font-size: .9rem; }} .key span {{ display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; }}
</style></head><body>
{body}
</body></html>
"#,
        lang_code = match lang {
            Language::Vi => "vi",
            Language::En => "en",
        },
        title = t(lang, "title"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_label_exists_in_both_languages() {
        for key in STATUSES.iter().chain(&[
            "personal_id",
            "family_name",
            "middle_name",
            "given_name",
            "birth_date",
            "sex",
            "birth_province",
            "title",
            "record_id",
            "organisation",
            "stated_id",
            "status",
            "register_id",
            "probability",
            "discrepancies",
            "candidates",
            "reason",
            "notes",
            "position",
        ]) {
            assert!(!t(Language::Vi, key).is_empty(), "{key}");
            assert!(!t(Language::En, key).is_empty(), "{key}");
        }
        for field in crate::levels::Field::ALL {
            assert!(!t(Language::Vi, field.name()).is_empty(), "{field}");
        }
    }

    #[test]
    fn the_html_summary_escapes_names_and_labels_in_the_language_asked() {
        let mut summary = Summary {
            records: 3,
            ..Summary::default()
        };
        summary.by_status.insert("matched".into(), 2);
        summary.by_status.insert("not_found".into(), 1);
        summary
            .by_organisation
            .entry("Sở <Nội vụ>".into())
            .or_default()
            .insert("matched".into(), 2);
        summary
            .discrepancies_by_field
            .insert("birth_date".into(), 1);
        let vi = html(&summary, Language::Vi, "m1", "2026-11-23");
        assert!(vi.contains("Kết quả đối soát"));
        assert!(vi.contains("Sở &lt;Nội vụ&gt;"));
        assert!(vi.contains("66.67%"));
        assert!(vi.contains("<svg"));
        let en = html(&summary, Language::En, "m1", "2026-11-23");
        assert!(en.contains("Discrepancies by field") && en.contains("Birth date"));
    }
}
