//! `mtp-webhook check`: the admission policies, offline, on files.
//!
//! Reads YAML (several documents allowed), JSON, or `-` for stdin; expands `List` kinds; unwraps
//! AdmissionReviews; evaluates each object and prints one result per object (text or JSON).
//! Exit codes: 0 all allowed, 1 any denied, 2 any input that cannot be read or parsed.

use std::fmt::Write as _;
use std::io::{self, Read, Write};

use clap::{Args, ValueEnum};
use mtp_policy::pod_security::model::Object;
use mtp_policy::pod_security::{Evaluation, Policy, Profile, Version, Violation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Exit code: every object allowed.
pub const EXIT_ALLOWED: u8 = 0;
/// Exit code: at least one object denied.
pub const EXIT_DENIED: u8 = 1;
/// Exit code: at least one input could not be read or parsed.
pub const EXIT_INPUT_ERROR: u8 = 2;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// One line per object, violations indented under it.
    #[default]
    Text,
    /// One JSON document with every result.
    Json,
}

/// Flags of `mtp-webhook check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The rules: the platform's `mtp` profile, or a Pod Security Standards level.
    #[arg(long, env = "MTP_CHECK_PROFILE", default_value = "mtp", value_parser = parse_profile)]
    pub profile: Profile,
    /// Pod Security Standards version: `latest` or `v1.N` (as the enforce-version namespace label).
    #[arg(long, env = "MTP_CHECK_VERSION", default_value = "latest", value_parser = parse_version)]
    pub version: Version,
    /// Output format.
    #[arg(long, short = 'o', env = "MTP_CHECK_OUTPUT", value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// YAML or JSON files (several YAML documents allowed), or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
        .map_err(|e: mtp_policy::pod_security::Error| e.to_string())
}

fn parse_version(s: &str) -> Result<Version, String> {
    s.parse()
        .map_err(|e: mtp_policy::pod_security::Error| e.to_string())
}

/// The result for one object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ObjectResult {
    /// The path as given on the command line.
    pub source: String,
    /// The object's position among the documents of its source.
    pub index: usize,
    /// For the items of a `List`: the position in `items`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// The object's kind.
    pub kind: Option<String>,
    /// The object's namespace.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: Option<String>,
    /// Whether the object carries a pod spec.
    pub applicable: bool,
    /// No violations.
    pub allowed: bool,
    /// Every violation.
    pub violations: Vec<Violation>,
}

/// An input that could not be read or parsed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputError {
    /// The path as given on the command line.
    pub source: String,
    /// The line, where known (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The document, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(index) = self.index {
            write!(f, ": document {index}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Everything `check` found.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Report {
    /// True when every object is allowed and every input was read.
    pub allowed: bool,
    /// One result per object.
    pub results: Vec<ObjectResult>,
    /// Inputs that could not be read or parsed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InputError>,
}

impl Report {
    /// The exit code for this report.
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            EXIT_INPUT_ERROR
        } else if self.results.iter().any(|r| !r.allowed) {
            EXIT_DENIED
        } else {
            EXIT_ALLOWED
        }
    }
}

/// Runs `check`: reads every path (`-` from `stdin`), writes the report to `stdout` and input
/// errors to `stderr`, and returns the exit code.
pub fn run(
    args: &CheckArgs,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> io::Result<u8> {
    let policy = Policy::new(args.profile).with_version(args.version);
    let mut report = Report::default();
    let mut stdin_text: Option<Result<String, String>> = None;
    for path in &args.paths {
        let text = if path == "-" {
            stdin_text.get_or_insert_with(|| read_text(stdin)).clone()
        } else {
            std::fs::File::open(path)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|mut f| read_text(&mut f))
        };
        match text {
            Ok(text) => check_text(&policy, path, &text, &mut report),
            Err(message) => report.errors.push(InputError {
                source: path.clone(),
                line: None,
                index: None,
                message,
            }),
        }
    }
    report.allowed = report.errors.is_empty() && report.results.iter().all(|r| r.allowed);
    for error in &report.errors {
        writeln!(stderr, "error: {error}")?;
    }
    match args.output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *stdout, &report).map_err(io::Error::other)?;
            writeln!(stdout)?;
        }
        Output::Text => stdout.write_all(render_text(&report, args.profile).as_bytes())?,
    }
    Ok(report.exit_code())
}

fn read_text(reader: &mut dyn Read) -> Result<String, String> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if let Some(offset) = bytes.iter().position(|b| *b == 0) {
        return Err(format!(
            "not a text file (a NUL byte at offset {offset}): expected YAML or JSON"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (an invalid byte at offset {}): expected YAML or JSON",
            e.utf8_error().valid_up_to()
        )
    })
}

/// One document of a source, with its position and the line it starts on.
struct Document {
    value: Value,
    index: usize,
    line: usize,
}

/// A parse error: line (1-based) and document where known, and the message.
type ParseError = (Option<usize>, Option<usize>, String);

