//! Layered configuration: embedded defaults → TOML file → `LIENTHONG__SECTION__KEY` environment.
//!
//! Every config struct is `deny_unknown_fields`, so a misspelt key is an error rather than a
//! silently ignored setting, and implements [`Validate`] for the rules serde cannot express.
//! Secrets are [`Secret`]: they deserialize like the inner value and never print.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Prefix of environment overrides: `LIENTHONG__KAFKA__BOOTSTRAP_SERVERS=host:9092` sets
/// `kafka.bootstrap_servers`. Keys are matched in lower case.
pub const ENV_PREFIX: &str = "LIENTHONG";
/// Separator between the prefix and the path segments of an environment override.
pub const ENV_SEPARATOR: &str = "__";

/// Why a configuration could not be loaded. Each variant names the file and, where the parser
/// knows it, the line and key, so an operator can fix it without guessing.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("cannot read config file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid configuration ({origin}): {message}")]
    Invalid { origin: String, message: String },
    #[error("configuration does not validate:\n{problems}")]
    Validation { problems: Problems },
}

/// One rule a configuration breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `kafka.bootstrap_servers`.
    pub field: String,
    pub message: String,
}

/// Every rule a configuration breaks, collected so that the operator sees all at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` breaks a rule.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Validates a nested section, prefixing its problems with `prefix.`.
    pub fn nested(&mut self, prefix: &str, section: &impl Validate) {
        let mut inner = Problems::new();
        section.validate(&mut inner);
        for problem in inner.0 {
            self.push(format!("{prefix}.{}", problem.field), problem.message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {}: {}", p.field, p.message)?;
        }
        Ok(())
    }
}

/// Rules a configuration section must follow beyond what its types say.
pub trait Validate {
    /// Pushes every broken rule onto `problems`; field names are relative to the section.
    fn validate(&self, problems: &mut Problems);
}

/// Loads a configuration of type `T`.
///
/// Layers, later wins: `defaults` (TOML text embedded in the binary), then `file` when given, then
/// the process environment's `LIENTHONG__...` variables. The result is validated.
pub fn load<T>(defaults: &str, file: Option<&Path>) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Validate,
{
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}{ENV_SEPARATOR}")))
        .collect();
    load_from(defaults, file, env)
}

