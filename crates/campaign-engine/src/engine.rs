//! The engine as one value: the store of profiles and events, the campaigns and their runner, the webhooks
//! campaigns may name, the clock it reads, and the journal it appends every accepted change to. The engine
//! API and the pipeline hold one `Engine` behind a lock; everything it does happens at the clock's now.
//!
//! Every change goes the same way: validate, append to the journal, then apply in memory. A change the journal
//! refuses is not applied, and [`Engine::open`] rebuilds the same engine by applying the journal again, each
//! entry at the instant it was accepted, with the campaigns' due work done in between, so the same deliveries
//! (with the same ids) come out again: the dispatcher's outbox keeps each once.

use std::sync::Arc;

use clock::{Clock, Timestamp};
use serde_json::{Map, Value, json};

use crate::campaign::Campaign;
use crate::campaign::lifecycle::{Part, Status};
use crate::campaign::spec::{CampaignSpec, parse_campaign};
use crate::delete::ProfileDeletion;
use crate::delivery::Delivery;
use crate::event::Event;
use crate::field_error::FieldError;
use crate::ingest::apply_records;
use crate::journal::{Journal, JournalError, MemoryJournal};
use crate::profile::IdentityKind;
use crate::report::CampaignReport;
use crate::runner::{Account, Outcome, Runner};
use crate::segment::{SavedSegments, Segment};
use crate::store::MemoryStore;
use crate::upload::{UploadError, UploadOutcome, validate_upload};

/// Journal kind of an upload: the `/1/upload` body as sent.
const UPLOAD: &str = "upload";
/// Journal kind of a deletion: a [`ProfileDeletion`] as JSON.
const DELETE: &str = "delete";
/// Journal kind of a saved campaign: `{"id": ID, "campaign": <the campaign JSON as sent>}`.
const CAMPAIGN: &str = "campaign";
/// Journal kind of a publication or a stop: `{"id": ID}`.
const PUBLISH: &str = "publish";
const STOP: &str = "stop";
/// Journal kind of a saved segment: `{"id", "name", "segment": <its JSON>}`.
const SEGMENT: &str = "segment";
/// Journal kind of a webhook made known: `{"name": NAME, "definition": <its JSON, or null>}`.
const WEBHOOK: &str = "webhook";

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
    /// Stopping is for good (clevertap.md 5.1), a draft's too.
    #[error("campaign {0} is Stopped: it cannot be published")]
    StoppedForGood(u64),
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    NotStored(#[from] JournalError),
}

pub struct Engine {
    clock: Arc<dyn Clock>,
    store: MemoryStore,
    runner: Runner,
    /// Webhooks by name, with their definitions.
    webhooks: std::collections::BTreeMap<String, Value>,
    last_campaign_id: u64,
    /// Deliveries made and not yet taken by [`Engine::take_deliveries`].
    ready: Vec<Delivery>,
    /// Where each accepted change is appended before it is applied, so [`Engine::open`] can rebuild the engine.
    journal: Box<dyn Journal>,
    /// Each campaign's JSON as it was saved, to show it back.
    sources: std::collections::HashMap<u64, Value>,
}

