//! Webhook URLs: absolute http(s) URLs checked at save time (`HttpUrl`), URL templates with Liquid outputs
//! (`UrlTemplate`) and their rendering, percent-encoding, and why a URL is refused.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::body::json_context::{next_tag, tag_end};
use crate::body::{BodyTemplate, CompileError, ContentFormat, Position, RenderError, RenderInput};

/// The error CleverTap reports in a campaign's stats when a webhook's URL is malformed.
pub const INVALID_WEBHOOK_URL: &str = "Invalid Webhook URL";

/// What goes in for `{{ … }}` when a URL template is checked at save time: a value that fits in a host, a
/// port, a path or a query.
const URL_PLACEHOLDER: &str = "1";

/// Why a URL is refused (at save time, or once rendered for a user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Nothing at all.
    #[error("must not be empty")]
    Empty,
    /// Not `http://…` or `https://…`.
    #[error("must be an absolute http or https url (http://host/… or https://host/…)")]
    Scheme,
    /// `http:///path`, `http://:8080/`.
    #[error("must have a host")]
    MissingHost,
    /// `http://user:password@host/`.
    #[error("must not carry a user name or password (use auth)")]
    UserInfo,
    /// A host with characters a host name or IP address cannot have.
    #[error("{0:?} is not a valid host")]
    Host(String),
    /// `:0`, `:65536`, `:http`, `:`.
    #[error("the port must be a number from 1 to 65535")]
    Port,
    /// A character that must be percent-encoded (a space, a non-ASCII letter, `{`, …).
    #[error("{0:?} is not allowed in a url; percent-encode it")]
    Character(char),
    /// `%` not followed by two hexadecimal digits.
    #[error("'%' must be followed by two hexadecimal digits")]
    PercentEncoding,
    /// `#…`: never sent over HTTP.
    #[error("must not have a fragment (#…): it is not sent over HTTP")]
    Fragment,
    /// The URL's Liquid does not compile.
    #[error("{0}")]
    Liquid(CompileError),
    /// `{% … %}` in a URL: only outputs are supported there, each value being percent-encoded on its own.
    #[error("Liquid tags ({{% … %}}) are not supported in a url, only outputs ({{{{ … }}}}): tag at {0}")]
    LiquidTag(Position),
}

/// Why a webhook's URL could not be produced for a user. Either way that user's message is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRenderError {
    /// A Liquid runtime error in the URL.
    #[error("url: {0}")]
    Liquid(RenderError),
    /// The rendered URL does not parse: CleverTap's [`INVALID_WEBHOOK_URL`].
    #[error("url: the rendered url is invalid ({0}), reported as \"Invalid Webhook URL\"")]
    InvalidUrl(UrlError),
}

/// A destination URL with optional Liquid outputs (`https://api.example.com/users/{{ Profile.Identity }}?x=1`).
///
/// Checked at save time: the Liquid compiles (errors carry their position), there are no tags (`{% … %}`), and
/// the URL parses with every output replaced by a placeholder. Rendering percent-encodes each output's value
/// (everything but `A–Z a–z 0–9 - . _ ~`), so a value cannot add a path segment, a query parameter or a fragment.
/// `Debug` shows the scheme and host only.
#[derive(Clone)]
pub struct UrlTemplate {
    source: String,
    parts: Arc<[UrlPart]>,
}

enum UrlPart {
    Literal(String),
    Output(BodyTemplate),
}

impl fmt::Debug for UrlTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UrlTemplate").field(&RedactedUrl(&self.source)).finish()
    }
}

