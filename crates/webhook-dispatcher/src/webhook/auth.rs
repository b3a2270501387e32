//! How a webhook's requests authenticate: the `auth` spec and its validation, secrets that `Debug` never shows,
//! the `Authorization` header for Basic and Bearer, OAuth 2.0 client-credentials token requests, and base64.

use std::fmt;

use serde::Deserialize;

use super::url::{HttpUrl, RedactedUrl, UrlError, form_encode_into};
use super::{Redacted, WebhookError};

/// The `auth` object of a [`WebhookSpec`]: `{"type": "none"}`, `{"type": "basic", "user", "password"}`,
/// `{"type": "bearer", "token"}` or `{"type": "oauth2_client_credentials", "token_url", "client_id",
/// "client_secret", "scopes" (optional), "send_credentials" ("header", the default, or "body")}`.
/// A field the type does not use is refused. `Debug` shows no secret.
///
/// [`WebhookSpec`]: super::WebhookSpec
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// `none`, `basic`, `bearer` or `oauth2_client_credentials`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Basic: the user id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Basic: the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Bearer: the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// OAuth 2.0: the access token URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// OAuth 2.0: the client id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// OAuth 2.0: the client secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// OAuth 2.0: the scopes asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// OAuth 2.0: `header` (HTTP Basic) or `body` (form fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_credentials: Option<String>,
}

impl Default for AuthSpec {
    fn default() -> Self {
        Self {
            kind: "none".to_owned(),
            user: None,
            password: None,
            token: None,
            token_url: None,
            client_id: None,
            client_secret: None,
            scopes: None,
            send_credentials: None,
        }
    }
}

impl fmt::Debug for AuthSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| Redacted);
        f.debug_struct("AuthSpec")
            .field("kind", &self.kind)
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("token", &hidden(&self.token))
            .field("token_url", &self.token_url.as_deref().map(RedactedUrl))
            .field("client_id", &self.client_id)
            .field("client_secret", &hidden(&self.client_secret))
            .field("scopes", &self.scopes)
            .field("send_credentials", &self.send_credentials)
            .finish()
    }
}

/// Why an `auth` field is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthProblem {
    /// `type` is not a known one.
    #[error("{0:?} is not one of none, basic, bearer, oauth2_client_credentials")]
    UnknownType(String),
    /// The type needs this field.
    #[error("missing")]
    Missing,
    /// The field is there but empty.
    #[error("must not be empty")]
    Empty,
    /// The type does not use this field.
    #[error("is not used by {0} auth")]
    NotUsed(&'static str),
    /// A Basic user id with `:`.
    #[error("must not contain ':' (basic auth joins user and password with it)")]
    Colon,
    /// A control character (a line break, say).
    #[error("must not contain control characters")]
    ControlCharacter,
    /// A bearer token with a character a token cannot carry.
    #[error("{0:?} is not allowed in a token (visible ASCII without spaces only)")]
    TokenCharacter(char),
    /// A scope with a character scopes cannot carry.
    #[error("{0:?} is not a valid scope (visible ASCII without spaces, quotes or backslashes)")]
    Scope(String),
    /// `send_credentials` is not `header` or `body`.
    #[error("{0:?} is not header or body")]
    SendCredentials(String),
    /// The token URL is malformed.
    #[error("{0}")]
    Url(UrlError),
}

/// A password, token or client secret. `Debug` shows `<redacted>`; [`Secret::expose`] gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret's text, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How an OAuth 2.0 client sends its credentials to the token URL (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendCredentials {
    /// `Authorization: Basic base64(client_id:client_secret)`.
    Header,
    /// `client_id` and `client_secret` as form fields of the token request.
    Body,
}

/// How a webhook's requests authenticate (CleverTap's "Authentication type").
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No authentication: put a token in a custom header if the endpoint needs one.
    None,
    /// `Authorization: Basic base64(user:password)` on every request.
    Basic { user: String, password: Secret },
    /// `Authorization: Bearer <token>` on every request.
    Bearer { token: Secret },
    /// OAuth 2.0 client credentials: a token fetched from `token_url`, then sent as a bearer token.
    OAuth2ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
        send_credentials: SendCredentials,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { user, password: _ } => {
                f.debug_struct("Basic").field("user", user).field("password", &Redacted).finish()
            }
            Auth::Bearer { token: _ } => f.debug_struct("Bearer").field("token", &Redacted).finish(),
            Auth::OAuth2ClientCredentials { token_url, client_id, client_secret: _, scopes, send_credentials } => f
                .debug_struct("OAuth2ClientCredentials")
                .field("token_url", &RedactedUrl(token_url))
                .field("client_id", client_id)
                .field("client_secret", &Redacted)
                .field("scopes", scopes)
                .field("send_credentials", send_credentials)
                .finish(),
        }
    }
}

