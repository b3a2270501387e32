//! Writing a `when` back as JSON, in the shape it is read: the shortest form that reads back to the same schedule.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::dnd::{Dnd, DndState, DndZone};
use super::parse_recurrence::weekday_name;
use super::recurrence::{End, MonthDay, Recurrence, Repeat};
use super::text::{print_date, print_date_time, print_time};
use super::{Bound, DeliveryZone, Passed, Schedule, When, Window};

pub(super) fn schedule(s: &Schedule) -> Value {
    let plain =
        s.zone == DeliveryZone::Account && s.window == Window::default() && s.dnd.is_none() && s.cutoff.is_none();
    match (&s.when, plain) {
        (When::Now, true) => return json!("now"),
        (When::Later(wall), true) => return json!(print_date_time(*wall)),
        _ => {}
    }
    let mut obj = Map::new();
    let mut put = |key: &str, value: Value| obj.insert(key.to_owned(), value);
    match &s.when {
        When::Now => put("type", json!("now")),
        When::Later(wall) => {
            put("type", json!("later"));
            put("delivery_date_time", json!([print_date_time(*wall)]))
        }
        When::Dates(walls) => {
            put("type", json!("later"));
            put("delivery_date_time", walls.iter().map(|w| print_date_time(*w)).collect())
        }
        When::Recurring(r) => {
            put("type", json!("recurring"));
            recurrence(r, &mut put)
        }
    };
    match s.zone {
        DeliveryZone::Account => put("delivery_timezone", json!("account")),
        DeliveryZone::User(passed) => {
            put("delivery_timezone", json!("user"));
            put("user_timezone_wrap_around", json!(passed == Passed::DeliverNextDay))
        }
    };
    if let Some(start) = s.window.start {
        put("start_date", bound(start));
    }
    if let Some(end) = s.window.end {
        put("end_date", bound(end));
    }
    if let Some(d) = &s.dnd {
        put("dnd", dnd(d));
    }
    if let Some(cutoff) = s.cutoff {
        put("campaign_cutoff", json!(print_time(cutoff.time())));
    }
    Value::Object(obj)
}

fn recurrence(r: &Recurrence, put: &mut impl FnMut(&str, Value) -> Option<Value>) -> Option<Value> {
    put("start", json!(print_date_time(r.start)));
    let repeat = match r.repeat {
        Repeat::Days { every } => json!({"every": every.get(), "unit": "days"}),
        Repeat::Weeks { every, on } => {
            let weekdays: Vec<&str> = on.iter().map(weekday_name).collect();
            json!({"every": every.get(), "unit": "weeks", "weekdays": weekdays})
        }
        Repeat::Months { every, on } => {
            let days: Vec<Value> = on
                .iter()
                .map(|d| match d {
                    MonthDay::Day(n) => json!(n),
                    MonthDay::Last => json!("last"),
                })
                .collect();
            json!({"every": every.get(), "unit": "months", "days": days})
        }
    };
    put("repeat", repeat);
    let end = match r.end {
        End::Never => json!({"never": true}),
        End::On(date) => json!({"on": print_date(date)}),
        End::After(n) => json!({"after": n.get()}),
    };
    put("end", end)
}

fn bound(b: Bound) -> Value {
    match b.time {
        None => json!(print_date(b.date)),
        Some(time) => json!(print_date_time(b.date.to_datetime(time))),
    }
}

fn dnd(d: &Dnd) -> Value {
    let state = match d.state {
        DndState::Delay => "delay",
        DndState::Discard => "discard",
    };
    let zone = match d.zone {
        DndZone::User => "user",
        DndZone::Account => "account",
    };
    let mut obj = json!({"message_state": state, "dnd_timezone": zone});
    if let (Some(window), Value::Object(map)) = (d.window, &mut obj) {
        map.insert("from".to_owned(), json!(print_time(window.from())));
        map.insert("to".to_owned(), json!(print_time(window.to())));
    }
    obj
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}
