//! The engine as one value: the store of profiles and events, the campaigns and their runner, the webhooks
//! campaigns may name, and the clock it reads. The engine API and the pipeline hold one `Engine` behind a
//! lock; everything it does happens at the clock's now.

use std::collections::BTreeSet;
use std::sync::Arc;

use clock::{Clock, Timestamp};
use serde_json::{Map, Value, json};

use crate::campaign::Campaign;
use crate::campaign::lifecycle::{Part, Status};
use crate::delivery::Delivery;
use crate::event::Event;
use crate::ingest::ingest;
use crate::profile::IdentityKind;
use crate::report::CampaignReport;
use crate::runner::{Account, Outcome, Runner};
use crate::store::MemoryStore;
use crate::upload::{UploadError, UploadOutcome};

/// The system event raised on a user when a webhook to them was delivered (clevertap.md 3.3).
pub const WEBHOOK_DELIVERED: &str = "Webhook Delivered";

/// Why a campaign operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignError {
    #[error("no campaign with id {0}")]
    NotFound(u64),
    #[error("unknown webhook {0:?}: create it first (Settings > Channels > Webhook)")]
    UnknownWebhook(String),
    #[error("campaign {id} is {}: its {part} cannot be changed", status.label())]
    NotEditable { id: u64, status: Status, part: &'static str },
    #[error("campaign {0} is already published")]
    AlreadyPublished(u64),
}

pub struct Engine {
    clock: Arc<dyn Clock>,
    store: MemoryStore,
    runner: Runner,
    webhooks: BTreeSet<String>,
    last_campaign_id: u64,
    /// Deliveries made and not yet taken by [`Engine::take_deliveries`].
    ready: Vec<Delivery>,
}