impl Auth {
    /// The `Authorization` header value every request carries, when it is fixed: Basic and Bearer. `None` for no
    /// auth, and for OAuth 2.0, whose bearer token comes from [`Auth::token_request`].
    ///
    /// Basic credentials are encoded by a small private base64 encoder (the `base64` crate is not a dependency of
    /// this crate yet).
    pub fn authorization(&self) -> Option<Secret> {
        match self {
            Auth::Basic { user, password } => {
                Some(Secret(format!("Basic {}", base64(format!("{user}:{}", password.expose()).as_bytes()))))
            }
            Auth::Bearer { token } => Some(Secret(format!("Bearer {}", token.expose()))),
            Auth::None | Auth::OAuth2ClientCredentials { .. } => None,
        }
    }

    /// For OAuth 2.0 client credentials, the token request to make (RFC 6749 §4.4); `None` otherwise.
    pub fn token_request(&self) -> Option<TokenRequest> {
        let Auth::OAuth2ClientCredentials { token_url, client_id, client_secret, scopes, send_credentials } = self
        else {
            return None;
        };
        let mut body = String::from("grant_type=client_credentials");
        if !scopes.is_empty() {
            body.push_str("&scope=");
            form_encode_into(&scopes.join(" "), &mut body);
        }
        let authorization = match send_credentials {
            SendCredentials::Header => {
                let (mut id, mut secret) = (String::new(), String::new());
                form_encode_into(client_id, &mut id);
                form_encode_into(client_secret.expose(), &mut secret);
                Some(Secret(format!("Basic {}", base64(format!("{id}:{secret}").as_bytes()))))
            }
            SendCredentials::Body => {
                body.push_str("&client_id=");
                form_encode_into(client_id, &mut body);
                body.push_str("&client_secret=");
                form_encode_into(client_secret.expose(), &mut body);
                None
            }
        };
        Some(TokenRequest { url: token_url.clone(), authorization, body: Secret(body) })
    }
}

/// An OAuth 2.0 token request: `POST url` with `Content-Type: application/x-www-form-urlencoded`.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The access token URL.
    pub url: String,
    /// The `Authorization` header, when the credentials go in the header.
    pub authorization: Option<Secret>,
    /// The form body (it holds the client secret when the credentials go in the body).
    pub body: Secret,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("url", &RedactedUrl(&self.url))
            .field("authorization", &self.authorization)
            .field("body", &self.body)
            .finish()
    }
}

