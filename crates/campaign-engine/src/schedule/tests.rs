//! Tests of schedules: reading and writing the `when` JSON, runs, time zones, DST, DND, cut-off and delays. Every
//! instant is asserted exactly.

use clock::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use super::{
    Cutoff, Delay, DeliveryZone, Dnd, DndState, DndVerdict, DndWindow, DndZone, Passed, Run, Schedule, When, user_zone,
};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn wall(s: &str) -> DateTime {
    s.parse().unwrap()
}

fn time(s: &str) -> Time {
    s.parse().unwrap()
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn utc() -> TimeZone {
    TimeZone::UTC
}

fn parse(json: Value) -> Schedule {
    Schedule::parse(&json, "when").unwrap_or_else(|e| panic!("{e}"))
}

fn parse_error(json: Value) -> String {
    match Schedule::parse(&json, "when") {
        Ok(s) => panic!("parsed {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// The wall times of the first `n` runs, checking that indices count from 0.
fn walls(schedule: &Schedule, n: usize) -> Vec<String> {
    let runs: Vec<Run> = schedule.runs().take(n).collect();
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.index as usize, i, "{run:?}");
    }
    runs.iter().map(|r| r.wall.to_string()).collect()
}

fn recurring(start: &str, repeat: Value, end: Value) -> Schedule {
    parse(json!({"type": "recurring", "start": start, "repeat": repeat, "end": end}))
}

fn daily(end: Value) -> Schedule {
    recurring("20261201 09:00", json!({"every": 1, "unit": "days"}), end)
}

#[test]
fn the_string_forms_are_now_and_one_date_and_time() {
    assert_eq!(parse(json!("now")), Schedule::new(When::Now));
    assert_eq!(parse(json!("20230503 15:20")), Schedule::new(When::Later(wall("2023-05-03T15:20"))));
}

#[test]
fn the_targets_object_form_reads_every_field() {
    let s = parse(json!({"type": "later", "delivery_date_time": ["20230503 15:20"], "delivery_timezone": "user",
        "user_timezone_wrap_around": true, "dnd": {"message_state": "delay", "dnd_timezone": "user"},
        "campaign_cutoff": "14:20"}));
    assert_eq!(s.when, When::Later(wall("2023-05-03T15:20")));
    assert_eq!(s.zone, DeliveryZone::User(Passed::DeliverNextDay));
    assert_eq!(s.dnd, Some(Dnd { window: None, state: DndState::Delay, zone: DndZone::User }));
    assert_eq!(s.cutoff, Cutoff::new(time("14:20")));
    let dropped = parse(json!({"type": "later", "delivery_date_time": "20230503 15:20", "delivery_timezone": "user"}));
    assert_eq!(dropped.zone, DeliveryZone::User(Passed::Drop));
}

#[test]
fn schedules_serialize_back_to_the_json_they_were_read_from() {
    let forms = [
        json!("now"),
        json!("20230503 15:20"),
        json!({"type": "now", "delivery_timezone": "account", "end_date": "20261231"}),
        json!({"type": "later", "delivery_date_time": ["20230503 15:20", "20230510 15:20"],
            "delivery_timezone": "user", "user_timezone_wrap_around": true,
            "dnd": {"message_state": "delay", "dnd_timezone": "user"}, "campaign_cutoff": "14:20"}),
        json!({"type": "recurring", "start": "20261201 09:00", "repeat": {"every": 2, "unit": "days"},
            "end": {"never": true}, "delivery_timezone": "account"}),
        json!({"type": "recurring", "start": "20261201 09:00",
            "repeat": {"every": 1, "unit": "weeks", "weekdays": ["mon", "thu"]}, "end": {"on": "20261231"},
            "delivery_timezone": "user", "user_timezone_wrap_around": false,
            "start_date": "20261201", "end_date": "20270630 18:00"}),
        json!({"type": "recurring", "start": "20261201 09:00",
            "repeat": {"every": 1, "unit": "months", "days": [1, 15, "last"]}, "end": {"after": 10},
            "delivery_timezone": "account",
            "dnd": {"from": "22:00", "to": "08:00", "message_state": "discard", "dnd_timezone": "account"}}),
    ];
    for form in forms {
        let schedule = parse(form.clone());
        assert_eq!(schedule.to_json(), form);
        assert_eq!(serde_json::to_value(&schedule).unwrap(), form);
    }
    // Equivalent spellings are written in the one canonical shape.
    let loose = json!({"type": "recurring", "start": "20261201 09:00",
        "repeat": {"unit": "week", "weekdays": ["Thursday", "mon", "thu"]}});
    assert_eq!(
        parse(loose).to_json(),
        json!({"type": "recurring", "start": "20261201 09:00",
            "repeat": {"every": 1, "unit": "weeks", "weekdays": ["mon", "thu"]}, "end": {"never": true},
            "delivery_timezone": "account"})
    );
}

#[test]
fn multiple_dates_run_in_time_order_with_stable_indices() {
    let s = parse(json!({"type": "later",
        "delivery_date_time": ["20261203 10:00", "20261201 10:00", "20261202 10:00"]}));
    assert_eq!(walls(&s, 9), ["2026-12-01T10:00:00", "2026-12-02T10:00:00", "2026-12-03T10:00:00"]);
    let next = s.next_run(at("2026-12-01T10:00:01Z"), &utc()).unwrap();
    assert_eq!((next.index, next.wall), (1, wall("2026-12-02T10:00")));
    assert_eq!(s.run(1), Some(next));
    assert_eq!(s.run(3), None);
}

#[test]
fn next_run_is_at_or_after_the_instant_asked() {
    let kolkata = zone("Asia/Kolkata");
    let s = parse(json!("20261201 09:00"));
    let run = s.next_run(at("2026-12-01T03:30:00Z"), &kolkata).unwrap();
    assert_eq!(run, Run { index: 0, wall: wall("2026-12-01T09:00") });
    assert_eq!(s.opens(&run, &kolkata), at("2026-12-01T03:30:00Z"));
    assert_eq!(s.receive_at(&run, &utc(), &kolkata, at("2026-11-01T00:00:00Z")), Some(at("2026-12-01T03:30:00Z")));
    assert_eq!(s.next_run(at("2026-12-01T03:30:00.000000001Z"), &kolkata), None);
}

#[test]
fn now_runs_once_at_the_instant_of_publication() {
    let s = parse(json!({"type": "now", "delivery_timezone": "user"}));
    let published = at("2026-12-01T12:34:56Z");
    let run = s.next_run(published, &utc()).unwrap();
    assert_eq!(run.index, 0);
    assert_eq!(s.receive_at(&run, &zone("Asia/Tokyo"), &utc(), published), Some(published));
    assert_eq!(s.runs().count(), 0);
    let ended = parse(json!({"type": "now", "end_date": "20261130"}));
    assert_eq!(ended.next_run(published, &utc()), None);
}

#[test]
fn daily_repeat_sends_on_the_launch_day_when_its_time_has_not_passed() {
    let s = daily(json!({"never": true}));
    let before = s.next_run(at("2026-12-01T08:59:00Z"), &utc()).unwrap();
    assert_eq!((before.index, before.wall), (0, wall("2026-12-01T09:00")));
    let after = s.next_run(at("2026-12-01T09:01:00Z"), &utc()).unwrap();
    assert_eq!((after.index, after.wall), (1, wall("2026-12-02T09:00")));
}

#[test]
fn repeating_every_2_days_leaves_a_day_between_runs() {
    let s = recurring("20261201 09:00", json!({"every": 2, "unit": "days"}), json!({"never": true}));
    assert_eq!(walls(&s, 3), ["2026-12-01T09:00:00", "2026-12-03T09:00:00", "2026-12-05T09:00:00"]);
}

#[test]
fn weekly_repeat_runs_on_the_chosen_weekdays_every_other_week() {
    // 2026-12-03 is a Thursday: the launch day is a chosen weekday, the Monday before it is not a run.
    let s = recurring("20261203 09:00", json!({"every": 2, "unit": "weeks", "weekdays": ["thu", "mon"]}), json!(null));
    assert_eq!(
        walls(&s, 5),
        [
            "2026-12-03T09:00:00",
            "2026-12-14T09:00:00",
            "2026-12-17T09:00:00",
            "2026-12-28T09:00:00",
            "2026-12-31T09:00:00"
        ]
    );
    let late = s.next_run(at("2026-12-03T09:00:01Z"), &utc()).unwrap();
    assert_eq!((late.index, late.wall), (1, wall("2026-12-14T09:00")));
}

#[test]
fn monthly_repeat_never_runs_on_the_launch_day() {
    let s = recurring("20261207 09:00", json!({"unit": "months", "days": [7]}), json!({"after": 2}));
    assert_eq!(walls(&s, 9), ["2027-01-07T09:00:00", "2027-02-07T09:00:00"]);
    assert_eq!(s.next_run(at("2026-12-01T00:00:00Z"), &utc()).map(|r| r.index), Some(0));
}

#[test]
fn a_monthly_day_starts_on_that_day_not_on_the_creation_date() {
    let s = recurring("20261203 10:00", json!({"unit": "months", "days": [20, 7]}), json!(null));
    assert_eq!(walls(&s, 3), ["2026-12-07T10:00:00", "2026-12-20T10:00:00", "2027-01-07T10:00:00"]);
}

#[test]
fn the_31st_is_skipped_in_april() {
    let s = recurring("20270301 09:00", json!({"unit": "months", "days": [31]}), json!(null));
    assert_eq!(
        walls(&s, 4),
        ["2027-03-31T09:00:00", "2027-05-31T09:00:00", "2027-07-31T09:00:00", "2027-08-31T09:00:00"]
    );
    let every_other = recurring("20270301 09:00", json!({"every": 2, "unit": "months", "days": [31]}), json!(null));
    assert_eq!(walls(&every_other, 3), ["2027-03-31T09:00:00", "2027-05-31T09:00:00", "2027-07-31T09:00:00"]);
}

#[test]
fn last_day_of_month_is_the_28th_in_february_2027() {
    let s = recurring("20270115 09:00", json!({"unit": "months", "days": ["last"]}), json!(null));
    assert_eq!(walls(&s, 3), ["2027-01-31T09:00:00", "2027-02-28T09:00:00", "2027-03-31T09:00:00"]);
    let leap = recurring("20280201 09:00", json!({"unit": "months", "days": ["last"]}), json!(null));
    assert_eq!(walls(&leap, 1), ["2028-02-29T09:00:00"]);
    // The 30th and the last day are one run in April.
    let both = recurring("20270401 09:00", json!({"unit": "months", "days": [30, "last"]}), json!(null));
    assert_eq!(walls(&both, 2), ["2027-04-30T09:00:00", "2027-05-30T09:00:00"]);
}

#[test]
fn ending_after_3_runs_stops_at_the_third() {
    let s = daily(json!({"after": 3}));
    assert_eq!(walls(&s, 9), ["2026-12-01T09:00:00", "2026-12-02T09:00:00", "2026-12-03T09:00:00"]);
    assert_eq!(s.run(3), None);
    assert_eq!(s.next_run(at("2026-12-03T09:00:01Z"), &utc()), None);
}

#[test]
fn ending_on_a_date_includes_that_date() {
    let s = daily(json!({"on": "20261203"}));
    assert_eq!(walls(&s, 9), ["2026-12-01T09:00:00", "2026-12-02T09:00:00", "2026-12-03T09:00:00"]);
}

#[test]
fn the_campaign_window_bounds_runs_and_runs_are_counted_inside_it() {
    let s = parse(json!({"type": "recurring", "start": "20261201 09:00", "repeat": {"unit": "days"},
        "end": {"after": 5}, "start_date": "20261205", "end_date": "20261207 08:00"}));
    assert_eq!(walls(&s, 9), ["2026-12-05T09:00:00", "2026-12-06T09:00:00"]);
    // A window far after the start is reached without walking every day before it.
    let far = parse(json!({"type": "recurring", "start": "10000101 09:00", "repeat": {"unit": "days"},
        "start_date": "99980101"}));
    assert_eq!(walls(&far, 1), ["9998-01-01T09:00:00"]);
    assert!(far.window.contains_instant(at("9998-06-01T00:00:00Z"), &utc()));
}

#[test]
fn a_pattern_that_never_falls_on_a_real_date_has_no_runs() {
    let s = recurring("20270201 09:00", json!({"every": 12, "unit": "months", "days": [30, 31]}), json!(null));
    assert_eq!(s.runs().next(), None);
    assert_eq!(s.next_run(at("2027-01-01T00:00:00Z"), &utc()), None);
}

#[test]
fn run_k_is_the_same_whatever_the_instant_asked() {
    let paris = zone("Europe/Paris");
    let s = recurring("20261203 10:00", json!({"unit": "months", "days": [7, 31, "last"]}), json!({"after": 12}));
    let runs: Vec<Run> = s.runs().collect();
    assert_eq!(runs.len(), 12);
    for run in runs {
        let opens = s.opens(&run, &paris);
        assert_eq!(s.next_run(opens, &paris), Some(run));
        assert_eq!(s.next_run(opens - jiff::SignedDuration::from_secs(1), &paris), Some(run));
        assert_eq!(s.run(run.index), Some(run));
    }
}

#[test]
fn a_user_time_zone_run_opens_at_utc_plus_14_and_closes_at_utc_minus_12() {
    let drop = parse(json!({"type": "later", "delivery_date_time": ["20261201 09:00"], "delivery_timezone": "user"}));
    let run = drop.next_run(at("2026-11-01T00:00:00Z"), &utc()).unwrap();
    assert_eq!(drop.opens(&run, &utc()), at("2026-11-30T19:00:00Z"));
    assert_eq!(drop.closes(&run, &utc()), at("2026-12-01T21:00:00Z"));
    assert_eq!(drop.next_run(at("2026-12-01T21:00:00Z"), &utc()), Some(run));
    assert_eq!(drop.next_run(at("2026-12-01T21:00:01Z"), &utc()), None);
    let mut next_day = drop.clone();
    next_day.zone = DeliveryZone::User(Passed::DeliverNextDay);
    assert_eq!(next_day.closes(&run, &utc()), at("2026-12-02T21:00:00Z"));
    assert_eq!(next_day.next_run(at("2026-12-02T20:00:00Z"), &utc()), Some(run));
}

#[test]
fn a_user_whose_time_has_passed_is_dropped_or_served_next_day() {
    let s = parse(json!({"type": "later", "delivery_date_time": ["20261201 09:00"], "delivery_timezone": "user"}));
    let run = s.run(0).unwrap();
    let published = at("2026-12-01T05:00:00Z");
    let (kolkata, new_york) = (zone("Asia/Kolkata"), zone("America/New_York"));
    // 09:00 in Kolkata was 03:30Z, before publication; 09:00 in New York is 14:00Z, after it.
    assert_eq!(s.receive_at(&run, &kolkata, &utc(), published), None);
    assert_eq!(s.receive_at(&run, &new_york, &utc(), published), Some(at("2026-12-01T14:00:00Z")));
    let mut wrap = s.clone();
    wrap.zone = DeliveryZone::User(Passed::DeliverNextDay);
    assert_eq!(wrap.receive_at(&run, &kolkata, &utc(), published), Some(at("2026-12-02T03:30:00Z")));
    assert_eq!(wrap.receive_at(&run, &new_york, &utc(), published), Some(at("2026-12-01T14:00:00Z")));
    // Published at the opening instant, nobody's time has passed: UTC+14 receives at that very instant.
    let opens = s.opens(&run, &utc());
    assert_eq!(s.receive_at(&run, &user_zone(Some("+14:00"), &utc()), &utc(), opens), Some(opens));
}

#[test]
fn a_users_zone_is_their_tz_or_the_account_zone() {
    let account = zone("Europe/Paris");
    let t = at("2026-12-01T00:00:00Z");
    let offset = |tz: Option<&str>| user_zone(tz, &account).to_offset(t).seconds();
    assert_eq!(user_zone(Some("Asia/Kolkata"), &account).iana_name(), Some("Asia/Kolkata"));
    assert_eq!(offset(Some("+05:30")), 19_800);
    assert_eq!(offset(Some("-0800")), -28_800);
    assert_eq!(offset(Some("UTC+9")), 32_400);
    assert_eq!(offset(Some("-12:00")), -43_200);
    for fallback in [None, Some(""), Some("Mars/Olympus_Mons"), Some("+15:00"), Some("+05:75"), Some("5:30")] {
        assert_eq!(user_zone(fallback, &account), account, "{fallback:?}");
    }
}

#[test]
fn a_daily_run_keeps_its_wall_time_across_a_dst_change() {
    let new_york = zone("America/New_York");
    let s = recurring("20270313 09:00", json!({"unit": "days"}), json!({"after": 2}));
    let opens: Vec<Timestamp> = s.runs().map(|r| s.opens(&r, &new_york)).collect();
    assert_eq!(opens, [at("2027-03-13T14:00:00Z"), at("2027-03-14T13:00:00Z")]);
}

#[test]
fn a_run_in_a_dst_gap_moves_forward_by_the_gap() {
    // 2027-03-14 02:30 does not exist in New York: compatible reads it with EST, i.e. 03:30 EDT.
    let new_york = zone("America/New_York");
    let s = parse(json!("20270314 02:30"));
    let run = s.run(0).unwrap();
    assert_eq!(s.opens(&run, &new_york), at("2027-03-14T07:30:00Z"));
    let user = parse(json!({"type": "later", "delivery_date_time": "20270314 02:30", "delivery_timezone": "user"}));
    let published = at("2027-03-13T00:00:00Z");
    assert_eq!(user.receive_at(&run, &new_york, &utc(), published), Some(at("2027-03-14T07:30:00Z")));
}

#[test]
fn a_run_in_a_dst_fold_takes_the_first_occurrence() {
    // 2027-11-07 01:30 happens twice in New York; the first is 01:30 EDT.
    let s = parse(json!("20271107 01:30"));
    assert_eq!(s.opens(&s.run(0).unwrap(), &zone("America/New_York")), at("2027-11-07T05:30:00Z"));
}

#[test]
fn dnd_window_across_midnight_releases_at_its_end_in_the_users_zone() {
    let window = DndWindow::new(time("22:00"), time("08:00")).unwrap();
    let kolkata = zone("Asia/Kolkata");
    let release = at("2026-12-02T02:30:00Z"); // 08:00 IST
    assert_eq!(window.release(at("2026-12-01T16:30:00Z"), &kolkata), Some(release)); // 22:00, included
    assert_eq!(window.release(at("2026-12-01T17:00:00Z"), &kolkata), Some(release)); // 22:30
    assert_eq!(window.release(at("2026-12-01T20:00:00Z"), &kolkata), Some(release)); // 01:30
    assert_eq!(window.release(release, &kolkata), None); // 08:00, excluded
    assert_eq!(window.release(at("2026-12-01T16:29:59Z"), &kolkata), None); // 21:59:59
}

#[test]
fn a_dnd_window_within_a_day_does_not_cross_midnight() {
    let window = DndWindow::new(time("12:00"), time("14:00")).unwrap();
    assert_eq!(window.release(at("2026-12-01T13:00:00Z"), &utc()), Some(at("2026-12-01T14:00:00Z")));
    assert_eq!(window.release(at("2026-12-01T14:00:00Z"), &utc()), None);
    assert_eq!(window.release(at("2026-12-01T23:00:00Z"), &utc()), None);
    assert_eq!(DndWindow::new(time("12:00"), time("12:00")), None);
}

#[test]
fn dnd_discards_or_delays_in_the_zone_it_names() {
    let window = DndWindow::new(time("22:00"), time("08:00"));
    let kolkata = zone("Asia/Kolkata");
    let t = at("2026-12-01T17:00:00Z"); // 22:30 in Kolkata, 17:00 UTC
    let dnd = |state, zone| Dnd { window, state, zone };
    let delay = dnd(DndState::Delay, DndZone::User);
    assert_eq!(delay.verdict(t, &kolkata, &utc(), None), DndVerdict::DelayUntil(at("2026-12-02T02:30:00Z")));
    assert_eq!(dnd(DndState::Discard, DndZone::User).verdict(t, &kolkata, &utc(), None), DndVerdict::Discard);
    assert_eq!(dnd(DndState::Delay, DndZone::Account).verdict(t, &kolkata, &utc(), None), DndVerdict::Send);
    // Without its own window the campaign follows the account's DND hours, or none.
    let account_hours = Dnd { window: None, state: DndState::Discard, zone: DndZone::User };
    assert_eq!(account_hours.verdict(t, &kolkata, &utc(), window), DndVerdict::Discard);
    assert_eq!(account_hours.verdict(t, &kolkata, &utc(), None), DndVerdict::Send);
}

#[test]
fn a_dnd_window_ending_in_a_dst_gap_releases_when_the_clock_jumps() {
    // New York, 2027-03-14: 02:00 EST jumps to 03:00 EDT at 07:00Z; a window to 02:30 ends then.
    let window = DndWindow::new(time("22:00"), time("02:30")).unwrap();
    let new_york = zone("America/New_York");
    assert_eq!(window.release(at("2027-03-14T06:45:00Z"), &new_york), Some(at("2027-03-14T07:00:00Z")));
}

#[test]
fn a_dnd_release_in_a_dst_fold_is_never_before_the_instant() {
    // New York, 2027-11-07: 01:00–02:00 happens twice (EDT until 06:00Z, then EST).
    let window = DndWindow::new(time("00:00"), time("01:30")).unwrap();
    let new_york = zone("America/New_York");
    assert_eq!(window.release(at("2027-11-07T05:15:00Z"), &new_york), Some(at("2027-11-07T05:30:00Z")));
    assert_eq!(window.release(at("2027-11-07T06:15:00Z"), &new_york), Some(at("2027-11-07T06:30:00Z")));
}

#[test]
fn the_cutoff_holds_messages_until_the_next_midnight() {
    let cutoff = Cutoff::new(time("21:00")).unwrap();
    let kolkata = zone("Asia/Kolkata");
    let before = at("2026-12-01T15:29:59Z"); // 20:59:59 IST
    assert_eq!(cutoff.next_allowed(before, &kolkata), before);
    assert_eq!(cutoff.next_allowed(at("2026-12-01T15:30:00Z"), &kolkata), at("2026-12-01T18:30:00Z"));
    assert_eq!(Cutoff::new(time("00:00")), None);
    // The cut-off is read on the user's clock for user-time-zone delivery.
    let s = parse(json!({"type": "later", "delivery_date_time": "20261201 09:00", "delivery_timezone": "user",
        "campaign_cutoff": "21:00"}));
    assert_eq!(s.delivery_zone(&kolkata, &utc()), &kolkata);
    assert_eq!(parse(json!("20261201 09:00")).delivery_zone(&kolkata, &utc()), &utc());
}

#[test]
fn a_delay_is_read_from_value_and_unit_and_added_exactly() {
    let qualified = at("2027-03-13T12:00:00Z");
    let ten_minutes = Delay::parse(&json!({"value": 10, "unit": "minutes"}), "delay").unwrap();
    assert_eq!(ten_minutes.after(qualified), at("2027-03-13T12:10:00Z"));
    // A day is 24 hours, even across New York's DST change that night.
    let day = Delay::parse(&json!({"value": 1, "unit": "day"}), "delay").unwrap();
    assert_eq!(day.after(qualified), at("2027-03-14T12:00:00Z"));
    assert_eq!(serde_json::to_value(day).unwrap(), json!({"value": 1, "unit": "days"}));
    let most = Delay::parse(&json!({"value": 366, "unit": "days"}), "delay").unwrap();
    assert_eq!(most.after(qualified), at("2028-03-13T12:00:00Z"));
}

#[test]
fn delay_errors_name_the_field() {
    let cases = [
        (json!("10m"), "delay: must be an object, not a string"),
        (json!({"value": 10}), "delay.unit: required: one of seconds, minutes, hours, days"),
        (json!({"value": 1, "unit": "weeks"}), "delay.unit: \"weeks\" is not one of seconds, minutes, hours, days"),
        (json!({"unit": "hours"}), "delay.value: required"),
        (json!({"value": -1, "unit": "seconds"}), "delay.value: must be a whole number from 0 to 31622400, not -1"),
        (json!({"value": 1.5, "unit": "hours"}), "delay.value: must be a whole number from 0 to 8784, not 1.5"),
        (json!({"value": 367, "unit": "days"}), "delay.value: must be a whole number from 0 to 366, not 367"),
        (json!({"value": 1, "unit": "days", "jitter": 2}), "delay.jitter: unknown field; the fields are value, unit"),
    ];
    for (json, expected) in cases {
        let error = Delay::parse(&json, "delay").map_or_else(|e| e.to_string(), |d| format!("parsed {d:?}"));
        assert_eq!(error, expected, "{json}");
    }
}

#[test]
fn every_parse_error_names_its_field() {
    let cases = [
        (json!(5), "when: must be \"now\", a date and time \"YYYYMMDD HH:MM\" or an object, not a number"),
        (json!("tomorrow"), "when: \"tomorrow\" is neither \"now\" nor a date and time \"YYYYMMDD HH:MM\""),
        (json!({}), "when.type: required: one of now, later, recurring"),
        (json!({"type": "soon"}), "when.type: \"soon\" is not one of now, later, recurring"),
        (json!({"type": "later"}), "when.delivery_date_time: required with type \"later\""),
        (json!({"type": "later", "delivery_date_time": []}), "when.delivery_date_time: give at least one"),
        (
            json!({"type": "later", "delivery_date_time": ["20230503 15:20", "2023-05-03"]}),
            "when.delivery_date_time[1]: \"2023-05-03\" is not a date and time \"YYYYMMDD HH:MM\"",
        ),
        (json!({"type": "later", "delivery_date_time": [20230503]}), "when.delivery_date_time[0]: must be"),
        (
            json!({"type": "later", "delivery_date_time": ["20230230 10:00"]}),
            "when.delivery_date_time[0]: \"20230230 10:00\" is not",
        ),
        (json!({"type": "later", "delivery_date_time": ["20230503 24:00"]}), "when.delivery_date_time[0]: "),
        (
            json!({"type": "later", "delivery_date_time": ["20230503 15:20", "20230503 15:20"]}),
            "when.delivery_date_time[1]: 20230503 15:20 is already given at when.delivery_date_time[0]",
        ),
        (
            json!({"type": "later", "delivery_date_time": ["20270101 10:00"], "end_date": "20261231"}),
            "when.delivery_date_time[0]: 20270101 10:00 is after end_date",
        ),
        (
            json!({"type": "now", "delivery_date_time": ["20230503 15:20"]}),
            "when.delivery_date_time: only with type \"later\"",
        ),
        (
            json!({"type": "now", "delivery_timezone": "local"}),
            "when.delivery_timezone: \"local\" is not \"account\" or \"user\"",
        ),
        (
            json!({"type": "now", "user_timezone_wrap_around": "yes"}),
            "when.user_timezone_wrap_around: must be true or false",
        ),
        (json!({"type": "now", "campaign_cutoff": "9pm"}), "when.campaign_cutoff: \"9pm\" is not a time of day"),
        (json!({"type": "now", "campaign_cutoff": "00:00"}), "when.campaign_cutoff: \"00:00\" would allow no delivery"),
        (json!({"type": "now", "start_date": "2026-12-01"}), "when.start_date: \"2026-12-01\" is not a date"),
        (
            json!({"type": "now", "start_date": "20261201", "end_date": "20261130"}),
            "when.end_date: is before start_date",
        ),
        (json!({"type": "now", "dnd": "on"}), "when.dnd: must be an object, not a string"),
        (json!({"type": "now", "dnd": {}}), "when.dnd.message_state: required: \"delay\" or \"discard\""),
        (json!({"type": "now", "dnd": {"message_state": "drop"}}), "when.dnd.message_state: \"drop\" is not"),
        (
            json!({"type": "now", "dnd": {"message_state": "delay", "dnd_timezone": 1}}),
            "when.dnd.dnd_timezone: must be",
        ),
        (json!({"type": "now", "dnd": {"message_state": "delay", "from": "22:00"}}), "when.dnd.to: required with from"),
        (
            json!({"type": "now", "dnd": {"message_state": "delay", "to": "8:00"}}),
            "when.dnd.to: \"8:00\" is not a time",
        ),
        (
            json!({"type": "now", "dnd": {"message_state": "delay", "from": "08:00", "to": "08:00"}}),
            "when.dnd.to: is the same as from",
        ),
        (json!({"type": "recurring", "repeat": {"unit": "days"}}), "when.start: required: a date and time"),
        (json!({"type": "recurring", "start": "20261201 09:00"}), "when.repeat: required with type \"recurring\""),
        (json!({"type": "later", "start": "20261201 09:00"}), "when.start: only with type \"recurring\""),
        (recurring_with(json!({"every": 2})), "when.repeat.unit: required: one of days, weeks, months"),
        (recurring_with(json!({"unit": "years"})), "when.repeat.unit: \"years\" is not one of days, weeks, months"),
        (
            recurring_with(json!({"every": 0, "unit": "days"})),
            "when.repeat.every: must be a whole number from 1 to 366",
        ),
        (recurring_with(json!({"every": 53, "unit": "weeks", "weekdays": ["mon"]})), "when.repeat.every: "),
        (recurring_with(json!({"every": 13, "unit": "months", "days": [1]})), "when.repeat.every: "),
        (recurring_with(json!({"unit": "weeks"})), "when.repeat.weekdays: required: a list of a weekday"),
        (recurring_with(json!({"unit": "weeks", "weekdays": []})), "when.repeat.weekdays: give at least a weekday"),
        (
            recurring_with(json!({"unit": "weeks", "weekdays": ["mon", "funday"]})),
            "when.repeat.weekdays[1]: \"funday\" is not",
        ),
        (
            recurring_with(json!({"unit": "days", "weekdays": ["mon"]})),
            "when.repeat.weekdays: only with unit \"weeks\"",
        ),
        (recurring_with(json!({"unit": "weeks", "days": [1]})), "when.repeat.days: only with unit \"months\""),
        (
            recurring_with(json!({"unit": "months", "days": [1, 32]})),
            "when.repeat.days[1]: 32 is not a day of the month",
        ),
        (recurring_with(json!({"unit": "months", "days": ["first"]})), "when.repeat.days[0]: \"first\" is not"),
        (recurring_ending(json!({})), "when.end: give one of {\"never\": true}"),
        (recurring_ending(json!("never")), "when.end: must be an object, not a string"),
        (recurring_ending(json!({"never": false})), "when.end.never: must be true"),
        (recurring_ending(json!({"never": true, "after": 3})), "when.end.after: give only one of never, on, after"),
        (recurring_ending(json!({"on": "20261130"})), "when.end.on: is before the start date"),
        (recurring_ending(json!({"on": "1 Jan"})), "when.end.on: \"1 Jan\" is not a date \"YYYYMMDD\""),
        (recurring_ending(json!({"after": 0})), "when.end.after: must be a whole number from 1 to 4294967295, not 0"),
    ];
    for (json, expected) in cases {
        let error = parse_error(json.clone());
        assert!(error.starts_with(expected), "{json}\n  got:  {error}\n  want: {expected}…");
    }
}

fn recurring_with(repeat: Value) -> Value {
    json!({"type": "recurring", "start": "20261201 09:00", "repeat": repeat})
}

fn recurring_ending(end: Value) -> Value {
    json!({"type": "recurring", "start": "20261201 09:00", "repeat": {"unit": "days"}, "end": end})
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let cases = [
        (json!({"type": "now", "delivery_time": "x"}), "when.delivery_time: unknown field; the fields are type, "),
        (recurring_with(json!({"unit": "days", "at": "09:00"})), "when.repeat.at: unknown field"),
        (
            recurring_ending(json!({"until": "20270101"})),
            "when.end.until: unknown field; the fields are never, on, after",
        ),
        (
            json!({"type": "now", "dnd": {"message_state": "delay", "hours": 8}}),
            "when.dnd.hours: unknown field; the fields are message_state, dnd_timezone, from, to",
        ),
    ];
    for (json, expected) in cases {
        let error = parse_error(json.clone());
        assert!(error.starts_with(expected), "{json}\n  got:  {error}\n  want: {expected}…");
    }
}

#[test]
fn no_json_makes_parsing_panic() {
    let odd = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(""),
        json!("now"),
        json!("20230503 15:20"),
        json!("99999999 99:99"),
        json!("0000101 10:00"),
        json!("é2230503 15:20"),
        json!([]),
        json!([[[null]]]),
        json!({}),
        json!({"unit": "days"}),
        json!(["mon", 31, "last", null]),
    ];
    let keys = super::parse::KEYS;
    let mut errors = 0;
    for type_ in ["now", "later", "recurring"] {
        for key in keys {
            for value in &odd {
                let mut json = json!({"type": type_, "start": "20261201 09:00", "repeat": {"unit": "days"}});
                json[key] = value.clone();
                for nested in ["repeat", "end", "dnd"] {
                    let mut deeper = json.clone();
                    deeper[nested] = json!({key: value.clone(), "unit": value.clone(), "days": value.clone()});
                    errors += usize::from(Schedule::parse(&deeper, "when").is_err());
                }
                if let Err(e) = Schedule::parse(&json, "when") {
                    assert!(e.path.starts_with("when"), "{e}");
                    errors += 1;
                }
            }
        }
    }
    assert!(errors > 0);
    assert!(Schedule::parse(&json!({"type": "now"}), "").is_ok());
    assert_eq!(parse_error(json!("\u{0}")), "when: \"\\0\" is neither \"now\" nor a date and time \"YYYYMMDD HH:MM\"");
}
