//! Every partner's policy, read from one directory, with the lookups that authenticate a caller.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::entity::Entity;
use crate::partner::{self, PartnerPolicy, normalize_subject, token_digest};

/// One thing wrong with a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub file: PathBuf,
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// Why a policy directory could not be loaded. A set is loaded whole or not at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    #[error("policy directory {dir} does not exist")]
    Missing { dir: PathBuf },
    #[error("cannot read policy directory {dir}: {source}")]
    Unreadable {
        dir: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<PolicyProblem> },
}

/// The policies of every partner, as loaded from a directory at one moment.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    partners: Vec<PartnerPolicy>,
    by_id: HashMap<String, usize>,
    by_token: HashMap<[u8; 32], usize>,
    by_subject: HashMap<String, usize>,
}

impl PolicySet {
    /// No partner: everything denied.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Reads every `*.toml` file directly in `dir` (other files, such as a README, are ignored).
    /// An empty directory is a valid set that denies everything.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        let mut sources = Vec::new();
        for path in policy_files(dir)? {
            match std::fs::read_to_string(&path) {
                Ok(text) => sources.push((path, text)),
                Err(e) => {
                    return Err(PolicyError::Invalid {
                        problems: vec![PolicyProblem {
                            file: path,
                            message: format!("cannot read: {e}"),
                        }],
                    });
                }
            }
        }
        Self::from_sources(sources)
    }

    /// Builds a set from (file name, TOML text) pairs; every problem of every file is reported.
    pub fn from_sources(
        sources: impl IntoIterator<Item = (PathBuf, String)>,
    ) -> Result<Self, PolicyError> {
        let mut problems = Vec::new();
        let mut partners: Vec<PartnerPolicy> = Vec::new();
        for (file, text) in sources {
            match partner::parse(&file, &text) {
                Ok(p) => partners.push(p),
                Err(messages) => {
                    problems.extend(messages.into_iter().map(|message| PolicyProblem {
                        file: file.clone(),
                        message,
                    }))
                }
            }
        }
        partners.sort_by(|a, b| a.id().cmp(b.id()));
        let mut set = Self::default();
        for (i, partner) in partners.iter().enumerate() {
            let problem = |message: String| PolicyProblem {
                file: partner.file().to_path_buf(),
                message,
            };
            if let Some(&other) = set.by_id.get(partner.id()) {
                problems.push(problem(format!(
                    "partner id `{}` is also used by {}",
                    partner.id(),
                    partners[other].file().display()
                )));
            }
            set.by_id.insert(partner.id().to_string(), i);
            for digest in partner.token_hashes() {
                if let Some(&other) = set.by_token.get(digest) {
                    problems.push(problem(format!(
                        "a token hash is also listed by partner {}: one token, one partner",
                        partners[other].id()
                    )));
                }
                set.by_token.insert(*digest, i);
            }
            for subject in partner.certificate_subjects() {
                if let Some(&other) = set.by_subject.get(subject) {
                    problems.push(problem(format!(
                        "certificate subject `{subject}` is also listed by partner {}: one certificate, one partner",
                        partners[other].id()
                    )));
                }
                set.by_subject.insert(subject.clone(), i);
            }
        }
        if !problems.is_empty() {
            return Err(PolicyError::Invalid { problems });
        }
        set.partners = partners;
        Ok(set)
    }

    /// The partner with this id.
    pub fn partner(&self, id: &str) -> Option<&PartnerPolicy> {
        self.by_id.get(id).map(|&i| &self.partners[i])
    }

    /// The partner that may present this bearer token (compared by its SHA-256).
    pub fn by_token(&self, token: &str) -> Option<&PartnerPolicy> {
        self.by_token
            .get(&token_digest(token))
            .map(|&i| &self.partners[i])
    }

    /// The partner whose policy accepts any of a client certificate's names: its subject
    /// (RFC 4514) and its subject alternative names. Compared after
    /// [`normalize_subject`](crate::normalize_subject).
    pub fn by_certificate(&self, subjects: &[String]) -> Option<&PartnerPolicy> {
        subjects
            .iter()
            .find_map(|s| self.by_subject.get(&normalize_subject(s)))
            .map(|&i| &self.partners[i])
    }

    /// Every partner, by id.
    pub fn partners(&self) -> impl Iterator<Item = &PartnerPolicy> {
        self.partners.iter()
    }

    pub fn len(&self) -> usize {
        self.partners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.partners.is_empty()
    }

    /// Every partner topic the set enables: (partner id, entity, topic), by partner then entity.
    pub fn partner_topics(&self) -> Vec<(String, Entity, String)> {
        self.partners
            .iter()
            .flat_map(|p| {
                p.topics()
                    .into_iter()
                    .map(|(entity, topic)| (p.id().to_string(), entity, topic))
            })
            .collect()
    }
}

/// The `*.toml` files directly in `dir`, sorted.
pub(crate) fn policy_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PolicyError::Missing {
                dir: dir.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(PolicyError::Unreadable {
                dir: dir.to_path_buf(),
                source: Arc::new(e),
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PolicyError::Unreadable {
            dir: dir.to_path_buf(),
            source: Arc::new(e),
        })?;
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if !hidden && path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
