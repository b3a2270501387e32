//! The journal's tests: both backends give back what was appended, and an engine reopened from its journal is
//! the engine that wrote it.

use std::sync::Arc;

use clock::{Clock, ManualClock, Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::delete::ProfileDeletion;
use crate::engine::Engine;
use crate::profile::IdentityKind;
use crate::upload::UploadError;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn entries(journal: &mut dyn Journal) -> Vec<(String, Timestamp, Value)> {
    let mut seen = Vec::new();
    journal
        .replay(&mut |kind, at, body| {
            seen.push((kind.to_owned(), at, body));
            Ok(())
        })
        .expect("replay");
    seen
}

/// What both backends must do: give back every entry, in order, exactly as appended.
fn keeps_entries_in_order(journal: &mut dyn Journal) {
    let at = Timestamp::from_nanosecond(1_800_000_000_123_456_789).unwrap();
    journal.append("upload", at, &json!({"d": [{"type": "profile"}]})).unwrap();
    journal.append("delete", t(5), &json!({"identity": ["u1"]})).unwrap();
    assert_eq!(
        entries(journal),
        vec![
            ("upload".to_owned(), at, json!({"d": [{"type": "profile"}]})),
            ("delete".to_owned(), t(5), json!({"identity": ["u1"]})),
        ]
    );
}

#[test]
fn the_memory_journal_gives_back_every_entry_in_order() {
    keeps_entries_in_order(&mut MemoryJournal::new());
}

#[test]
fn the_sqlite_journal_gives_back_every_entry_in_order_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    keeps_entries_in_order(&mut SqliteJournal::open_in(dir.path()).unwrap());
    let mut reopened = SqliteJournal::open_in(dir.path()).unwrap();
    assert_eq!(entries(&mut reopened).len(), 2);
    assert!(dir.path().join(FILE_NAME).exists());
}

#[test]
fn replay_stops_at_the_first_error_of_apply() {
    let mut journal = MemoryJournal::new();
    for i in 0..3 {
        journal.append("upload", t(i), &json!({})).unwrap();
    }
    let mut calls = 0;
    let result = journal.replay(&mut |_, _, _| {
        calls += 1;
        Err(JournalError::Corrupt { seq: 1, message: "no".into() })
    });
    assert!(result.is_err());
    assert_eq!(calls, 1);
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2026-11-27T09:00:00Z".parse().unwrap()))
}

/// Everything the store holds, as JSON, to compare two engines.
fn contents(engine: &Engine) -> Value {
    let profiles: Vec<Value> =
        engine.store().profiles_with_events().map(|(p, events)| json!({"profile": p, "events": events})).collect();
    Value::Array(profiles)
}

fn seed_upload() -> Value {
    json!({"d": [
        {"type": "profile", "identity": "u1", "profileData": {"Name": "Ada", "Email": "ada@example.com"}},
        {"type": "profile", "objectId": "obj-2", "profileData": {"Name": "Grace"}},
        {"type": "event", "identity": "u1", "evtName": "Charged", "evtData": {"Amount": 5}},
        {"type": "event", "identity": "u3", "ts": 1_790_000_000, "evtName": "Viewed", "evtData": {}},
        {"type": "profile", "identity": "bad", "profileData": {"Email": "nope"}},
    ]})
}

/// A journal whose appends fail while `failing` is set.
struct FailingJournal {
    inner: MemoryJournal,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Journal for FailingJournal {
    fn append(&mut self, kind: &str, at: Timestamp, body: &Value) -> Result<(), JournalError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(JournalError::Write("disk full".into()));
        }
        self.inner.append(kind, at, body)
    }

    fn replay(
        &mut self,
        apply: &mut dyn FnMut(&str, Timestamp, Value) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        self.inner.replay(apply)
    }
}

#[test]
fn reopening_the_journal_file_gives_the_same_profiles_and_events() {
    // arrange
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mut engine = Engine::open(clock.clone(), Box::new(SqliteJournal::open_in(dir.path()).unwrap())).unwrap();

    // act: uploads at two instants (events without ts take the clock's now), then a deletion
    engine.upload(&seed_upload()).unwrap();
    clock.advance(std::time::Duration::from_secs(3600));
    engine.upload(&json!({"d": [{"type": "event", "identity": "u1", "evtName": "Viewed", "evtData": {}}]})).unwrap();
    let deleted = engine.delete_profiles(&ProfileDeletion { guids: vec!["obj-2".into()], ..Default::default() });
    let before = contents(&engine);
    drop(engine);
    clock.advance(std::time::Duration::from_secs(86_400));
    let reopened = Engine::open(clock.clone(), Box::new(SqliteJournal::open_in(dir.path()).unwrap())).unwrap();

    // assert
    assert_eq!(deleted, Ok(1));
    assert_eq!(contents(&reopened), before);
    assert_eq!((reopened.store().profile_count(), reopened.store().event_count()), (2, 3));
    let ada = reopened.store().find(IdentityKind::Identity, "u1").unwrap();
    let times: Vec<String> = reopened.store().events_of(&ada.object_id).iter().map(|e| e.ts.to_string()).collect();
    assert_eq!(times, ["2026-11-27T09:00:00Z", "2026-11-27T10:00:00Z"], "missing ts replays as the same now");
}

#[test]
fn only_uploads_that_processed_a_record_are_journaled() {
    let journal = MemoryJournal::new();
    let mut engine = Engine::open(clock(), Box::new(journal.clone())).unwrap();
    engine.upload(&json!({"d": []})).unwrap();
    engine.upload(&json!({"d": [{"type": "profile", "identity": "x", "profileData": {"Email": "no"}}]})).unwrap();
    assert!(engine.upload(&json!({"data": []})).is_err());
    engine.delete_profiles(&ProfileDeletion { identities: vec!["nobody".into()], ..Default::default() }).unwrap();
    assert!(journal.is_empty());
    engine.upload(&seed_upload()).unwrap();
    assert_eq!(journal.len(), 1);
}

#[test]
fn a_failed_append_is_an_error_and_nothing_is_applied() {
    // arrange
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let journal = FailingJournal { inner: MemoryJournal::new(), failing: failing.clone() };
    let mut engine = Engine::open(clock(), Box::new(journal)).unwrap();
    engine.upload(&seed_upload()).unwrap();
    let before = contents(&engine);
    failing.store(true, std::sync::atomic::Ordering::SeqCst);

    // act
    let upload = engine.upload(&json!({"d": [{"type": "profile", "identity": "u9", "profileData": {}}]}));
    let delete = engine.delete_profiles(&ProfileDeletion { identities: vec!["u1".into()], ..Default::default() });

    // assert
    let Err(UploadError::NotStored(error)) = upload else { panic!("expected NotStored, got {upload:?}") };
    assert_eq!(error, JournalError::Write("disk full".into()));
    assert_eq!(UploadError::NotStored(error).code(), 500);
    assert_eq!(delete, Err(JournalError::Write("disk full".into())));
    assert_eq!(contents(&engine), before, "nothing half-applied");
}

#[test]
fn an_entry_of_an_unknown_kind_stops_the_engine_from_opening() {
    let mut journal = MemoryJournal::new();
    journal.append("upload", clock().now(), &seed_upload()).unwrap();
    journal.append("teleport", clock().now(), &json!({})).unwrap();
    let error = Engine::open(clock(), Box::new(journal)).err().expect("refused");
    assert_eq!(error, JournalError::Corrupt { seq: 2, message: "unknown kind \"teleport\"".into() });
}
