//! The campaign's "When" as the runner asks it: when run k opens, when a user of that run is sent to (their
//! time zone), and whether an instant falls in the DND window. PROVISIONAL: send now or at fixed instants,
//! no DND; replaced by the `schedule` module's full model.

use clock::Timestamp;
use serde_json::{Map, Value};

use crate::FieldError;

/// When a scheduled campaign runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// One run, when published.
    Now,
    /// One run per instant, in order.
    At(Vec<Timestamp>),
}

/// What DND says of a message at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DndVerdict {
    Clear,
    Discard,
    DelayUntil(Timestamp),
}

impl Schedule {
    pub fn parse(json: &Value, path: &str) -> Result<Schedule, FieldError> {
        match json {
            Value::String(s) if s == "now" => Ok(Schedule::Now),
            _ => Err(FieldError::new(path, "must be \"now\"")),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Schedule::Now => Value::String("now".into()),
            Schedule::At(at) => at.iter().map(|t| Value::String(t.to_string())).collect(),
        }
    }

    /// When run `k` opens, for a campaign published at `published_at`; `None` when there is no run `k`.
    pub fn run_open(&self, k: u32, published_at: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Now => (k == 0).then_some(published_at),
            Schedule::At(at) => at.get(k as usize).copied(),
        }
    }

    /// When a user of run `k` (which opened at `opened`) is sent to, or `None` when their time had passed and
    /// the campaign drops such users.
    pub fn send_at(&self, _k: u32, opened: Timestamp, _profile: &Map<String, Value>) -> Option<Timestamp> {
        Some(opened)
    }

    /// Whether the instant is in the DND window for this user.
    pub fn dnd(&self, _at: Timestamp, _profile: &Map<String, Value>) -> DndVerdict {
        DndVerdict::Clear
    }
}
