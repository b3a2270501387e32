//! One user's mailer followed from trigger to document: the History entry or delivery id a person has in
//! hand leads to the delivery (its campaign, run and user), every attempt the dispatcher made, and every
//! History entry those attempts left in Inkit (a retry whose first answer was lost leaves a duplicate).

use std::fmt;
use std::sync::Arc;

use inkit_mock::{EntryKind, HistoryEntry, Inkit};
use webhook_dispatcher::delivery::{DeliveryState, OutboxEntry};
use webhook_dispatcher::outbox::{Outbox, OutboxError};

/// What a delivery id says of its trigger: `<campaign>-<run>-<CleverTap ID>` (see the engine's `Delivery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryName {
    pub campaign_id: u64,
    /// `r<k>`: scheduled run k; `e<nanos>.<n>`: a live trigger by an event at that instant; `d<YYYYMMDD>`: a
    /// date-property day.
    pub run: String,
    pub object_id: String,
}

impl DeliveryName {
    pub fn parse(id: &str) -> Option<DeliveryName> {
        let (campaign, rest) = id.split_once('-')?;
        let (run, object_id) = rest.split_once('-')?;
        Some(DeliveryName { campaign_id: campaign.parse().ok()?, run: run.to_owned(), object_id: object_id.to_owned() })
    }

    /// The trigger in words.
    pub fn trigger(&self) -> String {
        let run = &self.run;
        if let Some(k) = run.strip_prefix('r') {
            format!("scheduled run {k} of campaign {}", self.campaign_id)
        } else if let Some(event) = run.strip_prefix('e') {
            let (nanos, n) = event.split_once('.').unwrap_or((event, "0"));
            let at = nanos
                .parse::<i128>()
                .ok()
                .and_then(|n| clock::Timestamp::from_nanosecond(n).ok())
                .map_or_else(|| nanos.to_owned(), clock::rfc3339);
            let nth = if n == "0" { String::new() } else { format!(" (event {n} at that instant)") };
            format!("live campaign {}: the user's event at {at}{nth}", self.campaign_id)
        } else if let Some(day) = run.strip_prefix('d') {
            format!("date-property campaign {} on {day}", self.campaign_id)
        } else {
            format!("campaign {} run {run}", self.campaign_id)
        }
    }
}

/// The chain of one delivery.
#[derive(Debug, Clone)]
pub struct Trace {
    pub delivery_id: String,
    pub name: Option<DeliveryName>,
    /// The dispatcher's record: the delivery, its state and attempts (absent when the outbox does not have it).
    pub outbox: Option<OutboxEntry>,
    /// The History entries the delivery's attempts left, oldest first.
    pub history: Vec<Arc<HistoryEntry>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("no History entry {0}")]
    UnknownHistoryEntry(String),
    #[error("History entry {0} was not made by a tapink delivery (it has no Idempotency-Key)")]
    NotADelivery(String),
    #[error("nothing known of delivery {0}: not in the outbox, not in History")]
    UnknownDelivery(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// The trace of `id`: a History entry id (`rend_…`) or a delivery id.
pub fn trace(id: &str, outbox: &dyn Outbox, inkit: &Inkit) -> Result<Trace, TraceError> {
    let delivery_id = if id.starts_with("rend_") {
        let entry = inkit.entry(id).ok_or_else(|| TraceError::UnknownHistoryEntry(id.to_owned()))?;
        entry.idempotency_key.clone().ok_or_else(|| TraceError::NotADelivery(id.to_owned()))?
    } else {
        id.to_owned()
    };
    let outbox_entry = outbox.get(&delivery_id)?;
    let mut history = inkit
        .entries_where(|e| e.kind == EntryKind::Render && e.idempotency_key.as_deref() == Some(delivery_id.as_str()));
    history.sort_by_key(|e| e.seq);
    if outbox_entry.is_none() && history.is_empty() {
        return Err(TraceError::UnknownDelivery(delivery_id));
    }
    Ok(Trace { name: DeliveryName::parse(&delivery_id), delivery_id, outbox: outbox_entry, history })
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "delivery {}", self.delivery_id)?;
        if let Some(name) = &self.name {
            writeln!(f, "  trigger    {}", name.trigger())?;
            writeln!(f, "  user       {}", name.object_id)?;
        }
        match &self.outbox {
            None => writeln!(f, "  dispatcher (not in this outbox)")?,
            Some(entry) => {
                let d = &entry.delivery;
                writeln!(f, "  trace id   {}", d.trace_id)?;
                writeln!(f, "  campaign   {} \"{}\" via webhook \"{}\"", d.campaign_id, d.campaign_name, d.webhook)?;
                writeln!(f, "  made at    {}", clock::rfc3339(d.created_at))?;
                for a in &entry.attempts {
                    let outcome = match (a.status, &a.error) {
                        (Some(status), None) => format!("HTTP {status}"),
                        (Some(status), Some(e)) => format!("HTTP {status}: {e}"),
                        (None, Some(e)) => e.clone(),
                        (None, None) => "no answer".to_owned(),
                    };
                    writeln!(
                        f,
                        "  attempt {}  {}  {:>8.1} ms  {outcome}",
                        a.number,
                        clock::rfc3339(a.started_at),
                        a.latency_ms
                    )?;
                }
                let state = match &entry.state {
                    DeliveryState::Pending { due_at } => {
                        format!("pending, next attempt at {}", clock::rfc3339(*due_at))
                    }
                    DeliveryState::Delivered { at, status } => {
                        format!("delivered at {} (HTTP {status})", clock::rfc3339(*at))
                    }
                    DeliveryState::DeadLetter { at, reason } => {
                        format!("dead letter at {}: {reason}", clock::rfc3339(*at))
                    }
                    DeliveryState::NotSent { at, reason } => format!("not sent ({}): {reason}", clock::rfc3339(*at)),
                };
                writeln!(f, "  state      {state}")?;
            }
        }
        if self.history.is_empty() {
            writeln!(f, "  History    no entry in Inkit")?;
        }
        for e in &self.history {
            let duplicate = e.duplicate_of.as_ref().map_or(String::new(), |of| format!("  duplicate of {of}"));
            writeln!(
                f,
                "  History    {} document {} at {} template {}{duplicate}",
                e.id,
                e.document_id.as_deref().unwrap_or("-"),
                clock::rfc3339(e.created_at),
                e.template_id.as_deref().unwrap_or("-"),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_name_their_campaign_run_and_user() {
        let name = DeliveryName::parse("1795772815-r3-__tapink-00000007").unwrap();
        assert_eq!(
            (name.campaign_id, name.run.as_str(), name.object_id.as_str()),
            (1795772815, "r3", "__tapink-00000007")
        );
        assert_eq!(name.trigger(), "scheduled run 3 of campaign 1795772815");
        let live = DeliveryName::parse("7-e1800000000000000000.1-u1").unwrap();
        assert_eq!(
            live.trigger(),
            "live campaign 7: the user's event at 2027-01-15T08:00:00.000Z (event 1 at that instant)"
        );
        assert_eq!(DeliveryName::parse("not-a-delivery"), None);
    }
}