pub(super) fn auth_from_spec(spec: AuthSpec) -> Result<Auth, WebhookError> {
    let err = |field: &'static str, problem: AuthProblem| WebhookError::Auth { field, problem };
    let kind: &'static str = match spec.kind.trim() {
        "none" => "none",
        "basic" => "basic",
        "bearer" => "bearer",
        "oauth2_client_credentials" => "oauth2_client_credentials",
        other => return Err(err("type", AuthProblem::UnknownType(other.to_owned()))),
    };
    let present = [
        ("user", spec.user.is_some()),
        ("password", spec.password.is_some()),
        ("token", spec.token.is_some()),
        ("token_url", spec.token_url.is_some()),
        ("client_id", spec.client_id.is_some()),
        ("client_secret", spec.client_secret.is_some()),
        ("scopes", spec.scopes.is_some()),
        ("send_credentials", spec.send_credentials.is_some()),
    ];
    let used: &[&str] = match kind {
        "basic" => &["user", "password"],
        "bearer" => &["token"],
        "oauth2_client_credentials" => &["token_url", "client_id", "client_secret", "scopes", "send_credentials"],
        _ => &[],
    };
    if let Some((field, _)) = present.iter().find(|(field, is_there)| *is_there && !used.contains(field)) {
        return Err(err(field, AuthProblem::NotUsed(kind)));
    }
    let required = |field: &'static str, value: Option<String>| value.ok_or(err(field, AuthProblem::Missing));
    let no_controls = |field: &'static str, value: &str| {
        if value.chars().any(char::is_control) { Err(err(field, AuthProblem::ControlCharacter)) } else { Ok(()) }
    };
    let non_empty = |field: &'static str, value: &str| {
        if value.is_empty() { Err(err(field, AuthProblem::Empty)) } else { no_controls(field, value) }
    };
    match kind {
        "basic" => {
            let user = required("user", spec.user)?;
            non_empty("user", &user)?;
            if user.contains(':') {
                return Err(err("user", AuthProblem::Colon));
            }
            let password = required("password", spec.password)?;
            no_controls("password", &password)?;
            Ok(Auth::Basic { user, password: Secret(password) })
        }
        "bearer" => {
            let token = required("token", spec.token)?;
            non_empty("token", &token)?;
            if let Some(c) = token.chars().find(|c| !c.is_ascii_graphic()) {
                return Err(err("token", AuthProblem::TokenCharacter(c)));
            }
            Ok(Auth::Bearer { token: Secret(token) })
        }
        "oauth2_client_credentials" => {
            let token_url = required("token_url", spec.token_url)?;
            HttpUrl::parse(&token_url).map_err(|e| err("token_url", AuthProblem::Url(e)))?;
            let client_id = required("client_id", spec.client_id)?;
            non_empty("client_id", &client_id)?;
            let client_secret = required("client_secret", spec.client_secret)?;
            non_empty("client_secret", &client_secret)?;
            let scopes = spec.scopes.unwrap_or_default();
            // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if let Some(bad) = scopes
                .iter()
                .find(|s| s.is_empty() || s.chars().any(|c| !c.is_ascii_graphic() || c == '"' || c == '\\'))
            {
                return Err(err("scopes", AuthProblem::Scope(bad.clone())));
            }
            let send_credentials = match spec.send_credentials.as_deref().map(str::trim) {
                None | Some("header") => SendCredentials::Header,
                Some("body") => SendCredentials::Body,
                Some(other) => return Err(err("send_credentials", AuthProblem::SendCredentials(other.to_owned()))),
            };
            Ok(Auth::OAuth2ClientCredentials {
                token_url,
                client_id,
                client_secret: Secret(client_secret),
                scopes,
                send_credentials,
            })
        }
        _ => Ok(Auth::None),
    }
}

