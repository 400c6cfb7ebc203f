//! `mtp-token-broker` against a hostile IdP on loopback (issue 20), each test bounded in time:
//! token responses of 100 MB or endless → refused at 1 MiB, memory bounded; an IdP that trickles
//! its answer a byte a second or never answers → cut at the 10 s request timeout and retried
//! with backoff (1 s doubling, ±25 %), never in a hot loop; malformed JSON, wrong types, no
//! `access_token`, absurd `expires_in` → a clear error and no panic. In every case the token file
//! keeps the last good token until the IdP recovers, and then gets a fresh one.
//!
//! The IdP is a raw TCP server of the test's own (an HTTP framework would not misbehave on
//! request): it serves discovery, and answers each token request with the next answer of its
//! script, recording when the call came, when the broker hung up and how many bytes it was sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the IdP answers to one request.
#[derive(Clone, Debug)]
enum Answer {
    /// 200 with a fresh token `good-token-<n>` (n: the call's index), valid an hour.
    Good,
    /// This status and body (with its `Content-Length`).
    Json(u16, String),
    /// 200 announcing a 100 MB body, then sending it as fast as the broker reads.
    HugeLength,
    /// 200, chunked, a body that never ends (stopped at 512 MiB, so that a broker without a
    /// bound cannot take the machine down with it).
    Endless,
    /// The answer a byte a second.
    Trickle,
    /// Reads the request and never answers.
    Silent,
}

const HUGE: u64 = 100_000_000;
const ENDLESS_STOP: u64 = 512 << 20;

/// One token request as the IdP saw it.
#[derive(Clone, Debug)]
struct Call {
    answer: Answer,
    start: Instant,
    /// When the broker hung up (or the IdP finished its answer).
    end: Option<Instant>,
    /// Bytes of the answer sent.
    sent: u64,
}

#[derive(Default)]
struct State {
    /// The answers to the next token requests; the last one repeats.
    script: VecDeque<Answer>,
    /// The answer to discovery requests (its body is always the real document unless hostile).
    discovery: Option<Answer>,
    calls: Vec<Call>,
}

#[derive(Clone)]
struct Idp {
    issuer: String,
    state: Arc<Mutex<State>>,
}

impl Idp {
    async fn start(script: Vec<Answer>) -> Idp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let idp = Idp {
            issuer,
            state: Arc::new(Mutex::new(State {
                script: script.into(),
                ..State::default()
            })),
        };
        let server = idp.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let idp = server.clone();
                tokio::spawn(async move { idp.serve(stream).await });
            }
        });
        idp
    }

    fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    fn set_script(&self, script: Vec<Answer>) {
        self.state.lock().unwrap().script = script.into();
    }

    async fn serve(&self, mut stream: TcpStream) {
        let Some(path) = read_request(&mut stream).await else {
            return;
        };
        if path == "/.well-known/openid-configuration" {
            let hostile = self.state.lock().unwrap().discovery.clone();
            let answer = hostile.unwrap_or_else(|| {
                let doc = serde_json::json!({
                    "issuer": self.issuer,
                    "jwks_uri": format!("{}/jwks", self.issuer),
                    "token_endpoint": format!("{}/token", self.issuer),
                });
                Answer::Json(200, doc.to_string())
            });
            answer_with(&mut stream, &answer, usize::MAX).await;
            return;
        }
        let (answer, index) = {
            let mut s = self.state.lock().unwrap();
            let answer = if s.script.len() > 1 {
                s.script.pop_front().unwrap()
            } else {
                s.script.front().cloned().unwrap_or(Answer::Good)
            };
            s.calls.push(Call {
                answer: answer.clone(),
                start: Instant::now(),
                end: None,
                sent: 0,
            });
            (answer, s.calls.len() - 1)
        };
        let sent = answer_with(&mut stream, &answer, index).await;
        let mut s = self.state.lock().unwrap();
        s.calls[index].end = Some(Instant::now());
        s.calls[index].sent = sent;
    }
}

/// Reads one request's head and body; its path.
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    head.split(' ').nth(1).map(str::to_owned)
}

