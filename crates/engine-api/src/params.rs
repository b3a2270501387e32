//! Query-string parameters, read the way CleverTap's clients send them. The official Node library sends
//! `profile.json?email=…` without URL-encoding the value, and the `query` of `profiles.json` encoded with
//! `querystring`; other clients form-encode. So:
//!
//! - [`Params::text`] (for CQL in `query`, cursors, numbers): `%XX` decoded and `+` read as a space, as in a form.
//!   A `+` inside JSON is always sent as `%2B` by an encoder, so nothing is lost.
//! - [`Params::literal`] (for `email`, `identity`, `objectId`): `%XX` decoded, `+` kept, because the Node library
//!   sends `ada+news@example.com` as it is.
//!
//! In both, a `%` not followed by two hex digits is kept as it is. The first of repeated parameters wins.

use crate::error::ApiError;

/// The parameters of one request, still encoded.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Splits a raw query string (`None` when the URL has none).
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or_default()
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (name, value) = part.split_once('=').unwrap_or((part, ""));
                let name = decode(name, true).unwrap_or_else(|| name.to_owned());
                (name, value.to_owned())
            })
            .collect();
        Self { pairs }
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The parameter, decoded as a form value.
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.decoded(name, true)
    }

    /// The parameter with `%XX` decoded and `+` kept, and the value exactly as sent (to try when the decoded one
    /// finds nothing: a raw value may contain a `%` of its own).
    pub fn literal(&self, name: &str) -> Result<Option<(String, String)>, ApiError> {
        let Some(raw) = self.raw(name) else { return Ok(None) };
        Ok(self.decoded(name, false)?.map(|decoded| (decoded, raw.to_owned())))
    }

    fn decoded(&self, name: &str, plus_is_space: bool) -> Result<Option<String>, ApiError> {
        let Some(raw) = self.raw(name) else { return Ok(None) };
        decode(raw, plus_is_space)
            .map(Some)
            .ok_or_else(|| ApiError::field(name, "is not valid UTF-8 once its %-escapes are decoded"))
    }

    /// A flag such as `dryRun`: absent, `0` or `false` is off; `1` or `true` is on.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.text(name)?.as_deref() {
            None | Some("0" | "false") => Ok(false),
            Some("1" | "true" | "") => Ok(true),
            Some(other) => Err(ApiError::field(name, format!("must be 1 or 0 (or true or false), got {other:?}"))),
        }
    }
}

/// Percent-decodes `text`; `None` when the bytes are not UTF-8.
fn decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let hex = |at: usize| bytes.get(at).and_then(|c| (*c as char).to_digit(16));
        match b {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_decode_escapes_and_plus() {
        let params = Params::parse(Some("query=%7B%22a%22%3A%201%7D&batch_size=5&x=a+b"));
        assert_eq!(params.text("query").unwrap().as_deref(), Some("{\"a\": 1}"));
        assert_eq!(params.text("x").unwrap().as_deref(), Some("a b"));
        assert_eq!(params.text("missing").unwrap(), None);
    }

    #[test]
    fn literal_values_keep_plus_and_decode_escapes_when_present() {
        let params = Params::parse(Some("email=ada+news@example.com&identity=caf%C3%A9&objectId=100%"));
        assert_eq!(params.literal("email").unwrap().map(|v| v.0).as_deref(), Some("ada+news@example.com"));
        assert_eq!(params.literal("identity").unwrap().map(|v| v.0).as_deref(), Some("café"));
        assert_eq!(params.literal("objectId").unwrap().map(|v| v.0).as_deref(), Some("100%"));
    }

    #[test]
    fn bad_utf8_names_the_parameter_and_the_first_repeat_wins() {
        let params = Params::parse(Some("query=%FF&cursor=a&cursor=b"));
        assert_eq!(
            params.text("query").unwrap_err().message,
            "query: is not valid UTF-8 once its %-escapes are decoded"
        );
        assert_eq!(params.text("cursor").unwrap().as_deref(), Some("a"));
    }

    #[test]
    fn flags_read_one_and_zero() {
        assert!(Params::parse(Some("dryRun=1")).flag("dryRun").unwrap());
        assert!(!Params::parse(Some("dryRun=0")).flag("dryRun").unwrap());
        assert!(!Params::parse(None).flag("dryRun").unwrap());
        assert_eq!(
            Params::parse(Some("dryRun=maybe")).flag("dryRun").unwrap_err().message,
            "dryRun: must be 1 or 0 (or true or false), got \"maybe\""
        );
    }
}
