//! A JSON reader for the admission hot path, under the same `Deserialize` impls as serde_json.
//!
//! An AdmissionReview is mostly bytes nobody reads (`managedFields`, the
//! `last-applied-configuration` annotation, the indentation of a pretty-printing client), and
//! serde_json skips whitespace one byte at a time. This reader skips runs of spaces and string
//! contents eight bytes at a time, skips ignored values in one flat loop, and otherwise walks
//! the document as serde_json does.
//!
//! The contract, which the differential tests in `json/tests.rs` check (conformance captures,
//! generated documents and byte mutations of both, `Deserializer` methods picked at random):
//! **where this reader reads a document, the value is the one serde_json gives, through the
//! same visitor calls** (borrowed where serde_json borrows, the same numbers, the same UTF-8
//! checks); anything else it declines with [`Declined`], and the caller parses with serde_json,
//! which reads it or says what is wrong. To keep that exact, the parts where serde_json's
//! behaviour is intricate are handed to serde_json itself over the bytes of that one value:
//! numbers whose value is read and strings with escapes whose value is used (ignored numbers
//! are checked in place against serde_json's number grammar). The
//! AdmissionReview view's `RawJson` (the text of a value, as serde_json's `RawValue` gives it)
//! is read here too. What it declines although serde_json may read it: enums, serde_json's own
//! `RawValue`, structs written as arrays, bytes
//! written as arrays, keys read as anything but strings, and nesting deeper than [`MAX_DEPTH`].

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The document was not read; parse it with serde_json for the value or the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not read by the fast JSON reader")
    }
}

impl std::error::Error for Declined {}

impl de::Error for Declined {
    // The message is dropped unformatted: serde_json gives it when the caller parses again.
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Declined
    }
}

type Result<T> = std::result::Result<T, Declined>;

/// Nesting of arrays and objects beyond this is declined (serde_json's own limit is 127 levels,
/// so everything read here is within it).
pub(crate) const MAX_DEPTH: usize = 100;

/// Reads `T` from the whole of `input` (whitespace around it allowed, nothing else), or declines.
pub(crate) fn from_slice<'de, T: de::Deserialize<'de>>(input: &'de [u8]) -> Result<T> {
    from_slice_seed(input, std::marker::PhantomData::<T>)
}

/// [`from_slice`] with a seed.
pub(crate) fn from_slice_seed<'de, S: DeserializeSeed<'de>>(
    input: &'de [u8],
    seed: S,
) -> Result<S::Value> {
    let mut reader = Reader {
        input,
        pos: 0,
        depth: 0,
    };
    let value = seed.deserialize(&mut reader)?;
    reader.skip_ws();
    if reader.pos == input.len() {
        Ok(value)
    } else {
        Err(Declined)
    }
}

const ONES: u64 = u64::MAX / 255;
const HIGH_BITS: u64 = ONES << 7;
const SPACES: u64 = ONES * b' ' as u64;

struct Reader<'de> {
    input: &'de [u8],
    pos: usize,
    /// Arrays and objects open around `pos`.
    depth: usize,
}

type JsonDeserializer<'de> = serde_json::Deserializer<serde_json::de::SliceRead<'de>>;

/// The eight bytes at `pos`, if there are eight left.
#[inline]
fn word_at(input: &[u8], pos: usize) -> Option<u64> {
    input
        .get(pos..)
        .and_then(|rest| rest.first_chunk::<8>())
        .map(|chunk| u64::from_le_bytes(*chunk))
}

/// The first `"`, `\` or control character at or after `pos` (or the end), found eight bytes at
/// a time with the zero-byte test of Mycroft's strlen, as serde_json does.
#[inline]
fn plain_end(input: &[u8], mut pos: usize) -> usize {
    while let Some(word) = word_at(input, pos) {
        let control = word.wrapping_sub(ONES * 0x20) & !word;
        let quote = word ^ (ONES * u64::from(b'"'));
        let quote = quote.wrapping_sub(ONES) & !quote;
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let backslash = backslash.wrapping_sub(ONES) & !backslash;
        let found = (control | quote | backslash) & HIGH_BITS;
        if found != 0 {
            // The lowest flagged byte is exact (a borrow only runs upwards from a hit).
            return pos + (found.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&byte) = input.get(pos) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// Appends `text` as a JSON string, escaped byte for byte as serde_json escapes it (`"`, `\\`,
/// the short escapes `\b \f \n \r \t`, other control characters as `\u00xx`; nothing else),
/// copying the runs between escapes eight bytes at a time.
pub(crate) fn push_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let pos = plain_end(bytes, start);
        out.extend_from_slice(bytes.get(start..pos).unwrap_or_default());
        let Some(&byte) = bytes.get(pos) else {
            break;
        };
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]),
        }
        start = pos + 1;
    }
    out.push(b'"');
}

