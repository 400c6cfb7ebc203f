//! Differential tests: wherever the reader reads a document, serde_json reads it too, through
//! the same visitor calls. Inputs: the conformance captures and fixtures, generated documents
//! (whitespace, escapes, UTF-8 and invalid bytes, numbers of every shape, nesting), and byte
//! mutations of all of them; `Deserializer` methods picked at random at every value and key.
//!
//! `MTP_JSON_FUZZ_ROUNDS` multiplies the number of cases (default 1).

use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Declined, MAX_DEPTH, from_slice, from_slice_seed, push_str};
use crate::admission::{AdmissionReview, Response};
use crate::pod_security::ObjectReview;
use crate::pod_security::model::Object;

/// splitmix64: a small seeded generator, so every failure is reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn rounds() -> usize {
    std::env::var("MTP_JSON_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

/// One visitor call, as seen by the `Deserialize` side.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    Method(&'static str),
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(u64),
    Char(char),
    BorrowedStr(String),
    Str(String),
    String(String),
    BorrowedBytes(Vec<u8>),
    Bytes(Vec<u8>),
    ByteBuf(Vec<u8>),
    Unit,
    None,
    Some,
    Newtype,
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
    StoppedEarly,
}

struct Recorder {
    rng: Rng,
    events: Vec<Event>,
}

/// Deserializes one value (or key) with a `Deserializer` method picked at random, recording
/// every visitor call.
#[derive(Clone, Copy)]
struct Pick<'r> {
    recorder: &'r RefCell<Recorder>,
    key: bool,
}

const VALUE_METHODS: &[&str] = &[
    "any",
    "any",
    "any",
    "any",
    "ignored_any",
    "ignored_any",
    "option",
    "option",
    "str",
    "string",
    "bytes",
    "byte_buf",
    "bool",
    "i64",
    "u64",
    "i32",
    "u8",
    "i128",
    "u128",
    "f64",
    "f32",
    "char",
    "unit",
    "unit_struct",
    "newtype_struct",
    "seq",
    "tuple",
    "map",
    "struct",
    "identifier",
];

const KEY_METHODS: &[&str] = &[
    "any",
    "any",
    "bytes",
    "bytes",
    "str",
    "string",
    "byte_buf",
    "identifier",
    "ignored_any",
    "option",
    "newtype_struct",
    "char",
    "unit",
    "map",
    "i64",
    "u16",
    "bool",
];

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let method = {
            let mut recorder = self.recorder.borrow_mut();
            let methods = if self.key { KEY_METHODS } else { VALUE_METHODS };
            let method = *recorder.rng.pick(methods);
            recorder.events.push(Event::Method(method));
            method
        };
        let v = Record(self);
        match method {
            "any" => d.deserialize_any(v),
            "ignored_any" => d.deserialize_ignored_any(v),
            "option" => d.deserialize_option(v),
            "str" => d.deserialize_str(v),
            "string" => d.deserialize_string(v),
            "bytes" => d.deserialize_bytes(v),
            "byte_buf" => d.deserialize_byte_buf(v),
            "bool" => d.deserialize_bool(v),
            "i64" => d.deserialize_i64(v),
            "u64" => d.deserialize_u64(v),
            "i32" => d.deserialize_i32(v),
            "u8" => d.deserialize_u8(v),
            "u16" => d.deserialize_u16(v),
            "i128" => d.deserialize_i128(v),
            "u128" => d.deserialize_u128(v),
            "f64" => d.deserialize_f64(v),
            "f32" => d.deserialize_f32(v),
            "char" => d.deserialize_char(v),
            "unit" => d.deserialize_unit(v),
            "unit_struct" => d.deserialize_unit_struct("Unit", v),
            "newtype_struct" => d.deserialize_newtype_struct("Newtype", v),
            "seq" => d.deserialize_seq(v),
            "tuple" => d.deserialize_tuple(3, v),
            "map" => d.deserialize_map(v),
            "struct" => d.deserialize_struct("Struct", &["a", "b"], v),
            "identifier" => d.deserialize_identifier(v),
            other => unreachable!("no method {other}"),
        }
    }
}

struct Record<'r>(Pick<'r>);

impl Record<'_> {
    fn push(&self, event: Event) {
        self.0.recorder.borrow_mut().events.push(event);
    }

    /// Now and then a visitor stops before the end of an array or object.
    fn stops_early(&self) -> bool {
        self.0.recorder.borrow_mut().rng.below(40) == 0
    }
}

/// Visitor methods that record their value as it comes.
macro_rules! record {
    ($($method:ident($ty:ty) => $event:path;)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<(), E> {
                self.push($event(v));
                Ok(())
            }
        )*
    };
}

