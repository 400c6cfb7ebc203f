//! SIGTERM on the real `mtp-apiserver` binary: a request whose body is still arriving completes
//! (201, stored), new connections are refused, the process exits 0; a request still running
//! past `--drain-timeout` is cut and does not hold the exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apiserver_proc;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use apiserver_proc::{Proc, RawResponse, TempDir, request, write_admin_key};
use nix::sys::signal::Signal;

/// One `Connection: close` exchange over plain TCP.
fn http(addr: SocketAddr, req: &[u8]) -> RawResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    RawResponse::parse(&raw)
}

/// Opens a connection and sends the head of `POST /api/v1/tenants` with `Expect: 100-continue`
/// and the first `sent` bytes of `body`. Returns once the server answered `100 Continue`: the
/// handler is reading the body, so the request is in flight.
fn start_post(addr: SocketAddr, key: &str, body: &str, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /api/v1/tenants HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100 Continue"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    s.write_all(&body.as_bytes()[..sent]).unwrap();
    s.flush().unwrap();
    s
}

/// Polls until a new connection to `addr` is refused (at most `limit`).
fn wait_refused(addr: SocketAddr, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return true,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

const BODY: &str = r#"{"name":"drained","tier":"free","ownerEmail":"ops@acme.io"}"#;

#[test]
fn sigterm_finishes_the_request_in_flight_refuses_new_connections_and_exits_0() {
    let dir = TempDir::new("term");
    let key = write_admin_key(dir.path(), "term-admin");
    let mut server = Proc::start(dir.path(), &["--drain-timeout", "30"]);
    assert_eq!(
        http(server.addr, &request("GET", "/healthz", None, None)).status,
        200
    );

    let mut conn = start_post(server.addr, &key, BODY, 12);
    let signalled = Instant::now();
    server.signal(Signal::SIGTERM);

    // The listener is closed at once; the process waits for the request.
    assert!(
        wait_refused(server.addr, Duration::from_secs(10)),
        "new connections are still accepted after SIGTERM"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight; log:\n{}",
        server.stderr()
    );

    conn.write_all(&BODY.as_bytes()[12..]).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let r = RawResponse::parse(&raw);
    assert_eq!(r.status, 201, "{r:?}");
    assert!(r.body.contains(r#""name":"drained""#), "{}", r.body);

    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("mtp-apiserver did not exit after the last request");
    assert!(status.success(), "exit status {status}");
    assert!(signalled.elapsed() < Duration::from_secs(20));
    let log = server.stderr();
    assert!(log.contains("refusing new connections"), "{log}");
    assert!(log.contains("drained; exiting"), "{log}");
    assert!(!log.contains("drain timeout"), "{log}");
    drop(server);

    // Stored: a new process on the same database has it.
    let server = Proc::start(dir.path(), &[]);
    let r = http(
        server.addr,
        &request("GET", "/api/v1/tenants/drained", Some(&key), None),
    );
    assert_eq!(r.status, 200, "{r:?}");
}

#[test]
fn a_request_past_the_drain_deadline_does_not_hold_the_exit() {
    let dir = TempDir::new("term-deadline");
    let key = write_admin_key(dir.path(), "term-admin");
    let mut server = Proc::start(dir.path(), &["--drain-timeout", "1"]);

    // Its body never completes.
    let mut conn = start_post(server.addr, &key, BODY, 12);
    let signalled = Instant::now();
    server.signal(Signal::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("a stuck request held the exit past the drain deadline");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(
        took >= Duration::from_millis(900),
        "exited before the drain deadline: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let log = server.stderr();
    assert!(log.contains("drain timeout"), "{log}");

    // The connection was closed without an answer.
    let mut raw = Vec::new();
    let _ = conn.read_to_end(&mut raw);
    assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));
    drop(server);

    // Nothing was stored.
    let server = Proc::start(dir.path(), &[]);
    let r = http(
        server.addr,
        &request("GET", "/api/v1/tenants/drained", Some(&key), None),
    );
    assert_eq!(r.status, 404, "{r:?}");
}
