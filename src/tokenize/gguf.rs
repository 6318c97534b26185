//! A small reader for the metadata section of GGUF model files (versions 2 and
//! 3, little-endian). It reads the header and every key/value pair through a
//! `BufReader` and stops before the tensor infos and tensor data, so a model of
//! many gigabytes costs only its few megabytes of metadata. Errors are
//! `std::io::Error`s: `InvalidData` for a file that is not GGUF or is corrupt,
//! `UnexpectedEof` for a truncated one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// One metadata value, typed as in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<GgufValue>),
}

impl GgufValue {
    /// The string, for a `String` value.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any integer value widened to i64 (None for floats, strings, arrays, or u64 > i64::MAX).
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match *self {
            GgufValue::U8(v) => Some(v.into()),
            GgufValue::I8(v) => Some(v.into()),
            GgufValue::U16(v) => Some(v.into()),
            GgufValue::I16(v) => Some(v.into()),
            GgufValue::U32(v) => Some(v.into()),
            GgufValue::I32(v) => Some(v.into()),
            GgufValue::U64(v) => i64::try_from(v).ok(),
            GgufValue::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as JSON, the way Ollama's `/api/show` `model_info` shows it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            GgufValue::F32(v) => serde_json::json!(v),
            GgufValue::F64(v) => serde_json::json!(v),
            GgufValue::Bool(v) => Value::Bool(*v),
            GgufValue::String(s) => Value::String(s.clone()),
            GgufValue::Array(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            GgufValue::U64(v) => serde_json::json!(v),
            other => serde_json::json!(other.as_i64().unwrap_or_default()),
        }
    }
}

/// The header fields and all key/value metadata of a GGUF file.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufMetadata {
    pub version: u32,
    pub tensor_count: u64,
    pub kv: BTreeMap<String, GgufValue>,
}

impl GgufMetadata {
    /// A string value by key.
    #[cfg(test)]
    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        self.kv.get(key).and_then(GgufValue::as_str)
    }
}

/// Read the metadata of the GGUF file at `path`.
pub fn read_metadata(path: &Path) -> io::Result<GgufMetadata> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    read_metadata_from(BufReader::with_capacity(1 << 16, file), len)
}