impl Engine {
    /// An engine whose journal is in memory: nothing outlives the process.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Engine::with_account(clock, Account::default())
    }

    pub fn with_account(clock: Arc<dyn Clock>, account: Account) -> Self {
        Engine {
            clock,
            store: MemoryStore::new(),
            runner: Runner::new(account),
            webhooks: std::collections::BTreeMap::new(),
            last_campaign_id: 0,
            ready: Vec::new(),
            journal: Box::new(MemoryJournal::new()),
            sources: std::collections::HashMap::new(),
        }
    }

    /// The engine `journal` describes, with the default account.
    pub fn open(clock: Arc<dyn Clock>, journal: Box<dyn Journal>) -> Result<Self, JournalError> {
        Engine::open_with_account(clock, Account::default(), journal)
    }

    /// The engine `journal` describes: every entry applied again, in order, at the `now` it was accepted at. The
    /// engine then appends each change it accepts to `journal`. An entry that cannot be applied is an error
    /// rather than skipped, so nothing accepted is silently lost.
    pub fn open_with_account(
        clock: Arc<dyn Clock>,
        account: Account,
        mut journal: Box<dyn Journal>,
    ) -> Result<Self, JournalError> {
        let mut engine = Engine::with_account(clock, account);
        let mut seq = 0;
        journal.replay(&mut |kind, at, body| {
            seq += 1;
            engine.apply(seq, kind, at, &body)
        })?;
        engine.journal = journal;
        Ok(engine)
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

    /// Applies a `/1/upload` body (`{"d": [...]}`) at the clock's now, as CleverTap answers it. An upload with at
    /// least one valid record is journaled first; when that fails, nothing is applied
    /// ([`UploadError::NotStored`]). Events that trigger live campaigns queue their users; deliveries due now are
    /// made (see [`Engine::take_deliveries`]).
    pub fn upload(&mut self, body: &Value) -> Result<UploadOutcome, UploadError> {
        let now = self.now();
        let validated = validate_upload(body, now)?;
        if validated.outcome.processed > 0 {
            self.journal.append(UPLOAD, now, body).map_err(UploadError::NotStored)?;
        }
        self.apply_upload(validated.records, now);
        Ok(validated.outcome)
    }

    fn apply_upload(&mut self, records: Vec<(usize, crate::upload::Record)>, now: Timestamp) {
        self.run_due_at(now);
        let runner = &mut self.runner;
        apply_records(&mut self.store, records, now, &mut |store, object_id, event| {
            runner.on_event(store, object_id, event, same_instant_before(store, object_id, event), now);
        });
        self.run_due_at(now);
    }

    /// Deletes the users `deletion` names, with their events; returns how many were found and deleted. Journaled
    /// first (when it finds anyone), so a restart keeps them deleted.
    pub fn delete_profiles(&mut self, deletion: &ProfileDeletion) -> Result<usize, JournalError> {
        let found = deletion.object_ids(&self.store);
        if found.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        self.journal.append(DELETE, now, &deletion.to_json())?;
        Ok(self.store.delete_profiles(&found))
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
        let (_, event) =
            self.store.add_event((IdentityKind::ObjectId, &object_id), WEBHOOK_DELIVERED, properties, now, now);
        let event = event.clone();
        let n = same_instant_before(&self.store, &object_id, &event);
        self.runner.on_event(&self.store, &object_id, &event, n, now);
    }

    /// Makes a webhook known, so campaigns can name it, with its definition (the webhook's JSON, kept for the
    /// pipeline to set the dispatcher up again after a restart; `null` when only the name is known). A webhook
    /// of the same name is replaced.
    pub fn add_webhook(&mut self, name: &str, definition: &Value) -> Result<(), JournalError> {
        if self.webhooks.get(name) == Some(definition) {
            return Ok(());
        }
        self.journal.append(WEBHOOK, self.now(), &json!({"name": name, "definition": definition}))?;
        self.webhooks.insert(name.to_owned(), definition.clone());
        Ok(())
    }

    /// The names of the webhooks, in order.
    pub fn webhooks(&self) -> impl Iterator<Item = &str> {
        self.webhooks.keys().map(String::as_str)
    }

    /// A webhook's definition as given to [`Engine::add_webhook`].
    pub fn webhook_definition(&self, name: &str) -> Option<&Value> {
        self.webhooks.get(name)
    }

    /// Saves (or replaces) a segment of the dashboard's model under `id`, for campaigns and other segments to
    /// include or exclude. Journaled first.
    pub fn save_segment(&mut self, id: &str, name: &str, json: &Value) -> Result<(), CampaignError> {
        let segment = Segment::parse(json, &self.runner.saved)?;
        // Checked on a copy (ids, references, cycles), so that what is journaled is what will be applied.
        let mut saved = self.runner.saved.clone();
        saved.save(id, name, segment)?;
        self.journal.append(SEGMENT, self.now(), &json!({"id": id, "name": name, "segment": json}))?;
        self.runner.saved = saved;
        Ok(())
    }

    /// The saved segments.
    pub fn saved_segments(&self) -> &SavedSegments {
        &self.runner.saved
    }

    /// A fresh campaign id: the clock's epoch seconds (CleverTap's are "typically 10-digit epoch-based"), or one
    /// more than the last when several are made in the same second.
    fn next_campaign_id(&mut self) -> u64 {
        let secs = u64::try_from(self.now().as_second()).unwrap_or(0);
        self.last_campaign_id = secs.max(self.last_campaign_id + 1);
        self.last_campaign_id
    }

    /// Reads a campaign from its JSON (the targets API's, with our additions), with a fresh id, without saving
    /// it: for `estimate_only`, and for callers that check it further before [`Engine::save_campaign`].
    pub fn read_campaign(&mut self, json: &Value) -> Result<CampaignSpec, FieldError> {
        let id = self.next_campaign_id();
        let zone = self.account().time_zone.clone();
        parse_campaign(json, id, self.now(), &zone, &self.runner.saved)
    }

    /// Saves a campaign read by [`Engine::read_campaign`] from `json`: journaled, then added (and published,
    /// unless a draft). Its webhook must be known.
    pub fn save_campaign(&mut self, json: &Value, spec: &CampaignSpec) -> Result<u64, CampaignError> {
        let campaign = &spec.campaign;
        if !self.webhooks.contains_key(&campaign.webhook) {
            return Err(CampaignError::UnknownWebhook(campaign.webhook.clone()));
        }
        self.journal.append(CAMPAIGN, self.now(), &json!({"id": campaign.id, "campaign": json}))?;
        self.sources.insert(campaign.id, json.clone());
        Ok(self.add_campaign(campaign.clone()))
    }

    /// A campaign's JSON as it was saved.
    pub fn campaign_source(&self, id: u64) -> Option<&Value> {
        self.sources.get(&id)
    }

    fn add_campaign(&mut self, campaign: Campaign) -> u64 {
        let id = campaign.id;
        self.last_campaign_id = self.last_campaign_id.max(id);
        self.runner.add(campaign);
        self.run_due_at(self.now());
        id
    }

    /// Replaces a campaign's definition where its status allows each part that changed. (Not journaled: edits
    /// are kept for the life of the process.)
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
        if !self.webhooks.contains_key(&campaign.webhook) {
            return Err(CampaignError::UnknownWebhook(campaign.webhook));
        }
        self.runner.replace(campaign);
        Ok(())
    }

    /// Publishes a draft now; a draft that was stopped stays stopped.
    pub fn publish(&mut self, id: u64) -> Result<(), CampaignError> {
        let campaign = self.runner.campaign(id).ok_or(CampaignError::NotFound(id))?;
        if campaign.published_at.is_some() {
            return Err(CampaignError::AlreadyPublished(id));
        }
        if campaign.stopped_at.is_some() {
            return Err(CampaignError::StoppedForGood(id));
        }
        self.journal.append(PUBLISH, self.now(), &json!({"id": id}))?;
        self.apply_publish(id, self.now());
        Ok(())
    }

    fn apply_publish(&mut self, id: u64, at: Timestamp) {
        self.run_due_at(at);
        self.runner.publish(id, at);
        self.run_due_at(at);
    }

    /// Stops a campaign for good; stopping a stopped or completed one does nothing (CleverTap answers success).
    pub fn stop(&mut self, id: u64) -> Result<(), CampaignError> {
        self.runner.campaign(id).ok_or(CampaignError::NotFound(id))?;
        self.run_due_at(self.now());
        if matches!(self.status(id)?, Status::Completed | Status::Stopped) {
            return Ok(());
        }
        self.journal.append(STOP, self.now(), &json!({"id": id}))?;
        self.runner.stop(id, self.now());
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

    /// Applies journal entry `seq` again, while opening, at the instant it was accepted (due work first).
    fn apply(&mut self, seq: u64, kind: &str, at: Timestamp, body: &Value) -> Result<(), JournalError> {
        let corrupt = |message: String| JournalError::Corrupt { seq, message };
        self.run_due_at(at);
        match kind {
            UPLOAD => {
                let validated = validate_upload(body, at).map_err(|e| corrupt(e.to_string()))?;
                self.apply_upload(validated.records, at);
            }
            DELETE => {
                let deletion = ProfileDeletion::parse(body).map_err(|e| corrupt(e.to_string()))?;
                let found = deletion.object_ids(&self.store);
                self.store.delete_profiles(&found);
            }
            WEBHOOK => {
                let name = body["name"].as_str().ok_or_else(|| corrupt("a webhook without a name".into()))?;
                self.webhooks.insert(name.to_owned(), body["definition"].clone());
            }
            CAMPAIGN => {
                let id = body["id"].as_u64().ok_or_else(|| corrupt("a campaign without an id".into()))?;
                let zone = self.account().time_zone.clone();
                let spec = parse_campaign(&body["campaign"], id, at, &zone, &self.runner.saved)
                    .map_err(|e| corrupt(e.to_string()))?;
                self.sources.insert(id, body["campaign"].clone());
                self.add_campaign(spec.campaign);
            }
            SEGMENT => {
                let (Some(id), Some(name)) = (body["id"].as_str(), body["name"].as_str()) else {
                    return Err(corrupt("a segment without an id or a name".into()));
                };
                let segment =
                    Segment::parse(&body["segment"], &self.runner.saved).map_err(|e| corrupt(e.to_string()))?;
                self.runner.saved.save(id, name, segment).map_err(|e| corrupt(e.to_string()))?;
            }
            PUBLISH | STOP => {
                let id = body["id"].as_u64().ok_or_else(|| corrupt(format!("a {kind} without an id")))?;
                if kind == PUBLISH {
                    self.apply_publish(id, at);
                } else {
                    self.runner.stop(id, at);
                }
            }
            other => return Err(corrupt(format!("unknown kind {other:?}"))),
        }
        Ok(())
    }
}

