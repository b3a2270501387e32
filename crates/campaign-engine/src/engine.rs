//! The engine as one value: the store of profiles and events, the campaigns and their runner, the webhooks
//! campaigns may name, the clock it reads, and the journal it appends every accepted change to. The engine
//! API and the pipeline hold one `Engine` behind a lock; everything it does happens at the clock's now.
//!
//! Every change goes the same way: validate, append to the journal, then apply in memory. A change the journal
//! refuses is not applied, and [`Engine::open`] rebuilds the same engine by applying the journal again, each
//! entry at the instant it was accepted, with the campaigns' due work done in between, so the same deliveries
//! (with the same ids) come out again: the dispatcher's outbox keeps each once.
//!
//! Outcomes are not journaled: the dispatcher's outbox keeps them, each with its instant. Whoever opens the
//! engine passes them in ([`Engine::open_with_account`]), and the replay settles each at its own instant
//! among the journal's entries, as it was settled the first time: reports, `Webhook Delivered` events and
//! what they trigger come out the same (docs/decisions.md). Only when outcomes were settled at the very
//! instant of the next change (simulated time) does the journal say which, so that the replay puts them
//! before that change and not after it.

use std::sync::Arc;

use clock::{Clock, Timestamp};
use serde_json::{Map, Value, json};

use crate::campaign::Campaign;
use crate::campaign::edit::{changed_fields, merge};
use crate::campaign::lifecycle::Status;
use crate::campaign::spec::{CampaignSpec, parse_campaign};
use crate::delete::ProfileDeletion;
use crate::delivery::Delivery;
use crate::field_error::FieldError;
use crate::ingest::apply_records;
use crate::journal::{Journal, JournalError, MemoryJournal};
use crate::profile::IdentityKind;
use crate::report::CampaignReport;
use crate::runner::{Account, Outcome, Runner, SettledOutcome};
use crate::segment::{SavedSegments, Segment};
use crate::store::MemoryStore;
use crate::upload::{UploadError, UploadOutcome, validate_upload};

