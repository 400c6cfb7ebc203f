//! `mtp-apiserver`: the REST API for tenants and members. With no flags it runs on an embedded
//! SQLite database (`mtp.db`) and static API keys (`mtp-api-keys`, generated on a first start).

use std::io;
use std::process::ExitCode;

use mtp_bins::apiserver::config::{ApiArgs, ConfigError, LogFormat};

fn init_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.with_ansi(io::stderr().is_terminal()).try_init(),
    };
}

fn main() -> ExitCode {
    let args = match ApiArgs::parse_with_config(std::env::args_os()) {
        Ok(args) => args,
        Err(ConfigError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(mtp_bins::apiserver::server::run(args));
    // Whatever is still running (connections cut at the drain deadline, background refreshes)
    // must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