impl Engine {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Engine::with_account(clock, Account::default())
    }

    pub fn with_account(clock: Arc<dyn Clock>, account: Account) -> Self {
        Engine {
            clock,
            store: MemoryStore::new(),
            runner: Runner::new(account),
            webhooks: BTreeSet::new(),
            last_campaign_id: 0,
            ready: Vec::new(),
        }
    }

    /// The engine's present, from its clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn account(&self) -> &Account {
        &self.runner.account
    }

    /// Applies a `/1/upload` body (`{"d": [...]}`) at the clock's now, as CleverTap answers it. Events that
    /// trigger live campaigns queue their users; deliveries due now are made (see [`Engine::take_deliveries`]).
    pub fn upload(&mut self, body: &Value) -> Result<UploadOutcome, UploadError> {
        let now = self.now();
        self.run_due_at(now);
        let runner = &mut self.runner;
        let outcome = ingest(&mut self.store, body, now, &mut |store, event| {
            runner.on_event(store, event, same_instant_before(store, event), now);
        })?;
        self.run_due_at(now);
        Ok(outcome)
    }

    /// Profiles and events, for queries.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// Does what is due by now and returns every delivery made since the last call.
    pub fn take_deliveries(&mut self) -> Vec<Delivery> {
        self.run_due_at(self.now());
        std::mem::take(&mut self.ready)
    }

    /// When the next scheduled thing is due (a run, a delayed or throttled user, an inaction check).
    pub fn next_due(&self) -> Option<Timestamp> {
        self.runner.next_due()
    }

    fn run_due_at(&mut self, now: Timestamp) {
        let made = self.runner.run_due(&self.store, now);
        self.ready.extend(made);
    }

    /// The dispatcher's word on a delivery: fills the campaign's report and, when the account raises it,
    /// records `Webhook Delivered` on the user (which live campaigns and goals can listen to).
    pub fn settle(&mut self, delivery_id: &str, outcome: &Outcome) {
        let now = self.now();
        let Some((object_id, campaign)) = self.runner.settle(delivery_id, outcome) else { return };
        let mut properties = Map::new();
        properties.insert("CT Source".into(), json!("Webhook"));
        properties.insert("Campaign Id".into(), json!(campaign));
        self.store.add_event((IdentityKind::ObjectId, &object_id), WEBHOOK_DELIVERED, properties.clone(), now, now);
        let event = Event { object_id, name: WEBHOOK_DELIVERED.into(), properties, ts: now };
        let n = same_instant_before(&self.store, &event);
        self.runner.on_event(&self.store, &event, n, now);
    }

    /// Makes a webhook name known, so campaigns can name it.
    pub fn add_webhook(&mut self, name: &str) {
        self.webhooks.insert(name.to_owned());
    }

    pub fn webhooks(&self) -> impl Iterator<Item = &str> {
        self.webhooks.iter().map(String::as_str)
    }

    /// A fresh campaign id: the clock's epoch seconds (CleverTap's are "typically 10-digit epoch-based"), or one
    /// more than the last when several are made in the same second.
    pub fn next_campaign_id(&mut self) -> u64 {
        let secs = u64::try_from(self.now().as_second()).unwrap_or(0);
        self.last_campaign_id = secs.max(self.last_campaign_id + 1);
        self.last_campaign_id
    }

    /// Saves a campaign (its id from [`Engine::next_campaign_id`]); published if its `published_at` is set.
    pub fn add_campaign(&mut self, campaign: Campaign) -> Result<u64, CampaignError> {
        if !self.webhooks.contains(&campaign.webhook) {
            return Err(CampaignError::UnknownWebhook(campaign.webhook));
        }
        let id = campaign.id;
        self.last_campaign_id = self.last_campaign_id.max(id);
        self.runner.add(campaign);
        self.run_due_at(self.now());
        Ok(id)
    }

    /// Replaces a campaign's definition where its status allows each part that changed.
    pub fn edit_campaign(&mut self, campaign: Campaign) -> Result<(), CampaignError> {
        let id = campaign.id;
        let old = self.runner.campaign(id).ok_or(CampaignError::NotFound(id))?;
        let status = self.status(id)?;
        let changed = [
            (Part::Name, "name", old.name != campaign.name || old.labels != campaign.labels),
            (Part::What, "content", old.content != campaign.content || old.webhook != campaign.webhook),
            (
                Part::Who,
                "audience",
                old.target != campaign.target
                    || old.control_group != campaign.control_group
                    || old.targeting_cap != campaign.targeting_cap,
            ),
            (Part::When, "schedule", old.when != campaign.when || old.throttle != campaign.throttle),
        ];
        if let Some((_, part, _)) = changed.iter().find(|(p, _, changed)| *changed && !status.allows(*p)) {
            return Err(CampaignError::NotEditable { id, status, part });
        }
        if !self.webhooks.contains(&campaign.webhook) {
            return Err(CampaignError::UnknownWebhook(campaign.webhook));
        }
        self.runner.replace(campaign);
        Ok(())
    }

    /// Publishes a draft now.
    pub fn publish(&mut self, id: u64) -> Result<(), CampaignError> {
        let campaign = self.runner.campaign(id).ok_or(CampaignError::NotFound(id))?;
        if campaign.published_at.is_some() {
            return Err(CampaignError::AlreadyPublished(id));
        }
        self.runner.publish(id, self.now());
        self.run_due_at(self.now());
        Ok(())
    }

    /// Stops a campaign for good; stopping a stopped or completed one does nothing (CleverTap answers success).
    pub fn stop(&mut self, id: u64) -> Result<(), CampaignError> {
        self.runner.campaign(id).ok_or(CampaignError::NotFound(id))?;
        self.run_due_at(self.now());
        if self.status(id)? != Status::Completed {
            self.runner.stop(id, self.now());
        }
        Ok(())
    }

    pub fn campaign(&self, id: u64) -> Option<&Campaign> {
        self.runner.campaign(id)
    }

    pub fn campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.runner.campaigns()
    }

    pub fn status(&self, id: u64) -> Result<Status, CampaignError> {
        self.runner.status(id, self.now()).ok_or(CampaignError::NotFound(id))
    }

    pub fn report(&self, id: u64) -> Result<&CampaignReport, CampaignError> {
        self.runner.report(id).ok_or(CampaignError::NotFound(id))
    }
}

