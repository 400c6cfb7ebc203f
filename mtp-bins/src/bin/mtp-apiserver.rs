//! `mtp-apiserver`: the REST API for tenants and members. With no flags it runs on an embedded
//! SQLite database (`mtp.db`) and static API keys (`mtp-api-keys`, generated on a first start).

use std::process::ExitCode;

use mtp_bins::apiserver::config::{ApiArgs, ConfigError};

fn main() -> ExitCode {
    let args = match ApiArgs::parse_with_config(std::env::args_os()) {
        Ok(args) => args,
        Err(ConfigError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match mtp_bins::telemetry::init("mtp-apiserver", args.log_format) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
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
    // Exports the spans still queued (SIGTERM ends `run` with the drained requests).
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
