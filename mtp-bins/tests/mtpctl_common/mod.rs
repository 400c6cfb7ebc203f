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
