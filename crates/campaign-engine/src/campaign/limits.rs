//! How often one user may get messages: the campaign's own limit ("every time the user qualifies", "at most
//! N times ever", "a minimum gap") and the account's global frequency cap for webhooks (N per D days), both
//! checked against the log of what each user was sent (clevertap.md 5.3).

use std::time::Duration;

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::FieldError;
use crate::schedule::Delay;

/// The campaign's "Limits for engagements".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UserLimit {
    /// Send every time the user qualifies (CleverTap's default).
    #[default]
    EveryTime,
    /// At most N times ever (1 to 250).
    AtMost(u32),
    /// At least this long since the last message of this campaign.
    MinGap(#[serde(with = "seconds")] Duration),
}

/// The account's global cap: at most `max` webhook messages per user in `days` days, across campaigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyCap {
    pub max: u32,
    pub days: u32,
}

/// What one user was sent: `(when, campaign)`, oldest first.
#[derive(Debug, Clone, Default)]
pub struct SendLog {
    sends: Vec<(Timestamp, u64)>,
}

impl SendLog {
    pub fn record(&mut self, at: Timestamp, campaign_id: u64) {
        let i = self.sends.partition_point(|(t, _)| *t <= at);
        self.sends.insert(i, (at, campaign_id));
    }

    /// Whether the campaign's own limit lets it send to this user at `now`.
    pub fn limit_allows(&self, limit: UserLimit, campaign_id: u64, now: Timestamp) -> bool {
        let mut own = self.sends.iter().filter(|(_, c)| *c == campaign_id);
        match limit {
            UserLimit::EveryTime => true,
            UserLimit::AtMost(n) => own.count() < n as usize,
            UserLimit::MinGap(gap) => own.next_back().is_none_or(|(last, _)| since(*last, now) >= gap),
        }
    }

    /// Whether the global frequency cap lets one more message go at `now`: fewer than `max` in the `days`
    /// days before it.
    pub fn cap_allows(&self, cap: FrequencyCap, now: Timestamp) -> bool {
        let window = Duration::from_secs(u64::from(cap.days) * 86_400);
        let recent = self.sends.iter().rev().take_while(|(t, _)| since(*t, now) < window).count();
        recent < cap.max as usize
    }
}

fn since(then: Timestamp, now: Timestamp) -> Duration {
    now.duration_since(then).try_into().unwrap_or(Duration::ZERO)
}

impl UserLimit {
    /// Reads `"every_time"`, `{"at_most": N}` or `{"min_gap": {"value": V, "unit": "minutes"|"hours"|"days"}}`.
    pub fn parse(json: &Value, path: &str) -> Result<UserLimit, FieldError> {
        match json {
            Value::String(s) if s == "every_time" => Ok(UserLimit::EveryTime),
            Value::Object(o) if o.len() == 1 && o.contains_key("at_most") => match o["at_most"].as_u64() {
                Some(n @ 1..=250) => Ok(UserLimit::AtMost(n as u32)),
                _ => Err(FieldError::new(format!("{path}.at_most"), "must be a whole number from 1 to 250")),
            },
            Value::Object(o) if o.len() == 1 && o.contains_key("min_gap") => Ok(UserLimit::MinGap(
                Delay::parse(&o["min_gap"], &format!("{path}.min_gap"))?.duration().unsigned_abs(),
            )),
            _ => Err(FieldError::new(
                path,
                "must be \"every_time\", {\"at_most\": N} or {\"min_gap\": {\"value\": V, \"unit\": U}}",
            )),
        }
    }
}

impl FrequencyCap {
    /// Reads `{"max": N, "days": D}`, both at least 1.
    pub fn parse(json: &Value, path: &str) -> Result<FrequencyCap, FieldError> {
        let field = |name: &str| -> Result<u32, FieldError> {
            match json.get(name).and_then(Value::as_u64) {
                Some(n @ 1..=10_000) => Ok(n as u32),
                _ => Err(FieldError::new(format!("{path}.{name}"), "must be a whole number from 1 to 10000")),
            }
        };
        if !json.is_object() {
            return Err(FieldError::new(path, "must be an object {\"max\": N, \"days\": D}"));
        }
        Ok(FrequencyCap { max: field("max")?, days: field("days")? })
    }
}

mod seconds {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn at_most_n_times_ever_counts_only_this_campaigns_sends() {
        let mut log = SendLog::default();
        log.record(t(0), 1);
        log.record(t(10), 2);
        assert!(log.limit_allows(UserLimit::AtMost(2), 1, t(20)));
        log.record(t(20), 1);
        assert!(!log.limit_allows(UserLimit::AtMost(2), 1, t(30)));
        assert!(log.limit_allows(UserLimit::AtMost(2), 2, t(30)));
    }

    #[test]
    fn a_minimum_gap_waits_from_the_campaigns_last_send() {
        let mut log = SendLog::default();
        log.record(t(0), 1);
        let gap = UserLimit::MinGap(Duration::from_secs(3_600));
        assert!(!log.limit_allows(gap, 1, t(3_599)));
        assert!(log.limit_allows(gap, 1, t(3_600)));
    }

    #[test]
    fn the_global_cap_counts_every_campaign_in_a_sliding_window() {
        let mut log = SendLog::default();
        let cap = FrequencyCap { max: 2, days: 7 };
        log.record(t(0), 1);
        log.record(t(86_400), 2);
        assert!(!log.cap_allows(cap, t(2 * 86_400)));
        assert!(log.cap_allows(cap, t(7 * 86_400)), "the first send has left the window");
    }

    #[test]
    fn limits_parse_from_json_and_name_bad_fields() {
        assert_eq!(UserLimit::parse(&json!({"at_most": 3}), "limit").unwrap(), UserLimit::AtMost(3));
        assert_eq!(
            UserLimit::parse(&json!({"min_gap": {"value": 2, "unit": "hours"}}), "limit").unwrap(),
            UserLimit::MinGap(Duration::from_secs(7_200))
        );
        assert_eq!(UserLimit::parse(&json!({"at_most": 251}), "limit").unwrap_err().path, "limit.at_most");
        assert_eq!(
            UserLimit::parse(&json!({"min_gap": {"value": 2, "unit": "weeks"}}), "limit").unwrap_err().path,
            "limit.min_gap.unit"
        );
        assert_eq!(FrequencyCap::parse(&json!({"max": 3}), "frequency_cap").unwrap_err().path, "frequency_cap.days");
    }
}