/// The first byte at or after `pos` that is not JSON whitespace (space, tab, line feed,
/// carriage return, as serde_json); runs of spaces (indentation) are skipped eight at a time.
#[inline(always)]
fn ws(input: &[u8], mut pos: usize) -> usize {
    loop {
        match input.get(pos) {
            // Most calls find no whitespace at all.
            Some(&byte) if byte > b' ' => return pos,
            Some(b' ') => {
                pos += 1;
                // A lone space (after a pretty-printer's `:` or `,`) is the commonest run.
                if input.get(pos).is_some_and(|&byte| byte > b' ') {
                    return pos;
                }
                while let Some(word) = word_at(input, pos) {
                    let other = word ^ SPACES;
                    if other != 0 {
                        pos += (other.trailing_zeros() / 8) as usize;
                        break;
                    }
                    pos += 8;
                }
            }
            Some(b'\n' | b'\r' | b'\t') => pos += 1,
            _ => return pos,
        }
    }
}

/// With `pos` just past a backslash: the position past the escape. Escapes are checked as
/// serde_json checks them when it skips a string (`\u` takes any four hex digits).
#[inline]
fn escape_end(input: &[u8], pos: usize) -> Result<usize> {
    match input.get(pos) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(pos + 1),
        Some(b'u') => match input.get(pos + 1..pos + 5) {
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(pos + 5),
            _ => Err(Declined),
        },
        _ => Err(Declined),
    }
}

/// With `pos` just past an opening quote: the position of the closing quote, and whether the
/// contents hold escapes. Control characters are refused, as by serde_json.
#[inline(always)]
fn string_end(input: &[u8], mut pos: usize) -> Result<(usize, bool)> {
    let mut escaped = false;
    loop {
        pos = plain_end(input, pos);
        match input.get(pos) {
            Some(b'"') => return Ok((pos, escaped)),
            Some(b'\\') => {
                escaped = true;
                pos = escape_end(input, pos + 1)?;
            }
            _ => return Err(Declined),
        }
    }
}

/// With `pos` at a literal's first byte: the position past `word`, if it is there.
#[inline]
fn literal_end(input: &[u8], pos: usize, word: &[u8]) -> Result<usize> {
    match input.get(pos..pos + word.len()) {
        Some(bytes) if bytes == word => Ok(pos + word.len()),
        _ => Err(Declined),
    }
}

/// With `pos` at a number's first byte: the position past it, checked as serde_json checks a
/// number it ignores: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (its value unread, so
/// no range to check).
fn number_end(input: &[u8], mut pos: usize) -> Result<usize> {
    let digits = |mut pos: usize| {
        while input.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        pos
    };
    if input.get(pos) == Some(&b'-') {
        pos += 1;
    }
    match input.get(pos) {
        Some(b'0') => {
            pos += 1;
            if input.get(pos).is_some_and(u8::is_ascii_digit) {
                return Err(Declined);
            }
        }
        Some(b'1'..=b'9') => pos = digits(pos + 1),
        _ => return Err(Declined),
    }
    if input.get(pos) == Some(&b'.') {
        let end = digits(pos + 1);
        if end == pos + 1 {
            return Err(Declined);
        }
        pos = end;
    }
    if let Some(b'e' | b'E') = input.get(pos) {
        pos += 1;
        if let Some(b'+' | b'-') = input.get(pos) {
            pos += 1;
        }
        let end = digits(pos);
        if end == pos {
            return Err(Declined);
        }
        pos = end;
    }
    Ok(pos)
}

/// With `pos` at or before an object key (whitespace allowed): the position past the key and
/// its colon.
#[inline(always)]
fn key_end(input: &[u8], pos: usize) -> Result<usize> {
    let pos = ws(input, pos);
    if input.get(pos) != Some(&b'"') {
        return Err(Declined);
    }
    let (pos, _) = string_end(input, pos + 1)?;
    let pos = ws(input, pos + 1);
    if input.get(pos) != Some(&b':') {
        return Err(Declined);
    }
    Ok(pos + 1)
}

