//! Inkit merge fields: finding `{{key}}` in template HTML and filling them from `merge_parameters`.
//!
//! Inkit documents `{{yourKey}}` and nothing more. Our choices (see `docs/decisions.md`): spaces inside the
//! braces are ignored and keys may contain spaces (`{{phone number}}`, as CleverTap's guide sends); a key
//! matches exactly, else after folding case and turning spaces and dashes into underscores (so the Node
//! SDK, which snake-cases merge keys, still fills them); values are HTML-escaped; a field without a value
//! renders blank and is reported as a warning, as is a parameter no field uses.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::merge_parameters::MergeParameters;

/// A merge problem recorded on the History entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// `missing_merge_field` or `unused_merge_parameter`.
    pub code: String,
    /// The field or parameter name.
    pub field: String,
    pub message: String,
}

/// A piece of template text: literal HTML or a merge field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(String),
}

/// A template's HTML split once into literal text and merge fields, so merging is a single pass.
#[derive(Debug, Clone)]
pub struct MergeTemplate {
    pieces: Vec<Piece>,
    /// Field names in order of first appearance, without repeats.
    variables: Vec<String>,
}

impl MergeTemplate {
    pub fn parse(html: &str) -> Self {
        let mut pieces = Vec::new();
        let mut variables: Vec<String> = Vec::new();
        let mut rest = html;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open + 2..].find("}}") else { break };
            let inner = &rest[open + 2..open + 2 + close];
            let key = inner.trim();
            // `{{}}`, nested braces or a line break inside mean this is not a merge field: keep it as text.
            if key.is_empty() || key.contains('{') || key.contains('\n') {
                pieces.push(Piece::Text(rest[..open + 2].to_owned()));
                rest = &rest[open + 2..];
                continue;
            }
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            if !variables.iter().any(|v| v == key) {
                variables.push(key.to_owned());
            }
            pieces.push(Piece::Field(key.to_owned()));
            rest = &rest[open + 2 + close + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Self { pieces, variables }
    }

    /// The merge variables, in order of first appearance.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// The warnings merging `params` would give, without building the HTML (the request path needs only
    /// these; the HTML is built when someone looks at the document).
    pub fn warnings(&self, params: &MergeParameters) -> Vec<Warning> {
        let keys = params.keys();
        let mut warnings = Vec::new();
        let mut used = vec![false; keys.len()];
        for var in &self.variables {
            match lookup_index(&keys, var) {
                Some(i) => used[i] = true,
                None => warnings.push(Warning {
                    code: "missing_merge_field".into(),
                    field: var.clone(),
                    message: format!("template field {{{{{var}}}}} has no value in merge_parameters; rendered blank"),
                }),
            }
        }
        for (key, used) in keys.iter().zip(used) {
            if !used {
                warnings.push(Warning {
                    code: "unused_merge_parameter".into(),
                    field: key.to_string(),
                    message: format!("merge parameter {key:?} is not used by the template"),
                });
            }
        }
        warnings
    }

    /// The HTML with every field replaced by its HTML-escaped value (blank when missing).
    pub fn merge(&self, params: &Map<String, Value>) -> String {
        let keys: Vec<&String> = params.keys().collect();
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(key) => {
                    if let Some(i) = lookup_index(&keys, key) {
                        let (_, value) = params.iter().nth(i).expect("index from lookup");
                        escape_html_into(&display_value(value), &mut out);
                    }
                }
            }
        }
        out
    }
}

/// Finds the parameter for a field: exact name first, then the folded form.
fn lookup_index(keys: &[impl AsRef<str>], key: &str) -> Option<usize> {
    if let Some(i) = keys.iter().position(|k| k.as_ref() == key) {
        return Some(i);
    }
    let folded = fold(key);
    keys.iter().position(|k| fold(k.as_ref()) == folded)
}

fn fold(key: &str) -> String {
    key.chars().map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_lowercase() }).collect()
}

/// How a parameter value prints: strings as they are, null as nothing, other JSON as JSON.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub fn escape_html_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn variables_are_listed_once_in_order_of_appearance() {
        let t = MergeTemplate::parse("<p>{{Name}} {{ email }} {{phone number}} {{Name}}</p>");
        assert_eq!(t.variables(), ["Name", "email", "phone number"]);
    }

    #[test]
    fn merging_escapes_values_and_blanks_missing_fields() {
        let t = MergeTemplate::parse("<p>Hi {{Name}}, {{email}}!</p>");
        let html = t.merge(&params(json!({"Name": "<Tom & \"Jerry\">"})));
        assert_eq!(html, "<p>Hi &lt;Tom &amp; &quot;Jerry&quot;&gt;, !</p>");
    }

    #[test]
    fn missing_fields_and_unused_parameters_are_warnings() {
        let t = MergeTemplate::parse("{{Name}} {{email}}");
        let w = t.warnings(&MergeParameters::from_map(&params(json!({"Name": "A", "phone number": "1"}))));
        let codes: Vec<_> = w.iter().map(|w| (w.code.as_str(), w.field.as_str())).collect();
        assert_eq!(codes, [("missing_merge_field", "email"), ("unused_merge_parameter", "phone number")]);
    }

    #[test]
    fn snake_cased_keys_from_the_node_sdk_still_fill_fields() {
        let t = MergeTemplate::parse("{{Name}}/{{phone number}}");
        let p = params(json!({"name": "Ada", "phone_number": "+1"}));
        assert_eq!(t.merge(&p), "Ada/+1");
        assert!(t.warnings(&MergeParameters::from_map(&p)).is_empty());
    }

    #[test]
    fn numbers_and_booleans_print_as_json_and_null_as_blank() {
        let t = MergeTemplate::parse("{{a}}|{{b}}|{{c}}");
        assert_eq!(t.merge(&params(json!({"a": 3.5, "b": true, "c": null}))), "3.5|true|");
    }

    #[test]
    fn braces_that_are_not_fields_stay_as_text() {
        let t = MergeTemplate::parse("a {{}} b {{ {x} }} c {{unclosed");
        assert!(t.variables().is_empty());
        assert_eq!(t.merge(&Map::new()), "a {{}} b {{ {x} }} c {{unclosed");
    }
}
