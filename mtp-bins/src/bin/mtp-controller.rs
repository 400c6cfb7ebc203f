//! `mtp-controller`: reconciles Tenants into namespaces, RBAC, NetworkPolicy, LimitRange and
//! ResourceQuota; syncs the store into Tenant resources; one leader among replicas.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mtp_bins::controller::run::{self, RunArgs};
use mtp_bins::telemetry::{self, LogFormat};

/// Reconciles Tenants into namespaces, RBAC, NetworkPolicy, LimitRange and ResourceQuota.
///
/// With `--database-url` it also syncs the API's store into Tenant resources (the store is then
/// the one source of truth). One leader among replicas.
#[derive(Debug, Parser)]
#[command(
    name = "mtp-controller",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// Log format (level from RUST_LOG, default info).
    #[arg(long, global = true, env = "MTP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
    /// The flags of `run`, the default command.
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Reconcile Tenants (the default).
    Run(Box<RunArgs>),
    /// Print the Tenant CustomResourceDefinition as YAML.
    Crd,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Crd) => {
            return match run::crd_yaml() {
                Ok(yaml) => {
                    print!("{yaml}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", mtp_bins::telemetry::error_chain(&e));
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Run(args)) => *args,
        None => cli.run,
    };
    telemetry::run_service("mtp-controller", cli.log_format, run::run(args))
}