/// How many of the user's events share this event's instant and came before it (0 for most events): tells
/// apart two triggers of one user at one instant.
fn same_instant_before(store: &MemoryStore, event: &Event) -> u32 {
    let same = store.events_of(&event.object_id).iter().filter(|e| e.ts == event.ts).count();
    u32::try_from(same.saturating_sub(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::spec::parse_campaign;
    use clock::ManualClock;
    use jiff::tz::TimeZone;
    use std::time::Duration;

    fn engine() -> (Engine, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(Timestamp::from_second(1_800_000_000).unwrap()));
        let mut engine = Engine::new(clock.clone());
        engine.add_webhook("inkit");
        (engine, clock)
    }

    fn campaign(engine: &mut Engine, json: Value) -> Campaign {
        let id = engine.next_campaign_id();
        parse_campaign(&json, id, engine.now(), &TimeZone::UTC).unwrap().campaign
    }

    #[test]
    fn an_uploaded_event_triggers_a_live_campaign_and_its_delivery_raises_webhook_delivered() {
        // arrange
        let (mut engine, clock) = engine();
        let live = campaign(
            &mut engine,
            json!({"name": "Cart", "webhook_endpoint_name": "inkit", "where": {},
                   "trigger": {"action": {"event": "Added To Cart"}, "delay": {"value": 5, "unit": "minutes"}}}),
        );
        let id = engine.add_campaign(live).unwrap();

        // act
        let upload =
            json!({"d": [{"type": "event", "identity": "u1", "evtName": "Added To Cart", "evtData": {"Item": "pen"}}]});
        engine.upload(&upload).unwrap();
        let before = engine.take_deliveries();
        clock.advance(Duration::from_secs(300));
        let after = engine.take_deliveries();
        engine.settle(&after[0].id, &Outcome::Delivered);

        // assert
        assert!(before.is_empty(), "nothing before the delay");
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].event.as_ref().unwrap()["Item"], "pen");
        let events = engine.store().events_of(&after[0].object_id);
        let delivered = events.last().unwrap();
        assert_eq!(delivered.name, WEBHOOK_DELIVERED);
        assert_eq!(delivered.properties["Campaign Id"], json!(id));
        assert_eq!(engine.report(id).unwrap().total().delivered, 1);
    }

    #[test]
    fn campaigns_name_known_webhooks_get_epoch_ids_and_obey_the_edit_rules() {
        let (mut engine, _) = engine();
        let mut unknown = campaign(&mut engine, json!({"name": "x", "webhook_endpoint_name": "nope", "where": {}}));
        assert_eq!(engine.add_campaign(unknown.clone()), Err(CampaignError::UnknownWebhook("nope".into())));
        unknown.webhook = "inkit".into();
        let first = engine.add_campaign(unknown).unwrap();
        let second = campaign(&mut engine, json!({"name": "y", "webhook_endpoint_name": "inkit", "where": {}}));
        assert_eq!((first, second.id), (1_800_000_000, 1_800_000_001));
        assert_eq!(engine.status(first), Ok(Status::Completed), "a send-now campaign with no users is done at once");
        let mut edited = engine.campaign(first).unwrap().clone();
        edited.name = "renamed".into();
        assert!(matches!(engine.edit_campaign(edited), Err(CampaignError::NotEditable { part: "name", .. })));
        assert_eq!(engine.stop(first), Ok(()));
        assert_eq!(engine.status(first), Ok(Status::Completed), "stopping a completed campaign does nothing");
        assert_eq!(engine.stop(42), Err(CampaignError::NotFound(42)));
    }
}
