//! A webhook's custom headers: names (HTTP tokens), values (no line breaks, `Debug` redacted), the headers the
//! dispatcher reserves for itself, and why a header is refused.

use std::fmt;

use super::{Auth, Redacted, WebhookError};

/// Headers the dispatcher sets itself; a webhook may not set them. `Authorization` is refused too when the
/// webhook has an `auth` other than `none`.
pub const RESERVED_HEADERS: [&str; 5] = ["Content-Length", "Content-Type", "Host", "Transfer-Encoding", "Connection"];

/// Why a custom header is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderProblem {
    /// An empty name.
    #[error("a header name must not be empty")]
    EmptyName,
    /// A name that is not an HTTP token.
    #[error("{0:?} is not allowed in a header name (letters, digits and !#$%&'*+-.^_`|~ only)")]
    NameCharacter(char),
    /// A line break in the value: it would end the header.
    #[error("a header value must not contain line breaks")]
    LineBreak,
    /// Another character a header value cannot carry.
    #[error("{0:?} is not allowed in a header value (visible ASCII, spaces and tabs only)")]
    ValueCharacter(char),
    /// One of [`RESERVED_HEADERS`].
    #[error("is set by the dispatcher itself")]
    Reserved,
    /// `Authorization` alongside an `auth`.
    #[error("is set by auth; remove it, or set auth to none and keep it here")]
    SetByAuth,
    /// The same name twice.
    #[error("is given twice (header names are case-insensitive)")]
    Duplicate,
}

