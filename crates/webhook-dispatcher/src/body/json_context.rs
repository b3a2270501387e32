//! Finding where each `{{ … }}` of a JSON body lands: inside a JSON string literal, or not.
//!
//! A value substituted inside a string must be escaped, or a profile whose name contains a quote breaks the
//! body. The source is scanned once, at compile time: the literal text between tags is read as JSON to
//! track whether it is inside a string, tags are skipped, and every output inside a string gets
//! `| json_string` appended. Outputs outside strings (`"age": {{ Profile.Age }}`) are left as written; if
//! what they produce is not valid JSON, the rendered body's check says where.

/// A piece of a body's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'s> {
    /// Literal text (including raw blocks).
    Text(&'s str),
    /// `{{ … }}`: `inner` is what stands between the braces, whitespace-control dashes included.
    Output { tag: &'s str, inner: &'s str, in_string: bool },
    /// `{% … %}` (and a comment's whole block), or an unclosed tag to the end.
    Tag(&'s str),
}

/// Splits `source` into pieces, noting for each output whether it lands inside a JSON string.
pub fn split(source: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut json = JsonScanner::default();
    let mut rest = source;
    while let Some(open) = next_tag(rest) {
        if open > 0 {
            json.feed(&rest[..open]);
            pieces.push(Piece::Text(&rest[..open]));
        }
        rest = &rest[open..];
        let is_output = rest.starts_with("{{");
        let Some(close) = tag_end(rest) else {
            // An unclosed tag: the Liquid parser will report it with its position.
            pieces.push(Piece::Tag(rest));
            return pieces;
        };
        let tag = &rest[..close];
        rest = &rest[close..];
        if is_output {
            pieces.push(Piece::Output { tag, inner: &tag[2..tag.len() - 2], in_string: json.in_string });
            continue;
        }
        pieces.push(Piece::Tag(tag));
        let name = tag.trim_start_matches("{%").trim_start_matches('-').split_whitespace().next().unwrap_or("");
        // Raw text is output as it is: it counts as JSON. Comments are not output at all.
        let end_name = match name {
            "raw" => "endraw",
            "comment" => "endcomment",
            _ => continue,
        };
        let end = find_end_tag(rest, end_name).unwrap_or(rest.len());
        if name == "raw" {
            json.feed(&rest[..end]);
            pieces.push(Piece::Text(&rest[..end]));
        } else {
            pieces.push(Piece::Tag(&rest[..end]));
        }
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        json.feed(rest);
        pieces.push(Piece::Text(rest));
    }
    pieces
}

/// The source with `| json_string` appended to each output that lies inside a JSON string, and the
/// number of outputs so marked.
pub fn escape_outputs_in_strings(source: &str) -> (String, usize) {
    let mut out = String::with_capacity(source.len() + 64);
    let mut marked = 0;
    for piece in split(source) {
        match piece {
            Piece::Text(t) | Piece::Tag(t) => out.push_str(t),
            Piece::Output { tag, in_string: false, .. } => out.push_str(tag),
            Piece::Output { inner, in_string: true, .. } => {
                // `{{ x -}}` keeps its whitespace control: the filter goes before the `-`.
                let (inner, trim) = match inner.strip_suffix('-') {
                    Some(i) => (i, "-"),
                    None => (inner, ""),
                };
                out.push_str("{{");
                out.push_str(inner.trim_end());
                out.push_str(" | json_string ");
                out.push_str(trim);
                out.push_str("}}");
                marked += 1;
            }
        }
    }
    (out, marked)
}

/// Where the next `{{` or `{%` starts.
pub(crate) fn next_tag(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    (0..bytes.len().saturating_sub(1)).find(|&i| bytes[i] == b'{' && (bytes[i + 1] == b'{' || bytes[i + 1] == b'%'))
}

/// The end (exclusive) of the tag (`{{ … }}` or `{% … %}`) starting at 0, skipping quoted Liquid strings
/// inside it.
pub(crate) fn tag_end(s: &str) -> Option<usize> {
    let closer = if s.starts_with("{{") { b'}' } else { b'%' };
    let bytes = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 2;
    while i + 1 < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == closer && bytes[i + 1] == b'}' => return Some(i + 2),
            None => {}
        }
        i += 1;
    }
    None
}

/// The start of `{% end_name %}` (with optional `-` and spaces).
fn find_end_tag(s: &str, end_name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find("{%") {
        let at = from + i;
        let inner = s[at + 2..].trim_start_matches('-').trim_start();
        if inner.starts_with(end_name) {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

/// Tracks whether JSON text read so far ends inside a string literal.
#[derive(Debug, Default)]
struct JsonScanner {
    in_string: bool,
    escaped: bool,
}

impl JsonScanner {
    fn feed(&mut self, text: &str) {
        for b in text.bytes() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
            } else if b == b'"' {
                self.in_string = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_inside_strings_are_marked_and_others_are_not() {
        let (out, n) = escape_outputs_in_strings(r#"{"a": "{{ x }}", "b": {{ y }}, "c": "pre {{z}} post"}"#);
        assert_eq!(out, r#"{"a": "{{ x | json_string }}", "b": {{ y }}, "c": "pre {{z | json_string }} post"}"#);
        assert_eq!(n, 2);
    }

    #[test]
    fn the_seed_body_marks_its_three_values() {
        let seed = r#"{"Name": "{{ Profile.name | default: "test" }}", "email": "{{ Profile.Email | default: "-" }}"}"#;
        let (out, n) = escape_outputs_in_strings(seed);
        assert_eq!(n, 2);
        assert!(out.contains(r#"{{ Profile.name | default: "test" | json_string }}"#), "{out}");
    }

    #[test]
    fn quotes_inside_tags_and_escaped_quotes_in_json_do_not_confuse_the_scan() {
        let src = r#"{"a": "say \"{{ x }}\"", {% if y == "}" %}"b": "{{ y }}"{% endif %}}"#;
        let (out, n) = escape_outputs_in_strings(src);
        assert_eq!(n, 2, "{out}");
    }

    #[test]
    fn whitespace_control_is_kept() {
        let (out, _) = escape_outputs_in_strings(r#""{{- x -}}""#);
        assert_eq!(out, r#""{{- x | json_string -}}""#);
    }

    #[test]
    fn raw_text_counts_as_json_and_comments_do_not() {
        let (out, n) =
            escape_outputs_in_strings(r#"{% raw %}"{% endraw %}{{ a }}{% comment %}"{% endcomment %}{{ b }}"#);
        assert_eq!(n, 2, "{out}");
    }

    #[test]
    fn an_unclosed_tag_is_left_for_the_parser_to_report() {
        let (out, n) = escape_outputs_in_strings(r#"{"a": "{{ x "#);
        assert_eq!((out.as_str(), n), (r#"{"a": "{{ x "#, 0));
    }
}
