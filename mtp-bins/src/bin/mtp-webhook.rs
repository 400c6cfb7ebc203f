//! `mtp-webhook`: mtp's admission webhooks. `serve` runs them over HTTPS, `check` runs the
//! policies offline on files, `manifests` and `docs` describe them.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mtp_bins::telemetry::{self, LogFormat};
use mtp_bins::webhook::check::{self, CheckArgs};
use mtp_bins::webhook::manifests::{self, ManifestsArgs};
use mtp_bins::webhook::serve::HookState;
use mtp_bins::webhook::serve::{self, ServeArgs, Server};
use mtp_core::TierCatalogue;
use std::sync::Arc;

/// mtp's admission webhooks: serve them, check manifests offline, print their configurations.
#[derive(Debug, Parser)]
#[command(name = "mtp-webhook", version)]
struct Cli {
    /// Log format of `serve` (level from RUST_LOG, default info).
    #[arg(long, global = true, env = "MTP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check pods, workloads and AdmissionReviews in files against a pod-security profile, or as
    /// a tier's namespaces admit them (--tier, --tenant).
    ///
    /// Exit codes: 0 all allowed, 1 any denied, 2 any input (or --tenant, --tiers file) that
    /// cannot be read or parsed, or an unknown tier.
    Check(CheckArgs),
    /// Serve the admission webhooks over HTTPS.
    Serve(ServeArgs),
    /// Print the ValidatingWebhookConfiguration and MutatingWebhookConfiguration as YAML.
    Manifests(ManifestsArgs),
    /// Print what each webhook does, as JSON (default) or as a Markdown policy reference.
    Docs {
        /// The platform's namespace.
        #[arg(long, env = "MTP_PLATFORM_NAMESPACE", default_value = "mtp-system")]
        platform_namespace: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: manifests::DocsFormat,
    },
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
        Command::Manifests(args) => print(manifests::render(&args)),
        Command::Docs {
            platform_namespace,
            format,
        } => {
            let docs = match format {
                manifests::DocsFormat::Json => manifests::docs(&platform_namespace),
                manifests::DocsFormat::Markdown => manifests::docs_markdown(&platform_namespace),
            };
            print(docs.map(|d| d + "\n"))
        }
        Command::Serve(args) => {
            telemetry::run_service("mtp-webhook", cli.log_format, run_serve(args))
        }
    }
}

fn print(result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", mtp_bins::telemetry::error_chain(&e));
            ExitCode::from(2)
        }
    }
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let catalogue = match &args.tiers {
        Some(path) => TierCatalogue::from_file(path)?,
        None => TierCatalogue::default(),
    };
    let state = HookState::with_fallback(&catalogue);
    let registry = serve::registry_with(&args.platform_namespace, &args.hooks, &state)?;
    if args.manage || args.watch_namespaces {
        let client = kube::Client::try_default().await?;
        if args.manage {
            mtp_bins::webhook::manage::ensure(&client, &args, &registry).await?;
            tokio::spawn(mtp_bins::webhook::manage::rotate_forever(
                client.clone(),
                args.clone(),
                registry.clone(),
            ));
        }
        mtp_bins::webhook::namespaces::spawn_watches(client, &state, Arc::new(catalogue));
    }
    let server = Server::bind(&args, &registry).await?;
    server.run(mtp_bins::runtime::shutdown_signal()).await
}
