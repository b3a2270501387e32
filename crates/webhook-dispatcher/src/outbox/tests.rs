//! The outbox's behaviour, written once over `&dyn Outbox` and run against both backends.

use clock::Timestamp;
use serde_json::{Map, Value, json};

use super::{MemoryOutbox, Outbox, OutboxCounts, OutboxError, SqliteOutbox};
use crate::delivery::{AttemptLog, Delivery, DeliveryState};

/// `seconds` after a fixed start.
pub(super) fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + seconds).unwrap()
}

/// A small delivery: a dozen-character id, two profile properties.
pub(super) fn delivery(id: &str, webhook: &str) -> Delivery {
    let Value::Object(profile) = json!({"Name": "Ada", "Email": "ada@example.com"}) else { unreachable!() };
    Delivery {
        id: id.to_owned(),
        trace_id: format!("tr-{id}"),
        object_id: format!("obj-{id}"),
        identity: None,
        webhook: webhook.to_owned(),
        campaign_id: 7,
        campaign_name: "Welcome mailer".to_owned(),
        profile,
        event: None::<Map<String, Value>>,
        created_at: t(0),
    }
}

pub(super) fn attempt(number: u32, started_at: Timestamp, status: Option<u16>) -> AttemptLog {
    AttemptLog {
        number,
        started_at,
        latency_ms: 12.5,
        status,
        error: status.filter(|s| *s >= 400).map(|s| format!("HTTP {s}")),
        response_excerpt: String::new(),
    }
}

fn ids(entries: Vec<crate::delivery::OutboxEntry>) -> Vec<String> {
    entries.into_iter().map(|e| e.delivery.id).collect()
}

fn enqueue(outbox: &dyn Outbox, ids: &[&str], due_at: Timestamp) {
    outbox.enqueue(ids.iter().map(|id| delivery(id, "mail")).collect(), due_at).unwrap();
}

fn dead(at: Timestamp) -> DeliveryState {
    DeliveryState::DeadLetter { at, reason: "Webhook Dispatch Failed: HTTP 503".into() }
}

fn enqueue_is_idempotent_on_id(outbox: &dyn Outbox) {
    assert_eq!(outbox.enqueue(vec![delivery("a", "mail"), delivery("b", "mail")], t(0)).unwrap(), 2);
    outbox.take_due(t(0), 1).unwrap();
    outbox.settle("a", Some(attempt(1, t(0), Some(503))), DeliveryState::Pending { due_at: t(60) }).unwrap();

    // the same deliveries again, one of them twice in the batch, and one new
    let again = vec![delivery("a", "mail"), delivery("b", "mail"), delivery("c", "mail"), delivery("c", "mail")];
    assert_eq!(outbox.enqueue(again, t(5)).unwrap(), 1);

    let a = outbox.get("a").unwrap().unwrap();
    assert_eq!(a.state, DeliveryState::Pending { due_at: t(60) }, "a kept its retry");
    assert_eq!(a.attempts.len(), 1, "a kept its attempt");
    assert_eq!(outbox.get("b").unwrap().unwrap().state, DeliveryState::Pending { due_at: t(0) });
    assert_eq!(outbox.counts().pending, 3);
}

fn take_due_returns_only_due_deliveries_oldest_first(outbox: &dyn Outbox) {
    enqueue(outbox, &["late"], t(10));
    enqueue(outbox, &["b2", "b1"], t(0));
    enqueue(outbox, &["middle"], t(5));

    let due = ids(outbox.take_due(t(5), 10).unwrap());

    assert_eq!(due, ["b1", "b2", "middle"], "oldest due first, then by id; not the one due at t(10)");
    assert_eq!(outbox.next_due(), Some(t(10)));
}

fn take_due_respects_the_limit_and_does_not_return_taken_ones_twice(outbox: &dyn Outbox) {
    enqueue(outbox, &["a", "b", "c"], t(0));

    let first = ids(outbox.take_due(t(0), 2).unwrap());
    let second = ids(outbox.take_due(t(0), 2).unwrap());
    let third = ids(outbox.take_due(t(0), 2).unwrap());

    assert_eq!(first, ["a", "b"]);
    assert_eq!(second, ["c"]);
    assert!(third.is_empty());
    assert!(outbox.take_due(t(0), 0).unwrap().is_empty());
    assert_eq!(outbox.counts(), OutboxCounts { taken: 3, ..OutboxCounts::default() });
    assert_eq!(outbox.next_due(), None, "taken deliveries are not due");
}