/// Read GGUF metadata from any reader; `len` is the total size, used to reject
/// absurd string lengths and array counts before allocating for them.
pub(crate) fn read_metadata_from<R: Read>(reader: R, len: u64) -> io::Result<GgufMetadata> {
    let mut r = Reader { inner: reader, len };
    let magic = r.bytes::<4>()?;
    if &magic != b"GGUF" {
        return Err(invalid(format!(
            "bad magic {magic:02x?} (a GGUF file starts with \"GGUF\")"
        )));
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        let hint = if version.swap_bytes() <= 3 {
            " (a big-endian GGUF, not supported)"
        } else {
            ""
        };
        return Err(invalid(format!(
            "GGUF version {version}{hint}; versions 2 and 3 are supported"
        )));
    }
    let tensor_count = r.u64()?;
    let kv_count = r.u64()?;
    r.check_count(kv_count, "metadata key/value count")?;
    let mut kv = BTreeMap::new();
    for _ in 0..kv_count {
        let key = r.string()?;
        let ty = r.u32()?;
        let value = r
            .value(ty)
            .map_err(|e| io::Error::new(e.kind(), format!("metadata key `{key}`: {e}")))?;
        kv.insert(key, value);
    }
    Ok(GgufMetadata {
        version,
        tensor_count,
        kv,
    })
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

struct Reader<R> {
    inner: R,
    len: u64,
}

impl<R: Read> Reader<R> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    /// Every element takes at least one byte, so a count above the file size is corrupt.
    fn check_count(&self, count: u64, what: &str) -> io::Result<usize> {
        if count > self.len {
            return Err(invalid(format!(
                "{what} {count} exceeds the file size {}",
                self.len
            )));
        }
        usize::try_from(count).map_err(|_| invalid(format!("{what} {count} too large")))
    }

    fn string(&mut self) -> io::Result<String> {
        let n = self.u64()?;
        let n = self.check_count(n, "string length")?;
        let mut buf = vec![0u8; n];
        self.inner.read_exact(&mut buf)?;
        Ok(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn value(&mut self, ty: u32) -> io::Result<GgufValue> {
        Ok(match ty {
            0 => GgufValue::U8(u8::from_le_bytes(self.bytes()?)),
            1 => GgufValue::I8(i8::from_le_bytes(self.bytes()?)),
            2 => GgufValue::U16(u16::from_le_bytes(self.bytes()?)),
            3 => GgufValue::I16(i16::from_le_bytes(self.bytes()?)),
            4 => GgufValue::U32(self.u32()?),
            5 => GgufValue::I32(i32::from_le_bytes(self.bytes()?)),
            6 => GgufValue::F32(f32::from_le_bytes(self.bytes()?)),
            7 => match self.bytes::<1>()?[0] {
                0 => GgufValue::Bool(false),
                1 => GgufValue::Bool(true),
                b => return Err(invalid(format!("bool byte {b}"))),
            },
            8 => GgufValue::String(self.string()?),
            9 => {
                let elem = self.u32()?;
                if elem == 9 {
                    return Err(invalid("nested arrays are not supported".into()));
                }
                let n = self.u64()?;
                let n = self.check_count(n, "array length")?;
                let mut items = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    items.push(self.value(elem)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(self.u64()?),
            11 => GgufValue::I64(i64::from_le_bytes(self.bytes()?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.bytes()?)),
            other => return Err(invalid(format!("unknown value type {other}"))),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds GGUF bytes for tests: header plus the given raw key/value records.
    pub(crate) fn gguf_bytes(version: u32, records: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(version.to_le_bytes());
        out.extend(0u64.to_le_bytes());
        out.extend((records.len() as u64).to_le_bytes());
        for r in records {
            out.extend(r);
        }
        out
    }

    pub(crate) fn gstr(s: &str) -> Vec<u8> {
        let mut out = (s.len() as u64).to_le_bytes().to_vec();
        out.extend(s.as_bytes());
        out
    }

    /// A key/value record: key, type id, raw value bytes.
    pub(crate) fn record(key: &str, ty: u32, value: Vec<u8>) -> Vec<u8> {
        let mut out = gstr(key);
        out.extend(ty.to_le_bytes());
        out.extend(value);
        out
    }

    pub(crate) fn str_array(items: &[&str]) -> Vec<u8> {
        let mut out = 8u32.to_le_bytes().to_vec();
        out.extend((items.len() as u64).to_le_bytes());
        for s in items {
            out.extend(gstr(s));
        }
        out
    }

    fn parse(bytes: &[u8]) -> io::Result<GgufMetadata> {
        read_metadata_from(bytes, bytes.len() as u64)
    }

    #[test]
    fn reads_every_scalar_type_strings_and_arrays() {
        let mut i32_array = 5u32.to_le_bytes().to_vec();
        i32_array.extend(2u64.to_le_bytes());
        i32_array.extend((-1i32).to_le_bytes());
        i32_array.extend(3i32.to_le_bytes());
        let records = vec![
            record("u8", 0, vec![7]),
            record("i8", 1, vec![0xff]),
            record("u16", 2, 513u16.to_le_bytes().to_vec()),
            record("i16", 3, (-2i16).to_le_bytes().to_vec()),
            record("u32", 4, 70000u32.to_le_bytes().to_vec()),
            record("i32", 5, (-70000i32).to_le_bytes().to_vec()),
            record("f32", 6, 1.5f32.to_le_bytes().to_vec()),
            record("bool", 7, vec![1]),
            record("str", 8, gstr("héllo")),
            record("strs", 9, str_array(&["a", "b c"])),
            record("ints", 9, i32_array),
            record("u64", 10, u64::MAX.to_le_bytes().to_vec()),
            record("i64", 11, (-5i64).to_le_bytes().to_vec()),
            record("f64", 12, 0.25f64.to_le_bytes().to_vec()),
        ];
        let meta = parse(&gguf_bytes(3, &records)).expect("parse");
        assert_eq!(meta.version, 3);
        let get = |k: &str| meta.kv.get(k).cloned().expect(k);
        assert_eq!(get("u8"), GgufValue::U8(7));
        assert_eq!(get("i8"), GgufValue::I8(-1));
        assert_eq!(get("u16").as_i64(), Some(513));
        assert_eq!(get("i16").as_i64(), Some(-2));
        assert_eq!(get("u32").as_i64(), Some(70000));
        assert_eq!(get("i32").as_i64(), Some(-70000));
        assert_eq!(get("f32"), GgufValue::F32(1.5));
        assert_eq!(get("bool"), GgufValue::Bool(true));
        assert_eq!(meta.get_str("str"), Some("héllo"));
        assert_eq!(get("strs").to_json(), serde_json::json!(["a", "b c"]));
        assert_eq!(get("ints").to_json(), serde_json::json!([-1, 3]));
        assert_eq!(get("u64").as_i64(), None);
        assert_eq!(get("u64").to_json(), serde_json::json!(u64::MAX));
        assert_eq!(get("i64").as_i64(), Some(-5));
        assert_eq!(get("f64"), GgufValue::F64(0.25));
    }

    #[test]
    fn rejects_bad_magic_version_and_truncation() {
        let err = parse(b"GGML\x03\0\0\0").expect_err("magic");
        assert!(err.to_string().contains("bad magic"), "{err}");
        let err = parse(&gguf_bytes(1, &[])).expect_err("version");
        assert!(err.to_string().contains("version 1"), "{err}");
        let err = parse(&gguf_bytes(0x0300_0000, &[])).expect_err("endianness");
        assert!(err.to_string().contains("big-endian"), "{err}");
        let mut bytes = gguf_bytes(3, &[record("s", 8, gstr("abcdef"))]);
        bytes.truncate(bytes.len() - 2);
        let err = parse(&bytes).expect_err("truncated");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn rejects_absurd_lengths_and_unknown_types() {
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.extend(b"x");
        let err = parse(&gguf_bytes(3, &[record("s", 8, huge)])).expect_err("len");
        assert!(err.to_string().contains("metadata key `s`"), "{err}");
        assert!(err.to_string().contains("exceeds the file size"), "{err}");
        let err = parse(&gguf_bytes(2, &[record("t", 42, vec![])])).expect_err("type");
        assert!(err.to_string().contains("unknown value type 42"), "{err}");
    }
}
