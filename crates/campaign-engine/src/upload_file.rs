//! An upload file (fixtures, `tapink engine --load FILE`): the records of a file in the upload format (see
//! [`parse_lines`]) with the line each starts on, and loading them into an engine in uploads of at most
//! [`MAX_RECORDS`], so a file may hold any number of records and each refused one is named by its line.

use serde_json::{Map, Value};

use crate::engine::Engine;
use crate::upload::{LineError, MAX_RECORDS, UploadError, parse_lines};

/// A file's records, in order, with the 1-based line each starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadFile {
    pub records: Vec<Value>,
    pub lines: Vec<usize>,
}

/// A file that is not in the upload format, named by line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadFileError {
    /// JSON that does not parse.
    #[error(transparent)]
    Syntax(#[from] LineError),
    /// A JSON document whose `d` is not a list of records.
    #[error("line {line}: {error}")]
    NotAnUpload { line: usize, error: UploadError },
}

/// One record the engine refused, by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub line: usize,
    /// CleverTap's code (509–555).
    pub code: u16,
    /// CleverTap's message, without its "Skipped record number" suffix.
    pub message: String,
}

/// What loading a file did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loaded {
    pub processed: usize,
    /// In line order.
    pub unprocessed: Vec<Refused>,
}

impl UploadFile {
    /// Reads `text` as [`parse_lines`] does, and finds the line each record starts on.
    pub fn parse(text: &str) -> Result<Self, UploadFileError> {
        let body = parse_lines(text)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let uncommented: Vec<&str> = text.lines().map(|l| if is_comment(l) { "" } else { l }).collect();
        let first_line = uncommented.iter().position(|l| !l.trim().is_empty()).map_or(1, |i| i + 1);
        let Some(Value::Array(records)) = body.get("d") else {
            return Err(UploadFileError::NotAnUpload { line: first_line, error: UploadError::RecordsNotAnArray });
        };
        let whole = uncommented.join("\n");
        let lines = if serde_json::from_str::<Value>(&whole).is_ok() {
            // One document: `{"d": [...]}`, or a single record.
            match record_lines_in_document(&whole) {
                Some(lines) if lines.len() == records.len() => lines,
                _ => vec![first_line; records.len()],
            }
        } else {
            // One record per line.
            (1..=uncommented.len()).filter(|n| !uncommented[n - 1].trim().is_empty()).collect()
        };
        Ok(Self { records: records.clone(), lines })
    }

    /// Uploads the records to `engine`, [`MAX_RECORDS`] at a time, in order.
    pub fn load_into(&self, engine: &mut Engine) -> Result<Loaded, UploadError> {
        let mut loaded = Loaded::default();
        for (chunk_index, chunk) in self.records.chunks(MAX_RECORDS).enumerate() {
            let mut body = Map::new();
            body.insert("d".into(), Value::Array(chunk.to_vec()));
            let outcome = engine.upload(&Value::Object(body))?;
            loaded.processed += outcome.processed;
            for refused in outcome.unprocessed {
                let index = chunk_index * MAX_RECORDS + refused.number.saturating_sub(1);
                let suffix = format!("Skipped record number : {}", refused.number);
                let message = refused.error.strip_suffix(&suffix).unwrap_or(&refused.error).trim_end().to_owned();
                let line = self.lines.get(index).copied().unwrap_or_default();
                loaded.unprocessed.push(Refused { line, code: refused.code, message });
            }
        }
        Ok(loaded)
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The line each element of the top-level `"d"` array starts on, scanning the document's tokens; `None` when
/// the document has no such array (a single record).
fn record_lines_in_document(text: &str) -> Option<Vec<usize>> {
    let mut lines = Vec::new();
    let (mut line, mut depth) = (1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    let mut string = String::new();
    // At depth 1: whether the next string is a key, and the key whose value comes next.
    let (mut expect_key, mut key) = (false, String::new());
    // Inside `d`: its depth, and whether the next token starts an element.
    let (mut in_d, mut expect_element) = (false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    in_string = false;
                    if depth == 1 && expect_key {
                        key = std::mem::take(&mut string);
                        expect_key = false;
                    }
                }
                _ => {}
            }
            if in_string && depth == 1 {
                string.push(c);
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if in_d && depth == 2 && expect_element && c != ']' {
            lines.push(line);
            expect_element = false;
        }
        match c {
            '"' => {
                in_string = true;
                string.clear();
            }
            '{' | '[' => {
                depth += 1;
                if depth == 1 {
                    expect_key = c == '{';
                } else if depth == 2 && c == '[' && key == "d" && !in_d && lines.is_empty() {
                    in_d = true;
                    expect_element = true;
                }
            }
            '}' | ']' => {
                if in_d && depth == 2 {
                    return Some(lines);
                }
                depth = depth.saturating_sub(1);
            }
            ',' if depth == 1 => expect_key = true,
            ',' if in_d && depth == 2 => expect_element = true,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use clock::ManualClock;
    use serde_json::json;
    use std::sync::Arc;

    fn engine() -> Engine {
        Engine::new(Arc::new(ManualClock::new("2026-11-27T09:00:00Z".parse().unwrap())))
    }

    #[test]
    fn records_of_a_d_document_are_numbered_by_the_line_they_start_on() {
        let text = "# users\n{\"note\": \"d\", \"d\": [\n  {\"type\": \"profile\",\n   \"identity\": \"u1\", \"profileData\": {}},\n\n  {\"type\": \"event\", \"x\": [\"]\", {\"d\": [1]}]}\n]}\n";
        let file = UploadFile::parse(text).unwrap();
        assert_eq!(file.lines, [3, 6]);
        assert_eq!(file.records.len(), 2);
    }

    #[test]
    fn records_of_a_lines_file_are_numbered_by_their_line() {
        let text = "# fixtures\n{\"type\":\"profile\"}\n\n{\"type\":\"event\"}\n";
        assert_eq!(UploadFile::parse(text).unwrap().lines, [2, 4]);
        assert_eq!(UploadFile::parse("\n{\"type\": \"profile\",\n \"identity\": 1}").unwrap().lines, [2]);
    }

    #[test]
    fn a_d_that_is_not_a_list_is_named_by_line() {
        let error = UploadFile::parse("\n{\"d\": {}}").unwrap_err();
        assert_eq!(error.to_string(), "line 2: Request body is incorrect. \"d\" needs to be an array of records.");
    }

    #[test]
    fn more_than_1000_records_load_in_chunks_and_refusals_name_their_line() {
        // arrange
        let mut text = String::new();
        for i in 0..2500 {
            let email = if i == 1700 { "broken".to_owned() } else { format!("u{i}@example.com") };
            text.push_str(
                &json!({"type": "profile", "identity": format!("u{i}"), "profileData": {"Email": email}}).to_string(),
            );
            text.push('\n');
        }
        let file = UploadFile::parse(&text).unwrap();
        let mut engine = engine();

        // act
        let loaded = file.load_into(&mut engine).unwrap();

        // assert
        assert_eq!(loaded.processed, 2499);
        assert_eq!(
            loaded.unprocessed,
            [Refused { line: 1701, code: 515, message: "Profile data is incorrect. Email is not valid.".into() }]
        );
        assert_eq!(engine.store().profile_count(), 2499);
    }
}