fn a_retry_makes_the_delivery_due_later_and_next_due_reports_that_instant(outbox: &dyn Outbox) {
    enqueue(outbox, &["a"], t(0));
    outbox.take_due(t(0), 10).unwrap();

    outbox.settle("a", Some(attempt(1, t(0), Some(503))), DeliveryState::Pending { due_at: t(30) }).unwrap();

    assert_eq!(outbox.next_due(), Some(t(30)));
    assert!(outbox.take_due(t(29), 10).unwrap().is_empty());
    let retried = outbox.take_due(t(30), 10).unwrap();
    assert_eq!(ids(retried.clone()), ["a"]);
    assert_eq!(retried[0].attempts, vec![attempt(1, t(0), Some(503))]);
    outbox
        .settle("a", Some(attempt(2, t(30), Some(200))), DeliveryState::Delivered { at: t(30), status: 200 })
        .unwrap();
    assert_eq!(outbox.get("a").unwrap().unwrap().attempts.len(), 2);
}

fn due_times_have_millisecond_resolution_rounded_down(outbox: &dyn Outbox) {
    let now = t(0) + jiff::SignedDuration::from_nanos(1_234_567);
    let whole = t(0) + jiff::SignedDuration::from_millis(1);
    enqueue(outbox, &["a"], now);

    assert_eq!(outbox.get("a").unwrap().unwrap().state, DeliveryState::Pending { due_at: whole });
    assert_eq!(outbox.next_due(), Some(whole));
    assert_eq!(ids(outbox.take_due(now, 10).unwrap()), ["a"], "due at the instant it was enqueued");
}

fn deliveries_due_before_those_in_flight_are_taken_next(outbox: &dyn Outbox) {
    // arrange: b taken; then, ordered before it, a new delivery and, after it, one not yet taken
    enqueue(outbox, &["b", "d"], t(0));
    assert_eq!(ids(outbox.take_due(t(0), 1).unwrap()), ["b"]);
    enqueue(outbox, &["a", "c"], t(0));

    // act + assert: whatever becomes due before what is in flight is found
    assert_eq!(ids(outbox.take_due(t(0), 10).unwrap()), ["a", "c", "d"]);
    outbox.settle("a", Some(attempt(1, t(0), Some(503))), DeliveryState::Pending { due_at: t(0) }).unwrap();
    outbox.release(&["c".to_owned()]).unwrap();
    assert_eq!(outbox.next_due(), Some(t(0)));
    assert_eq!(ids(outbox.take_due(t(0), 10).unwrap()), ["a", "c"], "a retried at once, c released");
    enqueue(outbox, &["later"], t(5));
    assert!(outbox.take_due(t(1), 10).unwrap().is_empty());
    enqueue(outbox, &["earlier"], t(-5));
    assert_eq!(ids(outbox.take_due(t(1), 10).unwrap()), ["earlier"]);
    assert_eq!(outbox.next_due(), Some(t(5)));
}

fn delivered_dead_letter_and_not_sent_are_final_and_counted(outbox: &dyn Outbox) {
    enqueue(outbox, &["ok", "failed", "aborted", "waiting"], t(0));
    outbox.take_due(t(0), 3).unwrap();

    outbox.settle("ok", Some(attempt(1, t(1), Some(200))), DeliveryState::Delivered { at: t(1), status: 200 }).unwrap();
    outbox.settle("failed", Some(attempt(1, t(1), Some(400))), dead(t(1))).unwrap();
    let not_sent = DeliveryState::NotSent { at: t(1), reason: "LiquidLogicAborted".into() };
    outbox.settle("aborted", None, not_sent.clone()).unwrap();

    assert_eq!(outbox.counts(), OutboxCounts { pending: 1, taken: 0, delivered: 1, dead_letter: 1, not_sent: 1 });
    assert_eq!(ids(outbox.take_due(t(1000), 10).unwrap()), ["waiting"], "final ones are never due again");
    assert_eq!(outbox.next_due(), None);
    assert_eq!(outbox.get("aborted").unwrap().unwrap().state, not_sent);
    assert!(outbox.get("aborted").unwrap().unwrap().attempts.is_empty());
    assert_eq!(outbox.get("nobody").unwrap(), None);
}

