//! Synthetic users for the demo and benchmarks: CleverTap upload records made from a seed, the same every
//! time. Some users lack a phone (the seed body's default shows), and a few have names that need JSON
//! escaping (quotes, a backslash, a newline), as real profiles do.

use serde_json::{Value, json};

const FIRST: [&str; 16] = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Dennis",
    "Frances",
    "Ken",
    "Radia",
    "Niklaus",
    "Hedy",
    "Tim",
    "Katherine",
    "Linus",
];
const LAST: [&str; 16] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Thompson",
    "Perlman",
    "Wirth",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Torvalds",
];
const CITIES: [&str; 8] = ["Paris", "London", "New York", "Mumbai", "Singapore", "Berlin", "São Paulo", "Sydney"];
const ZONES: [&str; 8] = [
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Europe/Berlin",
    "America/Sao_Paulo",
    "Australia/Sydney",
];

/// The generator, shared with the engine's benchmark data.
pub use campaign_engine::synthetic::SplitMix64;

/// The profile upload record of synthetic user `i` (identity `user-<i>`).
pub fn profile_record(i: u64, rng: &mut SplitMix64) -> Value {
    let first = FIRST[rng.below(FIRST.len() as u64) as usize];
    let last = LAST[rng.below(LAST.len() as u64) as usize];
    let name = match rng.below(50) {
        0 => format!("{first} \"{last}\""),
        1 => format!("{first} {last}\\Jr."),
        2 => format!("{first}\n{last}"),
        _ => format!("{first} {last}"),
    };
    let city = rng.below(CITIES.len() as u64) as usize;
    let mut profile = json!({
        "Name": name,
        "Email": format!("{}.{}{}@example.com", first.to_lowercase(), last.to_lowercase(), i),
        "City": CITIES[city],
        "Tz": ZONES[city],
        "Customer Type": if rng.below(4) == 0 { "Platinum" } else { "Gold" },
    });
    if rng.below(5) != 0 {
        profile["Phone"] = json!(format!("+1415555{:04}", i % 10_000));
    }
    json!({"type": "profile", "identity": format!("user-{i}"), "profileData": profile})
}

/// `n` synthetic users as `/1/upload` bodies of at most 1,000 records each (CleverTap's limit per call).
pub fn upload_bodies(n: u64, seed: u64) -> impl Iterator<Item = Value> {
    let mut rng = SplitMix64::new(seed);
    let mut next = 0;
    std::iter::from_fn(move || {
        if next >= n {
            return None;
        }
        let end = (next + 1_000).min(n);
        let records: Vec<Value> = (next..end).map(|i| profile_record(i, &mut rng)).collect();
        next = end;
        Some(json!({"d": records}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_users_in_chunks_of_a_thousand() {
        let a: Vec<Value> = upload_bodies(2_500, 7).collect();
        let b: Vec<Value> = upload_bodies(2_500, 7).collect();
        assert_eq!(a, b);
        let sizes: Vec<usize> = a.iter().map(|body| body["d"].as_array().map_or(0, Vec::len)).collect();
        assert_eq!(sizes, [1_000, 1_000, 500]);
        assert_ne!(a, upload_bodies(2_500, 8).collect::<Vec<_>>());
    }
}
