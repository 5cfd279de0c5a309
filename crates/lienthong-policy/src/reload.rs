//! The policies in force, swapped whole when the directory changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use lienthong_runtime::{Metrics, Shutdown};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use crate::PolicyConfig;
use crate::set::{PolicyError, PolicySet, policy_files};

/// What the directory looked like: each policy file's path, size and modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The sharing policies in force, read from a directory and re-read when it changes.
///
/// Contract: [`Policies::current`] always returns a complete set that loaded without a
/// problem; a reload replaces it whole or not at all, so a caller that takes the set once per
/// request or batch sees one consistent policy. A directory that stops loading (a typo in an
/// edited file) keeps the previous set in force, with an error logged and
/// `lienthong_policy_reloads_total{outcome="failed"}` counted, until it loads again. Safe to
/// share between tasks.
#[derive(Debug)]
pub struct Policies {
    dir: PathBuf,
    reload_interval: Duration,
    current: RwLock<Arc<PolicySet>>,
    /// The directory at the last look; `None` when it could not be read.
    seen: Mutex<Option<Fingerprint>>,
    reloads: Family<OutcomeLabels, Counter>,
    partners: Gauge,
}

impl Policies {
    /// Loads `dir`, with the default reload interval (2 s) for [`Policies::spawn_reload`].
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self, PolicyError> {
        Self::load_with(dir.into(), crate::default_reload_interval())
    }

    /// Loads `[policy] dir`, to reload at `[policy] reload_interval_ms`.
    pub fn from_config(config: &PolicyConfig) -> Result<Self, PolicyError> {
        Self::load_with(config.dir.clone(), config.reload_interval)
    }

    fn load_with(dir: PathBuf, reload_interval: Duration) -> Result<Self, PolicyError> {
        let seen = fingerprint(&dir)?;
        let set = PolicySet::load_dir(&dir)?;
        let partners = Gauge::default();
        partners.set(set.len() as i64);
        Ok(Self {
            dir,
            reload_interval,
            current: RwLock::new(Arc::new(set)),
            seen: Mutex::new(Some(seen)),
            reloads: Family::default(),
            partners,
        })
    }

    /// The directory the policies are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The set in force.
    pub fn current(&self) -> Arc<PolicySet> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Registers `lienthong_policy_reloads_total{outcome}` and `lienthong_policy_partners`.
    pub fn register_metrics(&self, metrics: &Metrics) {
        metrics.register(
            "policy_reloads",
            "Reloads of the sharing-policy directory, by outcome (ok, failed)",
            self.reloads.clone(),
        );
        metrics.register(
            "policy_partners",
            "Partners in the sharing policies in force",
            self.partners.clone(),
        );
    }

    /// Reloads done so far with this outcome (`ok` or `failed`).
    pub fn reload_count(&self, outcome: &'static str) -> u64 {
        self.reloads.get_or_create(&OutcomeLabels { outcome }).get()
    }

    /// Re-reads the directory if a policy file was added, removed or changed since the last
    /// look. `Ok(true)`: a new set is in force; `Ok(false)`: nothing changed; `Err`: the
    /// directory changed but does not load, and the previous set stays in force.
    pub fn reload_if_changed(&self) -> Result<bool, PolicyError> {
        let now = fingerprint(&self.dir);
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let looked = now.as_ref().ok().cloned();
            if *seen == looked {
                return Ok(false);
            }
            // Remember what failed too, so a broken file is reported once, not at every look.
            *seen = looked;
        }
        match now.and_then(|_| PolicySet::load_dir(&self.dir)) {
            Ok(set) => {
                let partners = set.len();
                self.partners.set(partners as i64);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
                self.reloads
                    .get_or_create(&OutcomeLabels { outcome: "ok" })
                    .inc();
                tracing::info!(dir = %self.dir.display(), partners, "sharing policies reloaded");
                Ok(true)
            }
            Err(e) => {
                self.reloads
                    .get_or_create(&OutcomeLabels { outcome: "failed" })
                    .inc();
                tracing::error!(
                    dir = %self.dir.display(),
                    error = %e,
                    "changed sharing policies do not load; the previous policies stay in force"
                );
                Err(e)
            }
        }
    }

    /// Checks the directory every reload interval until `shutdown` (never when the interval is
    /// zero) and swaps in the new set when it changed and loads.
    pub fn spawn_reload(self: &Arc<Self>, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
        let policies = Arc::clone(self);
        tokio::spawn(async move {
            if policies.reload_interval.is_zero() {
                return;
            }
            let mut tick = tokio::time::interval(policies.reload_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let reloading = Arc::clone(&policies);
                // Reading files blocks; keep it off the async workers.
                let _ = tokio::task::spawn_blocking(move || reloading.reload_if_changed()).await;
            }
        })
    }
}

fn fingerprint(dir: &Path) -> Result<Fingerprint, PolicyError> {
    Ok(policy_files(dir)?
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let len = meta.as_ref().map_or(0, |m| m.len());
            let modified = meta.and_then(|m| m.modified().ok());
            (path, len, modified)
        })
        .collect())
}
