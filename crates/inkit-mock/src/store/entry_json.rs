//! A History entry's stored JSON, written by hand. Every generate stores one, and serde's derived
//! serialiser spent more on it than on anything else the request does (field names escaped at run time,
//! a writer call per fragment). This writes exactly serde's bytes (a test compares the two on entries
//! with every field set, and with every kind of text), so records read back as before.
//!
//! A field added to `HistoryEntry` must be added here too: the test builds entries with every field, so
//! it stops compiling until it is updated, and fails until this writes the field.

use serde_json::Value;

use crate::history::{EntryKind, HistoryEntry};

/// Appends `e` as `serde_json::to_string(e)` would write it.
pub fn write(e: &HistoryEntry, out: &mut String) {
    out.push_str("{\"seq\":");
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut seq = e.seq;
    loop {
        at -= 1;
        digits[at] = b'0' + (seq % 10) as u8;
        seq /= 10;
        if seq == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).expect("decimal digits"));
    out.push_str(",\"id\":");
    string(&e.id, out);
    if let Some(doc) = &e.document_id {
        out.push_str(",\"document_id\":");
        string(doc, out);
    }
    out.push_str(match e.kind {
        EntryKind::Render => ",\"kind\":\"render\"",
        EntryKind::Test => ",\"kind\":\"test\"",
    });
    out.push_str(",\"route\":");
    string(&e.route, out);
    optional("batch_id", e.batch_id.as_deref(), out);
    optional("template_id", e.template_id.as_deref(), out);
    optional("template_name", e.template_name.as_deref(), out);
    optional("name", e.name.as_deref(), out);
    optional("description", e.description.as_deref(), out);
    if !e.merge_parameters.is_empty() {
        out.push_str(",\"merge_parameters\":");
        out.push_str(e.merge_parameters.as_json());
    }
    if let Some(d) = &e.destinations {
        out.push_str(",\"destinations\":");
        value(d, out);
    }
    out.push_str(",\"folder_id\":");
    string(&e.folder_id, out);
    if !e.warnings.is_empty() {
        out.push_str(",\"warnings\":");
        out.push_str(&serde_json::to_string(&e.warnings).expect("warnings serialise"));
    }
    out.push_str(",\"created_at\":\"");
    super::time::write(e.created_at, out);
    out.push_str("\",\"ready_at\":\"");
    super::time::write(e.ready_at, out);
    out.push_str("\",\"created_by\":");
    string(&e.created_by, out);
    if !e.request_headers.is_empty() {
        out.push_str(",\"request_headers\":{");
        for (i, (name, v)) in e.request_headers.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            string(name, out);
            out.push(':');
            string(v, out);
        }
        out.push('}');
    }
    optional("idempotency_key", e.idempotency_key.as_deref(), out);
    optional("duplicate_of", e.duplicate_of.as_deref(), out);
    if let Some(body) = &e.test_body {
        out.push_str(",\"test_body\":");
        value(body, out);
    }
    if let Some(t) = e.deleted_at {
        out.push_str(",\"deleted_at\":\"");
        super::time::write(t, out);
        out.push('"');
    }
    out.push('}');
}

fn optional(key: &str, v: Option<&str>, out: &mut String) {
    if let Some(v) = v {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        string(v, out);
    }
}

fn value(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => string(s, out),
        Value::Null => out.push_str("null"),
        other => out.push_str(&serde_json::to_string(other).expect("a JSON value serialises")),
    }
}

/// A JSON string escaped as serde_json escapes it: `"` and `\` with a backslash, the control characters
/// with their short escape or `\u00XX`, everything else as it is.
pub(crate) fn string(s: &str, out: &mut String) {
    out.push('"');
    if !needs_escaping(s.as_bytes()) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Whether `s` holds a byte JSON must escape (`"`, `\` or a control character), looking at eight bytes
/// at a time: most texts have none, and are then copied whole.
fn needs_escaping(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // A byte below `n` (n <= 128) sets its high bit here; exact as to whether there is one.
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS;
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("chunks of eight"));
        if below(x, 0x20) | below(x ^ (ONES * u64::from(b'"')), 1) | below(x ^ (ONES * u64::from(b'\\')), 1) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::merge::Warning;
    use crate::merge_parameters::MergeParameters;

    fn ours(e: &HistoryEntry) -> String {
        let mut out = String::new();
        write(e, &mut out);
        out
    }

    /// An entry with every field set, its texts made of `text`.
    fn full(text: &str) -> HistoryEntry {
        HistoryEntry {
            seq: 18_446_744_073_709_551_615,
            id: format!("rend_{text}").into(),
            document_id: Some(format!("doc_{text}").into()),
            kind: EntryKind::Render,
            route: format!("POST /v1/generate{text}").into(),
            batch_id: Some(format!("rb_{text}")),
            template_id: Some(text.into()),
            template_name: Some(text.into()),
            name: Some(text.into()),
            description: Some(text.into()),
            merge_parameters: MergeParameters::from_map(
                json!({
                    text: text, "n": 1, "f": -1.5e-7, "big": 18_446_744_073_709_551_615u64, "t": true, "null": null,
                    "nested": {"a": [1, text]},
                })
                .as_object()
                .unwrap(),
            ),
            destinations: Some(json!({"inkit_storage": {"folder_id": text, "expire_after_n_views": 2}})),
            folder_id: text.into(),
            warnings: vec![Warning { code: "missing_merge_field".into(), field: text.into(), message: text.into() }],
            created_at: "2026-11-27T09:54:46.587175538Z".parse().unwrap(),
            ready_at: "2026-11-27T09:54:47Z".parse().unwrap(),
            created_by: text.into(),
            request_headers: BTreeMap::from([("idempotency-key".into(), text.into()), ("a".into(), "b".into())]),
            idempotency_key: Some(text.into()),
            duplicate_of: Some(text.into()),
            test_body: Some(json!({"is_test": true, "profiles": [text]})),
            deleted_at: Some("2026-11-28T00:00:00.1Z".parse().unwrap()),
        }
    }

    #[test]
    fn an_entry_with_every_field_is_written_as_serde_writes_it() {
        let texts =
            ["plain", "", "quote\" backslash\\ slash/", "é ✓ 😀 \u{7f} \u{2028}", "\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{1}"];
        for text in texts {
            let e = full(text);
            assert_eq!(ours(&e), serde_json::to_string(&e).unwrap(), "{text:?}");
        }
        let mut every_byte = String::new();
        for c in (0u8..=0x7f).map(char::from).chain(['é', '€', '😀']) {
            every_byte.push(c);
        }
        let e = full(&every_byte);
        assert_eq!(ours(&e), serde_json::to_string(&e).unwrap());
    }

    #[test]
    fn every_byte_that_needs_escaping_is_found_wherever_it_is() {
        for len in 0..20 {
            for at in 0..len {
                for b in 0u8..=0x7f {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(needs_escaping(&s), b < 0x20 || b == b'"' || b == b'\\', "{s:?}");
                }
            }
        }
        assert!(!needs_escaping("é ✓ 😀 \u{7f} \u{2028} plain text of some length".as_bytes()));
    }

    #[test]
    fn an_entry_with_only_its_required_fields_is_written_as_serde_writes_it() {
        let e = HistoryEntry::required_only(0, "test_x", EntryKind::Test, "1969-07-20T20:17:40Z".parse().unwrap());
        assert_eq!(ours(&e), serde_json::to_string(&e).unwrap());
    }
}
