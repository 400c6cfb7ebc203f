//! Hostile input, bounded in time and count (issue 20): JSON nested 100,000 deep, 1 MiB strings
//! and 100,000-element arrays to the real `mtp-apiserver` on loopback and to the admission
//! router mtp-webhook serves; a YAML "billion laughs" document and a 100 MB file given to
//! `mtp-webhook check`; a keys file of a million lines; clients trickling their headers or body
//! a byte a second, and two thousand idle connections. Each gets a 4xx or a clear refusal (or is
//! cut), quickly, with memory bounded, and the server keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_proc;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver_proc::{Proc, RawResponse, TempDir, request, write_admin_key};
use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use mtp_policy::admission::hooks::PodSecurityHook;
use mtp_policy::admission::{Registry, Webhook};
use tower::ServiceExt;

/// The hostile bodies: name, bytes.
fn hostile_bodies() -> Vec<(&'static str, String)> {
    let deep = 100_000;
    let string = 1024 * 1024;
    let elements = 100_000;
    vec![
        (
            "arrays nested 100,000 deep",
            "[".repeat(deep) + &"]".repeat(deep),
        ),
        (
            "objects nested 100,000 deep",
            r#"{"a":"#.repeat(deep) + "1" + &"}".repeat(deep),
        ),
        (
            "a 1 MiB string",
            format!(r#"{{"name":"{}"}}"#, "a".repeat(string)),
        ),
        (
            "a 100,000-element array",
            format!(
                r#"{{"name":"acme","admins":[{}]}}"#,
                vec![r#""a@b.io""#; elements].join(",")
            ),
        ),
        (
            "100,000 keys",
            format!(
                "{{{}}}",
                (0..elements)
                    .map(|i| format!(r#""k{i}":1"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
    ]
}

/// One `Connection: close` exchange over plain TCP.
fn http(addr: SocketAddr, req: &[u8]) -> RawResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The server may answer (413) before it has read the whole body and close: a reset while
    // writing is an answer too, read below.
    let _ = s.write_all(req);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    RawResponse::parse(&raw)
}

/// The peak resident set of a process, in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

#[test]
fn the_api_answers_hostile_bodies_with_a_4xx_in_bounded_memory() {
    let dir = TempDir::new("hostile");
    let key = write_admin_key(dir.path(), "admin");
    let server = Proc::start(dir.path(), &["--database-url", "sqlite::memory:"]);
    for (what, body) in hostile_bodies() {
        for path in ["/api/v1/tenants", "/api/v1/tenants/acme/members"] {
            let started = Instant::now();
            let r = http(server.addr, &request("POST", path, Some(&key), Some(&body)));
            assert!(
                (400..500).contains(&r.status),
                "{what} to {path}: {} {}",
                r.status,
                r.body.chars().take(300).collect::<String>()
            );
            assert_eq!(
                r.header("content-type"),
                Some("application/problem+json"),
                "{what} to {path}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{what} to {path} took {:?}",
                started.elapsed()
            );
        }
    }
    let r = http(server.addr, &request("GET", "/healthz", None, None));
    assert_eq!(
        r.status,
        200,
        "the server stopped serving: {}",
        server.stderr()
    );
    let rss = peak_rss_mib(server.child.id());
    assert!(rss < 256, "peak RSS {rss} MiB");
}

#[tokio::test]
async fn the_admission_router_answers_hostile_reviews_with_a_4xx_or_a_review() {
    let registry =
        Registry::new([Arc::new(PodSecurityHook::new("mtp-system")) as Arc<dyn Webhook>]).unwrap();
    let app = registry.router();
    let review = |object: &str| {
        format!(
            r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u1","kind":{{"group":"","version":"v1","kind":"Pod"}},"resource":{{"group":"","version":"v1","resource":"pods"}},"operation":"CREATE","namespace":"t","object":{object}}}}}"#
        )
    };
    let mut bodies = hostile_bodies();
    bodies.push((
        "a review whose pod has 100,000 containers",
        review(&format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p"}},"spec":{{"containers":[{}]}}}}"#,
            vec![r#"{"name":"c","image":"i"}"#; 100_000].join(",")
        )),
    ));
    bodies.push((
        "a review whose pod is nested 100,000 deep",
        review(&("[".repeat(100_000) + &"]".repeat(100_000))),
    ));
    bodies.push((
        "a review with a 1 MiB image name",
        review(&format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p"}},"spec":{{"containers":[{{"name":"c","image":"{}"}}]}}}}"#,
            "i".repeat(1024 * 1024)
        )),
    ));
    for (what, body) in bodies {
        let started = Instant::now();
        let response = app
            .clone()
            .oneshot(
                Request::post("/validate/pod-security")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        if status.is_success() {
            assert_eq!(answer["kind"], "AdmissionReview", "{what}");
            assert_eq!(answer["response"]["uid"], "u1", "{what}");
        } else {
            assert!(status.is_client_error(), "{what}: {status} {answer}");
            assert_eq!(content_type, "application/problem+json", "{what}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} took {:?}",
            started.elapsed()
        );
    }
}

fn check(args: &[&str]) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mtp-webhook"))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn check_refuses_a_billion_laughs_and_a_100_mb_file_quickly() {
    let dir = TempDir::new("check-hostile");
    // Nine levels of nine aliases: 387 million strings once expanded.
    let mut laughs = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for name in 'b'..='i' {
        laughs.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
        prev = name;
    }
    laughs.push_str("kind: Pod\napiVersion: v1\nmetadata: {name: x}\nspec: {containers: *i}\n");
    let path = dir.path().join("laughs.yaml");
    std::fs::write(&path, laughs).unwrap();
    let (code, err, took) = check(&[path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("laughs.yaml") && err.contains("billion laughs"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");

    // 100 MB of a valid-looking ConfigMap: refused at the size limit, before it is parsed.
    let path = dir.path().join("big.yaml");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n")
        .unwrap();
    let value = "x".repeat(200);
    for i in 0..500_000 {
        writeln!(f, "  k{i}: \"{value}\"").unwrap();
    }
    f.flush().unwrap();
    drop(f);
    assert!(std::fs::metadata(&path).unwrap().len() > 100_000_000);
    let (code, err, took) = check(&[path.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("big.yaml") && err.contains("larger than 32 MiB (--max-input-mib)"),
        "{err}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // The same through stdin.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mtp-webhook"))
        .args(["check", "--max-input-mib", "1", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'#'; 64 * 1024];
        for _ in 0..64 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than 1 MiB"), "{err}");
}

#[test]
fn a_keys_file_of_a_million_lines_is_refused_at_the_documented_bound() {
    use mtp_auth::static_keys::{KeySet, MAX_KEYS};
    let dir = TempDir::new("keys-hostile");
    let line = |i: usize| format!("k{i}:{:064x}\n", i + 1);
    // A million keys (66 MiB): refused by size before a line is parsed.
    let path = dir.path().join("million");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..1_000_000 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let started = Instant::now();
    let err = KeySet::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("million") && err.contains("larger than 4 MiB"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Under the size limit but over the key count: refused at the first key too many.
    let text: String = (0..=MAX_KEYS).map(line).collect();
    let err = KeySet::parse(&text, "many").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "many: line {}: more than {MAX_KEYS} keys: static keys are for a few machine clients; use OIDC for more",
            MAX_KEYS + 1
        )
    );
    // The bound itself loads.
    let text: String = (0..MAX_KEYS).map(line).collect();
    assert_eq!(KeySet::parse(&text, "max").unwrap().len(), MAX_KEYS);
}

/// Reads until the peer closes or answers; returns what came and when, or `None` if nothing
/// happened within `limit`.
fn wait_closed(s: &mut TcpStream, limit: Duration) -> Option<(Vec<u8>, Duration)> {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return Some((got, started.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some((got, started.elapsed())),
        }
    }
    None
}

#[test]
fn slow_and_idle_clients_are_cut_and_hold_no_worker() {
    let dir = TempDir::new("slow");
    let key = write_admin_key(dir.path(), "admin");
    let server = Proc::start(
        dir.path(),
        &[
            "--database-url",
            "sqlite::memory:",
            "--header-read-timeout",
            "2",
            "--request-timeout",
            "3",
        ],
    );
    // Headers trickled a byte a second: cut at the header read timeout.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut cut = None;
    for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n" {
        if slow.write_all(&[*b]).is_err() {
            cut = Some(started.elapsed());
            break;
        }
        if wait_closed(&mut slow, Duration::from_secs(1)).is_some() {
            cut = Some(started.elapsed());
            break;
        }
    }
    let cut = cut.expect("a client trickling its headers was never cut");
    assert!(cut < Duration::from_secs(5), "cut after {cut:?}");

    // A body trickled a byte a second: answered at the request timeout, not held open.
    let mut slow_body = TcpStream::connect(server.addr).unwrap();
    slow_body
        .write_all(
            format!(
                "POST /api/v1/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
                 Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .unwrap();
    let started = Instant::now();
    let mut answered = None;
    while started.elapsed() < Duration::from_secs(10) {
        if slow_body.write_all(b" ").is_err() {
            answered = Some(started.elapsed());
            break;
        }
        if let Some((got, at)) = wait_closed(&mut slow_body, Duration::from_secs(1)) {
            let r = RawResponse::parse(&got);
            assert!(r.status >= 400, "{}", r.status);
            answered = Some(at + started.elapsed());
            break;
        }
    }
    let answered = answered.expect("a trickled body was never answered");
    assert!(
        answered < Duration::from_secs(9),
        "answered after {answered:?}"
    );

    // Two thousand idle connections, half of them keep-alive connections that made a request
    // and stay open, half that never sent a byte: new requests are still served at once.
    let mut idle = Vec::new();
    for i in 0..2000 {
        let mut s = match TcpStream::connect(server.addr) {
            Ok(s) => s,
            // A machine with a small descriptor limit: as many as it allows.
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("connect: {e}"),
        };
        if i % 2 == 0 {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 512];
            let n = s.read(&mut buf).unwrap();
            assert!(
                buf[..n].starts_with(b"HTTP/1.1 200"),
                "{:?}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
        idle.push(s);
    }
    assert!(idle.len() >= 500, "only {} connections", idle.len());
    let started = Instant::now();
    let r = http(server.addr, &request("GET", "/healthz", None, None));
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    drop(idle);
    let r = http(server.addr, &request("GET", "/healthz", None, None));
    assert_eq!(r.status, 200);
}