/// [`load`] with the environment given explicitly (tests, and callers that filter it).
pub fn load_from<T>(
    defaults: &str,
    file: Option<&Path>,
    env: BTreeMap<String, String>,
) -> Result<T, ConfigError>
where
    T: DeserializeOwned + Validate,
{
    use config::{Config, Environment, File, FileFormat};

    let mut builder =
        Config::builder().add_source(File::from_str(defaults, FileFormat::Toml).required(true));
    let mut origin = "built-in defaults".to_string();
    if let Some(path) = file {
        let text = read_config_file(path)?;
        // Parse once with the toml crate for its precise line/column messages; the config crate's
        // own TOML errors lose them.
        if let Err(e) = toml::from_str::<toml::Table>(&text) {
            return Err(ConfigError::Syntax {
                path: path.to_path_buf(),
                message: e.to_string().trim_end().to_string(),
            });
        }
        builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        origin = path.display().to_string();
    }
    let env_keys: Vec<String> = env.keys().cloned().collect();
    if !env_keys.is_empty() {
        origin.push_str(&format!(
            " with environment overrides {}",
            env_keys.join(", ")
        ));
    }
    builder = builder.add_source(
        Environment::with_prefix(ENV_PREFIX)
            .prefix_separator(ENV_SEPARATOR)
            .separator(ENV_SEPARATOR)
            .source(Some(env.into_iter().collect())),
    );

    let merged = builder.build().map_err(|e| ConfigError::Invalid {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    let value: T = merged.try_deserialize().map_err(|e| ConfigError::Invalid {
        origin: origin.clone(),
        message: e.to_string(),
    })?;
    let mut problems = Problems::new();
    value.validate(&mut problems);
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(ConfigError::Validation { problems })
    }
}

fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError::NotFound {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A secret value (password, token, a URL with credentials). Deserializes like `T`; `Debug`,
/// `Display` and `Serialize` print a fixed marker so the value never reaches a log line, a
/// printed config or an error message. Read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

/// What a [`Secret`] prints instead of its value.
pub const REDACTED: &str = "***";

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Call it only where the value is used, never to log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Secret<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// A connection URL with any password replaced by [`REDACTED`], for messages and logs.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Only fails for URLs that cannot have credentials, which have no password.
                let _ = url.set_password(Some(REDACTED));
            }
            url.to_string()
        }
        Err(_) => "<unparseable URL>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: String,
        port: u16,
        password: Secret<String>,
        #[serde(default)]
        nested: Nested,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Nested {
        #[serde(default)]
        depth: u32,
    }

    impl Validate for Sample {
        fn validate(&self, problems: &mut Problems) {
            if self.port == 0 {
                problems.push("port", "must not be 0");
            }
            problems.nested("nested", &self.nested);
        }
    }

    impl Validate for Nested {
        fn validate(&self, problems: &mut Problems) {
            if self.depth > 10 {
                problems.push("depth", "at most 10");
            }
        }
    }

    const DEFAULTS: &str = "name = \"default\"\nport = 80\npassword = \"\"\n";

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn layers_apply_in_order() {
        let file = write("name = \"file\"\nport = 81\n");
        let env = BTreeMap::from([
            ("LIENTHONG__PORT".to_string(), "82".to_string()),
            ("LIENTHONG__NESTED__DEPTH".to_string(), "3".to_string()),
            ("LIENTHONG__PASSWORD".to_string(), "0123".to_string()),
        ]);
        let cfg: Sample = load_from(DEFAULTS, Some(file.path()), env).unwrap();
        assert_eq!(cfg.name, "file");
        assert_eq!(cfg.port, 82);
        assert_eq!(cfg.nested.depth, 3);
        // Leading zero kept: environment values are not parsed as numbers for string fields.
        assert_eq!(cfg.password.expose(), "0123");
    }

    #[test]
    fn defaults_alone_load() {
        let cfg: Sample = load_from(DEFAULTS, None, BTreeMap::new()).unwrap();
        assert_eq!(cfg.name, "default");
        assert_eq!(cfg.port, 80);
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let file = write("name = \"x\"\nprot = 81\n");
        let err = load_from::<Sample>(DEFAULTS, Some(file.path()), BTreeMap::new()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Invalid { .. }), "{text}");
        assert!(text.contains("prot"), "{text}");
    }

    #[test]
    fn unknown_nested_key_from_env_is_rejected() {
        let env = BTreeMap::from([("LIENTHONG__NESTED__WIDTH".to_string(), "3".to_string())]);
        let err = load_from::<Sample>(DEFAULTS, None, env).unwrap_err();
        assert!(err.to_string().contains("width"), "{err}");
        assert!(
            err.to_string().contains("LIENTHONG__NESTED__WIDTH"),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let file = write("port = \"eighty\"\n");
        let err = load_from::<Sample>(DEFAULTS, Some(file.path()), BTreeMap::new()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("port"), "{text}");
        assert!(text.contains("eighty"), "{text}");
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let file = write("name = \"x\"\nport = = 3\n");
        let err = load_from::<Sample>(DEFAULTS, Some(file.path()), BTreeMap::new()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{text}");
        assert!(text.contains(&file.path().display().to_string()), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn missing_file_is_its_own_error() {
        let err = load_from::<Sample>(
            DEFAULTS,
            Some(Path::new("/nonexistent/lienthong.toml")),
            BTreeMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::NotFound { .. }));
        assert!(err.to_string().contains("/nonexistent/lienthong.toml"));
    }

    #[test]
    fn validation_collects_every_problem_with_its_path() {
        let file = write("port = 0\n[nested]\ndepth = 11\n");
        let err = load_from::<Sample>(DEFAULTS, Some(file.path()), BTreeMap::new()).unwrap_err();
        let ConfigError::Validation { problems } = &err else {
            panic!("expected validation error, got {err}");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["port", "nested.depth"]);
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2".to_string());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn urls_lose_their_password() {
        let shown = redact_url("postgres://app:hunter2@db.example:5432/cbccvc");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db.example:5432/cbccvc"), "{shown}");
        assert_eq!(
            redact_url("mysql://db.example/x"),
            "mysql://db.example/x",
            "URLs without a password are unchanged"
        );
    }
}
