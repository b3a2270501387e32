//! The malformed-request corpus of `fixtures/bad-requests/*.toml` (format in docs/testing.md): reading a
//! file, expanding its per-route cases over a server's route list, sending each case over loopback, and
//! checking the answer (status, `Content-Type: application/json`, the message naming the problem).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::Method;
use serde::Deserialize;

use crate::{Client, Reply, fixtures};

/// One corpus file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    /// Cases sent once each.
    #[serde(default)]
    pub case: Vec<Case>,
    /// Cases sent to every route the server lists, `{route}` standing for the route (its `{id}` filled in).
    #[serde(default)]
    pub every_route: Vec<Case>,
    /// Routes that read nothing from the request (no query, body or id): for them a case on their path
    /// (a wrong method) is enough; every other route needs a case with its own method.
    #[serde(default)]
    pub no_input: Vec<String>,
}

/// One malformed request and the answer it must get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What is wrong with the request, in a few words.
    pub name: String,
    /// `METHOD /path?query`; `{name}` placeholders are filled from the server's seeded ids.
    #[serde(default)]
    pub request: String,
    /// Which credentials to send: `valid` (default), `none`, `wrong` (a wrong token or passcode),
    /// `unknown_account`, `no_passcode` (engine only).
    #[serde(default)]
    pub credentials: Credentials,
    /// Extra request headers (`Content-Type` defaults to `application/json` when there is a body).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body as text (placeholders filled).
    pub body: Option<String>,
    /// How many times `body` is repeated (deep nesting: `body = "["`, `repeat = 5000`); default once.
    pub repeat: Option<usize>,
    /// The body as base64, for bytes that are not UTF-8.
    pub body_base64: Option<String>,
    /// A JSON object padded to exactly this many bytes, for bodies over the size limit.
    pub body_size: Option<usize>,
    /// The expected HTTP status.
    pub status: u16,
    /// Text the answer's error message must contain (case-sensitive; placeholders filled).
    pub error: String,
    /// inkit-mock only: the `field` the error must name (`""` for none).
    pub field: Option<String>,
    /// Whether the case was expanded from `every_route`.
    #[serde(skip)]
    pub per_route: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    #[default]
    Valid,
    None,
    Wrong,
    UnknownAccount,
    NoPasscode,
}

/// A server's credentials for each [`Credentials`] choice: the headers to send.
pub type CredentialHeaders = fn(Credentials) -> Vec<(&'static str, &'static str)>;

impl Corpus {
    /// Reads `fixtures/bad-requests/{file}` and moves `every_route` into `case`, once for each of `routes`
    /// (`METHOD /path`, `{id}` as in the route lists), each case's name suffixed with the route.
    pub fn load(file: &str, routes: &[&str]) -> Corpus {
        let path = fixtures().join("bad-requests").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut corpus: Corpus = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut cases = std::mem::take(&mut corpus.case);
        for template in std::mem::take(&mut corpus.every_route) {
            for route in routes {
                let route = route.replace("{id}", "7");
                let mut case = template.clone();
                case.request = template.request.replace("{route}", &route);
                if case.request.is_empty() {
                    case.request = route.clone();
                }
                case.name = format!("{} ({route})", template.name);
                case.per_route = true;
                cases.push(case);
            }
        }
        corpus.case = cases;
        corpus
    }

    /// Asserts that every route in `routes` is the target of a case of its own (not only of the per-route
    /// credential cases) with its method, or, for a `no_input` route, on its path; `prefix` is one the server
    /// also serves its routes under (`/v1`).
    pub fn assert_covers(&self, ids: &HashMap<&str, String>, routes: &[&str], prefix: &str) {
        let targets: Vec<(Method, String)> = self
            .case
            .iter()
            .filter(|c| !c.per_route)
            .map(|c| {
                let (method, path) = c.target(ids);
                let path = path.strip_prefix(prefix).filter(|p| p.starts_with('/')).unwrap_or(&path).to_owned();
                (method, path)
            })
            .collect();
        let missing: Vec<&&str> = routes
            .iter()
            .filter(|route| {
                let (method, template) = route.split_once(' ').expect("METHOD PATH");
                let any_method = self.no_input.iter().any(|r| r == *route);
                !targets.iter().any(|(m, p)| (any_method || m.as_str() == method) && matches_route(template, p))
            })
            .collect();
        assert!(missing.is_empty(), "routes without a case of their own in the corpus: {missing:?}");
    }
}

