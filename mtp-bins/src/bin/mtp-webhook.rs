//! `mtp-webhook`: mtp's admission policies. `check` runs them offline on files.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mtp_bins::webhook::check::{self, CheckArgs};

/// mtp's admission webhooks and their policies.
#[derive(Debug, Parser)]
#[command(name = "mtp-webhook", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check pods, workloads and AdmissionReviews in files against a pod-security profile.
    ///
    /// Exit codes: 0 all allowed, 1 any denied, 2 any input that cannot be read or parsed.
    Check(CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => {
            let result = check::run(
                &args,
                &mut io::stdin().lock(),
                &mut io::stdout().lock(),
                &mut io::stderr().lock(),
            );
            match result {
                Ok(code) => ExitCode::from(code),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    ExitCode::from(check::EXIT_ALLOWED)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(check::EXIT_INPUT_ERROR)
                }
            }
        }
    }
}
