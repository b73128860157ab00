//! Addresses in `--json` output: as `"0x…"` strings. JSON numbers are
//! doubles in most readers, which lose bits above 2^53, and kernel
//! addresses (`0xffff_ea00_…`) are far above that; a string keeps every
//! bit, and every address field uses it, large or small, so its type never
//! depends on its value.

use serde::Serializer;

/// An address as a hex string.
pub fn hex<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:#x}"))
}

/// A range of addresses as two hex strings.
pub fn hex_pair<S: Serializer>(v: &(u64, u64), s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeTuple;
    let mut t = s.serialize_tuple(2)?;
    t.serialize_element(&format!("{:#x}", v.0))?;
    t.serialize_element(&format!("{:#x}", v.1))?;
    t.end()
}

/// An optional address as a hex string or `null`.
pub fn hex_opt<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => hex(v, s),
        None => s.serialize_none(),
    }
}

/// An optional range as two hex strings or `null`.
pub fn hex_opt_pair<S: Serializer>(v: &Option<(u64, u64)>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => hex_pair(v, s),
        None => s.serialize_none(),
    }
}
