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
    mtp_bins::telemetry::run_service(
        "mtp-apiserver",
        args.log_format,
        mtp_bins::apiserver::server::run(args),
    )
}