/// Parses and checks one source's text, appending results and errors to `report`.
pub fn check_text(policy: &Policy, source: &str, text: &str, report: &mut Report) {
    let (documents, errors) = parse_documents(text);
    let had_errors = !errors.is_empty();
    for (line, index, message) in errors {
        report.errors.push(InputError {
            source: source.to_owned(),
            line,
            index,
            message,
        });
    }
    if documents.is_empty() && !had_errors {
        report.errors.push(InputError {
            source: source.to_owned(),
            line: None,
            index: None,
            message: "no objects found (the input is empty)".to_owned(),
        });
        return;
    }
    for doc in documents {
        let index = doc.index;
        let error = |message: String| InputError {
            source: source.to_owned(),
            line: Some(doc.line),
            index: Some(index),
            message,
        };
        let Value::Object(map) = &doc.value else {
            report.errors.push(error(format!(
                "expected a Kubernetes object (a mapping), found {}",
                type_name(&doc.value)
            )));
            continue;
        };
        let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default();
        match map.get("items") {
            Some(Value::Array(items)) if kind.ends_with("List") => {
                for (i, item) in items.iter().enumerate() {
                    match evaluate_value(policy, item) {
                        Ok(result) => {
                            report
                                .results
                                .push(result.into_result(source, index, Some(i)))
                        }
                        Err(message) => report.errors.push(error(format!("items[{i}]: {message}"))),
                    }
                }
            }
            _ => match evaluate_value(policy, &doc.value) {
                Ok(result) => report.results.push(result.into_result(source, index, None)),
                Err(message) => report.errors.push(error(message)),
            },
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Splits the text into documents: JSON (one or more values, or an array of objects) when it
/// starts with `{` or `[`, else YAML. A broken YAML document does not hide the others: every
/// document that parses is returned beside the errors. Errors carry the line where known.
fn parse_documents(text: &str) -> (Vec<Document>, Vec<ParseError>) {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        for value in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            match value {
                Ok(Value::Array(items)) => {
                    for value in items {
                        documents.push(Document {
                            value,
                            index: documents.len(),
                            line: 1,
                        });
                    }
                }
                Ok(value) => documents.push(Document {
                    value,
                    index: documents.len(),
                    line: 1,
                }),
                Err(e) => {
                    // A JSON stream cannot be resynchronised after an error.
                    errors.push((
                        Some(e.line()),
                        Some(documents.len()),
                        format!("invalid JSON: {e}"),
                    ));
                    break;
                }
            }
        }
        return (documents, errors);
    }
    let mut index = 0;
    for (first_line, chunk) in yaml_chunks(text) {
        match serde_yaml::from_str::<Value>(&chunk) {
            Ok(Value::Null) => continue,
            Ok(value) => {
                let line = chunk
                    .lines()
                    .position(has_content)
                    .map_or(first_line, |p| first_line + p);
                documents.push(Document { value, index, line });
            }
            Err(e) => {
                // The location is relative to the document; restate it relative to the file.
                let line = e.location().map(|l| first_line + l.line() - 1);
                let message = e.to_string();
                let message = message
                    .find(" at line ")
                    .map_or(message.as_str(), |i| &message[..i]);
                errors.push((line, Some(index), format!("invalid YAML: {message}")));
            }
        }
        index += 1;
    }
    (documents, errors)
}

/// Splits YAML text at document markers (`---` at the start of a line), keeping each marker in
/// its chunk, with the 1-based line number each chunk starts on.
fn yaml_chunks(text: &str) -> Vec<(usize, String)> {
    let mut chunks: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_marker = line.starts_with("---")
            && matches!(
                line.as_bytes().get(3),
                None | Some(b' ' | b'\t' | b'\r' | b'\n')
            );
        if is_marker {
            if has_content(&current) {
                chunks.push((start, std::mem::take(&mut current)));
            }
            current.clear();
            start = i + 1;
        }
        current.push_str(line);
    }
    if has_content(&current) {
        chunks.push((start, current));
    }
    chunks
}

/// Whether a chunk holds more than markers, comments and blank lines.
fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|line| {
        let rest = line.strip_prefix("---").unwrap_or(line).trim();
        !(rest.is_empty() || rest.starts_with('#'))
    })
}

struct Evaluated {
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    evaluation: Evaluation,
}

impl Evaluated {
    fn into_result(self, source: &str, index: usize, item: Option<usize>) -> ObjectResult {
        ObjectResult {
            source: source.to_owned(),
            index,
            item,
            kind: self.kind,
            namespace: self.namespace,
            name: self.name,
            applicable: self.evaluation.applicable,
            allowed: self.evaluation.allowed(),
            violations: self.evaluation.violations,
        }
    }
}

/// The fields of an AdmissionReview that lead to the object.
#[derive(Deserialize)]
struct ReviewShape {
    request: Option<RequestShape>,
}

#[derive(Deserialize)]
struct RequestShape {
    kind: Option<KindShape>,
    namespace: Option<String>,
    name: Option<String>,
    object: Option<Value>,
}

#[derive(Deserialize)]
struct KindShape {
    kind: Option<String>,
}

