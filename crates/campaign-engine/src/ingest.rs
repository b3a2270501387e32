//! Applying a `/1/upload` body to the store: validate every record, apply the valid ones in order, and
//! answer as CleverTap does (`{status, processed, unprocessed}`). Nothing invalid is stored, and a bad
//! record does not stop the good ones.

use clock::Timestamp;
use serde_json::Value;

use crate::event::Event;
use crate::store::MemoryStore;
use crate::upload::{Record, UploadError, UploadOutcome, validate_upload};

/// What is told of each event stored: the store, the user's CleverTap ID and the event.
pub type OnEvent<'a> = dyn FnMut(&MemoryStore, &str, &Event) + 'a;

/// Validates `body` (`{"d": [...]}`) and applies its valid records to `store`, at `now`. Each event stored is
/// also passed to `on_event` with its user, in order (live campaigns listen there).
pub fn ingest(
    store: &mut MemoryStore,
    body: &Value,
    now: Timestamp,
    on_event: &mut OnEvent<'_>,
) -> Result<UploadOutcome, UploadError> {
    let validated = validate_upload(body, now)?;
    apply_records(store, validated.records, now, on_event);
    Ok(validated.outcome)
}

/// Applies validated records (from [`validate_upload`]) to `store`, in order, at `now`; each event stored is
/// passed to `on_event` with its user.
pub fn apply_records(
    store: &mut MemoryStore,
    records: Vec<(usize, Record)>,
    now: Timestamp,
    on_event: &mut OnEvent<'_>,
) {
    for (_, record) in records {
        let (who, also) = match &record {
            Record::Profile { who, also, .. } | Record::Event { who, also, .. } => (who.clone(), also.clone()),
        };
        let object_id = match record {
            Record::Profile { properties, ts, .. } => store.upload_profile((who.0, &who.1), &properties, ts).to_owned(),
            Record::Event { name, properties, ts, .. } => {
                let (object_id, event) = store.add_event((who.0, &who.1), &name, properties, ts, now);
                let (object_id, event) = (object_id.to_owned(), event.clone());
                on_event(store, &object_id, &event);
                object_id
            }
        };
        for (kind, id) in also {
            store.link(&object_id, kind, &id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::IdentityKind;
    use serde_json::json;

    #[test]
    fn valid_records_are_applied_and_bad_ones_answered_without_stopping_the_rest() {
        // arrange
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let body = json!({"d": [
            {"type": "profile", "identity": "u1", "objectId": "obj-1",
             "profileData": {"Name": "Ada", "Email": "ada@example.com"}},
            {"type": "profile", "identity": "u2", "profileData": {"Email": "not an email"}},
            {"type": "event", "identity": "u1", "ts": 1_799_999_000, "evtName": "Charged",
             "evtData": {"Amount": 120, "Items": [{"Category": "books"}]}},
        ]});
        let mut store = MemoryStore::new();

        // act
        let outcome = ingest(&mut store, &body, now, &mut |_, _, _| {}).expect("a valid body");

        // assert: the answer is CleverTap's, the good records are stored, the bad one is not
        let answer = serde_json::to_value(&outcome).unwrap();
        assert_eq!(answer["status"], "partial");
        assert_eq!(answer["processed"], 2);
        assert_eq!(answer["unprocessed"][0]["code"], 515);
        let ada = store.find(IdentityKind::Identity, "u1").expect("u1 stored");
        assert_eq!(store.find(IdentityKind::ObjectId, "obj-1").map(|p| &p.object_id), Some(&ada.object_id));
        assert_eq!(store.events_of(&ada.object_id.clone()).len(), 1);
        assert!(store.find(IdentityKind::Identity, "u2").is_none());
        assert_eq!(store.find_by_email("ada@example.com").map(|p| p.identity.as_deref()), Some(Some("u1")));
    }

    #[test]
    fn a_body_that_is_not_an_upload_changes_nothing() {
        let mut store = MemoryStore::new();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        assert!(ingest(&mut store, &json!({"records": []}), now, &mut |_, _, _| {}).is_err());
        assert_eq!(store.profile_count(), 0);
    }
}
