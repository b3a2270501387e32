//! The in-memory store of profiles and events: each profile found by any of its identities or its email,
//! each user's events kept in time order. Event names and property keys are interned here, once each.

use clock::Timestamp;
use foldhash::HashMap;
use serde_json::{Map, Value};

use crate::event::Event;
use crate::name::Names;
use crate::profile::{IdentityKind, Profile};
use crate::properties::Properties;

#[derive(Debug, Default)]
pub struct MemoryStore {
    profiles: Vec<Profile>,
    /// Events of `profiles[i]`, oldest first.
    events: Vec<Vec<Event>>,
    by_id: [HashMap<String, usize>; 4],
    /// Lower-cased email to the profile that last had it.
    by_email: HashMap<String, usize>,
    /// For CleverTap IDs of users first seen by another identity.
    next_object_id: u64,
    /// Every event name and property key stored.
    names: Names,
}

fn slot(kind: IdentityKind) -> usize {
    match kind {
        IdentityKind::Identity => 0,
        IdentityKind::ObjectId => 1,
        IdentityKind::Fbid => 2,
        IdentityKind::Gpid => 3,
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn index_of(&self, kind: IdentityKind, id: &str) -> Option<usize> {
        self.by_id[slot(kind)].get(id).copied()
    }

    /// The profile with this identity.
    pub fn find(&self, kind: IdentityKind, id: &str) -> Option<&Profile> {
        self.index_of(kind, id).map(|i| &self.profiles[i])
    }

    /// The profile that last had this email (compared ignoring case).
    pub fn find_by_email(&self, email: &str) -> Option<&Profile> {
        self.by_email.get(&email.to_lowercase()).map(|&i| &self.profiles[i])
    }

    /// The profile with this identity, created empty if there is none ("if this identity is not found, a new
    /// user profile will be created"). Returns its index.
    fn profile_for(&mut self, kind: IdentityKind, id: &str, at: Timestamp) -> usize {
        if let Some(i) = self.index_of(kind, id) {
            return i;
        }
        let object_id = if kind == IdentityKind::ObjectId {
            id.to_owned()
        } else {
            self.next_object_id += 1;
            format!("__tapink{:08}", self.next_object_id)
        };
        let mut profile = Profile {
            object_id: object_id.clone(),
            identity: None,
            fbid: None,
            gpid: None,
            properties: Properties::new(),
            created_at: at,
            updated_at: at,
        };
        match kind {
            IdentityKind::Identity => profile.identity = Some(id.to_owned()),
            IdentityKind::Fbid => profile.fbid = Some(id.to_owned()),
            IdentityKind::Gpid => profile.gpid = Some(id.to_owned()),
            IdentityKind::ObjectId => {}
        }
        let i = self.profiles.len();
        self.profiles.push(profile);
        self.events.push(Vec::new());
        self.by_id[slot(IdentityKind::ObjectId)].insert(object_id, i);
        if kind != IdentityKind::ObjectId {
            self.by_id[slot(kind)].insert(id.to_owned(), i);
        }
        i
    }

    /// Merges `properties` into the profile of `who` (created if new); keys given replace, others stay.
    /// `Identity` given as a property also becomes the profile's identity. Returns the CleverTap ID.
    pub fn upload_profile(
        &mut self,
        who: (IdentityKind, &str),
        properties: &Map<String, Value>,
        at: Timestamp,
    ) -> &str {
        let i = self.profile_for(who.0, who.1, at);
        let old_email = self.profiles[i].email().map(str::to_lowercase);
        self.profiles[i].merge(properties, at, &mut self.names);
        if let Some(Value::String(identity)) = properties.get("Identity")
            && self.profiles[i].identity.as_deref() != Some(identity.as_str())
        {
            self.profiles[i].identity = Some(identity.clone());
            self.by_id[slot(IdentityKind::Identity)].insert(identity.clone(), i);
        }
        let new_email = self.profiles[i].email().map(str::to_lowercase);
        if old_email != new_email {
            if let Some(old) = old_email
                && self.by_email.get(&old) == Some(&i)
            {
                self.by_email.remove(&old);
            }
            if let Some(new) = new_email {
                self.by_email.insert(new, i);
            }
        }
        &self.profiles[i].object_id
    }

    /// Records an event of `who` (whose profile is created if new), kept in time order. Returns the CleverTap ID
    /// and the event as stored.
    pub fn add_event(
        &mut self,
        who: (IdentityKind, &str),
        name: &str,
        properties: Map<String, Value>,
        ts: Timestamp,
        at: Timestamp,
    ) -> (&str, &Event) {
        let i = self.profile_for(who.0, who.1, at);
        let name = self.names.intern(name);
        let event = Event { name, properties: Properties::from_map(properties, &mut self.names), ts };
        let events = &mut self.events[i];
        // Uploads mostly arrive in time order: insert from the end.
        let at = events.iter().rposition(|e| e.ts <= ts).map_or(0, |p| p + 1);
        if events.len() == events.capacity() {
            // Grow by a quarter, not double: with millions of short lists, doubling leaves about a quarter of
            // their room unused (a sixteenth this way), and that room is a large part of the store.
            events.reserve_exact((events.len() / 4).max(2));
        }
        events.insert(at, event);
        (&self.profiles[i].object_id, &self.events[i][at])
    }

    /// Makes `id` of `kind` another way to find the user `object_id` (an upload record that names a user by
    /// several identities). An identity that already names another user is left as it is.
    pub fn link(&mut self, object_id: &str, kind: IdentityKind, id: &str) {
        let Some(i) = self.index_of(IdentityKind::ObjectId, object_id) else { return };
        if self.index_of(kind, id).is_some() {
            return;
        }
        self.by_id[slot(kind)].insert(id.to_owned(), i);
        let profile = &mut self.profiles[i];
        match kind {
            IdentityKind::Identity => profile.identity = Some(id.to_owned()),
            IdentityKind::Fbid => profile.fbid = Some(id.to_owned()),
            IdentityKind::Gpid => profile.gpid = Some(id.to_owned()),
            IdentityKind::ObjectId => {}
        }
    }

    /// Deletes the profiles with these CleverTap IDs and all their events; IDs not found are skipped. Returns how
    /// many profiles were deleted. The others keep their order, and CleverTap IDs made here are never reused.
    pub fn delete_profiles(&mut self, object_ids: &[String]) -> usize {
        let doomed: foldhash::HashSet<usize> =
            object_ids.iter().filter_map(|id| self.index_of(IdentityKind::ObjectId, id)).collect();
        if doomed.is_empty() {
            return 0;
        }
        // Where each kept profile moves to; `None` for the deleted ones.
        let mut kept = 0;
        let new_index: Vec<Option<usize>> = (0..self.profiles.len())
            .map(|i| {
                (!doomed.contains(&i)).then(|| {
                    kept += 1;
                    kept - 1
                })
            })
            .collect();
        let mut i = 0;
        self.profiles.retain(|_| {
            i += 1;
            new_index[i - 1].is_some()
        });
        let mut i = 0;
        self.events.retain(|_| {
            i += 1;
            new_index[i - 1].is_some()
        });
        let remap = |map: &mut HashMap<String, usize>| {
            map.retain(|_, index| match new_index[*index] {
                Some(moved) => {
                    *index = moved;
                    true
                }
                None => false,
            });
        };
        self.by_id.iter_mut().for_each(remap);
        remap(&mut self.by_email);
        doomed.len()
    }

    /// A user's events, oldest first.
    pub fn events_of(&self, object_id: &str) -> &[Event] {
        self.index_of(IdentityKind::ObjectId, object_id).map_or(&[], |i| self.events[i].as_slice())
    }

    /// Every profile, in the order first seen.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.iter()
    }

    /// Every profile with its events.
    pub fn profiles_with_events(&self) -> impl Iterator<Item = (&Profile, &[Event])> {
        self.profiles.iter().zip(self.events.iter().map(Vec::as_slice))
    }

    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    pub fn event_count(&self) -> usize {
        self.events.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_new_identity_creates_a_profile_and_later_uploads_merge_into_it() {
        let mut store = MemoryStore::new();
        let id = store
            .upload_profile((IdentityKind::Identity, "u1"), &props(json!({"Name": "Ada", "Tier": "gold"})), t(0))
            .to_owned();
        store.upload_profile((IdentityKind::Identity, "u1"), &props(json!({"Tier": "platinum"})), t(5));
        assert_eq!(store.profile_count(), 1);
        let p = store.find(IdentityKind::ObjectId, &id).unwrap();
        assert_eq!(Value::from(&p.properties), json!({"Name": "Ada", "Tier": "platinum"}));
        assert_eq!((p.created_at, p.updated_at), (t(0), t(5)));
        assert!(id.starts_with("__tapink"), "{id}");
    }

    #[test]
    fn profiles_are_found_by_every_identity_and_by_email_ignoring_case() {
        let mut store = MemoryStore::new();
        store.upload_profile(
            (IdentityKind::ObjectId, "obj-1"),
            &props(json!({"Email": "Ada@Example.com", "Identity": "u9"})),
            t(0),
        );
        assert!(store.find(IdentityKind::ObjectId, "obj-1").is_some());
        assert_eq!(store.find(IdentityKind::Identity, "u9").map(|p| p.object_id.as_str()), Some("obj-1"));
        assert_eq!(store.find_by_email("ada@example.COM").map(|p| p.object_id.as_str()), Some("obj-1"));
        store.upload_profile((IdentityKind::ObjectId, "obj-1"), &props(json!({"Email": "new@example.com"})), t(1));
        assert!(store.find_by_email("ada@example.com").is_none(), "the old email no longer finds the user");
        assert!(store.find_by_email("new@example.com").is_some());
    }

    #[test]
    fn deleting_a_profile_removes_it_its_identities_and_events_and_keeps_the_others_in_order() {
        let mut store = MemoryStore::new();
        for (user, email) in [("u1", "a@x.com"), ("u2", "b@x.com"), ("u3", "c@x.com")] {
            store.upload_profile((IdentityKind::Identity, user), &props(json!({"Email": email})), t(0));
            store.add_event((IdentityKind::Identity, user), "Charged", Map::new(), t(1), t(1));
        }
        let u2 = store.find(IdentityKind::Identity, "u2").unwrap().object_id.clone();

        let deleted = store.delete_profiles(&[u2.clone(), "nobody".into()]);

        assert_eq!(deleted, 1);
        assert!(store.find(IdentityKind::Identity, "u2").is_none());
        assert!(store.find(IdentityKind::ObjectId, &u2).is_none());
        assert!(store.find_by_email("b@x.com").is_none());
        assert!(store.events_of(&u2).is_empty());
        let left: Vec<_> = store.profiles().map(|p| p.identity.clone().unwrap()).collect();
        assert_eq!(left, ["u1", "u3"]);
        assert_eq!(store.find_by_email("c@x.com").and_then(|p| p.identity.as_deref()), Some("u3"));
        assert_eq!(store.events_of(&store.find(IdentityKind::Identity, "u3").unwrap().object_id.clone()).len(), 1);
        assert_eq!((store.profile_count(), store.event_count()), (2, 2));
        let new = store.upload_profile((IdentityKind::Identity, "u4"), &Map::new(), t(2)).to_owned();
        assert_ne!(new, u2, "CleverTap IDs are not reused");
    }

    #[test]
    fn events_of_a_user_are_kept_in_time_order_and_create_the_profile() {
        let mut store = MemoryStore::new();
        let id = store
            .add_event((IdentityKind::Identity, "u1"), "Charged", props(json!({"Amount": 5})), t(10), t(10))
            .0
            .to_owned();
        store.add_event((IdentityKind::Identity, "u1"), "Charged", props(json!({"Amount": 3})), t(5), t(11));
        store.add_event((IdentityKind::Identity, "u1"), "App Launched", Map::new(), t(20), t(12));
        let amounts: Vec<_> = store.events_of(&id).iter().map(|e| e.properties.get("Amount").cloned()).collect();
        assert_eq!(amounts, [Some(json!(3)), Some(json!(5)), None]);
        assert_eq!((store.profile_count(), store.event_count()), (1, 3));
    }
}