/// A custom header's name: an HTTP token (RFC 7230 `tchar`s), kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    /// Checks `name` is an HTTP token.
    pub fn new(name: &str) -> Result<Self, HeaderProblem> {
        if name.is_empty() {
            return Err(HeaderProblem::EmptyName);
        }
        match name.chars().find(|&c| !is_tchar(c)) {
            Some(c) => Err(HeaderProblem::NameCharacter(c)),
            None => Ok(Self(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `other`, ignoring case (header names are case-insensitive).
    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

/// A custom header's value: visible ASCII, spaces and tabs, no line breaks, surrounding whitespace trimmed.
/// `Debug` never shows it: header values often carry API tokens.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HeaderValue(String);

impl HeaderValue {
    /// Checks `value` can be sent as a header value, and trims its surrounding spaces and tabs.
    pub fn new(value: &str) -> Result<Self, HeaderProblem> {
        for c in value.chars() {
            match c {
                '\r' | '\n' => return Err(HeaderProblem::LineBreak),
                ' ' | '\t' | '!'..='~' => {}
                c => return Err(HeaderProblem::ValueCharacter(c)),
            }
        }
        Ok(Self(value.trim_matches([' ', '\t']).to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeaderValue(<redacted>)")
    }
}

pub(super) fn headers_from_spec(
    spec: Vec<(String, String)>,
    auth: &Auth,
) -> Result<Vec<(HeaderName, HeaderValue)>, WebhookError> {
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(spec.len());
    for (name, value) in spec {
        let refuse = |problem| WebhookError::Header { name: name.clone(), problem };
        let header_name = HeaderName::new(&name).map_err(refuse)?;
        if RESERVED_HEADERS.iter().any(|reserved| header_name.is(reserved)) {
            return Err(refuse(HeaderProblem::Reserved));
        }
        if header_name.is("Authorization") && *auth != Auth::None {
            return Err(refuse(HeaderProblem::SetByAuth));
        }
        if headers.iter().any(|(seen, _)| seen.is(&name)) {
            return Err(refuse(HeaderProblem::Duplicate));
        }
        let header_value = HeaderValue::new(&value).map_err(refuse)?;
        headers.push((header_name, header_value));
    }
    Ok(headers)
}

/// RFC 7230 `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

pub(super) struct HeaderNames<I>(pub(super) I);

impl<'a, I: Iterator<Item = &'a str> + Clone> fmt::Debug for HeaderNames<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.clone().map(|name| (name, Redacted))).finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::webhook::Webhook;
    use crate::webhook::tests::{build, refused};

    fn header_error(name: &str, value: &str) -> HeaderProblem {
        match refused(json!({"headers": {name: value}}), &format!("headers.{name}")) {
            WebhookError::Header { problem, .. } => problem,
            other => panic!("not a header error: {other}"),
        }
    }

    // --- headers -----------------------------------------------------------------------------------------------

    #[test]
    fn headers_keep_their_order_and_trimmed_values() {
        let text = r#"{"name": "a", "method": "POST", "url": "http://h/",
            "headers": {"X-Inkit-API-Token": " tok\t", "x-b": "1", "A!#$%&'*+-.^_`|~9": "a b\tc ~!"}}"#;
        let webhook = Webhook::from_spec(serde_json::from_str(text).expect("parses")).expect("valid");
        let got: Vec<(&str, &str)> = webhook.headers().iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, [("X-Inkit-API-Token", "tok"), ("x-b", "1"), ("A!#$%&'*+-.^_`|~9", "a b\tc ~!")]);
    }

    #[test]
    fn a_header_name_that_is_not_an_http_token_is_refused() {
        assert_eq!(header_error("X Token", "1"), HeaderProblem::NameCharacter(' '));
        assert_eq!(header_error("X-Token:", "1"), HeaderProblem::NameCharacter(':'));
        assert_eq!(header_error("X-Tökén", "1"), HeaderProblem::NameCharacter('ö'));
        assert_eq!(header_error("(x)", "1"), HeaderProblem::NameCharacter('('));
        let err = build(json!({"headers": {"": "1"}})).expect_err("empty name");
        assert_eq!(err.field(), "headers.");
        assert!(matches!(err, WebhookError::Header { problem: HeaderProblem::EmptyName, .. }), "{err}");
    }

    #[test]
    fn a_header_value_with_line_breaks_or_invisible_characters_is_refused() {
        assert_eq!(header_error("X-Token", "a\r\nX-Evil: 1"), HeaderProblem::LineBreak);
        assert_eq!(header_error("X-Token", "a\nb"), HeaderProblem::LineBreak);
        assert_eq!(header_error("X-Token", "caf\u{e9}"), HeaderProblem::ValueCharacter('\u{e9}'));
        assert_eq!(header_error("X-Token", "a\u{0}b"), HeaderProblem::ValueCharacter('\u{0}'));
        assert_eq!(header_error("X-Token", "a\u{7f}"), HeaderProblem::ValueCharacter('\u{7f}'));
    }

    #[test]
    fn reserved_headers_are_refused_in_any_case() {
        for name in ["Content-Length", "host", "TRANSFER-ENCODING", "Content-Type", "connection"] {
            assert_eq!(header_error(name, "x"), HeaderProblem::Reserved, "{name}");
        }
        assert_eq!(
            refused(json!({"headers": {"Host": "evil"}}), "headers.Host").to_string(),
            "headers.Host: is set by the dispatcher itself"
        );
    }

    #[test]
    fn a_repeated_header_name_is_refused() {
        let body = r#"{"name": "a", "method": "POST", "url": "http://h/", "headers": {"X-A": "1", "x-a": "2"}}"#;
        let err = Webhook::from_spec(serde_json::from_str(body).expect("parses")).expect_err("repeated");
        assert_eq!(err, WebhookError::Header { name: "x-a".to_owned(), problem: HeaderProblem::Duplicate });
        assert_eq!(err.field(), "headers.x-a");
    }

    #[test]
    fn an_authorization_header_is_allowed_only_without_auth() {
        let webhook = build(json!({"headers": {"Authorization": "Token abc"}})).expect("valid");
        assert_eq!(webhook.headers()[0].1.as_str(), "Token abc");
        let err = refused(
            json!({"headers": {"authorization": "Token abc"}, "auth": {"type": "bearer", "token": "t"}}),
            "headers.authorization",
        );
        assert!(matches!(err, WebhookError::Header { problem: HeaderProblem::SetByAuth, .. }), "{err}");
    }

    #[test]
    fn header_errors_escape_odd_names_in_messages() {
        let err = build(json!({"headers": {"X\nY": "1"}})).expect_err("bad name");
        assert!(err.to_string().starts_with("headers.X\\nY: "), "{err}");
    }
}