impl<'de> Visitor<'de> for Record<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }

    record! {
        visit_bool(bool) => Event::Bool;
        visit_i64(i64) => Event::I64;
        visit_u64(u64) => Event::U64;
        visit_i128(i128) => Event::I128;
        visit_u128(u128) => Event::U128;
        visit_char(char) => Event::Char;
        visit_string(String) => Event::String;
        visit_byte_buf(Vec<u8>) => Event::ByteBuf;
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.push(Event::F64(v.to_bits()));
        Ok(())
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.push(Event::BorrowedStr(v.to_owned()));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.push(Event::Str(v.to_owned()));
        Ok(())
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<(), E> {
        self.push(Event::BorrowedBytes(v.to_vec()));
        Ok(())
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.push(Event::Bytes(v.to_vec()));
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.push(Event::Unit);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.push(Event::None);
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.push(Event::Some);
        self.0.deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.push(Event::Newtype);
        self.0.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.push(Event::SeqStart);
        let element = Pick {
            key: false,
            ..self.0
        };
        loop {
            if self.stops_early() {
                self.push(Event::StoppedEarly);
                return Ok(());
            }
            if seq.next_element_seed(element)?.is_none() {
                break;
            }
        }
        self.push(Event::SeqEnd);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.push(Event::MapStart);
        let key = Pick {
            key: true,
            ..self.0
        };
        let value = Pick { key: false, ..key };
        loop {
            if self.stops_early() {
                self.push(Event::StoppedEarly);
                return Ok(());
            }
            if map.next_key_seed(key)?.is_none() {
                break;
            }
            map.next_value_seed(value)?;
        }
        self.push(Event::MapEnd);
        Ok(())
    }
}

fn recorder(seed: u64) -> RefCell<Recorder> {
    RefCell::new(Recorder {
        rng: Rng(seed),
        events: Vec::new(),
    })
}

/// Reads `input` with random methods from `seed`: with the reader (`Err` if declined) and,
/// when it read it, with serde_json, which must read it with the same calls. Returns whether
/// the reader read it.
fn same_calls(input: &[u8], seed: u64) -> bool {
    let fast = recorder(seed);
    let pick = Pick {
        recorder: &fast,
        key: false,
    };
    if from_slice_seed(input, pick).is_err() {
        return false;
    }
    let slow = recorder(seed);
    let pick = Pick {
        recorder: &slow,
        key: false,
    };
    let mut de = serde_json::Deserializer::from_slice(input);
    let read = pick.deserialize(&mut de).and_then(|()| de.end());
    assert!(
        read.is_ok(),
        "the reader read what serde_json refuses ({:?}), seed {seed}: {:?}",
        read.err(),
        String::from_utf8_lossy(input)
    );
    assert_eq!(
        fast.into_inner().events,
        slow.into_inner().events,
        "seed {seed}, input {:?}",
        String::from_utf8_lossy(input)
    );
    true
}

/// The reader and serde_json agree on `T` for `input`: where the reader reads it, serde_json
/// reads the same value. Returns whether the reader read it.
fn same_value<'de, T: de::Deserialize<'de> + fmt::Debug>(input: &'de [u8]) -> bool {
    let Ok(fast) = from_slice::<T>(input) else {
        return false;
    };
    match serde_json::from_slice::<T>(input) {
        Ok(slow) => assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "input {:?}",
            String::from_utf8_lossy(input)
        ),
        Err(e) => panic!(
            "the reader read what serde_json refuses ({e}): {:?}",
            String::from_utf8_lossy(input)
        ),
    }
    true
}

fn conformance() -> PathBuf {
    match std::env::var_os("MTP_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/conformance"),
    }
}

/// Every AdmissionReview capture as it is, and every Pod Security fixture (YAML) as compact
/// and as pretty JSON.
fn documents() -> Vec<(String, Vec<u8>)> {
    let mut docs = Vec::new();
    let reviews = conformance().join("admissionreview");
    for entry in std::fs::read_dir(&reviews).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            docs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    let mut fixtures = Vec::new();
    let mut dirs = vec![conformance().join("pss")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                fixtures.push(path);
            }
        }
    }
    fixtures.sort();
    assert!(
        fixtures.len() > 100,
        "found only {} fixtures",
        fixtures.len()
    );
    for path in fixtures {
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let name = path.display().to_string();
        docs.push((
            format!("{name} (compact)"),
            serde_json::to_vec(&value).unwrap(),
        ));
        docs.push((
            format!("{name} (pretty)"),
            serde_json::to_vec_pretty(&value).unwrap(),
        ));
    }
    docs.sort();
    docs
}

