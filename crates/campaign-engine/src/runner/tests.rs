//! The runner end to end over a memory store, with instants given by the test.

use clock::Timestamp;
use serde_json::{Map, Value, json};

use super::{Account, Outcome, Runner};
use crate::campaign::audience::{ControlGroup, TargetingCap};
use crate::campaign::content::{BodyFormat, Content};
use crate::campaign::goal::Goal;
use crate::campaign::lifecycle::Status;
use crate::campaign::limits::{FrequencyCap, UserLimit};
use crate::campaign::live::LiveTrigger;
use crate::campaign::target::Target;
use crate::campaign::throttle::Throttle;
use crate::campaign::{Campaign, When};
use crate::delivery::Delivery;
use crate::profile::IdentityKind;
use crate::query::Query;
use crate::report::DropReason;
use crate::schedule::{Schedule, When as Runs};
use crate::store::MemoryStore;

const T0: i64 = 1_800_000_000;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).unwrap()
}

/// An instant as a wall time in the account's zone (UTC).
fn wall(at: Timestamp) -> jiff::civil::DateTime {
    jiff::tz::TimeZone::UTC.to_datetime(at)
}

fn props(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// `n` users `u0`, `u1`, … with a Name and a City (even: Paris, odd: Lyon).
fn store_of(n: usize) -> MemoryStore {
    let mut store = MemoryStore::new();
    for i in 0..n {
        let city = if i % 2 == 0 { "Paris" } else { "Lyon" };
        store.upload_profile(
            (IdentityKind::Identity, &format!("u{i}")),
            &props(json!({"Name": format!("User {i}"), "City": city})),
            t(-100),
        );
    }
    store
}

fn campaign(id: u64, when: When) -> Campaign {
    Campaign {
        id,
        name: format!("campaign {id}"),
        labels: Vec::new(),
        webhook: "inkit".into(),
        content: Content::CustomBody { body: "{}".into(), format: BodyFormat::Json },
        target: Target::All,
        control_group: None,
        targeting_cap: None,
        when,
        limit: UserLimit::EveryTime,
        respect_frequency_caps: true,
        throttle: None,
        goal: None,
        created_at: t(0),
        published_at: Some(t(0)),
        stopped_at: None,
    }
}

fn now_campaign(id: u64) -> Campaign {
    campaign(id, When::Scheduled(Schedule::default()))
}

fn live(id: u64, trigger: Value) -> Campaign {
    campaign(
        id,
        When::Live { trigger: LiveTrigger::parse(&trigger, "trigger").unwrap(), start: None, end: None, dnd: None },
    )
}

/// Adds an event as an upload would and tells the runner, at the event's time.
fn event(runner: &mut Runner, store: &mut MemoryStore, user: &str, name: &str, p: Value, at: Timestamp) {
    let (object_id, e) = store.add_event((IdentityKind::Identity, user), name, props(p), at, at);
    let (object_id, e) = (object_id.to_owned(), e.clone());
    runner.on_event(store, &object_id, &e, at);
}

fn users(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.identity.clone().unwrap_or_default()).collect()
}

#[test]
fn send_now_hands_one_delivery_per_qualified_user_with_stable_ids() {
    // arrange
    let store = store_of(4);
    let mut runner = Runner::default();
    let mut c = now_campaign(7);
    c.target = Target::Query(
        Query::parse(&json!({"common_profile_properties": {"profile_fields": [{"name": "City", "value": "Paris"}]}}))
            .unwrap(),
    );
    runner.add(c);

    // act
    let deliveries = runner.run_due(&store, t(0));

    // assert
    assert_eq!(users(&deliveries), ["u0", "u2"]);
    let first = &deliveries[0];
    assert_eq!(first.id, format!("7-r0-{}", first.object_id));
    assert_eq!((first.campaign_id, first.webhook.as_str(), first.created_at), (7, "inkit", t(0)));
    assert_eq!(first.profile["Name"], "User 0");
    let report = runner.report(7).unwrap().total();
    assert_eq!((report.qualified, report.handed), (2, 2));
    assert_eq!(runner.next_due(), None);
}

#[test]
fn the_control_group_gets_nothing_and_is_counted() {
    let store = store_of(1000);
    let mut runner = Runner::default();
    let mut c = now_campaign(1);
    c.control_group = Some(ControlGroup { percent: 10 });
    runner.add(c);
    let deliveries = runner.run_due(&store, t(0));
    let report = runner.report(1).unwrap().total();
    assert_eq!(report.qualified, 1000);
    assert_eq!(report.control_group + report.handed, 1000);
    assert_eq!(deliveries.len() as u64, report.handed);
    assert!((60..=140).contains(&report.control_group), "{}", report.control_group);
}