fn final_states_list_settled_deliveries_in_the_order_they_settled(outbox: &dyn Outbox) {
    enqueue(outbox, &["late", "early", "tie-b", "tie-a", "retrying", "waiting", "replayed"], t(0));
    outbox.take_due(t(0), 10).unwrap();
    let delivered = |at| DeliveryState::Delivered { at, status: 200 };
    outbox.settle("late", Some(attempt(1, t(9), Some(200))), delivered(t(9))).unwrap();
    outbox.settle("early", Some(attempt(1, t(1), Some(400))), dead(t(1))).unwrap();
    outbox.settle("tie-b", None, DeliveryState::NotSent { at: t(5), reason: "LiquidLogicAborted".into() }).unwrap();
    outbox.settle("tie-a", Some(attempt(1, t(5), Some(200))), delivered(t(5))).unwrap();
    outbox.settle("retrying", Some(attempt(1, t(2), Some(503))), DeliveryState::Pending { due_at: t(60) }).unwrap();
    outbox.settle("replayed", Some(attempt(1, t(3), Some(503))), dead(t(3))).unwrap();
    outbox.replay("replayed", t(4)).unwrap();

    let states = outbox.final_states().unwrap();

    let ids: Vec<&str> = states.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["early", "tie-a", "tie-b", "late"],
        "by instant then id; pending ones (also replayed) are not final"
    );
    assert_eq!(states[0].1, dead(t(1)), "with the state's reason");
    assert_eq!(states[3].1, delivered(t(9)));
}

fn release_makes_taken_deliveries_due_again(outbox: &dyn Outbox) {
    enqueue(outbox, &["a", "b"], t(0));
    outbox.take_due(t(0), 10).unwrap();

    outbox.release(&["a".to_owned(), "b".to_owned(), "unknown".to_owned()]).unwrap();
    outbox.release(&["a".to_owned()]).unwrap();

    assert_eq!(outbox.counts(), OutboxCounts { pending: 2, ..OutboxCounts::default() });
    assert_eq!(outbox.next_due(), Some(t(0)));
    let again = outbox.take_due(t(0), 10).unwrap();
    assert_eq!(ids(again.clone()), ["a", "b"]);
    assert!(again.iter().all(|e| e.attempts.is_empty()), "a release records no attempt");
}

fn dead_letters_are_listed_newest_first_and_filtered_by_webhook(outbox: &dyn Outbox) {
    outbox
        .enqueue(
            vec![delivery("old", "mail"), delivery("new", "mail"), delivery("other", "sms"), delivery("fine", "mail")],
            t(0),
        )
        .unwrap();
    outbox.settle("old", None, dead(t(1))).unwrap();
    outbox.settle("other", None, dead(t(2))).unwrap();
    outbox.settle("new", None, dead(t(3))).unwrap();

    assert_eq!(ids(outbox.dead_letters(None, 10).unwrap()), ["new", "other", "old"]);
    assert_eq!(ids(outbox.dead_letters(Some("mail"), 10).unwrap()), ["new", "old"]);
    assert_eq!(ids(outbox.dead_letters(Some("mail"), 1).unwrap()), ["new"]);
    assert!(outbox.dead_letters(Some("push"), 10).unwrap().is_empty());
    let listed = outbox.dead_letters(Some("sms"), 10).unwrap();
    assert_eq!(listed[0].state, dead(t(2)), "with its reason");
}

fn replay_moves_a_dead_letter_back_with_its_attempts_kept(outbox: &dyn Outbox) {
    enqueue(outbox, &["a"], t(0));
    outbox.take_due(t(0), 10).unwrap();
    outbox.settle("a", Some(attempt(1, t(0), Some(503))), dead(t(1))).unwrap();

    outbox.replay("a", t(50)).unwrap();

    let a = outbox.get("a").unwrap().unwrap();
    assert_eq!(a.state, DeliveryState::Pending { due_at: t(50) });
    assert_eq!(a.attempts, vec![attempt(1, t(0), Some(503))]);
    assert!(outbox.dead_letters(None, 10).unwrap().is_empty());
    assert_eq!(outbox.counts(), OutboxCounts { pending: 1, ..OutboxCounts::default() });
    assert_eq!(outbox.next_due(), Some(t(50)));
    assert_eq!(ids(outbox.take_due(t(50), 10).unwrap()), ["a"]);
}

