//! What the engine hands on: one user's message of one campaign run, with an id that is the same every time
//! the same (campaign, run, user) comes round, so a repeated hand-over is stored once and receivers can
//! deduplicate.

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::stable_hash::stable_hash;

/// Which run of a campaign a delivery belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKey {
    /// Run `k` (0-based) of a scheduled campaign: send now, later, multiple dates, recurring.
    Scheduled(u32),
    /// A live campaign's qualification by one event, named by the event's time (epoch nanoseconds) and its
    /// position among the user's events at that time.
    Live { at_nanos: i128, n: u32 },
    /// A date-property campaign's day, as `YYYYMMDD`.
    Day(u32),
}

impl std::fmt::Display for RunKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunKey::Scheduled(k) => write!(f, "r{k}"),
            RunKey::Live { at_nanos, n } => write!(f, "e{at_nanos}.{n}"),
            RunKey::Day(day) => write!(f, "d{day}"),
        }
    }
}

/// One user's message of one campaign run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `<campaign>-<run>-<CleverTap ID>`: stable, readable, unique per (campaign, run, user).
    pub id: String,
    /// Follows the delivery from its trigger to the History entry (16 hex digits, derived from the id).
    pub trace_id: String,
    pub campaign_id: u64,
    pub campaign_name: String,
    /// The webhook's name (Settings > Channels > Webhook).
    pub webhook: String,
    pub run: RunKey,
    /// The user's CleverTap ID.
    pub object_id: String,
    /// The user's `identity`, if the profile has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The user's profile properties when the delivery was made.
    pub profile: Map<String, Value>,
    /// The triggering event's properties (live campaigns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Map<String, Value>>,
    /// When the engine handed it on.
    pub created_at: Timestamp,
}

impl Delivery {
    /// The stable id of (campaign, run, user).
    pub fn id_for(campaign_id: u64, run: RunKey, object_id: &str) -> String {
        format!("{campaign_id}-{run}-{object_id}")
    }

    /// The trace id of a delivery id.
    pub fn trace_for(id: &str) -> String {
        format!("{:016x}", stable_hash(&[b"trace", id.as_bytes()]))
    }
}

/// Where the engine hands deliveries: the pipeline's dispatcher, or a list in tests.
pub trait DeliverySink: Send {
    fn deliver(&mut self, deliveries: Vec<Delivery>);
}

impl DeliverySink for Vec<Delivery> {
    fn deliver(&mut self, deliveries: Vec<Delivery>) {
        self.extend(deliveries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_campaign_run_and_user_always_get_the_same_ids() {
        let a = Delivery::id_for(1_764_000_000, RunKey::Scheduled(2), "__tapink00000001");
        assert_eq!(a, "1764000000-r2-__tapink00000001");
        assert_eq!(Delivery::trace_for(&a), Delivery::trace_for(&a.clone()));
        assert_ne!(a, Delivery::id_for(1_764_000_000, RunKey::Scheduled(3), "__tapink00000001"));
        assert_eq!(Delivery::trace_for(&a).len(), 16);
    }
}
