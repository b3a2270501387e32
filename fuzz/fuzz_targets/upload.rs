//! Fuzzes the upload parser (`campaign_engine::upload`): the input is read as a fixture file (`parse_lines`) and
//! as an upload body (`validate_upload`, `validate`).
//!
//! Checks: nothing panics; a fixture file's syntax error names one of its lines; every record of a body is either
//! accepted or refused, the refused ones echoed as uploaded with a CleverTap code.

#![no_main]

use campaign_engine::upload::{LineError, parse_lines, validate, validate_upload};
use clock::Timestamp;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn check_body(body: &Value, now: Timestamp) {
    let Ok(checked) = validate_upload(body, now) else { return };
    let records = body["d"].as_array().expect("an accepted body has d as a list");
    assert_eq!(checked.records.len() + checked.outcome.unprocessed.len(), records.len());
    assert_eq!(checked.outcome.processed, checked.records.len());
    for refused in &checked.outcome.unprocessed {
        assert_eq!(&refused.record, &records[refused.number - 1]);
        assert!((509..=555).contains(&refused.code), "{refused:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_second(1_772_366_400).expect("a valid instant");
    if let Ok(text) = std::str::from_utf8(data) {
        match parse_lines(text) {
            Ok(body) => check_body(&body, now),
            Err(LineError::Syntax { line, .. }) => {
                assert!(line >= 1 && line <= text.lines().count().max(1), "line {line} of {text:?}");
            }
        }
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        check_body(&value, now);
        let _ = validate(&value, now);
    }
});