impl Case {
    fn method_and_path(&self, ids: &HashMap<&str, String>) -> (Method, String) {
        let request = fill(&self.request, ids);
        let (method, path) =
            request.split_once(' ').unwrap_or_else(|| panic!("{}: request must be `METHOD /path`", self.name));
        (Method::from_bytes(method.as_bytes()).expect("a method"), path.to_owned())
    }

    /// The route's method and path without its query: for checking which routes the corpus covers.
    pub fn target(&self, ids: &HashMap<&str, String>) -> (Method, String) {
        let (method, path) = self.method_and_path(ids);
        let path = path.split('?').next().unwrap_or_default().to_owned();
        (method, path)
    }

    fn body(&self, ids: &HashMap<&str, String>) -> Bytes {
        match (&self.body, &self.body_base64, self.body_size) {
            (Some(text), None, None) => Bytes::from(fill(text, ids).repeat(self.repeat.unwrap_or(1))),
            (None, Some(b64), None) => Bytes::from(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .unwrap_or_else(|e| panic!("{}: body_base64: {e}", self.name)),
            ),
            (None, None, Some(size)) => {
                let mut json = format!("{{\"pad\":\"{}\"}}", "x".repeat(size.saturating_sub(10)));
                json.truncate(size);
                Bytes::from(json)
            }
            (None, None, None) => Bytes::new(),
            _ => panic!("{}: give one of body, body_base64, body_size", self.name),
        }
    }

    /// Sends the case (at most 5 s: a refusal is immediate) and returns the answer.
    pub async fn send(&self, client: &Client, ids: &HashMap<&str, String>, credentials: CredentialHeaders) -> Reply {
        let (method, path) = self.method_and_path(ids);
        let body = self.body(ids);
        let mut headers: Vec<(&str, &str)> = credentials(self.credentials);
        let has_type = self.headers.keys().any(|k| k.eq_ignore_ascii_case("content-type"));
        if !body.is_empty() && !has_type {
            headers.push(("content-type", "application/json"));
        }
        headers.extend(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let sent = client.send(method.clone(), &path, body, &headers);
        tokio::time::timeout(Duration::from_secs(5), sent)
            .await
            .unwrap_or_else(|_| panic!("{}: {method} {path} not answered within 5 s", self.name))
    }

    /// What is wrong with `reply` for this case, if anything.
    pub fn check(&self, reply: &Reply, ids: &HashMap<&str, String>) -> Option<String> {
        let expected_error = fill(&self.error, ids);
        let mut problems = Vec::new();
        if reply.status != self.status {
            problems.push(format!("status {} (expected {})", reply.status, self.status));
        }
        if reply.content_type() != "application/json" {
            problems.push(format!("content type {:?}", reply.content_type()));
        }
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        match body["error"].as_str() {
            Some(message) if message.contains(&expected_error) => {}
            _ => problems.push(format!("error message without {expected_error:?}")),
        }
        if let Some(field) = &self.field {
            let expected = (!field.is_empty()).then_some(field.as_str());
            if body["field"].as_str() != expected {
                problems.push(format!("field {} (expected {expected:?})", body["field"]));
            }
        }
        (!problems.is_empty()).then(|| format!("{}: {}; answer: {}", self.name, problems.join(", "), reply.text()))
    }
}

/// `text` with every `{name}` of `ids` replaced by its value.
fn fill(text: &str, ids: &HashMap<&str, String>) -> String {
    ids.iter().fold(text.to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

/// Whether `path` is an instance of the route template `template` (`/render/{id}` matches `/render/rend_1`).
fn matches_route(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}
