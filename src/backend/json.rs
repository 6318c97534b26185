//! Serde helpers for the stream decoders: lenient numbers (servers disagree
//! on integer vs float, and a missing value must stay `None`, never 0) and
//! "first element of an array" without allocating a `Vec` per chunk. Unknown
//! fields are skipped by serde without allocating, so a chunk struct costs
//! only the strings that end up in events.

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::marker::PhantomData;

/// A non-negative count or duration: accepts an integer, a float (rounded) or
/// null. Negative or non-finite values read as `None` (unknown).
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a non-negative number or null")
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(float_to_u64(v))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

/// A duration in (float) milliseconds, as llama.cpp reports it, read as ns.
pub(crate) fn opt_ms_as_ns<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let ms: Option<f64> = Option::deserialize(d)?;
    Ok(ms.and_then(|ms| float_to_u64(ms * 1e6)))
}

fn float_to_u64(v: f64) -> Option<u64> {
    // `as` saturates at u64::MAX, which is fine for absurd values.
    (v.is_finite() && v >= 0.0).then(|| v.round() as u64)
}

/// The first element of an array; `null` and `[]` read as `None`. The rest of
/// the array is skipped without being stored.
pub(crate) fn first<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array or null")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let head = seq.next_element::<T>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(head)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_u64")]
        n: Option<u64>,
        #[serde(default, deserialize_with = "opt_ms_as_ns")]
        ms: Option<u64>,
        #[serde(default, deserialize_with = "first")]
        xs: Option<u32>,
    }

    fn t(s: &str) -> T {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn lenient_numbers() {
        assert_eq!(t(r#"{"n":5}"#).n, Some(5));
        assert_eq!(t(r#"{"n":5.6}"#).n, Some(6));
        assert_eq!(t(r#"{"n":-1}"#).n, None);
        assert_eq!(t(r#"{"n":null}"#).n, None);
        assert_eq!(t(r#"{}"#).n, None);
        assert_eq!(t(r#"{"ms":191.193}"#).ms, Some(191_193_000));
        assert_eq!(t(r#"{"ms":70}"#).ms, Some(70_000_000));
        assert!(serde_json::from_str::<T>(r#"{"n":"5"}"#).is_err());
    }

    #[test]
    fn first_element() {
        assert_eq!(t(r#"{"xs":[7,8,9]}"#).xs, Some(7));
        assert_eq!(t(r#"{"xs":[]}"#).xs, None);
        assert_eq!(t(r#"{"xs":null}"#).xs, None);
        assert_eq!(t(r#"{}"#).xs, None);
    }
}
