//! The deliveries the benchmarks queue and send (`dispatch_bench`, `outbox_bench`, `outbox_hold`): the same
//! for the same user number, so their figures compare.

use clock::Timestamp;
use serde_json::{Map, Value};

use crate::delivery::Delivery;

/// The campaign every synthetic delivery belongs to.
pub const CAMPAIGN_ID: u64 = 1_700_000_001;

/// User `i`'s delivery of campaign [`CAMPAIGN_ID`] over the webhook "Inkit": a `Name` with a quote in it (so a
/// JSON body's escaping applies) and an `Email`.
pub fn delivery(i: usize, now: Timestamp) -> Delivery {
    let mut profile = Map::new();
    profile.insert("Name".into(), Value::String(format!("User \"{i}\"")));
    profile.insert("Email".into(), Value::String(format!("user{i}@example.com")));
    Delivery {
        id: format!("{CAMPAIGN_ID}:1:user-{i}"),
        trace_id: format!("trace-{i}"),
        object_id: format!("obj-{i}"),
        identity: None,
        webhook: "Inkit".into(),
        campaign_id: CAMPAIGN_ID,
        campaign_name: "bench".into(),
        profile,
        event: None,
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_number_makes_the_same_delivery_and_others_differ() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        assert_eq!(delivery(7, now), delivery(7, now));
        assert_ne!(delivery(7, now).id, delivery(8, now).id);
        assert_eq!(delivery(7, now).profile["Name"], "User \"7\"");
    }
}