#[test]
fn reads_every_capture_and_fixture_as_serde_json_does() {
    let docs = documents();
    let mut reviews = 0;
    for (name, doc) in &docs {
        // Nothing in the conformance data falls back to serde_json.
        assert!(same_value::<serde_json::Value>(doc), "{name} declined");
        assert!(
            same_value::<Object<'_>>(doc),
            "{name} declined as an object"
        );
        if name.contains("admissionreview") {
            assert!(same_value::<ObjectReview<'_>>(doc), "{name} declined");
            // The raw view: the objects' text, as serde_json's RawValue gives it.
            assert!(
                same_value::<AdmissionReview<'_>>(doc),
                "{name} declined raw"
            );
            reviews += 1;
        }
        assert!(same_value::<de::IgnoredAny>(doc), "{name} declined");
        for seed in 0..8 {
            same_calls(doc, seed);
        }
    }
    assert!(reviews >= 7, "only {reviews} AdmissionReview captures");
}

/// Bytes a mutation inserts: JSON's structure, escapes, number parts, whitespace, control and
/// invalid UTF-8 bytes.
const SIGNIFICANT: &[u8] = b"{}[],:\"\\ \n\t\r0123456789-+.eEtrufalsn/bu\x00\x1f\x7f\xff\xc3\xa9";

fn mutate(rng: &mut Rng, doc: &[u8]) -> Vec<u8> {
    let mut out = doc.to_vec();
    for _ in 0..=rng.below(3) {
        if out.is_empty() {
            out.push(*rng.pick(SIGNIFICANT));
            continue;
        }
        let at = rng.below(out.len());
        match rng.below(4) {
            0 => {
                out.remove(at);
            }
            1 => out.insert(at, *rng.pick(SIGNIFICANT)),
            2 => out[at] = *rng.pick(SIGNIFICANT),
            _ => {
                // Cut short, or a stretch repeated.
                if rng.below(2) == 0 {
                    out.truncate(at);
                } else {
                    let end = (at + rng.below(16)).min(out.len());
                    let piece = out[at..end].to_vec();
                    out.splice(at..at, piece);
                }
            }
        }
    }
    out
}

#[test]
fn mutated_captures_read_as_serde_json_reads_them_or_not_at_all() {
    let docs = documents();
    let reviews: Vec<&(String, Vec<u8>)> = docs
        .iter()
        .filter(|(name, _)| name.contains("admissionreview"))
        .collect();
    let mut rng = Rng(7);
    let (mut read, mut cases) = (0, 0);
    for _ in 0..rounds() {
        for (_, doc) in &reviews {
            for _ in 0..300 {
                let mutated = mutate(&mut rng, doc);
                cases += 1;
                same_value::<AdmissionReview<'_>>(&mutated);
                if same_value::<ObjectReview<'_>>(&mutated) {
                    read += 1;
                }
                same_value::<serde_json::Value>(&mutated);
                same_calls(&mutated, rng.next());
            }
        }
        for _ in 0..600 {
            let (_, doc) = rng.pick(&docs);
            let mutated = mutate(&mut rng, doc);
            cases += 1;
            if same_value::<Object<'_>>(&mutated) {
                read += 1;
            }
            same_calls(&mutated, rng.next());
        }
    }
    // Most mutations keep the document valid JSON (a byte changed inside a string); those are
    // read, the rest declined.
    assert!(
        read * 4 > cases && read < cases,
        "{read} of {cases} mutated documents read"
    );
}

