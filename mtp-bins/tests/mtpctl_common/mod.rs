//! Helpers of the mtpctl tests: the real OpenID Provider (tests/mtpctl/idp.mjs on the npm
//! package oidc-provider) and a "browser" that follows its redirects with a cookie jar.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

pub const RESOURCE: &str = "https://api.mtp.test";

pub struct Idp {
    pub child: tokio::process::Child,
    pub issuer: String,
}

impl Idp {
    /// Starts the IdP with extra environment `env` (TOKEN_TTL, SLOW_DOWN_FIRST, ...).
    pub async fn start(state: &Path, env: &[(&str, &str)]) -> Idp {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mtpctl/idp.mjs");
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(script).arg(state).arg("0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is required for the mtpctl login tests (run .ci/install-deps)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if let Some(i) = l.strip_prefix("READY ") {
                    return i.to_string();
                }
            }
            panic!("oidc-provider exited before READY (is it installed? run .ci/install-deps)");
        })
        .await
        .expect("oidc-provider did not start within 20 s");
        Idp { child, issuer }
    }

    pub async fn polls(&self) -> serde_json::Value {
        let r = reqwest::get(format!("{}/test/polls", self.issuer))
            .await
            .unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }
}

/// A user's browser: follows redirects by hand, keeping cookies (all on 127.0.0.1).
pub struct Browser {
    http: reqwest::Client,
    jar: BTreeMap<String, String>,
}

pub struct Page {
    pub url: String,
    pub status: u16,
    pub body: String,
}

impl Browser {
    pub fn new() -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let pair = s.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() || s.to_ascii_lowercase().contains("expires=thu, 01 jan 1970") {
                self.jar.remove(k.trim());
            } else {
                self.jar.insert(k.trim().to_string(), val.to_string());
            }
        }
    }

    /// GET (or POST `form`) `url` and follow redirects until a page answers.
    pub async fn visit(&mut self, url: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut url = reqwest::Url::parse(url).unwrap();
        let mut form: Option<Vec<(String, String)>> = form.map(|f| {
            f.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        });
        for _ in 0..20 {
            let req = match &form {
                Some(f) => self.http.post(url.clone()).form(f),
                None => self.http.get(url.clone()),
            };
            let resp = req
                .header("cookie", self.cookie_header())
                .send()
                .await
                .unwrap();
            self.keep_cookies(&resp);
            let status = resp.status().as_u16();
            if (300..400).contains(&status) {
                let loc = resp.headers()["location"].to_str().unwrap().to_string();
                url = url.join(&loc).unwrap();
                form = None;
                continue;
            }
            let body = resp.text().await.unwrap();
            return Page {
                url: url.to_string(),
                status,
                body,
            };
        }
        panic!("too many redirects from {url}");
    }

    /// Approves a device login: the verification page with the code, then the confirmation.
    pub async fn approve_device(
        &mut self,
        verification_uri_complete: &str,
        user_code: &str,
    ) -> Page {
        let page = self.visit(verification_uri_complete, None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let xsrf = input_value(&page.body, "xsrf").expect("xsrf in the device form");
        self.visit(
            &page.url,
            Some(&[
                ("xsrf", &xsrf),
                ("user_code", user_code),
                ("confirm", "yes"),
            ]),
        )
        .await
    }
}

/// The value of the form input `name` in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let i = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[i..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}

/// A writer that sends each write to a channel (the CLI's stderr, read by the test).
pub struct ChanWriter(pub tokio::sync::mpsc::UnboundedSender<String>);

