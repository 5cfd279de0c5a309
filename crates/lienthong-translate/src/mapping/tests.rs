#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::*;

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn code_lists() -> &'static CodeLists {
    static LISTS: OnceLock<CodeLists> = OnceLock::new();
    LISTS.get_or_init(|| CodeLists::load_dir(schemas_dir().join("codelists")).unwrap())
}

const HEAD: &str = r#"id = "test.t"
version = "1"
entity = "person"

[source]
id = "src"
schema = "public"
table = "t"
"#;

/// Parses a mapping made of [`HEAD`] and `fields`; returns the error text.
fn error(fields: &str) -> String {
    let text = format!("{HEAD}{fields}");
    Mapping::parse(&text, Path::new("m/test.toml"), code_lists())
        .unwrap_err()
        .to_string()
}

fn parses(fields: &str) -> Mapping {
    let text = format!("{HEAD}{fields}");
    Mapping::parse(&text, Path::new("m/test.toml"), code_lists()).unwrap()
}

#[test]
fn bad_toml_is_reported_with_its_line() {
    let e = error("\n[[field]]\ntarget = \"person.name\"\nfrom = \"ho_ten\n");
    assert!(e.starts_with("m/test.toml:12:"), "{e}");
    let e = error("\n[[field]]\ntarget = \"person.name\" from = \"x\"\n");
    assert!(e.starts_with("m/test.toml:11:"), "{e}");
}

#[test]
fn unknown_fields_are_named_with_their_path_and_line() {
    let e = error("\n[[field]]\ntarget = \"person.name\"\nfrom = \"ho_ten\"\nrequird = true\n");
    assert_eq!(
        e,
        "m/test.toml:13:1: field[0].requird: unknown field `requird`, expected one of `target`, \
         `from`, `value`, `transforms`, `when`, `required`, `on_error`, `description`"
    );
    let e = error("\n[quality]\nmax_age = 3\n[[field]]\ntarget = \"person.name\"\nfrom = \"x\"\n");
    assert!(
        e.starts_with("m/test.toml:11:1: quality.max_age: unknown field `max_age`"),
        "{e}"
    );
}

#[test]
fn unknown_transforms_list_the_known_ones() {
    let e = error(
        "\n[[field]]\ntarget = \"person.name\"\nfrom = \"ho_ten\"\n\
         transforms = [\"trim\", \"titlecase\"]\n",
    );
    assert!(
        e.starts_with("m/test.toml:13:23: field[0].transforms[1]: unknown variant `titlecase`, expected one of"),
        "{e}"
    );
    assert!(e.contains("`title_case`"), "{e}");
    let e = error(
        "\n[[field]]\ntarget = \"person.birth_date\"\nfrom = \"d\"\n\
         transforms = [{ date = { formats = [\"dd/mm/yyyy\"], partal = true } }]\n",
    );
    assert!(
        e.contains("field[0].transforms[0].date.partal: unknown field `partal`, expected `formats` or `partial`"),
        "{e}"
    );
}

#[test]
fn unknown_code_lists_are_located_at_the_system() {
    let e = error(
        "\n[[field]]\ntarget = \"person.ethnicity\"\nfrom = \"ma_dan_toc\"\n\
         transforms = [{ code = { system = \"vn.ethnic.1979\" } }]\n",
    );
    assert!(
        e.starts_with(
            "m/test.toml:13:35: field[0].transforms[0].code.system: no code list \"vn.ethnic.1979\"; known: "
        ),
        "{e}"
    );
    assert!(e.contains("vn.ethnic.qd121-1979"), "{e}");
    let e = error(
        "\n[[field]]\ntarget = \"person.hometown.province\"\nfrom = \"p\"\n\
         transforms = [{ province = { system = \"vn.ethnic.qd121-1979\" } }]\n",
    );
    assert!(
        e.contains("province.system: \"vn.ethnic.qd121-1979\" is not a list of provinces"),
        "{e}"
    );
}

#[test]
fn targets_are_checked_against_the_entity() {
    let e = error("\n[[field]]\ntarget = \"salary_step\"\nfrom = \"b\"\n");
    assert!(
        e.starts_with("m/test.toml:11:10: field[0].target: person has no field `salary_step`; its fields are: person.personal_id,"),
        "{e}"
    );
    let e = error("\n[[field]]\ntarget = \"person.nmae\"\nfrom = \"b\"\n");
    assert!(e.contains("person has no field `person.nmae`"), "{e}");
}

