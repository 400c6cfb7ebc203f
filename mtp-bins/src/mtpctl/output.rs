//! Output: kubectl-like tables (aligned columns, upper-case headers), JSON and YAML.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use mtp_core::api::{AuditView, MemberView, TenantView, WhoAmI};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `-o` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with a header line.
    Table,
    /// The server's JSON, pretty-printed.
    Json,
    /// The same as YAML.
    Yaml,
}

/// What kind of object is printed, which chooses the table columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Tenants.
    Tenant,
    /// Members of a tenant.
    Member,
    /// Audit records.
    Audit,
    /// The identity `whoami` returns.
    Whoami,
}

/// Writes `value` as JSON or YAML.
pub fn write_document(out: &mut dyn Write, value: &Value, format: Format) -> io::Result<()> {
    match format {
        Format::Yaml => {
            let s = serde_yaml::to_string(value).map_err(io::Error::other)?;
            out.write_all(s.as_bytes())
        }
        _ => {
            let s = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
            out.write_all(s.as_bytes())?;
            out.write_all(b"\n")
        }
    }
}

/// Prints a list: a table, or `{"items": [...]}` in JSON/YAML.
pub fn write_list(
    out: &mut dyn Write,
    kind: Kind,
    items: &[Value],
    format: Format,
    no_headers: bool,
    now: i64,
) -> io::Result<()> {
    match format {
        Format::Table => {
            let (headers, rows) = rows(kind, items, now)?;
            write_table(out, &headers, &rows, no_headers)
        }
        _ => write_document(out, &serde_json::json!({ "items": items }), format),
    }
}

/// Prints one object: a one-row table, or the object itself in JSON/YAML.
pub fn write_one(
    out: &mut dyn Write,
    kind: Kind,
    item: &Value,
    format: Format,
    no_headers: bool,
    now: i64,
) -> io::Result<()> {
    match format {
        Format::Table => {
            let (headers, rows) = rows(kind, std::slice::from_ref(item), now)?;
            write_table(out, &headers, &rows, no_headers)
        }
        _ => write_document(out, item, format),
    }
}