fn str_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn evaluate_value(policy: &Policy, value: &Value) -> Result<Evaluated, String> {
    if value.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if api_version != "admission.k8s.io/v1" {
            return Err(format!(
                "AdmissionReview apiVersion is {api_version:?}, expected \"admission.k8s.io/v1\""
            ));
        }
        let review: ReviewShape =
            serde_path_to_error::deserialize(value).map_err(|e| format!("AdmissionReview: {e}"))?;
        let request = review.request.ok_or("AdmissionReview has no request")?;
        let Some(object) = request.object.filter(|o| !o.is_null()) else {
            // DELETE and CONNECT carry no object: nothing to check.
            return Ok(Evaluated {
                kind: request.kind.and_then(|k| k.kind),
                namespace: request.namespace,
                name: request.name,
                evaluation: Evaluation::not_applicable(),
            });
        };
        let mut evaluated =
            evaluate_value(policy, &object).map_err(|e| format!("request.object: {e}"))?;
        evaluated.namespace = evaluated.namespace.or(request.namespace);
        evaluated.name = evaluated.name.or(request.name);
        return Ok(evaluated);
    }
    let kind = str_at(value, "/kind");
    let namespace = str_at(value, "/metadata/namespace");
    let name = str_at(value, "/metadata/name").or_else(|| str_at(value, "/metadata/generateName"));
    let describe = |message: String| match (&kind, &namespace, &name) {
        (Some(kind), Some(ns), Some(n)) => format!("{kind} {ns}/{n}: {message}"),
        (Some(kind), None, Some(n)) => format!("{kind} {n}: {message}"),
        _ => message,
    };
    let object: Object<'_> =
        serde_path_to_error::deserialize(value).map_err(|e| describe(e.to_string()))?;
    let evaluation = policy
        .evaluate(&object)
        .map_err(|e| describe(e.to_string()))?;
    Ok(Evaluated {
        kind,
        namespace,
        name,
        evaluation,
    })
}

/// The text report: one line per object, violations indented under it, then a summary.
pub fn render_text(report: &Report, profile: Profile) -> String {
    let mut out = String::new();
    for r in &report.results {
        let _ = write!(out, "{}", r.source);
        let _ = write!(out, " [{}", r.index);
        if let Some(item) = r.item {
            let _ = write!(out, ".items[{item}]");
        }
        let _ = write!(out, "] {}", r.kind.as_deref().unwrap_or("?"));
        match (&r.namespace, &r.name) {
            (Some(ns), Some(n)) => {
                let _ = write!(out, " {ns}/{n}");
            }
            (None, Some(n)) => {
                let _ = write!(out, " {n}");
            }
            _ => {}
        }
        if !r.applicable {
            out.push_str(": not applicable (no pod spec)\n");
        } else if r.allowed {
            out.push_str(": allowed\n");
        } else {
            let n = r.violations.len();
            let _ = writeln!(
                out,
                ": denied, {n} violation{}",
                if n == 1 { "" } else { "s" }
            );
            for v in &r.violations {
                let _ = writeln!(out, "    {} [{}]", v.message, v.check);
                let _ = writeln!(out, "        at {}", v.path);
            }
        }
    }
    let denied = report.results.iter().filter(|r| !r.allowed).count();
    let skipped = report.results.iter().filter(|r| !r.applicable).count();
    let allowed = report.results.len() - denied - skipped;
    let _ = write!(
        out,
        "{} object{} checked against the {profile} profile: {allowed} allowed, {denied} denied, {skipped} not applicable",
        report.results.len(),
        if report.results.len() == 1 { "" } else { "s" },
    );
    if !report.errors.is_empty() {
        let _ = write!(
            out,
            "; {} input error{}",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn check(text: &str) -> Report {
        let mut report = Report::default();
        check_text(&Policy::new(Profile::Mtp), "in.yaml", text, &mut report);
        report
    }

    #[test]
    fn yaml_chunks_keep_file_lines() {
        let chunks = yaml_chunks("a: 1\n---\nb: 2\n--- # c\nc: 3\n---\n");
        let starts: Vec<usize> = chunks.iter().map(|c| c.0).collect();
        assert_eq!(starts, vec![1, 2, 4]);
        assert_eq!(yaml_chunks("---\n---\n").len(), 0);
        assert_eq!(yaml_chunks("key: '---'\n").len(), 1);
    }

    #[test]
    fn yaml_error_names_the_file_line() {
        let r = check("kind: ConfigMap\napiVersion: v1\n---\nkind: Pod\n  bad: [indent\n");
        assert_eq!(r.errors.len(), 1);
        let e = &r.errors[0];
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.starts_with("invalid YAML"), "{e}");
    }

    #[test]
    fn type_errors_name_the_field() {
        let r = check(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  hostNetwork: yes-please\n  containers: []\n",
        );
        let e = &r.errors[0];
        assert_eq!(e.line, Some(1));
        assert!(
            e.message
                .starts_with("Pod n/p: spec.hostNetwork: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn scalars_lists_and_reviews() {
        let r = check("just a string\n");
        assert!(
            r.errors[0].message.contains("found a string"),
            "{:?}",
            r.errors
        );
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n  spec: {containers: []}\n";
        let r = check(list);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[1].item, Some(1));
        assert_eq!(r.results[1].name.as_deref(), Some("b"));
    }
}