fn whitespace(rng: &mut Rng, out: &mut Vec<u8>) {
    match rng.below(6) {
        0..=2 => {}
        3 => out.push(b' '),
        4 => {
            out.push(b'\n');
            out.extend(std::iter::repeat_n(b' ', rng.below(24)));
        }
        _ => {
            for _ in 0..rng.below(12) {
                out.push(*rng.pick(b" \t\r\n"));
            }
        }
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "7",
    "-7",
    "42",
    "1.5",
    "-0.0",
    "1e10",
    "1E+2",
    "1e-2",
    "-1.25e-7",
    "3.141592653589793",
    "0.1",
    "2.5E308",
    "1e400",
    "-1e400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "01",
    "1.",
    ".5",
    "-",
    "1e",
    "+1",
    "--1",
    "1.2.3",
    "1e5e5",
    "0x10",
    "Infinity",
];

const PIECES: &[&str] = &[
    "a",
    "name",
    "pod-security.mtp.dev",
    "é",
    "日本",
    "😀",
    "\\\"",
    "\\\\",
    "\\/",
    "\\b\\f\\n\\r\\t",
    "\\u00e9",
    "\\u0041",
    "\\uD83D\\uDE00",
    "\\uD800",
    "\\uDC00x",
    "\\uD83Dx",
    "\\u12",
    "\\x",
    "\\'",
    "                ",
    "abcdefghijklmnopqrstuvwxyz0123456789",
];

fn string(rng: &mut Rng, out: &mut Vec<u8>) {
    out.push(b'"');
    for _ in 0..rng.below(5) {
        match rng.below(30) {
            0 => out.push(*rng.pick(b"\x00\x01\x1f\x7f")),
            1 => out.push(*rng.pick(b"\xff\xc3\xe6\x80")),
            _ => out.extend_from_slice(rng.pick(PIECES).as_bytes()),
        }
    }
    out.push(b'"');
}

fn value(rng: &mut Rng, out: &mut Vec<u8>, depth: usize) {
    let kinds = if depth > 5 { 5 } else { 9 };
    match rng.below(kinds) {
        0 | 1 => string(rng, out),
        2 => out.extend_from_slice(rng.pick(NUMBERS).as_bytes()),
        3 => out.extend_from_slice(
            rng.pick(&["true", "false", "null", "nul", "tru"])
                .as_bytes(),
        ),
        4 => out.extend_from_slice(rng.pick(NUMBERS[..20].as_ref()).as_bytes()),
        5 | 6 => container(rng, out, depth, true),
        _ => container(rng, out, depth, false),
    }
}

/// An object or an array of up to four members, now and then with a trailing comma.
fn container(rng: &mut Rng, out: &mut Vec<u8>, depth: usize, object: bool) {
    out.push(if object { b'{' } else { b'[' });
    let n = rng.below(5);
    for i in 0..n {
        whitespace(rng, out);
        if object {
            string(rng, out);
            whitespace(rng, out);
            out.push(b':');
            whitespace(rng, out);
        }
        value(rng, out, depth + 1);
        whitespace(rng, out);
        if i + 1 < n || rng.below(30) == 0 {
            out.push(b',');
        }
    }
    whitespace(rng, out);
    out.push(if object { b'}' } else { b']' });
}

#[test]
fn generated_documents_read_as_serde_json_reads_them_or_not_at_all() {
    let mut rng = Rng(11);
    let (mut read, mut cases) = (0, 0);
    for _ in 0..rounds() * 20_000 {
        let mut doc = Vec::new();
        whitespace(&mut rng, &mut doc);
        value(&mut rng, &mut doc, 0);
        whitespace(&mut rng, &mut doc);
        if rng.below(4) == 0 {
            doc = mutate(&mut rng, &doc);
        }
        cases += 1;
        if same_calls(&doc, rng.next()) {
            read += 1;
        }
        same_value::<serde_json::Value>(&doc);
        same_value::<Object<'_>>(&doc);
    }
    assert!(
        read * 10 > cases && read < cases,
        "{read} of {cases} generated documents read"
    );
}

#[test]
fn nesting_is_read_to_the_limit_and_declined_beyond_it() {
    for depth in [
        2,
        50,
        MAX_DEPTH - 1,
        MAX_DEPTH,
        MAX_DEPTH + 1,
        127,
        128,
        129,
        10_000,
    ] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let mixed = format!(
            "{}1{}",
            "[{\"a\":".repeat(depth / 2),
            "}]".repeat(depth / 2)
        );
        for doc in [&arrays, &objects, &mixed] {
            let within = doc.matches(['[', '{']).count() <= MAX_DEPTH;
            assert_eq!(
                from_slice::<de::IgnoredAny>(doc.as_bytes()).is_ok(),
                within,
                "ignored, depth {depth}"
            );
            assert_eq!(
                from_slice::<serde_json::Value>(doc.as_bytes()).is_ok(),
                within,
                "as a value, depth {depth}"
            );
            if within {
                // serde_json reads whatever the reader reads.
                assert!(serde_json::from_slice::<serde_json::Value>(doc.as_bytes()).is_ok());
                assert!(same_value::<serde_json::Value>(doc.as_bytes()));
            }
        }
    }
    // An ignored value inside read ones counts the levels around it.
    let inner = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
    let doc = format!("{{\"spec\": {{\"x\": {inner}}}}}");
    assert_eq!(
        from_slice::<Object<'_>>(doc.as_bytes()).err(),
        Some(Declined)
    );
    let doc = format!("{{\"spec\": {inner}}}");
    assert!(from_slice::<de::IgnoredAny>(doc.as_bytes()).is_ok());
}