/// Writes aligned columns separated by three spaces, without trailing spaces.
pub fn write_table(
    out: &mut dyn Write,
    headers: &[&str],
    rows: &[Vec<String>],
    no_headers: bool,
) -> io::Result<()> {
    let mut widths: Vec<usize> = if no_headers {
        vec![0; headers.len()]
    } else {
        headers.iter().map(|h| h.chars().count()).collect()
    };
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let mut line = |cells: Vec<&str>| -> io::Result<()> {
        let mut s = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i < last {
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                s.extend(std::iter::repeat_n(' ', pad + 3));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    if !no_headers {
        line(headers.to_vec())?;
    }
    for r in rows {
        line(r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

fn list(a: &[String]) -> String {
    if a.is_empty() {
        return "<none>".to_string();
    }
    a.iter().map(|x| sanitize(x)).collect::<Vec<_>>().join(",")
}

/// Control characters (a terminal escape in a display name) are shown as `?`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// An RFC 3339 time without its fraction of a second (`2026-11-23T13:38:31Z`).
fn short_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A kubectl-style age (`45s`, `12m`, `5h`, `3d`) of an RFC 3339 timestamp.
pub fn age(ts: Option<&str>, now: i64) -> String {
    let Some(ts) = ts else {
        return "<unknown>".into();
    };
    let Ok(t) = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
    else {
        return "<unknown>".into();
    };
    age_secs(now.saturating_sub(t.unix_timestamp()))
}

/// A kubectl-style age of a time.
fn age_of(t: &DateTime<Utc>, now: i64) -> String {
    age_secs(now.saturating_sub(t.timestamp()))
}

fn age_secs(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The items as the API type `T` (the server's answer must be one).
fn typed<T: DeserializeOwned>(items: &[Value]) -> io::Result<Vec<T>> {
    items
        .iter()
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the server's answer is not what the API describes: {e}"),
                )
            })
        })
        .collect()
}

type Rows = (Vec<&'static str>, Vec<Vec<String>>);

fn rows(kind: Kind, items: &[Value], now: i64) -> io::Result<Rows> {
    Ok(match kind {
        Kind::Tenant => (
            vec![
                "NAME", "TIER", "OWNER", "ADMINS", "VERSION", "STATUS", "AGE",
            ],
            typed::<TenantView>(items)?
                .iter()
                .map(|t| {
                    vec![
                        sanitize(&t.name),
                        t.tier.to_string(),
                        sanitize(&t.owner_email),
                        list(&t.admins),
                        t.version.to_string(),
                        sanitize(&t.status.state),
                        age_of(&t.created_at, now),
                    ]
                })
                .collect(),
        ),
        Kind::Member => (
            vec!["USER", "ROLE"],
            typed::<MemberView>(items)?
                .iter()
                .map(|m| vec![sanitize(&m.user_id), m.role.as_str().to_string()])
                .collect(),
        ),
        Kind::Audit => (
            vec!["TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "REQUEST-ID"],
            typed::<AuditView>(items)?
                .iter()
                .map(|a| {
                    vec![
                        short_time(&a.at),
                        sanitize(&a.actor),
                        sanitize(&a.action),
                        sanitize(&a.target),
                        sanitize(&a.outcome),
                        a.request_id
                            .as_deref()
                            .map_or_else(|| "<none>".to_string(), sanitize),
                    ]
                })
                .collect(),
        ),
        Kind::Whoami => (
            vec!["USER", "GROUPS", "METHOD", "PLATFORM-ADMIN"],
            typed::<WhoAmI>(items)?
                .iter()
                .map(|w| {
                    vec![
                        sanitize(&w.user),
                        list(&w.groups),
                        sanitize(&w.method),
                        w.platform_admin.to_string(),
                    ]
                })
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn table(kind: Kind, items: &[Value], no_headers: bool) -> String {
        let mut out = Vec::new();
        write_list(
            &mut out,
            kind,
            items,
            Format::Table,
            no_headers,
            1_700_000_000,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn tenant(
        name: &str,
        tier: &str,
        owner: &str,
        admins: &[&str],
        version: i64,
        created: &str,
        state: &str,
    ) -> Value {
        json!({"name": name, "uid": "u", "displayName": name, "tier": tier, "ownerEmail": owner,
               "admins": admins, "operators": [], "viewers": [], "egress": "none",
               "egressDefaulted": true, "namespaces": [], "quota": null, "version": version,
               "createdAt": created, "updatedAt": created,
               "status": {"state": state, "message": null, "conditions": [], "namespaces": []}})
    }

    fn member(user: &str, role: &str) -> Value {
        json!({"userId": user, "role": role, "createdAt": "2023-11-14T22:10:20Z"})
    }

    #[test]
    fn tenant_table_is_aligned() {
        let items = [
            tenant(
                "acme",
                "pro",
                "o@acme.io",
                &["alice", "bob"],
                3,
                "2023-11-14T22:10:20Z",
                "ready",
            ),
            tenant(
                "b",
                "free",
                "x@b.io",
                &[],
                1,
                "2023-11-14T20:13:20Z",
                "unknown",
            ),
        ];
        assert_eq!(
            table(Kind::Tenant, &items, false),
            "NAME   TIER   OWNER       ADMINS      VERSION   STATUS    AGE\n\
             acme   pro    o@acme.io   alice,bob   3         ready     3m\n\
             b      free   x@b.io      <none>      1         unknown   2h\n"
        );
        assert_eq!(
            table(Kind::Member, &[member("alice", "admin")], true),
            "alice   admin\n"
        );
    }

    #[test]
    fn control_characters_are_neutralized() {
        let t = table(Kind::Member, &[member("evil\u{1b}[2J", "viewer")], true);
        assert!(!t.contains('\u{1b}'), "{t:?}");
    }

    #[test]
    fn list_documents() {
        let mut out = Vec::new();
        write_list(
            &mut out,
            Kind::Member,
            &[json!({"userId":"a","role":"admin"})],
            Format::Yaml,
            false,
            0,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "items:\n- role: admin\n  userId: a\n"
        );
    }

    #[test]
    fn audit_times_drop_fractions() {
        let t: DateTime<Utc> = "2026-11-23T13:38:31.572183336Z".parse().unwrap();
        assert_eq!(short_time(&t), "2026-11-23T13:38:31Z");
    }

    #[test]
    fn ages() {
        assert_eq!(age(Some("1970-01-01T00:00:00Z"), 59), "59s");
        assert_eq!(age(Some("1970-01-01T00:00:00Z"), 3 * 86_400), "3d");
        assert_eq!(age(Some("garbage"), 0), "<unknown>");
        assert_eq!(age(None, 0), "<unknown>");
    }
}