#[test]
fn pipelines_are_type_checked_before_any_data() {
    let e = error(
        "\n[[field]]\ntarget = \"person.birth_date\"\nfrom = \"x\"\n\
         transforms = [\"split_name\", { date = { formats = [\"yyyy\"], partial = true } }]\n",
    );
    assert!(
        e.contains("field[0].transforms[1]: `date` cannot take a person name (from split_name)"),
        "{e}"
    );
    let e = error(
        "\n[[field]]\ntarget = \"person.ethnicity\"\nfrom = \"x\"\ntransforms = [\"trim\"]\n",
    );
    assert!(
        e.contains("field[0].transforms[0]: `person.ethnicity` takes a coded value: end the transforms with `code`"),
        "{e}"
    );
    let e = error(
        "\n[[field]]\ntarget = \"person.name\"\nfrom = [\"a\", \"b\"]\ntransforms = [\"trim\"]\n",
    );
    assert!(
        e.contains("combine them first with `concat` or `coalesce`"),
        "{e}"
    );
    let e = error(
        "\n[[field]]\ntarget = \"person.name\"\nfrom = \"a\"\ntransforms = [{ concat = \" \" }]\n",
    );
    assert!(e.contains("give `from` a list of columns"), "{e}");
    let e = error(
        "\n[[field]]\ntarget = \"person.birth_date\"\nfrom = \"a\"\ntransforms = [\"trim\"]\n",
    );
    assert!(e.contains("`person.birth_date` takes a date"), "{e}");
}

#[test]
fn option_values_are_checked() {
    let e = error(
        "\n[[field]]\ntarget = \"person.birth_date\"\nfrom = \"x\"\n\
         transforms = [{ date = { formats = [\"dd/mm/yyyy\", \"mm/yyyy\"] } }]\n",
    );
    assert!(
        e.contains("field[0].transforms[0].date.formats[1]: format \"mm/yyyy\" has no day"),
        "{e}"
    );
    let e = error(
        "\n[[field]]\ntarget = \"person.birth_date\"\nfrom = \"x\"\n\
         transforms = [{ date = { formats = [\"dd/mm/yy\"] } }]\n",
    );
    assert!(
        e.contains("date.formats[0]: date format \"dd/mm/yy\": unknown token \"yy\""),
        "{e}"
    );
    let e = error(
        "\n[[field]]\ntarget = \"person.phone\"\nfrom = \"x\"\n\
         transforms = [{ replace = { pattern = \"(\", with = \"\" } }]\n",
    );
    assert!(
        e.starts_with("m/test.toml:13:39: field[0].transforms[0].replace.pattern: the regular expression does not compile"),
        "{e}"
    );
    let e = error("\n[[field]]\ntarget = \"person.phone\"\n");
    assert!(
        e.contains("field[0]: the field needs `from` (a column) or `value`"),
        "{e}"
    );
    let e = error("\n[[field]]\ntarget = \"person.phone\"\nfrom = \"a\"\nvalue = \"b\"\n");
    assert!(
        e.contains("field[0].value: give either `from` or `value`, not both"),
        "{e}"
    );
    let e =
        error("\n[[field]]\ntarget = \"person.phone\"\nfrom = \"a\"\nwhen = { column = \"b\" }\n");
    assert!(
        e.contains("field[0].when: a condition needs an operator"),
        "{e}"
    );
    let e = error(
        "\n[[field]]\ntarget = \"person.ethnicity\"\nfrom = \"x\"\n\
         transforms = [{ code = { system = \"vn.ethnic.qd121-1979\", unmapped = \"keep\" } }]\n",
    );
    assert!(e.contains("code.unmapped: `keep` is only for `map`"), "{e}");
    let e = error(
        "\n[[field]]\ntarget = \"person.sex\"\nfrom = \"x\"\n\
         transforms = [{ map = { values = { Nam = \"male\", NAM = \"male\" }, fold = true } }]\n",
    );
    assert!(e.contains("are the same value once compared"), "{e}");
    let e = error("\n[[field]]\ntarget = 7\nfrom = \"x\"\n");
    assert!(
        e.starts_with("m/test.toml:11:10: field[0].target: invalid type: integer `7`"),
        "{e}"
    );
    let e = error("\n[[field]]\ntarget = \"person.phone\"\nfrom = 3\n");
    assert!(e.contains("a column name or a list of column names"), "{e}");
}

