//! mtp-token-broker: a sidecar keeping an OAuth2 client-credentials token fresh in a file
//! (written atomically, mode 0600), for clients that read it with `mtp_auth::token::FileTokenSource`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use mtp_auth::broker::{Broker, BrokerConfig};
use mtp_auth::token::Secret;
use mtp_bins::telemetry::{self, LogFormat};

/// Keeps an OAuth2 client-credentials access token fresh in a file.
#[derive(Debug, Parser)]
#[command(name = "mtp-token-broker", version)]
struct Args {
    /// OIDC issuer URL (its discovery document gives the token endpoint).
    #[arg(long, env = "MTP_ISSUER")]
    issuer: String,
    /// OAuth2 client id.
    #[arg(long, env = "MTP_CLIENT_ID")]
    client_id: String,
    /// Client secret (prefer --client-secret-file).
    #[arg(
        long,
        env = "MTP_CLIENT_SECRET",
        hide_env_values = true,
        conflicts_with = "client_secret_file",
        required_unless_present = "client_secret_file"
    )]
    client_secret: Option<Secret>,
    /// File holding the client secret.
    #[arg(long, env = "MTP_CLIENT_SECRET_FILE")]
    client_secret_file: Option<PathBuf>,
    /// `audience` of the token (also sent as RFC 8707 `resource` when it is a URI).
    #[arg(long, env = "MTP_AUDIENCE")]
    audience: Option<String>,
    /// Scope to request; repeatable.
    #[arg(long = "scope", env = "MTP_SCOPE", value_delimiter = ' ')]
    scopes: Vec<String>,
    /// Where to write the token.
    #[arg(long, env = "MTP_TOKEN_FILE")]
    token_file: PathBuf,
    /// Fetch one token, write it and exit.
    #[arg(long)]
    once: bool,
    /// Log format (level from RUST_LOG, default info).
    #[arg(long, env = "MTP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

fn main() -> ExitCode {
    let args = Args::parse();
    telemetry::run_service("mtp-token-broker", args.log_format, run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let secret = match (&args.client_secret, &args.client_secret_file) {
        (Some(s), _) => s.clone(),
        (None, Some(f)) => Secret::from_file(f)?,
        (None, None) => anyhow::bail!("--client-secret or --client-secret-file is required"),
    };
    let mut config = BrokerConfig::new(args.issuer, args.client_id, secret, args.token_file);
    config.audience = args.audience;
    config.scopes = args.scopes;
    let broker = Broker::new(config)?;
    if args.once {
        broker.refresh_once().await.context("fetching a token")?;
        return Ok(());
    }
    broker.run(mtp_bins::runtime::shutdown_signal()).await;
    Ok(())
}
