//! `mtp-webhook check`'s input: any bytes, as a YAML or JSON file, give exit 0, 1 or 2, and
//! every input error names the file; never a panic. Checked at the restricted profile and at
//! the mtp profile with a tier (defaulting and the LimitRange's limits applied too).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mtp_bins::webhook::check::{CheckArgs, Report, Rules, check_text};
use mtp_policy::pod_security::{Policy, Profile};

static RULES: LazyLock<[Rules; 2]> = LazyLock::new(|| {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: CheckArgs,
    }
    let tier = Cli::try_parse_from(["check", "--tier", "pro", "-"]).expect("the flags parse");
    [
        Rules::profile(Policy::new(Profile::Restricted)),
        Rules::from_args(&tier.args).expect("the pro tier"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for rules in RULES.iter() {
        let mut report = Report::default();
        check_text(rules, "fuzz.yaml", text, &mut report);
        assert!(report.exit_code() <= 2);
        for e in &report.errors {
            assert!(e.to_string().contains("fuzz.yaml"), "{e}");
        }
    }
});
