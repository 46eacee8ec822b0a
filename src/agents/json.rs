//! Lenient, mostly borrowing JSON pieces for the stream parsers.
//!
//! The parsers deserialize each line into small structs that borrow from the line, so a 100 MB
//! stream costs little more than one pass of the JSON scanner. Fields whose type a CLI might change
//! use [`Loose`], which accepts any JSON value and keeps only scalars, so an unexpected type never
//! turns a whole line into `Raw`. [`Content`] is the "string or list of blocks" shape that Claude's
//! message and tool-result `content` fields have.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Any JSON value, keeping only scalars.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Loose<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    #[default]
    Null,
    /// An object or array (skipped).
    Other,
}

impl<'a> Loose<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Loose::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Loose::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_f64().filter(|n| *n >= 0.0).map(|n| n as u64)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Loose::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

struct LooseVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for LooseVisitor<'a> {
    type Value = Loose<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Loose::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Loose::Num(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Loose::Num(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(PhantomData))
    }
}

/// `content` as Claude-style APIs send it: a plain string, or a list of typed blocks.
#[derive(Debug, Default)]
pub(crate) enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
    #[default]
    None,
}

/// One content block. Only the fields the parsers use are kept.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Block<'a> {
    #[serde(rename = "type", default, borrow)]
    pub kind: Loose<'a>,
    #[serde(default, borrow)]
    pub text: Loose<'a>,
    #[serde(default, borrow)]
    pub thinking: Loose<'a>,
    #[serde(default, borrow)]
    pub name: Loose<'a>,
    #[serde(default)]
    pub input: Option<serde_json::Value>,
    #[serde(default, borrow)]
    pub is_error: Loose<'a>,
    #[serde(default, borrow)]
    pub content: Content<'a>,
}

impl Content<'_> {
    /// The text of a string, or of the `text` blocks joined by newlines.
    pub fn joined_text(&self) -> String {
        match self {
            Content::Text(t) => t.to_string(),
            Content::Blocks(blocks) => blocks
                .iter()
                .filter_map(|b| b.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            Content::None => String::new(),
        }
    }

    pub fn blocks(&self) -> &[Block<'_>] {
        match self {
            Content::Blocks(b) => b,
            _ => &[],
        }
    }
}

struct ContentVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ContentVisitor<'a> {
    type Value = Content<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of content blocks")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Content::Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Content::Text(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Content::Text(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut blocks = Vec::new();
        while let Some(b) = seq.next_element::<Block<'a>>()? {
            blocks.push(b);
        }
        Ok(Content::Blocks(blocks))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Content::None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Content::None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Content::None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Content::None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Content::None)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ContentVisitor(PhantomData))
    }
}

/// A token count that tolerates null, strings and other surprises (they count as 0).
pub(crate) fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Loose::deserialize(d)?.as_u64().unwrap_or(0))
}

/// An object deserialized as `T`, or `None` for any other JSON value: a field that is an object
/// on some lines and a string on others (claude's `message`) never turns a line into `Raw`.
pub(crate) fn object_or_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    d.deserialize_any(ObjectVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(default, borrow)]
        a: Loose<'a>,
        #[serde(default, borrow)]
        c: Content<'a>,
        #[serde(default, deserialize_with = "count")]
        n: u64,
    }

    #[test]
    fn loose_accepts_anything() {
        for (line, want) in [
            (r#"{"a":"x"}"#, Loose::Str("x".into())),
            (r#"{"a":"x\n"}"#, Loose::Str("x\n".into())),
            (r#"{"a":3}"#, Loose::Num(3.0)),
            (r#"{"a":{"b":[1,2]}}"#, Loose::Other),
            (r#"{"a":null}"#, Loose::Null),
            (r#"{}"#, Loose::Null),
        ] {
            let p: Probe = serde_json::from_str(line).unwrap();
            assert_eq!(p.a, want, "{line}");
        }
    }

    #[test]
    fn content_string_or_blocks() {
        let p: Probe = serde_json::from_str(r#"{"c":"hi","n":null}"#).unwrap();
        assert_eq!(p.c.joined_text(), "hi");
        assert_eq!(p.n, 0);
        let p: Probe =
            serde_json::from_str(r#"{"c":[{"type":"text","text":"a"},{"type":"image"},{"type":"text","text":"b"}],"n":7}"#)
                .unwrap();
        assert_eq!(p.c.joined_text(), "a\nb");
        assert_eq!(p.n, 7);
    }
}
