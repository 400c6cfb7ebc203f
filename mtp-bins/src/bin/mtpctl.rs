//! `mtpctl`: the mtp command line. See docs/mtpctl.md.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use mtp_bins::mtpctl::{self, Cli, Io, error::EXIT_OK};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(mtpctl::error::EXIT_API);
        }
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let err_is_terminal = std::io::stderr().is_terminal();
    let mut io = Io {
        out: &mut out,
        err: &mut err,
        err_is_terminal,
    };
    let result = runtime.block_on(mtpctl::run(cli, &mut io));
    let _ = io.out.flush();
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(mtpctl::CliError::Other(m)) if m.contains("Broken pipe") => ExitCode::from(EXIT_OK),
        Err(e) => {
            let _ = writeln!(io.err, "error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
