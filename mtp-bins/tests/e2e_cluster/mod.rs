//! Harness of the real-cluster suite (`tests/e2e_cluster.rs`): settings from the environment,
//! the mtp binaries as child processes, kubeconfigs from ServiceAccount tokens, bounded polling,
//! server-side apply of the install, who refused a request, and the report of the checks.
//!
//! Everything here that needs no cluster has tests that run in the normal suite.

pub mod binaries;
pub mod install;
pub mod kubeconfig;
pub mod process;
pub mod refusal;
pub mod wait;

use std::io::Write as _;
use std::path::PathBuf;

/// The admin kubeconfig of a disposable cluster; the suite is skipped without it.
pub const KUBECONFIG_ENV: &str = "MTP_E2E_KUBECONFIG";

/// An address or DNS name of this machine that the apiserver can reach (the webhook runs here).
pub const WEBHOOK_HOST_ENV: &str = "MTP_E2E_WEBHOOK_HOST";

/// The webhook host for an apiserver running on this machine.
pub const DEFAULT_WEBHOOK_HOST: &str = "127.0.0.1";

/// The one line a skipped run prints.
pub const SKIP_MESSAGE: &str = "skipped: set MTP_E2E_KUBECONFIG=<kubeconfig of a disposable cluster> to run the real-cluster suite (docs/controller.md#end-to-end-on-a-real-cluster)";

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The admin kubeconfig from [`KUBECONFIG_ENV`], if set and not empty.
pub fn admin_kubeconfig_path() -> Option<PathBuf> {
    non_empty(std::env::var(KUBECONFIG_ENV).ok()).map(PathBuf::from)
}

/// The webhook host from [`WEBHOOK_HOST_ENV`], else [`DEFAULT_WEBHOOK_HOST`].
pub fn webhook_host() -> String {
    non_empty(std::env::var(WEBHOOK_HOST_ENV).ok())
        .unwrap_or_else(|| DEFAULT_WEBHOOK_HOST.to_owned())
}

/// Prints a line to stderr at once, past the test harness's output capture, so progress and the
/// skip line show without `--nocapture`.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The outcome of the checks: each is printed as it completes; failures are collected so that one
/// failed check does not hide the others.
#[derive(Debug, Default)]
pub struct Report {
    echo: bool,
    passed: usize,
    failures: Vec<String>,
}

impl Report {
    /// A report that prints each line as it comes ([`Report::default`] prints nothing).
    pub fn printing() -> Report {
        Report {
            echo: true,
            ..Report::default()
        }
    }

    fn say(&self, line: &str) {
        if self.echo {
            say(line);
        }
    }

    /// Records a check that held.
    pub fn pass(&mut self, check: &str, detail: &str) {
        self.say(&format!("ok    {check}: {detail}"));
        self.passed += 1;
    }

    /// Records a check that did not hold; `detail` says what was expected and what the cluster
    /// answered.
    pub fn fail(&mut self, check: &str, detail: &str) {
        self.say(&format!("FAIL  {check}: {detail}"));
        self.failures.push(format!("{check}: {detail}"));
    }

    /// Records `outcome`: `Ok(detail)` passes, `Err(detail)` fails.
    pub fn check(&mut self, check: &str, outcome: Result<String, String>) {
        match outcome {
            Ok(detail) => self.pass(check, &detail),
            Err(detail) => self.fail(check, &detail),
        }
    }

    /// Prints a line that is neither a pass nor a failure (setup, cleanup).
    pub fn note(&self, line: &str) {
        self.say(&format!("      {line}"));
    }

    /// The failed checks.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// One line: how many checks passed and failed.
    pub fn summary(&self) -> String {
        format!(
            "{} checks passed, {} failed",
            self.passed,
            self.failures.len()
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_settings_count_as_unset() {
        assert_eq!(non_empty(None), None);
        assert_eq!(non_empty(Some("  ".into())), None);
        assert_eq!(
            non_empty(Some(" /tmp/kind.kubeconfig\n".into())).as_deref(),
            Some("/tmp/kind.kubeconfig")
        );
    }

    #[test]
    fn the_skip_line_names_the_variable_and_the_docs() {
        assert!(!SKIP_MESSAGE.contains('\n'));
        assert!(SKIP_MESSAGE.starts_with("skipped: set MTP_E2E_KUBECONFIG="));
        assert!(SKIP_MESSAGE.ends_with("(docs/controller.md#end-to-end-on-a-real-cluster)"));
    }

    #[test]
    fn the_report_collects_every_failure() {
        let mut r = Report::default();
        r.pass("a", "fine");
        r.check("b", Err("expected 403, the cluster accepted it".into()));
        r.check("c", Ok("refused by RBAC".into()));
        r.fail("d", "timed out");
        assert_eq!(r.summary(), "2 checks passed, 2 failed");
        assert_eq!(
            r.failures(),
            ["b: expected 403, the cluster accepted it", "d: timed out"]
        );
    }
}