impl<'de> Reader<'de> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Skips whitespace.
    #[inline(always)]
    fn skip_ws(&mut self) {
        self.pos = ws(self.input, self.pos);
    }

    /// Skips whitespace and takes `byte`, or declines.
    fn take(&mut self, byte: u8) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Declined)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        self.pos = literal_end(self.input, self.pos, word)?;
        Ok(())
    }

    /// With `pos` just past an opening quote: moves past the closing quote and returns the
    /// string's raw contents and whether they hold escapes.
    #[inline]
    fn string(&mut self) -> Result<(&'de [u8], bool)> {
        let start = self.pos;
        let (end, escaped) = string_end(self.input, start)?;
        self.pos = end + 1;
        Ok((self.input.get(start..end).ok_or(Declined)?, escaped))
    }

    /// Hands the bytes `start..pos` (one whole value) to serde_json, with the same
    /// `Deserializer` method this reader was asked for.
    fn by_serde_json<T>(
        &self,
        start: usize,
        read: impl FnOnce(&mut JsonDeserializer<'de>) -> serde_json::Result<T>,
    ) -> Result<T> {
        let bytes = self.input.get(start..self.pos).ok_or(Declined)?;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = read(&mut de).map_err(|_| Declined)?;
        de.end().map_err(|_| Declined)?;
        Ok(value)
    }

    /// With `pos` at a number's first byte: moves past every byte a number can hold and hands
    /// them to serde_json, which reads them as one number or fails (as it would have in place:
    /// a number's bytes left over could not have been followed by anything valid).
    fn number<T>(
        &mut self,
        read: impl FnOnce(&mut JsonDeserializer<'de>) -> serde_json::Result<T>,
    ) -> Result<T> {
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.pos += 1;
        }
        self.by_serde_json(start, read)
    }

    /// Reads a string value (`pos` at its opening quote) for `deserialize_str` and its kin.
    fn str_value<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        self.pos += 1;
        match self.string()? {
            (contents, false) => {
                let text = std::str::from_utf8(contents).map_err(|_| Declined)?;
                visitor.visit_borrowed_str(text)
            }
            (_, true) => self.by_serde_json(start, |de| de.deserialize_str(visitor)),
        }
    }

    /// Reads a string value (`pos` at its opening quote) for `deserialize_bytes`: the raw
    /// contents, not UTF-8-checked, as serde_json does.
    fn bytes_value<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        self.pos += 1;
        match self.string()? {
            (contents, false) => visitor.visit_borrowed_bytes(contents),
            (_, true) => self.by_serde_json(start, |de| de.deserialize_bytes(visitor)),
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Declined);
        }
        Ok(())
    }

    /// `pos` at `{`.
    fn map_value<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        self.pos += 1;
        let value = visitor.visit_map(Entries {
            reader: self,
            first: true,
        })?;
        self.depth -= 1;
        self.take(b'}')?;
        Ok(value)
    }

    /// `pos` at `[`.
    fn seq_value<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        self.pos += 1;
        let value = visitor.visit_seq(Elements {
            reader: self,
            first: true,
        })?;
        self.depth -= 1;
        self.take(b']')?;
        Ok(value)
    }

    /// Before the next member of an array or object whose closing byte is `close`: `false` at
    /// its end, `true` with `pos` at the member (past its comma after the first). A comma
    /// followed by the end is refused, as by serde_json.
    fn next_member(&mut self, first: &mut bool, close: u8) -> Result<bool> {
        self.skip_ws();
        match self.peek() {
            Some(byte) if byte == close => return Ok(false),
            Some(b',') if !*first => {
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(close) {
                    return Err(Declined);
                }
            }
            Some(_) if *first => {}
            _ => return Err(Declined),
        }
        *first = false;
        Ok(true)
    }

    /// Skips one value, checking it as serde_json checks what it ignores. Iterative, so deep
    /// nesting cannot exhaust the stack: open containers are bits of `open` (1 for an object).
    fn skip_value(&mut self) -> Result<()> {
        let input = self.input;
        let mut pos = self.pos;
        let mut open: u128 = 0;
        let mut levels = 0usize;
        let room = MAX_DEPTH.saturating_sub(self.depth);
        loop {
            // A value.
            pos = ws(input, pos);
            match input.get(pos) {
                Some(&byte @ (b'{' | b'[')) => {
                    if levels >= room {
                        return Err(Declined);
                    }
                    pos = ws(input, pos + 1);
                    let object = byte == b'{';
                    let close = if object { b'}' } else { b']' };
                    if input.get(pos) == Some(&close) {
                        pos += 1;
                    } else {
                        levels += 1;
                        open = (open << 1) | u128::from(object);
                        if object {
                            pos = key_end(input, pos)?;
                        }
                        continue;
                    }
                }
                Some(b'"') => pos = string_end(input, pos + 1)?.0 + 1,
                Some(b't') => pos = literal_end(input, pos, b"true")?,
                Some(b'f') => pos = literal_end(input, pos, b"false")?,
                Some(b'n') => pos = literal_end(input, pos, b"null")?,
                Some(b'-' | b'0'..=b'9') => pos = number_end(input, pos)?,
                _ => return Err(Declined),
            }
            // After a value: close what ends here, then go on to the next value or stop.
            loop {
                if levels == 0 {
                    self.pos = pos;
                    return Ok(());
                }
                pos = ws(input, pos);
                let in_object = open & 1 == 1;
                match input.get(pos) {
                    Some(b',') => {
                        pos += 1;
                        if in_object {
                            pos = key_end(input, pos)?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return Err(Declined),
                }
                pos += 1;
                open >>= 1;
                levels -= 1;
            }
        }
    }
}

macro_rules! numbers {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                self.skip_ws();
                match self.peek() {
                    Some(b'-' | b'0'..=b'9') => self.number(|de| de.$method(visitor)),
                    _ => Err(Declined),
                }
            }
        )*
    };
}

