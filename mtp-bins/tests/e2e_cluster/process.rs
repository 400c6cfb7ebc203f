//! The mtp binaries as child processes: stderr kept (its last lines) to print on failure,
//! stopped with SIGTERM, killed on drop.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Lines of stderr kept per process.
const KEPT_LINES: usize = 300;

/// A running child process; killed (SIGKILL) and reaped on drop if still running.
pub struct Proc {
    name: String,
    child: Child,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Proc {
    /// Starts `command` (stdout discarded, stderr kept) as `name`.
    pub fn spawn(name: &str, mut command: Command) -> anyhow::Result<Proc> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name} ({command:?})"))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(pipe) = child.stderr.take() {
            let sink = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(mut lines) = sink.lock() {
                        if lines.len() == KEPT_LINES {
                            lines.pop_front();
                        }
                        lines.push_back(line);
                    }
                }
            });
        }
        Ok(Proc {
            name: name.to_owned(),
            child,
            stderr,
        })
    }

    /// The process's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `Some(description)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// The last lines the process wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        match self.stderr.lock() {
            Ok(lines) => lines.iter().cloned().collect::<Vec<_>>().join("\n"),
            Err(_) => "<stderr buffer unavailable>".to_owned(),
        }
    }

    /// The stderr tail framed for a failure message.
    pub fn report(&self) -> String {
        format!(
            "--- last stderr lines of {} ---\n{}\n--- end of {} ---",
            self.name,
            self.stderr_tail(),
            self.name
        )
    }

    /// SIGTERM, then waits up to `grace` for the exit (SIGKILL after that). Returns how it ended.
    pub fn stop(&mut self, grace: Duration) -> String {
        if let Some(status) = self.exited() {
            return format!("had already exited: {status}");
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        if let Err(e) = kill(pid, Signal::SIGTERM) {
            return format!("SIGTERM failed ({e}); {}", self.kill());
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                return format!("exited after SIGTERM: {status}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        format!("still running {grace:?} after SIGTERM; {}", self.kill())
    }

    fn kill(&mut self) -> String {
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => format!("killed: {status}"),
            Err(e) => format!("kill failed: {e}"),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.kill();
        }
    }
}

/// A port free on `ip` right now (the OS picks it; the listener is closed again).
pub fn free_port(ip: IpAddr) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))
        .with_context(|| format!("cannot bind a free port on {ip}"))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_stderr_and_stops_with_sigterm() {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "trap 'echo bye >&2; exit 0' TERM; echo starting >&2; while :; do sleep 0.05; done",
        ]);
        let mut proc = Proc::spawn("sh", command).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !proc.stderr_tail().contains("starting") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(proc.exited().is_none());
        let how = proc.stop(Duration::from_secs(5));
        assert!(how.starts_with("exited after SIGTERM"), "{how}");
        assert!(proc.report().contains("starting"), "{}", proc.report());
    }

    #[test]
    fn drop_kills_a_process_that_ignores_sigterm() {
        let mut command = Command::new("sh");
        command.args(["-c", "trap '' TERM; echo trapped >&2; exec sleep 30"]);
        let mut proc = Proc::spawn("stubborn", command).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !proc.stderr_tail().contains("trapped") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let how = proc.stop(Duration::from_millis(300));
        assert!(how.starts_with("still running"), "{how}");
        assert!(proc.exited().is_some());
    }

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port("127.0.0.1".parse().unwrap()).unwrap();
        assert!(port > 0);
        TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