#[test]
fn the_targeting_cap_drops_users_beyond_it() {
    let store = store_of(150);
    let mut runner = Runner::default();
    let mut c = now_campaign(1);
    c.targeting_cap = Some(TargetingCap { max: 100 });
    runner.add(c);
    assert_eq!(runner.run_due(&store, t(0)).len(), 100);
    assert_eq!(runner.report(1).unwrap().total().dropped[&DropReason::TargetingCap], 50);
}

#[test]
fn the_global_frequency_cap_drops_a_second_campaign_within_its_window() {
    let store = store_of(2);
    let account = Account { frequency_cap: Some(FrequencyCap { max: 1, days: 1 }), ..Account::default() };
    let mut runner = Runner::new(account);
    runner.add(now_campaign(1));
    assert_eq!(runner.run_due(&store, t(0)).len(), 2);
    let mut second = now_campaign(2);
    second.published_at = Some(t(3_600));
    let mut exempt = now_campaign(3);
    exempt.published_at = Some(t(3_600));
    exempt.respect_frequency_caps = false;
    runner.add(second);
    runner.add(exempt);
    let deliveries = runner.run_due(&store, t(3_600));
    assert!(deliveries.iter().all(|d| d.campaign_id == 3), "only the campaign that ignores caps sends");
    assert_eq!(runner.report(2).unwrap().total().dropped[&DropReason::FrequencyCap], 2);
}

#[test]
fn the_throttle_spreads_messages_over_minutes() {
    let store = store_of(5);
    let mut runner = Runner::default();
    let mut c = now_campaign(1);
    c.published_at = Some(Timestamp::from_second(T0 / 60 * 60).unwrap());
    c.throttle = Some(Throttle { per_minute: 2 });
    let start = c.published_at.unwrap();
    runner.add(c);
    let mut times = Vec::new();
    while let Some(due) = runner.next_due() {
        times.extend(runner.run_due(&store, due).iter().map(|d| d.created_at.as_second() - start.as_second()));
    }
    assert_eq!(times, [0, 0, 60, 60, 120]);
}

#[test]
fn a_live_action_fires_after_its_delay_for_matching_events_only() {
    let mut store = store_of(2);
    let mut runner = Runner::default();
    runner.add(live(
        1,
        json!({"action": {"event": "Charged", "where": [{"name": "Amount", "operator": "greater_than", "value": 100}]},
               "delay": {"value": 10, "unit": "minutes"}}),
    ));
    event(&mut runner, &mut store, "u0", "Charged", json!({"Amount": 150}), t(0));
    event(&mut runner, &mut store, "u1", "Charged", json!({"Amount": 50}), t(0));
    assert!(runner.run_due(&store, t(599)).is_empty(), "not before the delay");
    let deliveries = runner.run_due(&store, t(600));
    assert_eq!(users(&deliveries), ["u0"]);
    assert_eq!(deliveries[0].event.as_ref().unwrap()["Amount"], 150);
    assert_eq!(deliveries[0].created_at, t(600));
}

#[test]
fn inaction_sends_only_to_users_who_did_not_follow_up_in_time() {
    let mut store = store_of(2);
    let mut runner = Runner::default();
    runner.add(live(
        1,
        json!({"inaction": {"did": {"event": "Added To Cart"}, "not": {"event": "Charged"}, "within": {"value": 10, "unit": "minutes"}}}),
    ));
    event(&mut runner, &mut store, "u0", "Added To Cart", json!({}), t(0));
    event(&mut runner, &mut store, "u1", "Added To Cart", json!({}), t(0));
    event(&mut runner, &mut store, "u1", "Charged", json!({"Amount": 5}), t(300));
    let deliveries = runner.run_due(&store, t(600));
    assert_eq!(users(&deliveries), ["u0"]);
}