/// Sends `answer`; returns the bytes sent. Returns when the answer is complete or the broker
/// hung up.
async fn answer_with(stream: &mut TcpStream, answer: &Answer, index: usize) -> u64 {
    let plain = |status: u16, body: &str| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match answer {
        Answer::Good => {
            let body = format!(
                r#"{{"access_token":"good-token-{index}","token_type":"Bearer","expires_in":3600}}"#
            );
            write_all(stream, plain(200, &body).as_bytes()).await
        }
        Answer::Json(status, body) => write_all(stream, plain(*status, body).as_bytes()).await,
        Answer::HugeLength => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {HUGE}\r\n\
                 Connection: close\r\n\r\n{{\"access_token\":\""
            );
            let mut sent = write_all(stream, head.as_bytes()).await;
            let block = vec![b'a'; 64 * 1024];
            while sent < HUGE {
                match stream.write_all(&block).await {
                    Ok(()) => sent += block.len() as u64,
                    Err(_) => break,
                }
            }
            sent
        }
        Answer::Endless => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            let mut sent = write_all(stream, head.as_bytes()).await;
            let mut block = format!("{:x}\r\n", 64 * 1024).into_bytes();
            block.extend(std::iter::repeat_n(b' ', 64 * 1024));
            block.extend_from_slice(b"\r\n");
            while sent < ENDLESS_STOP {
                match stream.write_all(&block).await {
                    Ok(()) => sent += block.len() as u64,
                    Err(_) => break,
                }
            }
            sent
        }
        Answer::Trickle => {
            let body = r#"{"access_token":"slow-token","expires_in":3600}"#;
            let whole = plain(200, body);
            let (mut rd, mut wr) = stream.split();
            let mut sent = 0;
            let mut sink = [0u8; 64];
            for b in whole.as_bytes() {
                if wr.write_all(&[*b]).await.is_err() {
                    return sent;
                }
                sent += 1;
                // A byte a second, until the broker hangs up (read gives 0 or an error).
                tokio::select! {
                    r = rd.read(&mut sink) => if !matches!(r, Ok(n) if n > 0) { return sent },
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            sent
        }
        Answer::Silent => {
            let mut sink = [0u8; 64];
            // Never answers; returns when the broker hangs up (60 s at most).
            let _ = tokio::time::timeout(Duration::from_secs(60), async {
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
            0
        }
    }
}

async fn write_all(stream: &mut TcpStream, bytes: &[u8]) -> u64 {
    match stream.write_all(bytes).await {
        Ok(()) => bytes.len() as u64,
        Err(_) => 0,
    }
}

/// A running broker; killed on drop. Its stderr is collected.
struct Broker {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Broker {
    fn start(issuer: &str, token_file: &Path, extra: &[&str]) -> Broker {
        let mut child = broker_command(issuer, token_file)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Broker { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The peak resident set, in MiB (`VmHWM`).
    fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib / 1024
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn broker_command(issuer: &str, token_file: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mtp-token-broker"));
    c.args(["--issuer", issuer, "--client-id", "svc"])
        .args(["--client-secret", "client-s3cr3t"])
        .arg("--token-file")
        .arg(token_file)
        .env("RUST_LOG", "info")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    c
}

/// The token file as the broker left it: its text and inode (a write replaces the file, so a
/// new inode means it was written even with the same text).
fn token_file_state(path: &Path) -> (String, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    (text, std::fs::metadata(path).unwrap().ino())
}

/// A token file holding the last good token, as a previous run of the broker would leave it.
fn last_good_token(dir: &Path) -> PathBuf {
    let file = dir.join("token");
    std::fs::write(&file, "last-good-token").unwrap();
    file
}

/// Waits until `cond` holds, at most `limit`.
async fn until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_and_endless_token_responses_are_refused_at_1_mib_and_the_token_kept() {
    let idp = Idp::start(vec![Answer::HugeLength, Answer::Endless, Answer::Good]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = last_good_token(dir.path());
    let before = token_file_state(&file);
    let started = Instant::now();
    let broker = Broker::start(&idp.issuer, &file, &[]);

    // Refused, 1 s of backoff, refused, about 2 s, then the good answer.
    assert!(
        until(Duration::from_secs(20), || idp
            .calls()
            .get(1)
            .is_some_and(|c| c.end.is_some()))
        .await,
        "two token requests within 20 s: {:?}\n{}",
        idp.calls(),
        broker.stderr()
    );
    assert_eq!(
        token_file_state(&file),
        before,
        "the last good token was replaced"
    );
    let peak = broker.peak_rss_mib();
    let calls = idp.calls();
    for call in &calls[..2] {
        let took = call.end.unwrap() - call.start;
        // Refused as soon as it is known to be over the bound: the announced length at once,
        // the endless body after 1 MiB (plus what the sockets' buffers held).
        assert!(
            took < Duration::from_secs(5),
            "{:?} took {}",
            call.answer,
            secs(took)
        );
        assert!(
            call.sent < 32 << 20,
            "{:?}: {} bytes read before the broker hung up",
            call.answer,
            call.sent
        );
    }
    assert!(peak < 64, "peak RSS {peak} MiB");
    eprintln!(
        "refused after {:?} and {:?}, {} and {} bytes sent; broker peak RSS {peak} MiB",
        calls[0].end.unwrap() - calls[0].start,
        calls[1].end.unwrap() - calls[1].start,
        calls[0].sent,
        calls[1].sent
    );
    let log = broker.stderr();
    assert_eq!(
        log.matches("response larger than 1048576 bytes").count(),
        2,
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");

    // The IdP recovered: a fresh token.
    assert!(
        until(Duration::from_secs(10), || std::fs::read_to_string(&file)
            .is_ok_and(|t| t.trim_end() == "good-token-2"))
        .await,
        "no fresh token after the IdP recovered: {:?}\n{}",
        idp.calls(),
        broker.stderr()
    );
    let gap = calls[1].start - calls[0].end.unwrap();
    assert!(
        gap >= Duration::from_millis(700),
        "retried after {}: no backoff",
        secs(gap)
    );
    assert_eq!(idp.calls().len(), 3, "{:?}", idp.calls());
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_or_silent_idp_is_cut_at_10_s_and_retried_with_backoff() {
    let idp = Idp::start(vec![Answer::Trickle, Answer::Silent, Answer::Good]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = last_good_token(dir.path());
    let before = token_file_state(&file);
    let started = Instant::now();
    let broker = Broker::start(&idp.issuer, &file, &[]);

    // 10 s, about 1 s of backoff, 10 s, about 2 s, the good answer: about 23 s.
    assert!(
        until(Duration::from_secs(28), || std::fs::read_to_string(&file)
            .is_ok_and(|t| t.trim_end() == "good-token-2"))
        .await,
        "no fresh token within 28 s: {:?}\n{}",
        idp.calls(),
        broker.stderr()
    );
    let calls = idp.calls();
    // Never a hot loop: three requests in all, the IdP saw nothing else.
    assert_eq!(calls.len(), 3, "{calls:?}");
    for call in &calls[..2] {
        let took = call.end.unwrap() - call.start;
        assert!(
            took >= Duration::from_millis(9_500) && took < Duration::from_secs(13),
            "{:?}: cut after {} (the timeout is 10 s)",
            call.answer,
            secs(took)
        );
    }
    // The trickled answer is 1 byte a second: 10 or 11 bytes sent before the cut.
    assert!(calls[0].sent <= 12, "{calls:?}");
    let first = calls[1].start - calls[0].end.unwrap();
    let second = calls[2].start - calls[1].end.unwrap();
    assert!(
        first >= Duration::from_millis(700) && first < Duration::from_secs(3),
        "first retry after {} (1 s ± 25 %)",
        secs(first)
    );
    assert!(
        second >= Duration::from_millis(1_450) && second < Duration::from_secs(5),
        "second retry after {} (2 s ± 25 %)",
        secs(second)
    );
    let log = broker.stderr();
    assert_eq!(
        log.matches("no complete answer within 10 s (timed out)")
            .count(),
        2,
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    assert_ne!(token_file_state(&file), before);
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Bad answers of a token endpoint, and what the error must say.
fn malformed() -> Vec<(&'static str, Answer, &'static str)> {
    let ok = |body: &str| Answer::Json(200, body.to_owned());
    let token_with =
        |expires: &str| ok(&format!(r#"{{"access_token":"t","expires_in":{expires}}}"#));
    vec![
        ("not JSON", ok("<html>hello</html>"), "response is not JSON"),
        (
            "truncated JSON",
            ok(r#"{"access_token":"t""#),
            "response is not JSON",
        ),
        (
            "JSON nested 100,000 deep",
            ok(&("[".repeat(100_000) + &"]".repeat(100_000))),
            "response is not JSON",
        ),
        ("a JSON array", ok("[1,2,3]"), "no `access_token`"),
        (
            "an access_token of the wrong type",
            ok(r#"{"access_token":12345,"expires_in":3600}"#),
            "no `access_token`",
        ),
        (
            "200 with no access_token",
            ok(r#"{"token_type":"Bearer","expires_in":3600}"#),
            "no `access_token`",
        ),
        (
            "an empty access_token",
            ok(r#"{"access_token":"","expires_in":3600}"#),
            "no `access_token`",
        ),
        (
            "a negative expires_in",
            token_with("-5"),
            "`expires_in` is -5",
        ),
        (
            "a fractional expires_in",
            token_with("3600.5"),
            "`expires_in` is 3600.5",
        ),
        (
            "expires_in as a string",
            token_with(r#""3600""#),
            "`expires_in` is \"3600\"",
        ),
        (
            "expires_in of 10^300 s",
            token_with("1e300"),
            "`expires_in` is 1e+300",
        ),
        (
            "expires_in of u64::MAX s",
            token_with("18446744073709551615"),
            "`expires_in` is 18446744073709551615, not a whole number of seconds from 0 to 31622400",
        ),
        (
            "an HTML 500",
            Answer::Json(500, "<h1>oops</h1>".into()),
            "HTTP 500 Internal Server Error, response is not JSON",
        ),
        (
            "an OAuth error",
            Answer::Json(
                401,
                r#"{"error":"invalid_client","error_description":"unknown client"}"#.into(),
            ),
            "HTTP 401 Unauthorized: invalid_client unknown client",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_token_responses_are_clear_errors_and_leave_the_token_file() {
    let started = Instant::now();
    let idp = Idp::start(vec![Answer::Good]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = last_good_token(dir.path());
    let before = token_file_state(&file);
    for (what, answer, error) in malformed() {
        idp.set_script(vec![answer]);
        let out = broker_command(&idp.issuer, &file)
            .arg("--once")
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "error: fetching a token: token endpoint {}/token: ",
                idp.issuer
            )) && stderr.contains(error),
            "{what}: the error does not say `{error}`: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert_eq!(
            token_file_state(&file),
            before,
            "{what}: the token file changed"
        );
    }
    // A hostile discovery document is bounded too.
    for (what, hostile) in [("endless", Answer::Endless), ("100 MB", Answer::HugeLength)] {
        idp.state.lock().unwrap().discovery = Some(hostile);
        let t = Instant::now();
        let out = broker_command(&idp.issuer, &file)
            .arg("--once")
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what} discovery: {stderr}");
        assert!(
            stderr.contains("document larger than 1048576 bytes"),
            "{what} discovery: {stderr}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{what} discovery took {:?}",
            t.elapsed()
        );
        assert_eq!(token_file_state(&file), before);
    }
    idp.state.lock().unwrap().discovery = None;

    // In the refresh loop: two bad answers are logged and retried with backoff, the file kept;
    // then the IdP recovers and the token is fresh.
    let n = idp.calls().len();
    idp.set_script(vec![
        Answer::Json(200, r#"{"access_token":"t","expires_in":-1}"#.into()),
        Answer::Json(200, r#"{"token_type":"Bearer"}"#.into()),
        Answer::Good,
    ]);
    let broker = Broker::start(&idp.issuer, &file, &[]);
    let fresh = format!("good-token-{}", n + 2);
    assert!(
        until(Duration::from_secs(10), || std::fs::read_to_string(&file)
            .is_ok_and(|t| t.trim_end() == fresh))
        .await,
        "no fresh token: {:?}\n{}",
        idp.calls(),
        broker.stderr()
    );
    let calls = idp.calls();
    assert_eq!(calls.len(), n + 3, "{:?}", &calls[n..]);
    let log = broker.stderr();
    assert!(log.contains("`expires_in` is -1"), "{log}");
    assert!(log.contains("no `access_token` in the response"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    let gaps: Vec<Duration> = calls[n..]
        .windows(2)
        .map(|w| w[1].start - w[0].end.unwrap())
        .collect();
    assert!(
        gaps[0] >= Duration::from_millis(700) && gaps[1] >= Duration::from_millis(1_450),
        "retries after {gaps:?}: not 1 s then 2 s (± 25 %)"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}