/// Standard base64 with padding (RFC 4648 §4), for Basic credentials. Private until the crate depends on `base64`.
/// Standard base64 with padding, as HTTP Basic authentication uses.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::webhook::tests::{build, oauth, refused};

    fn auth_error(auth: Value, field: &str) -> AuthProblem {
        match refused(json!({"auth": auth}), &format!("auth.{field}")) {
            WebhookError::Auth { problem, .. } => problem,
            other => panic!("not an auth error: {other}"),
        }
    }

    // --- auth --------------------------------------------------------------------------------------------------

    #[test]
    fn basic_auth_sends_base64_of_user_and_password() {
        let webhook =
            build(json!({"auth": {"type": "basic", "user": "Aladdin", "password": "open sesame"}})).expect("valid");
        let header = webhook.auth().authorization().expect("a header");
        assert_eq!(header.expose(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(format!("{header:?}"), "<redacted>");
    }

    #[test]
    fn bearer_auth_sends_its_token() {
        let webhook = build(json!({"auth": {"type": "bearer", "token": "abc.DEF-123"}})).expect("valid");
        assert_eq!(webhook.auth().authorization().expect("a header").expose(), "Bearer abc.DEF-123");
        assert_eq!(webhook.auth().token_request(), None);
    }

    #[test]
    fn an_unknown_auth_type_is_refused() {
        assert_eq!(auth_error(json!({"type": "digest"}), "type"), AuthProblem::UnknownType("digest".to_owned()));
        assert_eq!(auth_error(json!({"type": "Basic"}), "type"), AuthProblem::UnknownType("Basic".to_owned()));
    }

    #[test]
    fn basic_auth_needs_a_user_without_colon_and_a_password() {
        assert_eq!(auth_error(json!({"type": "basic", "password": "p"}), "user"), AuthProblem::Missing);
        assert_eq!(auth_error(json!({"type": "basic", "user": "u"}), "password"), AuthProblem::Missing);
        assert_eq!(auth_error(json!({"type": "basic", "user": "", "password": "p"}), "user"), AuthProblem::Empty);
        assert_eq!(auth_error(json!({"type": "basic", "user": "a:b", "password": "p"}), "user"), AuthProblem::Colon);
        assert_eq!(
            auth_error(json!({"type": "basic", "user": "u", "password": "p\n"}), "password"),
            AuthProblem::ControlCharacter
        );
        assert_eq!(
            refused(json!({"auth": {"type": "basic", "user": "u"}}), "auth.password").to_string(),
            "auth.password: missing"
        );
    }

    #[test]
    fn bearer_auth_needs_a_token_without_spaces_or_line_breaks() {
        assert_eq!(auth_error(json!({"type": "bearer"}), "token"), AuthProblem::Missing);
        assert_eq!(auth_error(json!({"type": "bearer", "token": ""}), "token"), AuthProblem::Empty);
        assert_eq!(auth_error(json!({"type": "bearer", "token": "a\r\nb"}), "token"), AuthProblem::ControlCharacter);
        assert_eq!(auth_error(json!({"type": "bearer", "token": "a b"}), "token"), AuthProblem::TokenCharacter(' '));
    }

    #[test]
    fn fields_the_auth_type_does_not_use_are_refused() {
        assert_eq!(auth_error(json!({"type": "none", "token": "t"}), "token"), AuthProblem::NotUsed("none"));
        assert_eq!(
            auth_error(json!({"type": "basic", "user": "u", "password": "p", "token": "t"}), "token"),
            AuthProblem::NotUsed("basic")
        );
        assert_eq!(
            auth_error(json!({"type": "bearer", "token": "t", "client_id": "c"}), "client_id"),
            AuthProblem::NotUsed("bearer")
        );
        assert_eq!(
            auth_error(
                json!({"type": "oauth2_client_credentials", "token_url": "https://a/t", "client_id": "c",
                       "client_secret": "s", "password": "p"}),
                "password"
            ),
            AuthProblem::NotUsed("oauth2_client_credentials")
        );
    }

    #[test]
    fn oauth2_client_credentials_need_a_token_url_client_id_and_secret() {
        for field in ["token_url", "client_id", "client_secret"] {
            assert_eq!(auth_error(oauth(json!({field: null})), field), AuthProblem::Missing, "{field}");
        }
        assert_eq!(auth_error(oauth(json!({"client_id": ""})), "client_id"), AuthProblem::Empty);
        assert_eq!(auth_error(oauth(json!({"client_secret": ""})), "client_secret"), AuthProblem::Empty);
    }

    #[test]
    fn an_oauth2_token_url_must_be_http_or_https() {
        assert_eq!(
            auth_error(oauth(json!({"token_url": "ftp://a/t"})), "token_url"),
            AuthProblem::Url(UrlError::Scheme)
        );
        assert_eq!(auth_error(oauth(json!({"token_url": "/token"})), "token_url"), AuthProblem::Url(UrlError::Scheme));
        assert_eq!(
            auth_error(oauth(json!({"token_url": "https://a/{{ x }}"})), "token_url"),
            AuthProblem::Url(UrlError::Character('{'))
        );
    }

    #[test]
    fn oauth2_scopes_and_send_credentials_are_checked() {
        assert_eq!(
            auth_error(oauth(json!({"scopes": ["read", "a b"]})), "scopes"),
            AuthProblem::Scope("a b".to_owned())
        );
        assert_eq!(auth_error(oauth(json!({"scopes": [""]})), "scopes"), AuthProblem::Scope(String::new()));
        assert_eq!(
            auth_error(oauth(json!({"send_credentials": "query"})), "send_credentials"),
            AuthProblem::SendCredentials("query".to_owned())
        );
    }

    #[test]
    fn oauth2_token_requests_send_credentials_in_the_header_or_the_body() {
        let webhook = build(json!({"auth": oauth(json!({"scopes": ["mail:write", "read"]}))})).expect("valid");
        assert_eq!(webhook.auth().authorization(), None);
        let request = webhook.auth().token_request().expect("a token request");
        assert_eq!(request.url, "https://auth.example.com/token");
        assert_eq!(request.body.expose(), "grant_type=client_credentials&scope=mail%3Awrite+read");
        assert_eq!(request.authorization.as_ref().map(Secret::expose), Some("Basic dGFwaW5rOnMzY3IzdA=="));

        let webhook = build(json!({"auth": oauth(json!({"send_credentials": "body", "client_secret": "a&b c"}))}))
            .expect("valid");
        let request = webhook.auth().token_request().expect("a token request");
        assert_eq!(request.authorization, None);
        assert_eq!(request.body.expose(), "grant_type=client_credentials&client_id=tapink&client_secret=a%26b+c");
    }

    #[test]
    fn base64_matches_the_rfc_4648_test_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }
}