#[test]
fn a_date_property_campaign_sends_n_days_after_the_date() {
    let mut store = store_of(0);
    let day = 86_400;
    for (user, purchase) in [("a", t(-3 * day)), ("b", t(-2 * day))] {
        let p = props(json!({"Purchase": format!("$D_{}", purchase.as_second())}));
        store.upload_profile((IdentityKind::Identity, user), &p, t(-5 * day));
    }
    let mut runner = Runner::default();
    runner.add(live(1, json!({"date_property": {"property": "Purchase", "days": 3, "at": "09:00"}})));
    // Day by day for three days: a's third day is today, b's tomorrow.
    let mut sent = Vec::new();
    while let Some(due) = runner.next_due().filter(|d| *d < t(3 * day)) {
        sent.extend(users(&runner.run_due(&store, due)));
    }
    assert_eq!(sent, ["a", "b"]);
}

#[test]
fn stopping_drops_waiting_users_and_the_status_follows_the_runs() {
    let mut store = store_of(1);
    let mut runner = Runner::default();
    let mut draft = live(1, json!({"action": {"event": "Viewed"}, "delay": {"value": 1, "unit": "hours"}}));
    draft.published_at = None;
    runner.add(draft);
    assert_eq!(runner.status(1, t(0)), Some(Status::Draft));
    runner.publish(1, t(0));
    assert_eq!(runner.status(1, t(0)), Some(Status::Running));
    event(&mut runner, &mut store, "u0", "Viewed", json!({}), t(10));
    runner.stop(1, t(20));
    assert_eq!(runner.status(1, t(20)), Some(Status::Stopped));
    assert!(runner.run_due(&store, t(4_000)).is_empty());
    assert_eq!(runner.report(1).unwrap().total().dropped[&DropReason::Stopped], 1);

    let mut later = campaign(2, When::Scheduled(Schedule::new(Runs::Dates(vec![wall(t(100)), wall(t(200))]))));
    later.published_at = Some(t(0));
    runner.add(later);
    assert_eq!(runner.status(2, t(0)), Some(Status::Scheduled));
    runner.run_due(&store, t(100));
    assert_eq!(runner.status(2, t(150)), Some(Status::AwaitingNextRun));
    runner.run_due(&store, t(200));
    assert_eq!(runner.status(2, t(200)), Some(Status::Completed));
}

#[test]
fn outcomes_fill_the_report_and_a_delivery_raises_webhook_delivered_once() {
    let store = store_of(3);
    let mut runner = Runner::default();
    runner.add(now_campaign(1));
    let d = runner.run_due(&store, t(0));
    assert_eq!(runner.settle(&d[0].id, &Outcome::Delivered), Some((d[0].object_id.clone(), 1)));
    assert_eq!(runner.settle(&d[0].id, &Outcome::Delivered), None, "settled twice counts once");
    runner.settle(&d[1].id, &Outcome::Failed("Webhook Dispatch Failed: HTTP 500".into()));
    let report = runner.report(1).unwrap().total();
    assert_eq!((report.handed, report.delivered, report.in_flight()), (3, 1, 1));
    assert_eq!(report.failed["Webhook Dispatch Failed: HTTP 500"], 1);
}

#[test]
fn a_goal_event_within_the_window_is_a_conversion_and_after_it_is_not() {
    let mut store = store_of(2);
    let mut runner = Runner::default();
    let mut c = now_campaign(1);
    c.goal = Some(Goal::parse(&json!({"event": "Charged", "within": {"value": 1, "unit": "days"}}), "goal").unwrap());
    runner.add(c);
    runner.run_due(&store, t(0));
    event(&mut runner, &mut store, "u0", "Charged", json!({}), t(3_600));
    event(&mut runner, &mut store, "u0", "Charged", json!({}), t(7_200));
    event(&mut runner, &mut store, "u1", "Charged", json!({}), t(2 * 86_400));
    assert_eq!(runner.report(1).unwrap().total().conversions, 1);
}

