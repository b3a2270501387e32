//! Campaigns across a restart: outcomes recorded before it settle again at their own instants (reports and
//! `Webhook Delivered` as they were), and edits are journaled like every other change.

use std::sync::Arc;
use std::time::Duration;

use clock::{Clock, ManualClock, Timestamp};
use serde_json::{Value, json};

use super::MemoryJournal;
use crate::campaign::lifecycle::Status;
use crate::campaign::limits::FrequencyCap;
use crate::engine::{CampaignError, Engine, WEBHOOK_DELIVERED};
use crate::profile::IdentityKind;
use crate::report::DropReason;
use crate::runner::{Account, Outcome, SettledOutcome};

fn start() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

/// At most two webhooks per user and day, so the order of sends shows in the reports.
fn account() -> Account {
    Account { frequency_cap: Some(FrequencyCap { max: 2, days: 1 }), ..Account::default() }
}

fn open(clock: &Arc<ManualClock>, journal: &MemoryJournal, settled: Vec<SettledOutcome>) -> Engine {
    Engine::open_with_account(clock.clone(), account(), Box::new(journal.clone()), settled).unwrap()
}

fn save(engine: &mut Engine, json: Value) -> u64 {
    let spec = engine.read_campaign(&json).unwrap();
    engine.save_campaign(&json, &spec).unwrap()
}

/// The instants of a user's `Webhook Delivered` events.
fn delivered_events(engine: &Engine, identity: &str) -> Vec<Timestamp> {
    let user = engine.store().find(IdentityKind::Identity, identity).unwrap();
    engine.store().events_of(&user.object_id).iter().filter(|e| e.name == WEBHOOK_DELIVERED).map(|e| e.ts).collect()
}

#[test]
fn outcomes_settled_before_a_restart_count_again_and_raise_webhook_delivered_once_at_their_instants() {
    // arrange: three users; a send-now campaign with a goal, and a live one that thanks on `Webhook Delivered`
    let clock = Arc::new(ManualClock::new(start()));
    let journal = MemoryJournal::new();
    let mut engine = open(&clock, &journal, Vec::new());
    engine.add_webhook("inkit", &Value::Null).unwrap();
    let users = ["a", "b", "c"].map(|u| json!({"type": "profile", "identity": u, "profileData": {"Name": u}}));
    engine.upload(&json!({ "d": users })).unwrap();
    let thanks = save(
        &mut engine,
        json!({"name": "Thanks", "webhook_endpoint_name": "inkit", "where": {},
               "trigger": {"action": {"event": WEBHOOK_DELIVERED}}}),
    );
    let mailer = save(
        &mut engine,
        json!({"name": "Mailer", "webhook_endpoint_name": "inkit", "where": {},
               "conversion_goal": {"event_name": "Charged", "conversion_time": "1D"}}),
    );
    let made = engine.take_deliveries();
    let id = |user: &str| {
        let object_id = &engine.store().find(IdentityKind::Identity, user).unwrap().object_id;
        made.iter().find(|d| &d.object_id == object_id).unwrap().id.clone()
    };
    let (a, b, c) = (id("a"), id("b"), id("c"));

    // act: a delivered and b failed 10 s later, c still in flight; a converts an hour later, when a second
    // campaign finds a capped (the mailer and the thanks make two)
    clock.advance(Duration::from_secs(10));
    let settled_at = clock.now();
    engine.settle(&a, &Outcome::Delivered);
    engine.settle(&b, &Outcome::Failed("Webhook Dispatch Failed: HTTP 503".into()));
    let thanked: Vec<String> = engine.take_deliveries().into_iter().map(|d| d.id).collect();
    clock.advance(Duration::from_secs(3600));
    engine.upload(&json!({"d": [{"type": "event", "identity": "a", "evtName": "Charged", "evtData": {}}]})).unwrap();
    let second = save(&mut engine, json!({"name": "Second", "webhook_endpoint_name": "inkit", "where": {}}));
    let reports = |e: &Engine| [mailer, thanks, second].map(|id| e.report(id).unwrap().clone());
    let before = reports(&engine);
    drop(engine);
    clock.advance(Duration::from_secs(60));
    // The outbox's outcomes, in no particular order, one of a delivery this journal never made.
    let outcome = |id: &str, outcome: Outcome| SettledOutcome { delivery_id: id.into(), outcome, at: settled_at };
    let settled = vec![
        outcome(&b, Outcome::Failed("Webhook Dispatch Failed: HTTP 503".into())),
        outcome("1-0-elsewhere", Outcome::Delivered),
        outcome(&a, Outcome::Delivered),
    ];
    let mut reopened = open(&clock, &journal, settled);

    // assert
    assert_eq!(reports(&reopened), before, "delivered, failed by reason, conversions and the thanks, as before");
    let total = reopened.report(mailer).unwrap().total();
    assert_eq!((total.delivered, total.failed.len(), total.in_flight(), total.conversions), (1, 1, 1, 1));
    let capped = reopened.report(second).unwrap().total().dropped.get(&DropReason::FrequencyCap).copied();
    assert_eq!(capped, Some(1), "the thanks was made before the second campaign, as the first time");
    assert_eq!(delivered_events(&reopened, "a"), [settled_at], "Webhook Delivered once, at its instant");
    let again: Vec<String> = reopened.take_deliveries().into_iter().map(|d| d.id).collect();
    assert_eq!(again.len(), 6, "the three mailers, the thanks and two seconds, made again for the outbox to keep once");
    assert!(again.contains(&thanked[0]) && again.contains(&c));
    reopened.settle(&a, &Outcome::Delivered);
    assert_eq!(reports(&reopened), before, "an outcome told twice counts once");
    assert_eq!(delivered_events(&reopened, "a").len(), 1);
}