/// Journal kind of an upload: the `/1/upload` body as sent.
const UPLOAD: &str = "upload";
/// Journal kind of a deletion: a [`ProfileDeletion`] as JSON.
const DELETE: &str = "delete";
/// Journal kind of a saved campaign: `{"id": ID, "campaign": <the campaign JSON as sent>}`.
const CAMPAIGN: &str = "campaign";
/// Journal kind of an edited campaign: `{"id": ID, "campaign": <its whole JSON after the edit>}`.
const EDIT: &str = "edit";
/// Journal kind of a publication or a stop: `{"id": ID}`.
const PUBLISH: &str = "publish";
const STOP: &str = "stop";
/// Journal kind of a saved segment: `{"id", "name", "segment": <its JSON>}`.
const SEGMENT: &str = "segment";
/// Journal kind of the outcomes settled at the instant of the entry that follows and before it:
/// `{"ids": [delivery ids]}` (see [`Engine::settle`]).
const SETTLED: &str = "settled";
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
    /// An edit changes `field`, which the campaign's status does not allow (clevertap.md 5.1).
    #[error("{field}: cannot be changed while campaign {id} is {} ({})", status.label(), status.editable())]
    NotEditable { id: u64, status: Status, field: &'static str },
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
    /// The deliveries settled at one instant since the last journal entry: if the next entry is at that same
    /// instant, a [`SETTLED`] entry before it tells the replay they came first.
    settled_lately: (Timestamp, Vec<String>),
    /// While opening: the outcomes to settle again, by instant then id.
    replaying: std::collections::BTreeMap<(Timestamp, String), Outcome>,
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
            settled_lately: (Timestamp::UNIX_EPOCH, Vec::new()),
            replaying: std::collections::BTreeMap::new(),
        }
    }

    /// The engine `journal` describes, with the default account and no outcomes to settle again.
    pub fn open(clock: Arc<dyn Clock>, journal: Box<dyn Journal>) -> Result<Self, JournalError> {
        Engine::open_with_account(clock, Account::default(), journal, Vec::new())
    }

    /// The engine `journal` describes: every entry applied again, in order, at the `now` it was accepted at,
    /// and, among them, each of `settled` (the outcomes the dispatcher recorded before the restart) settled
    /// again at its own instant: before the first entry after it, or, at the same instant, where the journal
    /// says. The engine then appends each change it accepts to `journal`. An entry that cannot be applied is
    /// an error rather than skipped, so nothing accepted is silently lost; an outcome of a delivery the replay
    /// does not make is ignored.
    pub fn open_with_account(
        clock: Arc<dyn Clock>,
        account: Account,
        mut journal: Box<dyn Journal>,
        settled: Vec<SettledOutcome>,
    ) -> Result<Self, JournalError> {
        let mut engine = Engine::with_account(clock, account);
        engine.replaying = settled.into_iter().map(|s| ((s.at, s.delivery_id), s.outcome)).collect();
        let mut seq = 0;
        journal.replay(&mut |kind, at, body| {
            seq += 1;
            engine.settle_replayed(|t| t < at);
            engine.apply(seq, kind, at, &body)
        })?;
        // Outcomes after the clock's now cannot be (the clock never goes back); any left are dropped.
        let now = engine.now();
        engine.settle_replayed(|t| t <= now);
        engine.replaying.clear();
        engine.journal = journal;
        Ok(engine)
    }

    /// While opening: settles, in order, the outcomes whose instant is `before` (the next entry's), each at its
    /// instant, with the work due by then done first.
    fn settle_replayed(&mut self, before: impl Fn(Timestamp) -> bool) {
        while let Some(first) = self.replaying.first_entry() {
            if !before(first.key().0) {
                break;
            }
            let ((at, id), outcome) = first.remove_entry();
            self.run_due_at(at);
            self.settle_at(&id, &outcome, at);
        }
    }

    /// Appends an entry to the journal, after a [`SETTLED`] entry if deliveries were settled at this instant
    /// since the last one.
    fn append(&mut self, kind: &str, at: Timestamp, body: &Value) -> Result<(), JournalError> {
        if self.settled_lately.0 == at && !self.settled_lately.1.is_empty() {
            self.journal.append(SETTLED, at, &json!({ "ids": self.settled_lately.1 }))?;
        }
        self.settled_lately.1.clear();
        self.journal.append(kind, at, body)
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
            self.append(UPLOAD, now, body).map_err(UploadError::NotStored)?;
        }
        self.apply_upload(validated.records, now);
        Ok(validated.outcome)
    }

    fn apply_upload(&mut self, records: Vec<(usize, crate::upload::Record)>, now: Timestamp) {
        self.run_due_at(now);
        let runner = &mut self.runner;
        apply_records(&mut self.store, records, now, &mut |store, object_id, event| {
            runner.on_event(store, object_id, event, now);
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
        self.append(DELETE, now, &deletion.to_json())?;
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
    /// records `Webhook Delivered` on the user (which live campaigns and goals can listen to). Not journaled:
    /// the outbox keeps outcomes, and [`Engine::open_with_account`] is given them.
    pub fn settle(&mut self, delivery_id: &str, outcome: &Outcome) {
        self.settle_at(delivery_id, outcome, self.now());
    }

    fn settle_at(&mut self, delivery_id: &str, outcome: &Outcome, now: Timestamp) {
        if !self.runner.awaits_outcome(delivery_id) {
            return;
        }
        if self.settled_lately.0 != now {
            self.settled_lately.0 = now;
            self.settled_lately.1.clear();
        }
        self.settled_lately.1.push(delivery_id.to_owned());
        let Some((object_id, campaign)) = self.runner.settle(delivery_id, outcome) else { return };
        let mut properties = Map::new();
        properties.insert("CT Source".into(), json!("Webhook"));
        properties.insert("Campaign Id".into(), json!(campaign));
        let (_, event) =
            self.store.add_event((IdentityKind::ObjectId, &object_id), WEBHOOK_DELIVERED, properties, now, now);
        let event = event.clone();
        self.runner.on_event(&self.store, &object_id, &event, now);
    }

    /// Makes a webhook known, so campaigns can name it, with its definition (the webhook's JSON, kept for the
    /// pipeline to set the dispatcher up again after a restart; `null` when only the name is known). A webhook
    /// of the same name is replaced.
    pub fn add_webhook(&mut self, name: &str, definition: &Value) -> Result<(), JournalError> {
        if self.webhooks.get(name) == Some(definition) {
            return Ok(());
        }
        self.append(WEBHOOK, self.now(), &json!({"name": name, "definition": definition}))?;
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
        self.append(SEGMENT, self.now(), &json!({"id": id, "name": name, "segment": json}))?;
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
        self.append(CAMPAIGN, self.now(), &json!({"id": campaign.id, "campaign": json}))?;
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

    /// Reads an edit of campaign `id` at the clock's now without applying it: `changes` (a JSON merge patch of
    /// the campaign's JSON as saved, see [`merge`]) applied to its JSON, read again, and checked against the edit
    /// rules of its status (each field changed must be one the status allows) and the webhooks known. Returns
    /// the campaign as the edit makes it, for callers that check it further (its content) before
    /// [`Engine::edit_campaign`].
    pub fn read_edit(&mut self, id: u64, changes: &Value) -> Result<Campaign, CampaignError> {
        self.run_due_at(self.now());
        self.check_edit(id, changes).map(|(campaign, _)| campaign)
    }

    /// Edits campaign `id` as [`Engine::read_edit`] reads it: journaled, then applied. Its id, creation,
    /// publication and progress stay; a campaign scheduled for later whose schedule changed is scheduled again.
    pub fn edit_campaign(&mut self, id: u64, changes: &Value) -> Result<(), CampaignError> {
        let now = self.now();
        self.run_due_at(now);
        let (_, json) = self.check_edit(id, changes)?;
        self.append(EDIT, now, &json!({"id": id, "campaign": json}))?;
        self.apply_edit(id, json, now)?;
        Ok(())
    }

    /// The edited campaign and its JSON, if its status allows every field it changes.
    fn check_edit(&self, id: u64, changes: &Value) -> Result<(Campaign, Value), CampaignError> {
        let old = self.runner.campaign(id).ok_or(CampaignError::NotFound(id))?;
        let saved = self.sources.get(&id).ok_or(CampaignError::NotFound(id))?;
        let json = merge(saved, changes)?;
        let campaign = self.read_edited(old, &json, self.now())?;
        let status = self.status(id)?;
        if let Some((field, _)) = changed_fields(old, &campaign, &json).into_iter().find(|(_, p)| !status.allows(*p)) {
            return Err(CampaignError::NotEditable { id, status, field });
        }
        if !self.webhooks.contains_key(&campaign.webhook) {
            return Err(CampaignError::UnknownWebhook(campaign.webhook));
        }
        Ok((campaign, json))
    }

    /// `json` read as the new definition of `old`, keeping its id, creation, publication and stop.
    fn read_edited(&self, old: &Campaign, json: &Value, at: Timestamp) -> Result<Campaign, FieldError> {
        let zone = self.account().time_zone.clone();
        let mut campaign = parse_campaign(json, old.id, at, &zone, &self.runner.saved)?.campaign;
        campaign.created_at = old.created_at;
        campaign.published_at = old.published_at;
        campaign.stopped_at = old.stopped_at;
        Ok(campaign)
    }

    fn apply_edit(&mut self, id: u64, json: Value, at: Timestamp) -> Result<(), FieldError> {
        let old = self.runner.campaign(id).ok_or_else(|| FieldError::new("id", format!("no campaign with id {id}")))?;
        let campaign = self.read_edited(old, &json, at)?;
        self.runner.replace(campaign, at);
        self.sources.insert(id, json);
        self.run_due_at(at);
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
        self.append(PUBLISH, self.now(), &json!({"id": id}))?;
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
        self.append(STOP, self.now(), &json!({"id": id}))?;
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
            SETTLED => {
                let ids = body["ids"].as_array().ok_or_else(|| corrupt("settled without ids".into()))?;
                for id in ids.iter().filter_map(Value::as_str) {
                    if let Some(outcome) = self.replaying.remove(&(at, id.to_owned())) {
                        self.settle_at(id, &outcome, at);
                    }
                }
            }
            EDIT => {
                let id = body["id"].as_u64().ok_or_else(|| corrupt("an edit without an id".into()))?;
                self.apply_edit(id, body["campaign"].clone(), at).map_err(|e| corrupt(e.to_string()))?;
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
        let error = engine.edit_campaign(first, &json!({"name": "renamed"})).unwrap_err();
        assert!(matches!(error, CampaignError::NotEditable { field: "name", .. }));
        assert_eq!(
            error.to_string(),
            format!("name: cannot be changed while campaign {first} is Completed (nothing may change)")
        );
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
