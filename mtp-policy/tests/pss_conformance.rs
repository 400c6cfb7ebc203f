//! The upstream Pod Security Standards fixtures are the oracle: for every fixture of the newest
//! version and of every version from v1.0, the verdict must match, and a failing fixture's check id
//! must be among the violations. Read from `testdata/conformance/pss` (copied from the upstream corpus; see testdata/conformance/SOURCES.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use mtp_policy::pod_security::model::Object;
use mtp_policy::pod_security::{Policy, Profile, Version};
use serde::Deserialize;

fn pss_dir() -> PathBuf {
    match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir).join("pss"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/conformance/pss"),
    }
}

struct Case {
    level: String,
    version: Version,
    expect_pass: bool,
    file: String,
    check: String,
}

fn read_index(relative: &str, versioned: bool) -> Vec<Case> {
    let path = pss_dir().join(relative);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let (level, version, expect, file, check) = if versioned {
                (cols[0], cols[1].parse().unwrap(), cols[2], cols[3], cols[4])
            } else {
                (cols[0], Version::Latest, cols[1], cols[2], cols[3])
            };
            Case {
                level: level.to_owned(),
                version,
                expect_pass: expect == "pass",
                file: file.to_owned(),
                check: check.to_owned(),
            }
        })
        .collect()
}

/// Evaluates a fixture twice: through a YAML value (owned strings) and through JSON bytes (the
/// borrowed fast path of the webhook). Both must agree.
fn run(cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let path = pss_dir().join(&case.file);
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let profile = match case.level.as_str() {
            "baseline" => Profile::Baseline,
            "restricted" => Profile::Restricted,
            other => panic!("unknown level {other}"),
        };
        let policy = Policy::new(profile).with_version(case.version);
        let object = Object::deserialize(&value).unwrap();
        let from_value = policy.evaluate(&object).unwrap();
        let bytes = serde_json::to_vec(&value).unwrap();
        let from_bytes = policy.evaluate_json(&bytes).unwrap();
        if from_value != from_bytes {
            failures.push(format!("{}: the two input paths disagree", case.file));
        }
        if from_value.allowed() != case.expect_pass {
            failures.push(format!(
                "{} at {} {}: expected {}, got {:?}",
                case.file,
                case.level,
                case.version,
                if case.expect_pass { "pass" } else { "fail" },
                from_value.violations
            ));
        }
        if !case.expect_pass && !from_value.violations.iter().any(|v| v.check == case.check) {
            failures.push(format!(
                "{}: check {} not among the violations {:?}",
                case.file,
                case.check,
                from_value
                    .violations
                    .iter()
                    .map(|v| v.check)
                    .collect::<Vec<_>>()
            ));
        }
    }
    failures
}

#[test]
fn newest_fixtures() {
    let cases = read_index("INDEX.tsv", false);
    assert!(cases.len() > 100, "only {} fixtures", cases.len());
    let failures = run(&cases);
    assert!(
        failures.is_empty(),
        "{} of {} fixtures fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_version_fixtures() {
    let cases = read_index("versions/INDEX.tsv", true);
    assert!(cases.len() > 4000, "only {} fixtures", cases.len());
    let versions: std::collections::BTreeSet<u32> =
        cases.iter().map(|c| c.version.minor()).collect();
    assert_eq!(
        versions.len(),
        38,
        "every version v1.0..=v1.37: {versions:?}"
    );
    let failures = run(&cases);
    assert!(
        failures.is_empty(),
        "{} of {} fixtures fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
