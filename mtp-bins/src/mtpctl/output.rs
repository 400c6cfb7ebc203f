//! Output: kubectl-like tables (aligned columns, upper-case headers), JSON and YAML.

use std::io::{self, Write};

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
            let (headers, rows) = rows(kind, items, now);
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
            let (headers, rows) = rows(kind, std::slice::from_ref(item), now);
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

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => sanitize(x),
        Some(Value::Null) | None => "<none>".to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(a)) => list(a),
        Some(other) => sanitize(&other.to_string()),
    }
}

fn list(a: &[Value]) -> String {
    if a.is_empty() {
        return "<none>".to_string();
    }
    a.iter()
        .map(|x| match x {
            Value::String(s) => sanitize(s),
            other => sanitize(&other.to_string()),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Control characters (a terminal escape in a display name) are shown as `?`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The STATUS column: `status` may be a string, or an object with `ready`/`phase`/conditions.
fn status(v: &Value) -> String {
    match v.get("status") {
        Some(Value::String(s)) => sanitize(s),
        Some(Value::Object(o)) => {
            for k in ["phase", "state"] {
                if let Some(Value::String(s)) = o.get(k) {
                    return sanitize(s);
                }
            }
            match o.get("ready") {
                Some(Value::Bool(true)) => return "Ready".into(),
                Some(Value::Bool(false)) => return "NotReady".into(),
                Some(Value::String(s)) => return sanitize(s),
                _ => {}
            }
            if let Some(Value::Array(cs)) = o.get("conditions") {
                for c in cs {
                    if c.get("type").and_then(Value::as_str) == Some("Ready") {
                        return match c.get("status").and_then(Value::as_str) {
                            Some("True") => "Ready".into(),
                            Some("False") => "NotReady".into(),
                            _ => "Unknown".into(),
                        };
                    }
                }
            }
            "Unknown".into()
        }
        _ => "Unknown".into(),
    }
}

/// An RFC 3339 time without its fraction of a second (`2026-11-23T13:38:31Z`); anything else
/// as it is.
fn short_time(ts: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(ts, &Rfc3339) {
        Ok(t) => t
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| sanitize(ts)),
        Err(_) => sanitize(ts),
    }
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
    let secs = now.saturating_sub(t.unix_timestamp()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn rows(kind: Kind, items: &[Value], now: i64) -> (Vec<&'static str>, Vec<Vec<String>>) {
    match kind {
        Kind::Tenant => (
            vec![
                "NAME", "TIER", "OWNER", "ADMINS", "VERSION", "STATUS", "AGE",
            ],
            items
                .iter()
                .map(|t| {
                    vec![
                        s(t, "name"),
                        s(t, "tier"),
                        s(t, "ownerEmail"),
                        s(t, "admins"),
                        s(t, "version"),
                        status(t),
                        age(t.get("createdAt").and_then(Value::as_str), now),
                    ]
                })
                .collect(),
        ),
        Kind::Member => (
            vec!["USER", "ROLE"],
            items
                .iter()
                .map(|m| vec![s(m, "userId"), s(m, "role")])
                .collect(),
        ),
        Kind::Audit => (
            vec!["TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME", "REQUEST-ID"],
            items
                .iter()
                .map(|a| {
                    let time = ["at", "time", "timestamp", "createdAt"]
                        .iter()
                        .find_map(|k| a.get(*k).filter(|v| !v.is_null()))
                        .map(|v| match v {
                            Value::String(x) => short_time(x),
                            other => other.to_string(),
                        })
                        .unwrap_or_else(|| "<none>".into());
                    vec![
                        time,
                        s(a, "actor"),
                        s(a, "action"),
                        s(a, "target"),
                        s(a, "outcome"),
                        s(a, "requestId"),
                    ]
                })
                .collect(),
        ),
        Kind::Whoami => (
            vec!["USER", "GROUPS", "METHOD", "PLATFORM-ADMIN"],
            items
                .iter()
                .map(|w| {
                    vec![
                        s(w, "user"),
                        s(w, "groups"),
                        s(w, "method"),
                        s(w, "platformAdmin"),
                    ]
                })
                .collect(),
        ),
    }
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

    #[test]
    fn tenant_table_is_aligned() {
        let items = [
            json!({"name":"acme","tier":"pro","ownerEmail":"o@acme.io","admins":["alice","bob"],"version":3,"createdAt":"2023-11-14T22:10:20Z","status":{"ready":true}}),
            json!({"name":"b","tier":"free","ownerEmail":"x@b.io","admins":[],"version":1,"createdAt":"2023-11-14T20:13:20Z","status":null}),
        ];
        assert_eq!(
            table(Kind::Tenant, &items, false),
            "NAME   TIER   OWNER       ADMINS      VERSION   STATUS    AGE\n\
             acme   pro    o@acme.io   alice,bob   3         Ready     3m\n\
             b      free   x@b.io      <none>      1         Unknown   2h\n"
        );
        assert_eq!(
            table(
                Kind::Member,
                &[json!({"userId":"alice","role":"admin"})],
                true
            ),
            "alice   admin\n"
        );
    }

    #[test]
    fn control_characters_are_neutralized() {
        let t = table(
            Kind::Member,
            &[json!({"userId":"evil\u{1b}[2J","role":"viewer"})],
            true,
        );
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
        assert_eq!(
            short_time("2026-11-23T13:38:31.572183336Z"),
            "2026-11-23T13:38:31Z"
        );
        assert_eq!(short_time("yesterday"), "yesterday");
    }

    #[test]
    fn ages() {
        assert_eq!(age(Some("1970-01-01T00:00:00Z"), 59), "59s");
        assert_eq!(age(Some("1970-01-01T00:00:00Z"), 3 * 86_400), "3d");
        assert_eq!(age(Some("garbage"), 0), "<unknown>");
        assert_eq!(age(None, 0), "<unknown>");
    }
}