#[test]
fn an_outcome_settled_at_the_instant_of_a_later_change_replays_before_it() {
    // arrange: a mailer to a; a live campaign on "Clicked", which a does at the instant the mailer is delivered
    let clock = Arc::new(ManualClock::new(start()));
    let journal = MemoryJournal::new();
    let mut engine = open(&clock, &journal, Vec::new());
    engine.add_webhook("inkit", &Value::Null).unwrap();
    engine.upload(&json!({"d": [{"type": "profile", "identity": "a", "profileData": {"Name": "A"}}]})).unwrap();
    save(
        &mut engine,
        json!({"name": "Clicked", "webhook_endpoint_name": "inkit", "where": {},
               "trigger": {"action": {"event": "Clicked"}}}),
    );
    save(&mut engine, json!({"name": "Mailer", "webhook_endpoint_name": "inkit", "where": {}}));
    let mailer = engine.take_deliveries().remove(0).id;

    // act: at one instant, the mailer delivered (Webhook Delivered on a), then a's click
    clock.advance(Duration::from_secs(5));
    engine.settle(&mailer, &Outcome::Delivered);
    engine.upload(&json!({"d": [{"type": "event", "identity": "a", "evtName": "Clicked", "evtData": {}}]})).unwrap();
    let before: Vec<String> = engine.take_deliveries().into_iter().map(|d| d.id).collect();
    drop(engine);
    let settled = vec![SettledOutcome { delivery_id: mailer.clone(), outcome: Outcome::Delivered, at: clock.now() }];
    let mut reopened = open(&clock, &journal, settled);

    // assert: the click is the user's second event of that instant again, so its delivery has the same id
    let after: Vec<String> = reopened.take_deliveries().into_iter().map(|d| d.id).filter(|id| *id != mailer).collect();
    assert_eq!(after, before, "the same id, for the outbox to keep once");
}