impl UrlTemplate {
    /// Checks and compiles `source`.
    pub fn parse(source: &str) -> Result<UrlTemplate, UrlError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(UrlError::Empty);
        }
        // The `liquid` crate reports syntax errors, with positions, for the URL as a whole.
        BodyTemplate::compile(source, ContentFormat::Text).map_err(UrlError::Liquid)?;
        let mut parts = Vec::new();
        let mut skeleton = String::with_capacity(source.len());
        let mut at = 0;
        while let Some(open) = next_tag(&source[at..]).map(|i| at + i) {
            if open > at {
                parts.push(UrlPart::Literal(source[at..open].to_owned()));
                skeleton.push_str(&source[at..open]);
            }
            let rest = &source[open..];
            if rest.starts_with("{%") {
                return Err(UrlError::LiquidTag(position_of(source, open)));
            }
            let Some(len) = tag_end(rest) else {
                // Unreachable after a successful compile; reported like the compiler would.
                let message = "an output is not closed with '}}'".to_owned();
                return Err(UrlError::Liquid(CompileError { position: Some(position_of(source, open)), message }));
            };
            let output = BodyTemplate::compile(&rest[..len], ContentFormat::Text).map_err(UrlError::Liquid)?;
            parts.push(UrlPart::Output(output));
            skeleton.push_str(URL_PLACEHOLDER);
            at = open + len;
        }
        if at < source.len() {
            parts.push(UrlPart::Literal(source[at..].to_owned()));
            skeleton.push_str(&source[at..]);
        }
        HttpUrl::parse(&skeleton)?;
        Ok(UrlTemplate { source: source.to_owned(), parts: parts.into() })
    }

    /// The URL as written (it may hold secrets: do not log it).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the URL has Liquid in it.
    pub fn is_personalized(&self) -> bool {
        self.parts.iter().any(|part| matches!(part, UrlPart::Output(_)))
    }

    /// The URL for one user, each output's value percent-encoded, checked to parse.
    pub fn render(&self, input: &RenderInput<'_>) -> Result<String, UrlRenderError> {
        if !self.is_personalized() {
            return Ok(self.source.clone());
        }
        let mut url = String::with_capacity(self.source.len() + 32);
        for part in self.parts.iter() {
            match part {
                UrlPart::Literal(text) => url.push_str(text),
                UrlPart::Output(template) => {
                    let value = template.render(input).map_err(UrlRenderError::Liquid)?;
                    percent_encode_into(&value, &mut url);
                }
            }
        }
        match HttpUrl::parse(&url).err() {
            Some(reason) => Err(UrlRenderError::InvalidUrl(reason)),
            None => Ok(url),
        }
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn position_of(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    Position { line, column }
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An absolute http(s) URL, checked: `scheme://host[:port][/path][?query]`. The path and query may hold only
/// RFC 3986 characters (`A–Z a–z 0–9 -._~ !$&'()*+,;= :@/?` and `%XX`); no user info, no fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpUrl<'a> {
    pub scheme: Scheme,
    /// The host as written: a name, an IPv4 address, or an IPv6 address in brackets (`[::1]`).
    pub host: &'a str,
    pub port: Option<u16>,
    /// From the first `/` or `?` after the host, possibly empty.
    pub path_and_query: &'a str,
}

impl<'a> HttpUrl<'a> {
    /// Parses and checks `url`.
    pub fn parse(url: &'a str) -> Result<HttpUrl<'a>, UrlError> {
        if url.is_empty() {
            return Err(UrlError::Empty);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(UrlError::Scheme);
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_port(authority)?;
        check_host(host)?;
        check_path_and_query(path_and_query)?;
        Ok(HttpUrl { scheme, host, port, path_and_query })
    }

    /// The port, or the scheme's default.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// What goes on the request line: the path and query, with `/` when the path is empty.
    pub fn request_target(&self) -> Cow<'a, str> {
        if self.path_and_query.starts_with('/') {
            Cow::Borrowed(self.path_and_query)
        } else {
            Cow::Owned(format!("/{}", self.path_and_query))
        }
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let port_at = match authority.rfind(':') {
        // `[::1]` has colons of its own: a port comes after the `]`.
        Some(i) if !authority[i..].contains(']') => i,
        _ => return Ok((authority, None)),
    };
    let (host, port) = (&authority[..port_at], &authority[port_at + 1..]);
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::Port);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((host, Some(p))),
        _ => Err(UrlError::Port),
    }
}

fn check_host(host: &str) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let valid = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.contains(':') && ip.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'))
    } else {
        let name = host.strip_suffix('.').unwrap_or(host);
        name.split('.')
            .all(|label| !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    if valid { Ok(()) } else { Err(UrlError::Host(host.to_owned())) }
}

fn check_path_and_query(text: &str) -> Result<(), UrlError> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return Err(UrlError::PercentEncoding);
                }
                i += 2;
            }
            b'#' => return Err(UrlError::Fragment),
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b) => {}
            _ => {
                let c = text[i..].chars().next().unwrap_or_default();
                return Err(UrlError::Character(c));
            }
        }
        i += 1;
    }
    Ok(())
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `text` percent-encoded for a path segment or a query component: every byte but the unreserved
/// `A–Z a–z 0–9 - . _ ~` becomes `%XX` (UTF-8 bytes for non-ASCII).
fn percent_encode_into(text: &str, out: &mut String) {
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            push_percent(b, out);
        }
    }
}

/// Appends `text` encoded as `application/x-www-form-urlencoded`: as above, with spaces as `+`.
pub(super) fn form_encode_into(text: &str, out: &mut String) {
    for &b in text.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => out.push(char::from(b)),
            b => push_percent(b, out),
        }
    }
}

fn push_percent(b: u8, out: &mut String) {
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0f)]));
}