fn replay_refuses_anything_but_a_dead_letter_naming_its_state(outbox: &dyn Outbox) {
    enqueue(outbox, &["sent", "waiting"], t(0));
    outbox.settle("sent", None, DeliveryState::Delivered { at: t(1), status: 200 }).unwrap();

    let e = outbox.replay("sent", t(2)).unwrap_err();
    assert_eq!(e, OutboxError::NotADeadLetter { id: "sent".into(), state: "delivered".into() });
    assert_eq!(e.to_string(), "delivery \"sent\" is not a dead letter, so it cannot be replayed: it is delivered");
    let e = outbox.replay("waiting", t(2)).unwrap_err();
    assert!(matches!(e, OutboxError::NotADeadLetter { ref state, .. } if state == "pending"), "{e}");
    assert_eq!(outbox.replay("nobody", t(2)).unwrap_err(), OutboxError::UnknownDelivery("nobody".into()));
    assert_eq!(outbox.get("sent").unwrap().unwrap().state, DeliveryState::Delivered { at: t(1), status: 200 });
}

fn settle_on_an_unknown_id_is_an_error(outbox: &dyn Outbox) {
    enqueue(outbox, &["a"], t(0));

    let e = outbox.settle("nobody", Some(attempt(1, t(0), Some(200))), dead(t(0))).unwrap_err();

    assert_eq!(e, OutboxError::UnknownDelivery("nobody".into()));
    assert_eq!(e.to_string(), "unknown delivery \"nobody\": it is not in the outbox");
    assert_eq!(outbox.counts(), OutboxCounts { pending: 1, ..OutboxCounts::default() });
}

fn concurrent_takers_never_get_the_same_delivery(outbox: &dyn Outbox) {
    let all: Vec<String> = (0..400).map(|i| format!("d{i:03}")).collect();
    outbox.enqueue(all.iter().map(|id| delivery(id, "mail")).collect(), t(0)).unwrap();

    let mut taken: Vec<String> = std::thread::scope(|s| {
        let takers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let chunk = outbox.take_due(t(0), 7).unwrap();
                        if chunk.is_empty() {
                            return mine;
                        }
                        for entry in chunk {
                            outbox.settle(&entry.delivery.id, None, dead(t(1))).unwrap();
                            mine.push(entry.delivery.id);
                        }
                    }
                })
            })
            .collect();
        takers.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });

    taken.sort();
    assert_eq!(taken, all, "each delivery taken exactly once");
    assert_eq!(outbox.counts().dead_letter, 400);
}

/// An outbox to test, with whatever must outlive it (the SQLite file's directory).
pub(super) struct Fixture {
    pub outbox: Box<dyn Outbox>,
    _dir: Option<tempfile::TempDir>,
}

fn memory_fixture() -> Fixture {
    Fixture { outbox: Box::new(MemoryOutbox::new()), _dir: None }
}

fn sqlite_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let outbox = SqliteOutbox::open(dir.path().join("outbox.sqlite3")).unwrap();
    Fixture { outbox: Box::new(outbox), _dir: Some(dir) }
}

/// One `#[test]` per behaviour for a backend, named `outbox::tests::<backend>::<behaviour>`.
macro_rules! behaves_like_an_outbox {
    ($backend:ident, $make:ident) => {
        mod $backend {
            behaves_like_an_outbox!(@tests $make;
                enqueue_is_idempotent_on_id,
                take_due_returns_only_due_deliveries_oldest_first,
                take_due_respects_the_limit_and_does_not_return_taken_ones_twice,
                a_retry_makes_the_delivery_due_later_and_next_due_reports_that_instant,
                due_times_have_millisecond_resolution_rounded_down,
                deliveries_due_before_those_in_flight_are_taken_next,
                delivered_dead_letter_and_not_sent_are_final_and_counted,
                final_states_list_settled_deliveries_in_the_order_they_settled,
                release_makes_taken_deliveries_due_again,
                dead_letters_are_listed_newest_first_and_filtered_by_webhook,
                replay_moves_a_dead_letter_back_with_its_attempts_kept,
                replay_refuses_anything_but_a_dead_letter_naming_its_state,
                settle_on_an_unknown_id_is_an_error,
                concurrent_takers_never_get_the_same_delivery,
            );
        }
    };
    (@tests $make:ident; $($behaviour:ident),* $(,)?) => {
        $(
            #[test]
            fn $behaviour() {
                let fixture = super::$make();
                super::$behaviour(&*fixture.outbox);
            }
        )*
    };
}

behaves_like_an_outbox!(memory, memory_fixture);
behaves_like_an_outbox!(sqlite, sqlite_fixture);
