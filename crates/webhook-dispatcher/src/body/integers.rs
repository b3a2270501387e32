//! Integer literals the `liquid` crate cannot hold, found before it sees them.
//!
//! Its grammar takes any run of digits as an integer literal, then converts it with
//! `parse::<i64>().expect("Grammar ensures matches are parseable as integers.")`: a body with
//! `{{ Profile.Tags[99999999999999999999] }}` panicked while the campaign was saved (found by the `liquid_json_body`
//! fuzz target). Such a literal is a syntax error here, with its position.

use super::json_context::{Piece, split};

/// The byte offset and text of the first integer literal in a tag or output of `source` that does not fit in
/// an `i64`, if any. Digits inside quotes, identifiers (`x-1`, `a1`), floats (`1.5`), raw text and comments
/// are not integer literals and are not looked at.
pub fn oversized(source: &str) -> Option<(usize, &str)> {
    let mut in_comment = false;
    for piece in split(source) {
        let tag = match piece {
            Piece::Output { tag, .. } => tag,
            // The piece after `{% comment %}` is its body (see `split`); raw text comes as `Piece::Text`.
            Piece::Tag(_) if in_comment => {
                in_comment = false;
                continue;
            }
            Piece::Tag(tag) => {
                in_comment =
                    tag.trim_start_matches("{%").trim_start_matches('-').split_whitespace().next() == Some("comment");
                tag
            }
            Piece::Text(_) => continue,
        };
        let offset = tag.as_ptr() as usize - source.as_ptr() as usize;
        if let Some((at, literal)) = oversized_in_tag(tag) {
            return Some((offset + at, literal));
        }
    }
    None
}

/// The first oversized integer literal in one tag (`{{ … }}` or `{% … %}`), as an offset in it.
fn oversized_in_tag(tag: &str) -> Option<(usize, &str)> {
    let bytes = tag.as_bytes();
    let before = |i: usize, n: usize| i.checked_sub(n).map(|j| bytes[j]);
    let is_identifier_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut quote: Option<u8> = None;
    let mut i = 2; // past `{{` or `{%`
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote {
            if b == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if b == b'"' || b == b'\'' {
            quote = Some(b);
            i += 1;
            continue;
        }
        if !b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let is_float_part = (bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
            || (before(start, 1) == Some(b'.') && before(start, 2).is_some_and(|b| b.is_ascii_digit()));
        let sign = match before(start, 1) {
            // `{{-` and `{%-` are whitespace control, not a minus.
            Some(b'-') if start == 3 => None,
            Some(b'-') if before(start, 2).is_some_and(is_identifier_byte) => continue, // in a name: `MSG-1`
            Some(s @ (b'-' | b'+')) => Some(s),
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => continue, // in a name: `a1`
            Some(b'.') if before(start, 2).is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') => continue,
            _ => None,
        };
        if is_float_part {
            continue;
        }
        let from = if sign.is_some() { start - 1 } else { start };
        if tag[from..i].parse::<i64>().is_err() {
            return Some((from, &tag[from..i]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_beyond_64_bits_are_found_wherever_liquid_reads_a_literal() {
        let cases = [
            ("{{ 99999999999999999999 }}", "99999999999999999999"),
            ("{{ Profile.Tags[99999999999999999999] }}", "99999999999999999999"),
            ("{% if x > -99999999999999999999 %}{% endif %}", "-99999999999999999999"),
            ("{% if x+99999999999999999999 %}{% endif %}", "+99999999999999999999"),
            ("{{-9223372036854775808}}", "9223372036854775808"),
            ("{% for i in (1..99999999999999999999) %}{% endfor %}", "99999999999999999999"),
            ("{{ x | plus: 9223372036854775808 }}", "9223372036854775808"),
        ];
        for (source, literal) in cases {
            assert_eq!(oversized(source).map(|(_, l)| l), Some(literal), "{source}");
        }
        let (at, _) = oversized("ab{{ x[99999999999999999999] }}").unwrap();
        assert_eq!(at, 7);
    }

    #[test]
    fn digits_that_are_not_integer_literals_are_left_alone() {
        for source in [
            "{{ 9223372036854775807 }} {{ -9223372036854775808 }}",
            "{{ 99999999999999999999.5 }} {{ 1.99999999999999999999 }}",
            r#"{{ "99999999999999999999" | default: '99999999999999999999' }}"#,
            "{{ x-99999999999999999999 }} {{ a99999999999999999999 }} {{ MSG-99999999999999999999 }}",
            "99999999999999999999 {% raw %}{{ 99999999999999999999 }}{% endraw %}",
            "{% comment %}{{ 99999999999999999999 }}{% endcomment %}{{ 1 }}",
        ] {
            assert_eq!(oversized(source), None, "{source}");
        }
    }
}