/// How many of the user's events share this event's instant and came before it (0 for most events): tells
/// apart two triggers of one user at one instant.
fn same_instant_before(store: &MemoryStore, object_id: &str, event: &Event) -> u32 {
    let same = store.events_of(object_id).iter().filter(|e| e.ts == event.ts).count();
    u32::try_from(same.saturating_sub(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clock::ManualClock;
    use std::time::Duration;

    fn engine() -> (Engine, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(Timestamp::from_second(1_800_000_000).unwrap()));
        let mut engine = Engine::new(clock.clone());
        engine.add_webhook("inkit", &Value::Null).unwrap();
        (engine, clock)
    }

    /// Reads and saves a campaign.
    fn save(engine: &mut Engine, json: Value) -> Result<u64, CampaignError> {
        let spec = engine.read_campaign(&json)?;
        engine.save_campaign(&json, &spec)
    }

    #[test]
    fn an_uploaded_event_triggers_a_live_campaign_and_its_delivery_raises_webhook_delivered() {
        // arrange
        let (mut engine, clock) = engine();
        let id = save(
            &mut engine,
            json!({"name": "Cart", "webhook_endpoint_name": "inkit", "where": {},
                   "trigger": {"action": {"event": "Added To Cart"}, "delay": {"value": 5, "unit": "minutes"}}}),
        )
        .unwrap();

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
        let unknown = json!({"name": "x", "webhook_endpoint_name": "nope", "where": {}});
        assert_eq!(save(&mut engine, unknown), Err(CampaignError::UnknownWebhook("nope".into())));
        let first = save(&mut engine, json!({"name": "x", "webhook_endpoint_name": "inkit", "where": {}})).unwrap();
        let second = save(&mut engine, json!({"name": "y", "webhook_endpoint_name": "inkit", "where": {}})).unwrap();
        assert_eq!((first, second), (1_800_000_001, 1_800_000_002), "ids from the clock, one more when taken");
        assert_eq!(engine.status(first), Ok(Status::Completed), "a send-now campaign with no users is done at once");
        let mut edited = engine.campaign(first).unwrap().clone();
        edited.name = "renamed".into();
        assert!(matches!(engine.edit_campaign(edited), Err(CampaignError::NotEditable { part: "name", .. })));
        assert_eq!(engine.stop(first), Ok(()));
        assert_eq!(engine.status(first), Ok(Status::Completed), "stopping a completed campaign does nothing");
        assert_eq!(engine.stop(42), Err(CampaignError::NotFound(42)));
    }

    #[test]
    fn a_stopped_draft_is_not_published_and_sends_nothing() {
        let (mut engine, _) = engine();
        engine.upload(&json!({"d": [{"type": "profile", "identity": "a", "profileData": {"Name": "A"}}]})).unwrap();
        let draft =
            save(&mut engine, json!({"name": "x", "webhook_endpoint_name": "inkit", "where": {}, "draft": true}))
                .unwrap();
        engine.stop(draft).unwrap();
        assert_eq!(engine.publish(draft), Err(CampaignError::StoppedForGood(draft)));
        assert_eq!(engine.status(draft), Ok(Status::Stopped));
        assert!(engine.take_deliveries().is_empty());
        assert_eq!(engine.report(draft).unwrap().total().qualified, 0);
    }

    #[test]
    fn reopening_the_journal_brings_back_campaigns_and_makes_the_same_deliveries_again() {
        // arrange: a send-now campaign to two users, and a draft, in a SQLite journal
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::from_second(1_800_000_000).unwrap()));
        let open = |clock: &Arc<ManualClock>| {
            let journal = crate::journal::SqliteJournal::open_in(dir.path()).unwrap();
            Engine::open(clock.clone(), Box::new(journal)).unwrap()
        };
        let mut first = open(&clock);
        first.add_webhook("inkit", &Value::Null).unwrap();
        first
            .upload(&json!({"d": [{"type": "profile", "identity": "a", "profileData": {"Name": "A"}},
                                  {"type": "profile", "identity": "b", "profileData": {"Name": "B"}}]}))
            .unwrap();
        let sent = save(&mut first, json!({"name": "Now", "webhook_endpoint_name": "inkit", "where": {}})).unwrap();
        clock.advance(Duration::from_secs(60));
        let draft =
            save(&mut first, json!({"name": "Later", "webhook_endpoint_name": "inkit", "where": {}, "draft": true}))
                .unwrap();
        let before: Vec<String> = first.take_deliveries().into_iter().map(|d| d.id).collect();
        drop(first);

        // act
        clock.advance(Duration::from_secs(60));
        let mut second = open(&clock);

        // assert
        let after: Vec<String> = second.take_deliveries().into_iter().map(|d| d.id).collect();
        assert_eq!(after, before, "the same deliveries, with the same ids, for the outbox to keep once");
        assert_eq!(second.status(sent), Ok(Status::Completed));
        assert_eq!(second.status(draft), Ok(Status::Draft));
        assert_eq!(second.webhooks().collect::<Vec<_>>(), ["inkit"]);
        assert_eq!(second.report(sent).unwrap().total().handed, 2);
        let third = save(&mut second, json!({"name": "Next", "webhook_endpoint_name": "inkit", "where": {}})).unwrap();
        assert!(third > draft, "new ids follow the ones replayed");
    }

    #[test]
    fn a_campaign_can_target_a_saved_segment_and_both_survive_a_restart() {
        // arrange
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::from_second(1_800_000_000).unwrap()));
        let open = |clock: &Arc<ManualClock>| {
            let journal = crate::journal::SqliteJournal::open_in(dir.path()).unwrap();
            Engine::open(clock.clone(), Box::new(journal)).unwrap()
        };
        let mut engine = open(&clock);
        engine.add_webhook("inkit", &Value::Null).unwrap();
        engine
            .upload(&json!({"d": [
                {"type": "profile", "identity": "a", "profileData": {"Tier": "gold"}},
                {"type": "profile", "identity": "b", "profileData": {"Tier": "silver"}},
                {"type": "event", "identity": "b", "evtName": "Charged", "evtData": {"Amount": 500}}]}))
            .unwrap();
        let gold = json!({"profile": {"name": "Tier", "operator": "equals", "value": "gold"}});
        engine.save_segment("gold", "Gold members", &gold).unwrap();
        let buyers = json!({"did": {"event": "Charged", "last_days": 30}});
        engine.save_segment("buyers", "Bought this month", &buyers).unwrap();

        // act
        save(
            &mut engine,
            json!({"name": "Gold or buyers", "webhook_endpoint_name": "inkit",
                   "segment": {"any": [{"include_segment": "gold"}, {"include_segment": "buyers"}]}}),
        )
        .unwrap();
        let sent: Vec<String> = engine.take_deliveries().into_iter().filter_map(|d| d.identity).collect();
        drop(engine);
        let mut reopened = open(&clock);

        // assert
        assert_eq!(sent, ["a", "b"]);
        assert_eq!(reopened.saved_segments().len(), 2);
        assert_eq!(reopened.take_deliveries().len(), 2, "the campaign replays with its segment");
        let unknown = json!({"name": "x", "webhook_endpoint_name": "inkit", "segment": {"include_segment": "nope"}});
        let error = save(&mut reopened, unknown).unwrap_err().to_string();
        assert!(error.starts_with("segment.include_segment: no saved segment has id \"nope\""), "{error}");
        let cycle = reopened.save_segment("gold", "Gold", &json!({"include_segment": "gold"})).unwrap_err();
        assert!(cycle.to_string().contains("cannot include or exclude itself"), "{cycle}");
    }
}
