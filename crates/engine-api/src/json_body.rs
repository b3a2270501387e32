//! Reading a request body as JSON, with errors that say where it went wrong: empty, not UTF-8 (with the byte
//! offset), or malformed (with line and column).

use serde_json::Value;

use crate::error::ApiError;

/// The body as JSON, of any shape: each route checks the shape it needs and names the field at fault.
pub fn parse(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Request body is empty; expected JSON"));
    }
    if let Err(e) = std::str::from_utf8(body) {
        return Err(ApiError::bad_request(format!(
            "Request body is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Malformed JSON: {}", describe(&e))))
}

/// A JSON error as `line L column C: what`, for bodies and for JSON given in a query parameter.
pub fn describe(error: &serde_json::Error) -> String {
    let message = error.to_string();
    // serde_json appends " at line L column C"; say where first, and once.
    let what = message.split(" at line ").next().unwrap_or(&message);
    format!("line {} column {}: {what}", error.line(), error.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = parse(b"{\n  \"d\": [1,,]\n}").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.message, "Malformed JSON: line 2 column 11: expected value");
    }

    #[test]
    fn invalid_utf8_and_empty_bodies_are_named() {
        assert_eq!(
            parse(b"{\"a\":\"\xff\"}").unwrap_err().message,
            "Request body is not valid UTF-8 (invalid byte at offset 6)"
        );
        assert_eq!(parse(b"  \n").unwrap_err().message, "Request body is empty; expected JSON");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(deep.as_bytes()).unwrap_err().status, 400);
    }
}