macro_rules! declined_numbers {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
                Err(Declined)
            }
        )*
    };
}

/// The newtype name under which the AdmissionReview view's `RawJson` asks for a value's text:
/// this reader gives it the bytes of the value it skips (checked as serde_json checks the
/// `RawValue` it gives instead: the value as it ignores one, then the whole text as UTF-8).
pub(crate) const RAW_JSON: &str = "$mtp_policy::RawJson";

/// serde_json's `RawValue` asks for itself as a newtype of a private name: declined.
fn not_raw_value(name: &str) -> Result<()> {
    if name.starts_with("$serde_json") {
        Err(Declined)
    } else {
        Ok(())
    }
}

/// `Deserializer` methods that are another method.
macro_rules! forward {
    ($($($method:ident)* => $to:ident;)*) => {
        $($(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
                self.$to(visitor)
            }
        )*)*
    };
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.map_value(visitor),
            Some(b'[') => self.seq_value(visitor),
            Some(b'"') => self.str_value(visitor),
            Some(b't') => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                visitor.visit_unit()
            }
            Some(b'-' | b'0'..=b'9') => self.number(|de| de.deserialize_any(visitor)),
            _ => Err(Declined),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        match self.peek() {
            Some(b't') => {
                self.literal(b"true")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                visitor.visit_bool(false)
            }
            _ => Err(Declined),
        }
    }

    numbers!(
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    );

    // serde_json reads chars, strings and identifiers as `deserialize_str`, byte buffers as
    // `deserialize_bytes`.
    forward! {
        deserialize_char deserialize_string deserialize_identifier => deserialize_str;
        deserialize_byte_buf => deserialize_bytes;
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.str_value(visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        match self.peek() {
            Some(b'"') => self.bytes_value(visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        self.literal(b"null")?;
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == RAW_JSON {
            self.skip_ws();
            let start = self.pos;
            self.skip_value()?;
            let bytes = self.input.get(start..self.pos).ok_or(Declined)?;
            let text = std::str::from_utf8(bytes).map_err(|_| Declined)?;
            return visitor.visit_borrowed_str(text);
        }
        not_raw_value(name)?;
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        match self.peek() {
            Some(b'[') => self.seq_value(visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.map_value(visitor),
            _ => Err(Declined),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Declined)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_value()?;
        visitor.visit_unit()
    }
}

/// The entries of an object, after its `{`.
struct Entries<'r, 'de> {
    reader: &'r mut Reader<'de>,
    first: bool,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.reader.next_member(&mut self.first, b'}')? {
            return Ok(None);
        }
        let reader = &mut *self.reader;
        if reader.peek() != Some(b'"') {
            return Err(Declined);
        }
        seed.deserialize(KeyReader { reader }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.reader.take(b':')?;
        seed.deserialize(&mut *self.reader)
    }
}

/// The elements of an array, after its `[`.
struct Elements<'r, 'de> {
    reader: &'r mut Reader<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.reader.next_member(&mut self.first, b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

/// An object key (`pos` at its opening quote), read as serde_json's `MapKey` reads it: bytes
/// unchecked, everything string-like (an ignored key included) as a UTF-8-checked str.
struct KeyReader<'r, 'de> {
    reader: &'r mut Reader<'de>,
}

impl<'de> Deserializer<'de> for KeyReader<'_, 'de> {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.reader.str_value(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.reader.bytes_value(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.reader.bytes_value(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Map keys cannot be null.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        not_raw_value(name)?;
        visitor.visit_newtype_struct(self)
    }

    // serde_json reads these from inside the quotes (`"1": ...` as a number); left to it.
    fn deserialize_bool<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Declined)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value> {
        Err(Declined)
    }

    declined_numbers!(
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    );

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