/// A URL shown as its scheme and host only: some services put the secret in the path or query.
pub(super) struct RedactedUrl<'a>(pub(super) &'a str);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = self.0.find("://").map_or(0, |i| i + 3);
        let end = self.0[start..].find(['/', '?', '#']).map_or(self.0.len(), |i| start + i);
        let authority = &self.0[start..end];
        // User info (`user:password@`) is a secret too.
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let origin = format!("{}{host}", &self.0[..start]);
        if end < self.0.len() { write!(f, "{origin:?}+<redacted path>") } else { write!(f, "{origin:?}") }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::webhook::WebhookError;
    use crate::webhook::tests::{build, refused};

    fn url_error(url: &str) -> UrlError {
        match refused(json!({"url": url}), "url") {
            WebhookError::Url(e) => e,
            other => panic!("not a url error: {other}"),
        }
    }

    fn profile(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn render(url: &str, p: &Value) -> Result<String, UrlRenderError> {
        let webhook = build(json!({"url": url})).expect("a valid webhook");
        webhook.render_url(&RenderInput::for_profile(&profile(p.clone())))
    }

    // --- url ---------------------------------------------------------------------------------------------------

    #[test]
    fn absolute_http_and_https_urls_are_accepted_with_ports_queries_and_ip_hosts() {
        for url in [
            "http://127.0.0.1:8025/v1/generate",
            "https://api.inkit.com/v1/generate?template=tmpl_1&mode=letter",
            "HTTPS://API.INKIT.COM",
            "http://localhost:65535?x=1",
            "http://[::1]:8080/hook",
            "http://my_service.internal./a/b;c=d/%2F?q=a+b&r=%20",
        ] {
            build(json!({"url": url})).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }

    #[test]
    fn a_url_that_is_not_absolute_http_is_refused() {
        assert_eq!(url_error(""), UrlError::Empty);
        assert_eq!(url_error("   "), UrlError::Empty);
        assert_eq!(url_error("ftp://files.example.com/x"), UrlError::Scheme);
        assert_eq!(url_error("/v1/generate"), UrlError::Scheme);
        assert_eq!(url_error("api.inkit.com/v1/generate"), UrlError::Scheme);
        assert_eq!(url_error("http:/api.inkit.com"), UrlError::Scheme);
    }

    #[test]
    fn a_url_without_a_valid_host_is_refused() {
        assert_eq!(url_error("http:///v1/generate"), UrlError::MissingHost);
        assert_eq!(url_error("http://:8080/"), UrlError::MissingHost);
        assert_eq!(url_error("http://exa mple.com/"), UrlError::Host("exa mple.com".to_owned()));
        assert_eq!(url_error("http://a..b/"), UrlError::Host("a..b".to_owned()));
        assert_eq!(url_error("http://[zz]/"), UrlError::Host("[zz]".to_owned()));
        assert_eq!(url_error("http://user:pw@host/"), UrlError::UserInfo);
    }

    #[test]
    fn a_url_with_a_bad_port_is_refused() {
        for url in ["http://h:0/", "http://h:65536/", "http://h:http/", "http://h:/", "http://h:123456/"] {
            assert_eq!(url_error(url), UrlError::Port, "{url}");
        }
    }

    #[test]
    fn a_url_with_characters_to_encode_or_a_fragment_is_refused() {
        assert_eq!(url_error("http://h/a b"), UrlError::Character(' '));
        assert_eq!(url_error("http://h/caf\u{e9}"), UrlError::Character('\u{e9}'));
        assert_eq!(url_error("http://h/?q=\"x\""), UrlError::Character('"'));
        assert_eq!(url_error("http://h/a}}b"), UrlError::Character('}'));
        assert_eq!(url_error("http://h/%zz"), UrlError::PercentEncoding);
        assert_eq!(url_error("http://h/%4"), UrlError::PercentEncoding);
        assert_eq!(url_error("http://h/page#top"), UrlError::Fragment);
        assert_eq!(
            refused(json!({"url": "http://h/a b"}), "url").to_string(),
            "url: ' ' is not allowed in a url; percent-encode it"
        );
    }

    #[test]
    fn liquid_is_accepted_anywhere_in_the_url() {
        for url in [
            "https://api.example.com/users/{{ Profile.Identity }}",
            "https://api.example.com/v1?email={{ Profile.Email | default: \"a b\" }}&x=1",
            "https://{{ Profile.region }}.api.example.com/",
            "http://127.0.0.1:{{ Profile.port }}/",
            "https://api.example.com/{{- Profile.a -}}/{{Profile.b}}{{ Profile.c }}",
        ] {
            let webhook = build(json!({"url": url})).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(webhook.url().is_personalized(), "{url}");
        }
    }

    #[test]
    fn liquid_that_makes_the_url_invalid_even_filled_in_is_refused() {
        assert_eq!(url_error("{{ Profile.url }}"), UrlError::Scheme);
        assert_eq!(url_error("http://h/{{ Profile.a }} b"), UrlError::Character(' '));
    }

    #[test]
    fn a_liquid_syntax_error_in_the_url_is_reported_with_its_position() {
        let UrlError::Liquid(err) = url_error("https://api.example.com/{{ Profile.name | }}") else {
            panic!("not a Liquid error")
        };
        assert_eq!(err.position.map(|p| p.line), Some(1), "{err}");
        assert!(err.position.is_some_and(|p| p.column > 1), "{err}");
        assert!(matches!(url_error("http://h/{{ Profile.a"), UrlError::Liquid(_)));
        let message = refused(json!({"url": "https://h/{{ Profile.name | }}"}), "url").to_string();
        assert!(message.starts_with("url: Liquid syntax error at line 1 column"), "{message}");
    }

    #[test]
    fn liquid_tags_in_the_url_are_refused_with_their_position() {
        let err = url_error("https://h/{% if Profile.vip %}vip{% endif %}");
        assert_eq!(err, UrlError::LiquidTag(Position { line: 1, column: 11 }));
        assert!(err.to_string().contains("{% … %}"), "{err}");
        assert!(matches!(url_error("https://h/{% abort %}"), UrlError::LiquidTag(_)));
    }

    // --- render_url --------------------------------------------------------------------------------------------

    #[test]
    fn a_url_without_liquid_renders_as_written() {
        assert_eq!(
            render("http://127.0.0.1:8025/v1/generate?x=1", &json!({})).as_deref(),
            Ok("http://127.0.0.1:8025/v1/generate?x=1")
        );
    }

    #[test]
    fn values_substituted_in_the_url_are_percent_encoded() {
        let p = json!({"Identity": "a b/c?d&e=f#g%h", "Name": "Zoë", "Tier": "gold-1.x_~"});
        assert_eq!(
            render("https://h/users/{{ Profile.Identity }}?name={{ Profile.Name }}&tier={{ Profile.Tier }}", &p)
                .as_deref(),
            Ok("https://h/users/a%20b%2Fc%3Fd%26e%3Df%23g%25h?name=Zo%C3%AB&tier=gold-1.x_~")
        );
    }

    #[test]
    fn a_missing_value_renders_blank_or_its_default() {
        let p = json!({});
        assert_eq!(render("https://h/u/{{ Profile.Identity }}", &p).as_deref(), Ok("https://h/u/"));
        assert_eq!(
            render("https://h/u/{{ Profile.Identity | default: \"a b\" }}", &p).as_deref(),
            Ok("https://h/u/a%20b")
        );
    }

    #[test]
    fn liquid_values_in_the_host_and_port_render_when_valid() {
        let p = json!({"region": "eu-1", "port": 8025});
        assert_eq!(
            render("http://{{ Profile.region }}.example.com:{{ Profile.port }}/x", &p).as_deref(),
            Ok("http://eu-1.example.com:8025/x")
        );
    }

    #[test]
    fn a_rendered_url_that_no_longer_parses_is_an_invalid_webhook_url() {
        let cases = [
            ("http://{{ Profile.host }}/x", json!({}), UrlError::MissingHost),
            ("http://{{ Profile.host }}/x", json!({"host": "a b"}), UrlError::Host("a%20b".to_owned())),
            ("http://h:{{ Profile.port }}/", json!({"port": "http"}), UrlError::Port),
            ("http://h:{{ Profile.port }}/", json!({"port": 0}), UrlError::Port),
        ];
        for (url, p, reason) in cases {
            let err = render(url, &p).expect_err(url);
            assert_eq!(err, UrlRenderError::InvalidUrl(reason), "{url}");
            assert!(err.to_string().contains(INVALID_WEBHOOK_URL), "{err}");
            assert!(err.to_string().starts_with("url: "), "{err}");
        }
    }

    #[test]
    fn a_liquid_runtime_error_in_the_url_stops_the_delivery() {
        let err = render("https://h/{{ Profile.n | divided_by: 0 }}", &json!({"n": 1})).expect_err("division by zero");
        assert!(matches!(err, UrlRenderError::Liquid(RenderError::Liquid(_))), "{err}");
    }

    #[test]
    fn parsed_urls_give_what_a_request_needs() {
        let url = HttpUrl::parse("https://api.inkit.com?x=1").expect("valid");
        assert_eq!(
            (url.scheme, url.host, url.port, url.port_or_default()),
            (Scheme::Https, "api.inkit.com", None, 443)
        );
        assert_eq!(url.request_target(), "/?x=1");
        let url = HttpUrl::parse("http://[::1]:8025/v1/generate").expect("valid");
        assert_eq!((url.host, url.port_or_default(), url.request_target().as_ref()), ("[::1]", 8025, "/v1/generate"));
        assert_eq!(HttpUrl::parse("http://h").expect("valid").request_target(), "/");
    }
}
