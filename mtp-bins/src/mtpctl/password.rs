//! Asking for a username and a password on the terminal; the password is read with echo off
//! and never written anywhere.

use std::io::{BufReader, Write};

use mtp_auth::token::Secret;
use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};

use super::error::CliError;

/// What the user typed.
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password (its `Debug` is redacted).
    pub password: Secret,
}

fn read_line(r: &mut dyn std::io::BufRead, what: &str) -> Result<String, CliError> {
    let mut s = String::new();
    let n = r
        .read_line(&mut s)
        .map_err(|e| CliError::Usage(format!("cannot read the {what}: {e}")))?;
    if n == 0 {
        return Err(CliError::Usage(format!("no {what} given (end of input)")));
    }
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// Asks for the username (unless given) and the password. On a terminal (`/dev/tty`) the
/// prompts go there and echo is turned off for the password; otherwise both are read from stdin.
pub fn ask(username: Option<&str>, err: &mut dyn Write) -> Result<Credentials, CliError> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    {
        Ok(tty) => ask_tty(username, tty),
        Err(_) => {
            let stdin = std::io::stdin();
            let mut r = stdin.lock();
            let username = match username {
                Some(u) => u.to_string(),
                None => {
                    let _ = write!(err, "Username: ");
                    let _ = err.flush();
                    read_line(&mut r, "username")?
                }
            };
            let _ = write!(err, "Password: ");
            let _ = err.flush();
            let password = read_line(&mut r, "password")?;
            let _ = writeln!(err);
            finish(username, password)
        }
    }
}

fn finish(username: String, password: String) -> Result<Credentials, CliError> {
    if username.trim().is_empty() {
        return Err(CliError::Usage("the username is empty".into()));
    }
    if password.is_empty() {
        return Err(CliError::Usage("the password is empty".into()));
    }
    Ok(Credentials {
        username: username.trim().to_string(),
        password: Secret::new(password),
    })
}

fn ask_tty(username: Option<&str>, tty: std::fs::File) -> Result<Credentials, CliError> {
    let mut w = tty
        .try_clone()
        .map_err(|e| CliError::Other(format!("/dev/tty: {e}")))?;
    let mut r = BufReader::new(tty);
    let username = match username {
        Some(u) => u.to_string(),
        None => {
            let _ = write!(w, "Username: ");
            let _ = w.flush();
            read_line(&mut r, "username")?
        }
    };
    // Echo off before the prompt, so nothing typed after it can ever be echoed.
    let fd = r.get_ref();
    let saved = tcgetattr(fd)
        .map_err(|e| CliError::Other(format!("cannot read the terminal settings: {e}")))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    tcsetattr(fd, SetArg::TCSAFLUSH, &quiet)
        .map_err(|e| CliError::Other(format!("cannot turn off the terminal echo: {e}")))?;
    let _ = write!(w, "Password: ");
    let _ = w.flush();
    let password = read_line(&mut r, "password");
    // Restore echo whatever happened.
    let restored = tcsetattr(r.get_ref(), SetArg::TCSAFLUSH, &saved);
    let password = password?;
    restored.map_err(|e| CliError::Other(format!("cannot restore the terminal echo: {e}")))?;
    finish(username, password)
}