#[test]
fn at_most_once_per_user_holds_across_live_triggers() {
    let mut store = store_of(1);
    let mut runner = Runner::default();
    let mut c = live(1, json!({"action": {"event": "Viewed"}}));
    c.limit = UserLimit::AtMost(1);
    runner.add(c);
    event(&mut runner, &mut store, "u0", "Viewed", json!({}), t(0));
    assert_eq!(runner.run_due(&store, t(0)).len(), 1);
    event(&mut runner, &mut store, "u0", "Viewed", json!({}), t(60));
    assert!(runner.run_due(&store, t(60)).is_empty());
    assert_eq!(runner.report(1).unwrap().total().dropped[&DropReason::UserLimit], 1);
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn scheduled(id: u64, when: Value, published: Timestamp) -> Campaign {
    let mut c = campaign(id, When::Scheduled(Schedule::parse(&when, "when").unwrap()));
    c.published_at = Some(published);
    c
}

/// Runs the agenda until `until`, collecting (identity, instant) of every delivery.
fn run_until(runner: &mut Runner, store: &MemoryStore, until: Timestamp) -> Vec<(String, String)> {
    let mut sent = Vec::new();
    while let Some(due) = runner.next_due().filter(|d| *d <= until) {
        for d in runner.run_due(store, due) {
            sent.push((d.identity.unwrap_or_default(), d.created_at.to_string()));
        }
    }
    sent
}

#[test]
fn a_weekly_recurring_campaign_runs_every_chosen_weekday_for_a_month() {
    let store = store_of(1);
    let mut runner = Runner::default();
    let when = json!({"type": "recurring", "start": "20261201 09:00",
                      "repeat": {"every": 1, "unit": "weeks", "weekdays": ["tue", "fri"]}, "end": {"on": "20261231"}});
    runner.add(scheduled(1, when, at("2026-11-30T00:00:00Z")));
    assert_eq!(runner.status(1, at("2026-11-30T00:00:00Z")), Some(Status::Scheduled));
    let sent = run_until(&mut runner, &store, at("2026-12-15T00:00:00Z"));
    let times: Vec<&str> = sent.iter().map(|(_, t)| t.as_str()).collect();
    // 2026-12-01 is a Tuesday.
    assert_eq!(times, ["2026-12-01T09:00:00Z", "2026-12-04T09:00:00Z", "2026-12-08T09:00:00Z", "2026-12-11T09:00:00Z"]);
    assert_eq!(runner.status(1, at("2026-12-15T00:00:00Z")), Some(Status::AwaitingNextRun));
    let rest = run_until(&mut runner, &store, at("2027-02-01T00:00:00Z"));
    assert_eq!(rest.len(), 5, "15, 18, 22, 25 and 29 December");
    assert_eq!(runner.status(1, at("2027-02-01T00:00:00Z")), Some(Status::Completed));
    assert_eq!(runner.report(1).unwrap().runs.len(), 9);
}

#[test]
fn in_the_users_time_zone_a_passed_time_is_dropped_or_served_the_next_day() {
    let mut store = MemoryStore::new();
    for (user, tz) in [("india", "Asia/Kolkata"), ("newyork", "America/New_York")] {
        store.upload_profile((IdentityKind::Identity, user), &props(json!({"Tz": tz})), t(0));
    }
    let published = at("2026-12-01T05:00:00Z");
    for (id, wrap, expected) in [
        (1, false, vec![("newyork", "2026-12-01T14:00:00Z")]),
        (2, true, vec![("newyork", "2026-12-01T14:00:00Z"), ("india", "2026-12-02T03:30:00Z")]),
    ] {
        let mut runner = Runner::default();
        let when = json!({"type": "later", "delivery_date_time": ["20261201 09:00"], "delivery_timezone": "user",
                          "user_timezone_wrap_around": wrap});
        runner.add(scheduled(id, when, published));
        let sent = run_until(&mut runner, &store, at("2026-12-03T00:00:00Z"));
        let sent: Vec<(&str, &str)> = sent.iter().map(|(u, t)| (u.as_str(), t.as_str())).collect();
        assert_eq!(sent, expected, "wrap around: {wrap}");
        let dropped = runner.report(id).unwrap().total().dropped.get(&DropReason::TimePassed).copied();
        assert_eq!(dropped, if wrap { None } else { Some(1) });
    }
}

#[test]
fn dnd_delays_to_the_end_of_the_window_or_discards() {
    let store = store_of(1);
    for (state, expected) in [("delay", vec!["2026-12-02T08:00:00Z"]), ("discard", vec![])] {
        let mut runner = Runner::default();
        let when = json!({"type": "later", "delivery_date_time": ["20261201 23:00"],
                          "dnd": {"from": "22:00", "to": "08:00", "message_state": state, "dnd_timezone": "account"}});
        runner.add(scheduled(1, when, at("2026-12-01T00:00:00Z")));
        let sent = run_until(&mut runner, &store, at("2026-12-03T00:00:00Z"));
        let times: Vec<&str> = sent.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(times, expected, "{state}");
        let discarded = runner.report(1).unwrap().total().dropped.get(&DropReason::DndDiscard).copied();
        assert_eq!(discarded, (state == "discard").then_some(1));
    }
}
