//! Deserialization helpers shared by the borrowed views (the AdmissionReview of `admission` and
//! the objects of `pod_security`): borrowed strings, map keys matched as bytes, and a macro that
//! implements `Deserialize` for structs of optional fields.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A string that borrows from the input when it can (no escapes), else owns its text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

/// A map key, matched as bytes: JSON keys are not UTF-8-validated, which is most of the cost
/// of reading a struct beyond merely skipping over it.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, [u8]>);

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_vec())))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v.as_bytes())))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.as_bytes().to_vec())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.into_bytes())))
    }
}

impl<'a> Key<'a> {
    /// The key as text, for the few keys that are kept.
    pub(crate) fn into_text<E: de::Error>(self) -> Result<Text<'a>, E> {
        let text = match self.0 {
            Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).map_err(E::custom)?),
            Cow::Owned(b) => Cow::Owned(String::from_utf8(b).map_err(E::custom)?),
        };
        Ok(Text(text))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(KeyVisitor)
    }
}

/// Implements `Deserialize` for a struct of optional fields: each listed key fills its field,
/// every other key is skipped unread. (What serde's derive does, with keys matched as bytes.)
macro_rules! deserialize_fields {
    // A struct generic over one type (the payload of `object` in the AdmissionReview view).
    ($ty:ident <$lt:lifetime, $g:ident>, $what:literal, { $($key:literal => $field:ident),* $(,)? }) => {
        impl<'de: $lt, $lt, $g: ::serde::Deserialize<'de>> ::serde::Deserialize<'de> for $ty<$lt, $g> {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                struct FieldsVisitor<$lt, $g>(std::marker::PhantomData<$ty<$lt, $g>>);
                impl<'de: $lt, $lt, $g: ::serde::Deserialize<'de>> ::serde::de::Visitor<'de> for FieldsVisitor<$lt, $g> {
                    type Value = $ty<$lt, $g>;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<M: ::serde::de::MapAccess<'de>>(self, mut map: M) -> ::std::result::Result<Self::Value, M::Error> {
                        let mut out = <$ty<$lt, $g>>::default();
                        while let Some(key) = map.next_key::<$crate::de::Key<'de>>()? {
                            match &*key.0 {
                                $( k if k == $key.as_bytes() => out.$field = map.next_value()?, )*
                                _ => {
                                    map.next_value::<::serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(FieldsVisitor(std::marker::PhantomData))
            }
        }
    };
    ($ty:ident $(<$lt:lifetime>)?, $what:literal, { $($key:literal => $field:ident),* $(,)? }) => {
        impl<'de $(: $lt, $lt)?> ::serde::Deserialize<'de> for $ty $(<$lt>)? {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                struct FieldsVisitor $(<$lt>)? (std::marker::PhantomData<$ty $(<$lt>)?>);
                impl<'de $(: $lt, $lt)?> ::serde::de::Visitor<'de> for FieldsVisitor $(<$lt>)? {
                    type Value = $ty $(<$lt>)?;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_map<M: ::serde::de::MapAccess<'de>>(self, mut map: M) -> ::std::result::Result<Self::Value, M::Error> {
                        let mut out = <$ty>::default();
                        while let Some(key) = map.next_key::<$crate::de::Key<'de>>()? {
                            match &*key.0 {
                                $( k if k == $key.as_bytes() => out.$field = map.next_value()?, )*
                                _ => {
                                    map.next_value::<::serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(FieldsVisitor(std::marker::PhantomData))
            }
        }
    };
}
