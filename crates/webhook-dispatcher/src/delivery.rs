//! A delivery: one user's message for one campaign run, as the engine hands it over, and what happened to
//! it (its attempts and its state). The dispatcher's outbox keeps these.

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One user's message of one campaign run. The id is stable (derived by the engine from campaign, run and
/// user), so the same delivery handed over twice is stored once, and receivers can deduplicate retries:
/// it travels as the `Idempotency-Key` of every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    /// Follows the delivery from the triggering event or scheduled run to the History entry.
    pub trace_id: String,
    /// The webhook's name (Settings > Channels > Webhook).
    pub webhook: String,
    /// CleverTap's campaign id (`targetId`) and name, as the body sees them under `Campaign`.
    pub campaign_id: u64,
    pub campaign_name: String,
    /// The user's CleverTap ID (`objectId` in CleverTap's payload).
    #[serde(default)]
    pub object_id: String,
    /// The user's `identity`, if they have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The user's profile properties when the delivery was made.
    pub profile: Map<String, Value>,
    /// The triggering event's properties (live campaigns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Map<String, Value>>,
    /// When the engine handed it over.
    pub created_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting to be sent at `due_at` (a new delivery, or a retry).
    Pending { due_at: Timestamp },
    /// Answered with success.
    Delivered { at: Timestamp, status: u16 },
    /// Given up: a dead letter, with CleverTap's reason ("Webhook Dispatch Failed: …", "Invalid Webhook URL").
    DeadLetter { at: Timestamp, reason: String },
    /// Not sent by decision of its body (`{% abort %}`: "LiquidLogicAborted") or because it could not be
    /// rendered; not retried.
    NotSent { at: Timestamp, reason: String },
}

impl DeliveryState {
    pub fn is_final(&self) -> bool {
        !matches!(self, DeliveryState::Pending { .. })
    }
}

/// One attempt, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptLog {
    /// 1 for the first try.
    pub number: u32,
    pub started_at: Timestamp,
    pub latency_ms: f64,
    /// The HTTP status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What went wrong, when something did (timeout, connection refused, HTTP 503…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the answer's body.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_excerpt: String,
}

/// A delivery in the outbox: what it is, where it stands, and every attempt so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub delivery: Delivery,
    pub state: DeliveryState,
    pub attempts: Vec<AttemptLog>,
    /// Attempts made before the last replay of this dead letter: a replay starts a fresh set of retries,
    /// and the retry policy counts attempts from here (the log keeps them all).
    #[serde(default)]
    pub attempts_before_replay: u32,
}

impl OutboxEntry {
    /// The next attempt's number in the log (1 for the first try).
    pub fn next_attempt(&self) -> u32 {
        self.attempts.len() as u32 + 1
    }

    /// The next attempt's number as the retry policy counts it: from the last replay.
    pub fn next_attempt_since_replay(&self) -> u32 {
        self.next_attempt().saturating_sub(self.attempts_before_replay)
    }
}
