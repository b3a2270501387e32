//! The benchmarks' data, the same in every example that includes this file: deterministic (a fixed-seed
//! splitmix64), each profile a `City` among 50 and a `Gender`; each event belongs to a random profile,
//! happened in the 90 days before `now`, and is `Charged` (one in five, with an `Amount` from 0 to 299) or one
//! of 19 other events without properties, none of them a name CleverTap reserves. Profiles come first (`p0`, `p1`, … by `objectId`), then events.

use clock::Timestamp;
use serde_json::{Value, json};

pub const CITIES: u64 = 50;
pub const OTHER_EVENTS: [&str; 19] = [
    "App Opened",
    "App Closed",
    "Added To Cart",
    "Removed From Cart",
    "Product Viewed",
    "Category Viewed",
    "Searched",
    "Wishlisted",
    "Checkout Started",
    "Coupon Applied",
    "Banner Clicked",
    "Banner Viewed",
    "Email Opened",
    "Email Clicked",
    "Signed Up",
    "Logged In",
    "Logged Out",
    "Rated App",
    "Shared",
];
pub const DAYS: u64 = 90;

/// The instant the data is generated against.
pub fn now() -> Timestamp {
    "2026-03-01T00:00:00Z".parse().expect("a timestamp")
}

/// splitmix64: small, fast and good enough to spread test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One generated record.
pub enum Generated {
    /// Uploaded a year and more before `now`.
    Profile {
        object_id: String,
        city: String,
        gender: &'static str,
        ts: Timestamp,
    },
    Event {
        object_id: String,
        name: &'static str,
        amount: Option<u64>,
        ts: Timestamp,
    },
}

impl Generated {
    /// The `profileData` or `evtData` of the record.
    pub fn properties(&self) -> serde_json::Map<String, Value> {
        let object = match self {
            Generated::Profile { city, gender, .. } => json!({"City": city, "Gender": gender}),
            Generated::Event { amount: Some(amount), .. } => json!({"Amount": amount}),
            Generated::Event { amount: None, .. } => json!({}),
        };
        match object {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object"),
        }
    }

    /// The record in CleverTap's upload format.
    #[allow(dead_code)] // not every example uploads JSON
    pub fn upload_json(&self) -> Value {
        match self {
            Generated::Profile { object_id, ts, .. } => json!({"type": "profile", "objectId": object_id,
                "ts": ts.as_second(), "profileData": self.properties()}),
            Generated::Event { object_id, name, ts, .. } => json!({"type": "event", "objectId": object_id,
                "ts": ts.as_second(), "evtName": name, "evtData": self.properties()}),
        }
    }
}

/// The `profiles` profiles and then the `events` events, one at a time.
pub fn generate(profiles: usize, events: usize, mut each: impl FnMut(Generated)) {
    let now = now();
    let mut rng = SplitMix64(0x7A91_17E5_EED5_0001);
    let before = |secs: i64| Timestamp::from_second(now.as_second() - secs).expect("in range");
    let created = before(400 * 86_400);
    for i in 0..profiles {
        let city = format!("City {}", rng.below(CITIES));
        let gender = if rng.below(2) == 0 { "F" } else { "M" };
        each(Generated::Profile { object_id: format!("p{i}"), city, gender, ts: created });
    }
    let window_secs = DAYS * 86_400;
    for _ in 0..events {
        let object_id = format!("p{}", rng.below(profiles as u64));
        let ago = i64::try_from(rng.below(window_secs)).expect("fits");
        let ts = before(ago);
        let event = if rng.below(5) == 0 {
            Generated::Event { object_id, name: "Charged", amount: Some(rng.below(300)), ts }
        } else {
            let name = OTHER_EVENTS[rng.below(OTHER_EVENTS.len() as u64) as usize];
            Generated::Event { object_id, name, amount: None, ts }
        };
        each(event);
    }
}

/// A whole-number argument (`1_000_000` and `1,000,000` read too), or `default`.
pub fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).map_or(default, |a| a.replace(['_', ','], "").parse().expect("a whole number"))
}

/// Peak resident set size (`VmHWM`), as Linux reports it.
pub fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_owned()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// CPU time used by the whole process so far (user + system), in seconds; `/proc/self/stat` counts in ticks
/// of 10 ms.
#[allow(dead_code)] // not every example reads it
pub fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}
