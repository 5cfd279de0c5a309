//! Helpers for lienthong's end-to-end tests: locating (and building) the `lienthong` binary and
//! the local stack's endpoints.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The local stack's endpoints, overridable for a stack elsewhere.
pub mod stack {
    pub fn broker() -> String {
        std::env::var("LIENTHONG_TEST_BROKER").unwrap_or_else(|_| "127.0.0.1:19092".into())
    }

    pub fn postgres_url() -> String {
        std::env::var("LIENTHONG_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://lienthong:lienthong@127.0.0.1:55432/lienthong".into())
    }

    pub fn mariadb_url() -> String {
        std::env::var("LIENTHONG_TEST_MARIADB_URL")
            .unwrap_or_else(|_| "mysql://lienthong:lienthong@127.0.0.1:53306/lienthong".into())
    }
}

/// Path of the `lienthong` binary, built (debug profile) on first use so the tests always run
/// the current code.
pub fn lienthong_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "-p", "lienthong", "--bin", "lienthong"])
            .status()
            .expect("running cargo build");
        assert!(status.success(), "building lienthong failed");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        target.join("debug/lienthong")
    })
    .clone()
}

/// Runs `lienthong` with `args` and extra environment, with no inherited LIENTHONG__ overrides.
pub fn lienthong(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(lienthong_bin());
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("LIENTHONG__") || k == "LIENTHONG_CONFIG" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("running lienthong")
}

/// stdout and stderr of an output, as text, for assertions and failure messages.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