impl std::io::Write for ChanWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(String::from_utf8_lossy(buf).into_owned());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads from `rx` until a whitespace-separated word starting with `prefix` appears.
pub async fn wait_for_word(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: &mut String,
    prefix: &str,
) -> String {
    loop {
        if let Some(w) = seen.split_whitespace().find(|w| w.starts_with(prefix)) {
            return w.trim_end_matches(')').to_string();
        }
        let s = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("no output from mtpctl")
            .expect("mtpctl output closed");
        seen.push_str(&s);
    }
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `glewlwyd` (an OpenID Provider with the resource-owner password grant), configured
/// from scratch in a tempdir: a throwaway SQLite database initialised with the package's schema,
/// an RSA-signing OIDC plugin, a confidential client `mtpctl` (secret `mtpctl-secret`,
/// grants password and refresh_token) and the user `alice` whose password is `password` (the
/// hash the package ships for its default admin).
pub struct Glewlwyd {
    pub child: tokio::process::Child,
    pub issuer: String,
}

pub const GLEWLWYD_CLIENT_SECRET: &str = "mtpctl-secret";

impl Glewlwyd {
    pub async fn start(dir: &Path, token_ttl: u32) -> Glewlwyd {
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}/api/oidc");
        let key = dir.join("key.pem");
        let cert = dir.join("pub.pem");
        for args in [
            vec!["genrsa", "-out", key.to_str().unwrap(), "2048"],
            vec![
                "rsa",
                "-in",
                key.to_str().unwrap(),
                "-pubout",
                "-out",
                cert.to_str().unwrap(),
            ],
        ] {
            let out = std::process::Command::new("openssl")
                .args(&args)
                .output()
                .expect("openssl is required for the glewlwyd test (run .ci/install-deps)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let schema = "/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz";
        assert!(
            Path::new(schema).exists(),
            "glewlwyd is not installed ({schema} missing): run .ci/install-deps"
        );
        let params = serde_json::json!({
            "iss": issuer, "jwt-type": "rsa", "jwt-key-size": "256",
            "key": std::fs::read_to_string(&key).unwrap(),
            "cert": std::fs::read_to_string(&cert).unwrap(),
            "access-token-duration": token_ttl, "refresh-token-duration": 3600,
            "code-duration": 600, "refresh-token-rolling": false, "allow-non-oidc": true,
            "auth-type-code-enabled": true, "auth-type-token-enabled": false,
            "auth-type-none-enabled": false, "auth-type-password-enabled": true,
            "auth-type-client-enabled": false, "auth-type-refresh-enabled": true,
            "scope": [], "subject-type": "public",
        });
        let db = dir.join("glewlwyd.db");
        let setup = format!(
            r#"
import gzip, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript(gzip.open(sys.argv[2], 'rt').read())
c.execute("INSERT INTO g_plugin_module_instance (gpmi_module, gpmi_name, gpmi_display_name, gpmi_parameters) VALUES ('oidc', 'oidc', 'OpenID Connect', ?)", (sys.argv[3],))
c.executescript('''
INSERT INTO g_user (gu_username, gu_name, gu_email, gu_enabled) VALUES ('alice', 'Alice', 'alice@example.com', 1);
INSERT INTO g_user_password (gu_id, guw_password) SELECT gu_id, 'fOfvZC/wR2cUSTWbW6YZueGyyDuFqwkoFlcNlRYWJscxYTVOVFJ3VWFHdVJQT0pU' FROM g_user WHERE gu_username='alice';
INSERT INTO g_user_scope (gus_name) VALUES ('openid');
INSERT INTO g_user_scope_user (gu_id, gus_id) SELECT gu_id, (SELECT gus_id FROM g_user_scope WHERE gus_name='openid') FROM g_user WHERE gu_username='alice';
INSERT INTO g_client (gc_client_id, gc_name, gc_confidential, gc_enabled) VALUES ('mtpctl', 'mtpctl', 1, 1);
INSERT INTO g_client_property (gc_id, gcp_name, gcp_value) SELECT gc_id, 'authorization_type', 'password' FROM g_client WHERE gc_client_id='mtpctl';
INSERT INTO g_client_property (gc_id, gcp_name, gcp_value) SELECT gc_id, 'authorization_type', 'refresh_token' FROM g_client WHERE gc_client_id='mtpctl';
INSERT INTO g_client_property (gc_id, gcp_name, gcp_value) SELECT gc_id, 'client_secret', '{GLEWLWYD_CLIENT_SECRET}' FROM g_client WHERE gc_client_id='mtpctl';
INSERT INTO g_client_property (gc_id, gcp_name, gcp_value) SELECT gc_id, 'token_endpoint_auth_method', 'client_secret_post' FROM g_client WHERE gc_client_id='mtpctl';
''')
c.commit()
"#
        );
        let out = std::process::Command::new("python3")
            .args(["-c", &setup])
            .arg(&db)
            .arg(schema)
            .arg(params.to_string())
            .output()
            .expect("python3 is required (run .ci/install-deps)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let conf = dir.join("glewlwyd.conf");
        std::fs::write(
            &conf,
            format!(
                r#"port={port}
external_url="http://127.0.0.1:{port}"
login_url="login.html"
api_prefix="api"
log_mode="console"
log_level="WARNING"
cookie_secure=0
session_expiration=3600
session_key="GLEWLWYD2_SESSION_ID"
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
use_secure_connection=false
secure_connection_key_file=""
secure_connection_pem_file=""
hash_algorithm="SHA512"
database = {{ type = "sqlite3"; path = "{}"; }};
"#,
                db.display()
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new("glewlwyd")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("glewlwyd is required for the password grant test (run .ci/install-deps)");
        let discovery = format!("{issuer}/.well-known/openid-configuration");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = reqwest::get(&discovery).await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "glewlwyd did not answer at {discovery} within 10 s");
        Glewlwyd { child, issuer }
    }
}

/// Runs `argv` on a pseudo-terminal (python3's `pty` module), answering `Username: ` and
/// `Password: ` prompts; returns everything the terminal showed and the exit code.
pub fn run_on_pty(
    argv: &[&str],
    env: &[(&str, &str)],
    username: &str,
    password: &str,
) -> (String, i32) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mtpctl/pty_login.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(script).args(argv);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .env("PTY_USERNAME", username)
        .env("PTY_PASSWORD", password)
        .output()
        .expect("python3 is required (run .ci/install-deps)");
    assert!(
        out.stderr.is_empty(),
        "pty driver: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// A real `mtp-apiserver` on loopback with SQLite in `dir` and the static keys given as
/// `(key id, secret, groups)`; `extra` flags are appended (rate limits, OIDC).
pub struct ApiServer {
    pub child: tokio::process::Child,
    pub url: String,
}

impl ApiServer {
    pub async fn start(dir: &Path, keys: &[(&str, &str, &str)], extra: &[&str]) -> ApiServer {
        let keys_file = dir.join("api-keys");
        let text: String = keys
            .iter()
            .map(|(id, secret, groups)| {
                let mut l = format!("{id}:{}", mtp_auth::static_keys::hash_key(secret));
                if !groups.is_empty() {
                    l.push(':');
                    l.push_str(groups);
                }
                l + "\n"
            })
            .collect();
        std::fs::write(&keys_file, text).unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mtp-apiserver"))
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--database-url")
            .arg(format!(
                "sqlite://{}?mode=rwc",
                dir.join("mtp.db").display()
            ))
            .arg("--api-keys-file")
            .arg(&keys_file)
            .arg("--cluster-status")
            .arg("off")
            .args(extra)
            // The tests run a few dozen commands a second as one user: more than the default
            // budget (10/s, burst 20) on a fast machine. A test that is about the limit passes
            // `--rate-limit-*` flags, which win over these variables.
            .env("MTP_RATE_LIMIT_RPS", "1000")
            .env("MTP_RATE_LIMIT_BURST", "1000")
            .env_remove("MTP_CONFIG")
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let health = format!("{url}/healthz");
        for _ in 0..200 {
            if let Ok(r) = reqwest::get(&health).await
                && r.status().is_success()
            {
                return ApiServer { child, url };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("mtp-apiserver did not answer at {health} within 10 s");
    }
}

/// Runs mtpctl with `XDG_CONFIG_HOME=home` and `env`, no inherited `MTP_*` configuration.
pub async fn mtpctl(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mtpctl"));
    cmd.args(args).env("XDG_CONFIG_HOME", home);
    for k in [
        "MTPCTL_CONFIG",
        "MTP_API_KEY",
        "MTP_SERVER",
        "MTP_CONTEXT",
        "MTP_OUTPUT",
        "MTP_LOGIN_ISSUER",
        "MTP_LOGIN_CLIENT_ID",
        "MTP_LOGIN_AUDIENCE",
        "MTP_LOGIN_CLIENT_SECRET",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What an mtpctl run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:?}");
        &self.stdout
    }

    /// Asserts failure with `code`, nothing on stdout, and exactly one `error: ` line on
    /// stderr; returns that line.
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "{self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "one line: {self:?}");
        assert!(self.stderr.starts_with("error: "), "{self:?}");
        self.stderr.trim_end()
    }
}
