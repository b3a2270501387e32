//! Times in stored records, written fast: every generate stores two, and jiff's `Display` (which serde
//! uses) costs about as much as the rest of a small record. The text is exactly jiff's, so records read
//! back the same and look the same as before; a test compares the two.

use clock::Timestamp;

/// `serialize_with` for a `Timestamp` field.
pub fn serialize<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match format(*t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.collect_str(t),
    }
}

/// `serialize_with` for an `Option<Timestamp>` field.
pub fn serialize_opt<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

/// Appends the time as `serialize` writes it, without the quotes.
pub fn write(t: Timestamp, out: &mut String) {
    let mut buf = [0u8; 30];
    match format(t, &mut buf) {
        Some(text) => out.push_str(text),
        None => {
            use std::fmt::Write as _;
            let _ = write!(out, "{t}");
        }
    }
}

/// `2026-11-27T09:54:46.587175538Z` (fraction without trailing zeros, none for a whole second), as jiff
/// prints it; `None` before 1970 or after 9999, which jiff then prints.
fn format(t: Timestamp, buf: &mut [u8; 30]) -> Option<&str> {
    let secs = t.as_second();
    let nanos = t.subsec_nanosecond();
    if !(0..=253_402_300_799).contains(&secs) || nanos < 0 {
        return None;
    }
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    *buf = *b"0000-00-00T00:00:00.000000000Z";
    digits(&mut buf[0..4], year);
    digits(&mut buf[5..7], month);
    digits(&mut buf[8..10], day);
    digits(&mut buf[11..13], day_secs / 3600);
    digits(&mut buf[14..16], day_secs / 60 % 60);
    digits(&mut buf[17..19], day_secs % 60);
    let mut end = 19;
    if nanos != 0 {
        digits(&mut buf[20..29], i64::from(nanos));
        end = 29;
        while buf[end - 1] == b'0' {
            end -= 1;
        }
    }
    buf[end] = b'Z';
    std::str::from_utf8(&buf[..=end]).ok()
}

/// Writes `value` in decimal into `out`, zero-padded to its length.
fn digits(out: &mut [u8], mut value: i64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Year, month, day of the `days`th day after 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(t: Timestamp) -> String {
        let mut out = Vec::new();
        serialize(&t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn times_are_written_exactly_as_jiff_writes_them() {
        let mut cases: Vec<Timestamp> = [
            "1970-01-01T00:00:00Z",
            "2026-11-27T09:54:46.587175538Z",
            "2026-11-27T07:30:00Z",
            "2026-11-27T07:30:00.123Z",
            "2026-11-27T07:30:00.1Z",
            "2026-11-27T07:30:00.000000001Z",
            "2024-02-29T23:59:59.999999999Z",
            "2000-03-01T00:00:00.5Z",
            "2100-02-28T12:00:00Z",
            "9999-12-30T21:59:59.999999999Z",
            "1969-12-31T23:59:59.5Z",
            "1900-01-01T00:00:00Z",
            "-000001-01-01T00:00:00Z",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        // A spread of times across four centuries, each with a different fraction.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = (x % 12_600_000_000) as i64;
            let nanos = match x % 4 {
                0 => 0,
                1 => (x >> 20) as i32 % 1000 * 1_000_000,
                _ => (x >> 20) as i32 % 1_000_000_000,
            };
            cases.push(Timestamp::new(secs, nanos.abs()).unwrap());
        }
        for t in cases {
            assert_eq!(ours(t), serde_json::to_string(&t).unwrap(), "{t}");
        }
    }
}