#[test]
fn mapping_level_settings_are_checked() {
    let text = HEAD.replace("table = \"t\"", "table = \"\"");
    let e = Mapping::parse(
        &format!("{text}[[field]]\ntarget = \"person.phone\"\nfrom = \"p\"\n"),
        Path::new("x.toml"),
        code_lists(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(e, "x.toml:8:9: source.table: `table` must not be empty");
    let e = error(
        "\n[quality]\nshareable = false\n[[field]]\ntarget = \"person.phone\"\nfrom = \"p\"\n",
    );
    assert!(
        e.contains("quality.shareable: records that may not be shared need a `restriction`"),
        "{e}"
    );
    let e = error("");
    assert!(e.contains("missing field `field`"), "{e}");
}

#[test]
fn a_valid_mapping_lists_its_columns() {
    let m = parses(
        "\n[[field]]\ntarget = \"person.name\"\nfrom = [\"ho\", \"ten\"]\ntransforms = [{ concat = \" \" }]\n\
         when = { column = \"loai\", equals = \"1\" }\n\
         [[field]]\ntarget = \"person.phone\"\nvalue = \"0912345678\"\n",
    );
    assert_eq!(m.columns(), ["ho", "loai", "ten"]);
    assert_eq!(m.entity(), EntityKind::Person);
    assert_eq!(m.id(), "test.t");
}

#[test]
fn the_shipped_mappings_load_and_cover_three_sources() {
    let set = MappingSet::load_dir(schemas_dir().join("mappings"), code_lists()).unwrap();
    let mut sources: Vec<&str> = set.iter().map(|m| m.source().id.as_str()).collect();
    sources.sort_unstable();
    assert_eq!(sources, ["bhxh", "csdl-cbcc", "legacy-qlcb"]);
    assert!(set.find("bhxh", "bhxh", "QUA_TRINH_THAM_GIA").is_some());
    assert!(set.find("bhxh", "bhxh", "qua_trinh_tham_gia").is_none());
}

#[test]
fn a_set_refuses_duplicate_ids_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[[field]]\ntarget = \"person.phone\"\nfrom = \"p\"\n";
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/one.toml"), format!("{HEAD}{body}")).unwrap();
    std::fs::write(
        dir.path().join("two.toml"),
        format!("{}{body}", HEAD.replace("test.t", "test.u")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("three.toml"),
        format!("{}{body}", HEAD.replace("table = \"t\"", "table = \"v\"")),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.md"), "not a mapping").unwrap();
    let e = MappingSet::load_dir(dir.path(), code_lists()).unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("three.toml: mapping id \"test.t\" is already used by"),
        "{text}"
    );
    assert!(
        text.contains("two.toml: table src/public.t is already mapped by"),
        "{text}"
    );
}

#[test]
fn every_error_of_a_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "id = \n").unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        format!("{HEAD}[[field]]\ntarget = \"x\"\nfrom = \"p\"\n"),
    )
    .unwrap();
    let e = MappingSet::load_dir(dir.path(), code_lists()).unwrap_err();
    assert_eq!(e.0.len(), 2);
    assert!(e.0[0].file.ends_with("a.toml"));
    assert_eq!(e.0[1].position.unwrap().line, 10);
}

/// The published schema is what the types give. Regenerate with
/// `cargo run -p lienthong-translate --example mapping_schema > schemas/mapping.schema.json`.
#[test]
fn published_schema_is_current() {
    let path = schemas_dir().join("mapping.schema.json");
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        published,
        json_schema(),
        "schemas/mapping.schema.json is stale: regenerate it with the mapping_schema example"
    );
}

#[test]
fn the_schema_knows_every_target_and_transform() {
    let schema = json_schema().to_string();
    for target in [
        "person.hometown.province",
        "salary_coefficient",
        "period_to",
        "successor_codes",
    ] {
        assert!(schema.contains(&format!("\"{target}\"")), "{target}");
    }
    for transform in [
        "legacy_decode",
        "split_name",
        "decimal_comma",
        "record_ref",
        "province",
    ] {
        assert!(schema.contains(&format!("\"{transform}\"")), "{transform}");
    }
}

/// The README documents every target, transform and quality flag code.
#[test]
fn the_readme_documents_every_target_transform_and_flag() {
    let readme = std::fs::read_to_string(schemas_dir().join("mappings/README.md")).unwrap();
    for kind in EntityKind::ALL {
        assert!(readme.contains(&format!("`{kind}`")), "entity {kind}");
        for name in Slot::names_for(kind) {
            // Place fields are documented once with `<place>`.
            let documented = readme.contains(&format!("`{name}`"))
                || name.split('.').nth(1).is_some_and(|place| {
                    [
                        "birth_place",
                        "hometown",
                        "permanent_residence",
                        "current_residence",
                    ]
                    .contains(&place)
                        && readme.contains(&format!(
                            "`person.<place>.{}`",
                            name.rsplit('.').next().unwrap_or_default()
                        ))
                });
            assert!(documented, "target {name} of {kind}");
        }
    }
    let schema = json_schema();
    let transforms = schema["$defs"]["Transform"]["oneOf"].as_array().unwrap();
    let names = transforms.iter().flat_map(|variant| {
        let mut names: Vec<&str> = variant["const"].as_str().into_iter().collect();
        for list in [&variant["enum"], &variant["required"]] {
            names.extend(
                list.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.as_str()),
            );
        }
        names
    });
    let mut count = 0;
    for name in names {
        count += 1;
        assert!(
            readme.contains(&format!("`{name}`")) || readme.contains(&format!("`{{ {name} =")),
            "transform {name}"
        );
    }
    assert_eq!(count, 25);
    for code in crate::quality::codes::ALL {
        assert!(readme.contains(&format!("`{code}`")), "flag code {code}");
    }
}