#[test]
fn an_edit_is_journaled_so_the_edited_campaign_comes_back_after_a_restart() {
    // arrange: a campaign for tomorrow and a live one, both published
    let clock = Arc::new(ManualClock::new(start()));
    let journal = MemoryJournal::new();
    let mut engine = open(&clock, &journal, Vec::new());
    engine.add_webhook("inkit", &Value::Null).unwrap();
    engine.add_webhook("backup", &Value::Null).unwrap();
    engine.upload(&json!({"d": [{"type": "profile", "identity": "a", "profileData": {"Name": "A"}}]})).unwrap();
    let later = save(
        &mut engine,
        json!({"name": "Later", "webhook_endpoint_name": "inkit", "where": {},
               "when": {"type": "later", "delivery_date_time": "20270116 09:00"}, "content": {"body": "{}"}}),
    );
    let live = save(
        &mut engine,
        json!({"name": "Cart", "webhook_endpoint_name": "inkit", "where": {},
               "trigger": {"action": {"event": "Added To Cart"}}, "content": {"body": "{\"v\": 1}"}}),
    );

    // act
    let moved = json!({"name": "Sooner", "when": {"type": "later", "delivery_date_time": "20270115 12:00"},
                       "webhook_endpoint_name": "backup"});
    engine.edit_campaign(later, &moved).unwrap();
    let refused = engine.edit_campaign(live, &json!({"trigger": {"action": {"event": "Charged"}}}));
    engine.edit_campaign(live, &json!({"content": {"body": "{\"v\": 2}"}, "labels": ["edited"]})).unwrap();
    let edited = (engine.campaign(later).cloned(), engine.campaign(live).cloned());
    let sources = (engine.campaign_source(later).cloned(), engine.campaign_source(live).cloned());
    drop(engine);
    let mut reopened = open(&clock, &journal, Vec::new());

    // assert
    let Err(CampaignError::NotEditable { field: "trigger", status: Status::Running, .. }) = refused else {
        panic!("a running campaign's trigger is not editable: {refused:?}")
    };
    assert_eq!((reopened.campaign(later).cloned(), reopened.campaign(live).cloned()), edited);
    assert_eq!((reopened.campaign_source(later).cloned(), reopened.campaign_source(live).cloned()), sources);
    assert_eq!(reopened.campaign(later).unwrap().name, "Sooner");
    assert_eq!(reopened.campaign_source(live).unwrap()["content"]["body"], "{\"v\": 2}");
    let at = |text: &str| text.parse::<jiff::civil::DateTime>().unwrap().to_zoned(jiff::tz::TimeZone::UTC).unwrap();
    clock.set(at("2027-01-15T12:00").timestamp());
    let sent = reopened.take_deliveries();
    assert_eq!(sent.len(), 1, "the run moved to the edited time");
    assert_eq!((sent[0].campaign_id, sent[0].webhook.as_str()), (later, "backup"));
    assert_eq!(reopened.status(later), Ok(Status::Completed));
    clock.set(at("2027-01-16T09:00").timestamp());
    assert!(reopened.take_deliveries().is_empty(), "nothing at the old time");
}

#[test]
fn an_edited_trigger_listens_to_its_new_event_and_a_stopped_campaign_to_none() {
    // arrange: a live campaign that starts tomorrow (Scheduled: its trigger may change), and one running
    let clock = Arc::new(ManualClock::new(start()));
    let journal = MemoryJournal::new();
    let mut engine = open(&clock, &journal, Vec::new());
    engine.add_webhook("inkit", &Value::Null).unwrap();
    let tomorrow = "20270116 00:00";
    let soon = save(
        &mut engine,
        json!({"name": "Soon", "webhook_endpoint_name": "inkit", "where": {}, "start": tomorrow,
               "trigger": {"action": {"event": "Searched"}}}),
    );
    let running = save(
        &mut engine,
        json!({"name": "Now", "webhook_endpoint_name": "inkit", "where": {},
               "trigger": {"action": {"event": "Searched"}}}),
    );
    assert_eq!(engine.status(soon), Ok(Status::Scheduled));

    // act
    engine.edit_campaign(soon, &json!({"trigger": {"action": {"event": "Charged"}}, "start": null})).unwrap();
    engine.stop(running).unwrap();
    drop(engine);
    let mut reopened = open(&clock, &journal, Vec::new());
    let event = |name: &str| json!({"d": [{"type": "event", "identity": "a", "evtName": name, "evtData": {}}]});
    reopened.upload(&event("Searched")).unwrap();
    let after_searched = reopened.take_deliveries();
    reopened.upload(&event("Charged")).unwrap();
    let after_charged = reopened.take_deliveries();

    // assert
    assert!(after_searched.is_empty(), "neither the old trigger nor the stopped campaign fires");
    assert_eq!(after_charged.iter().map(|d| d.campaign_id).collect::<Vec<_>>(), [soon]);
}