#[test]
fn whitespace_and_strings_of_every_length_around_the_eight_byte_steps() {
    for spaces in 0..40 {
        for len in 0..40 {
            let pad = " ".repeat(spaces);
            let text = "x".repeat(len);
            for (doc, valid) in [
                (
                    format!("{pad}{{{pad}\"{text}\"{pad}:{pad}\"{text}\"{pad}}}{pad}"),
                    true,
                ),
                (
                    format!("[\n{pad}\"{text}\\n{text}\",\n{pad}\"{text}\u{1}\"]"),
                    false,
                ),
                (format!("[\t{pad}\r\n{pad}\"{text}é{text}\"{pad}]"), true),
                (format!("{pad}\"{text}"), false),
            ] {
                assert_eq!(
                    serde_json::from_str::<serde_json::Value>(&doc).is_ok(),
                    valid
                );
                assert_eq!(same_value::<serde_json::Value>(doc.as_bytes()), valid);
                assert_eq!(same_value::<de::IgnoredAny>(doc.as_bytes()), valid);
                same_calls(doc.as_bytes(), (spaces * 40 + len) as u64);
            }
        }
    }
}

#[test]
fn declines_rather_than_guess() {
    // Trailing bytes, trailing commas, bad escapes, control characters, a lone value cut short.
    for doc in [
        "{} x",
        "[1,]",
        "{\"a\":1,}",
        "\"\\x\"",
        "\"a\u{1}b\"",
        "{\"a\" 1}",
        "[1 2]",
        "tru",
        "",
        "   ",
        "01",
        "1.",
        "{\"a\":1}}",
    ] {
        assert_eq!(
            from_slice::<serde_json::Value>(doc.as_bytes()).err(),
            Some(Declined),
            "{doc:?}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(doc).is_err());
    }
    // Strings with escapes, numbers: read through serde_json, same values.
    for doc in [
        r#"{"a\"b": "c\u00e9\n", "n": [0, -1, 1.5e3, 18446744073709551615, -9223372036854775808]}"#,
        r#""\uD83D\uDE00""#,
        "1e400",
    ] {
        let ok = serde_json::from_str::<serde_json::Value>(doc).is_ok();
        assert_eq!(same_value::<serde_json::Value>(doc.as_bytes()), ok, "{doc}");
    }
}

#[test]
fn strings_are_written_byte_for_byte_as_serde_json_writes_them() {
    const SPECIAL: &[&str] = &["\"", "\\", "\n", "é", "😀", "\u{1}", "\u{1f}"];
    let mut rng = Rng(5);
    let mut texts: Vec<String> = (0u8..=0x7f).map(|b| char::from(b).to_string()).collect();
    texts.extend(["", "plain", "é日本😀", "a\"b\\c/d", "\u{7f}\u{80}\u{ffff}"].map(String::from));
    for _ in 0..rounds() * 5_000 {
        let mut text = String::new();
        for _ in 0..rng.below(40) {
            match rng.below(4) {
                0 => text.push(char::from(rng.below(0x80) as u8)),
                1 => {
                    let piece: &&str = rng.pick(SPECIAL);
                    text.push_str(piece);
                }
                _ => text.push_str(&"abcdefgh"[..rng.below(8)]),
            }
        }
        texts.push(text);
    }
    for text in &texts {
        let mut ours = b"x".to_vec();
        push_str(&mut ours, text);
        let mut theirs = b"x".to_vec();
        serde_json::to_writer(&mut theirs, text).unwrap();
        assert_eq!(ours, theirs, "{text:?}");
    }
}

#[test]
fn review_responses_are_the_documents_serde_json_wrote() {
    let response_json = |uid: &str, denial: Option<String>| {
        denial
            .map_or_else(Response::allow, Response::deny)
            .to_review_bytes(uid)
    };
    for uid in ["u1", "a\"b\\c"] {
        for denial in [
            None,
            Some("violates \"x\":\n\tcontainer \u{1} é".to_owned()),
        ] {
            let bytes = response_json(uid, denial.clone());
            let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let mut expected = serde_json::json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": uid, "allowed": denial.is_none()},
            });
            if let Some(message) = &denial {
                expected["response"]["status"] =
                    serde_json::json!({"code": 403, "reason": "Forbidden", "message": message});
            }
            assert_eq!(value, expected);
        }
    }
    // The bytes the serde-derived structs wrote before, field order included.
    assert_eq!(
        String::from_utf8(response_json("u", Some("a\"b".into()))).unwrap(),
        r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":false,"status":{"code":403,"reason":"Forbidden","message":"a\"b"}}}"#
    );
    assert_eq!(
        String::from_utf8(response_json("u", None)).unwrap(),
        r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true}}"#
    );
}
