//! Cursors of `/1/profiles.json` and `/1/events.json`: each query's result is fixed when it is asked (a
//! snapshot of the matching users' CleverTap IDs, or of the matching events' positions), kept for the
//! configured lifetime (4 h by default, from the query), and read a page at a time.
//!
//! A cursor is an opaque string of 48 hex digits (safe in a URL without encoding, as the Node library sends
//! it): this server's random prefix, the snapshot, and the offset of the page it starts. Reading the same
//! cursor twice gives the same page, so a client may retry. Cursors of another server run, of a snapshot that
//! expired or was closed to make room (at most `max_cursors` snapshots are open; a new query closes the
//! oldest), or of the other route are refused.
//!
//! A user deleted between pages is left out of later pages (a page can then hold fewer records than the
//! batch size); changes to users who stay are shown as they are when the page is read.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use campaign_engine::event::Event;
use campaign_engine::profile::{IdentityKind, Profile};
use campaign_engine::store::MemoryStore;
use clock::Timestamp;

/// Which export a snapshot belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Profiles,
    Events,
}

impl Export {
    pub fn path(self) -> &'static str {
        match self {
            Export::Profiles => "/1/profiles.json",
            Export::Events => "/1/events.json",
        }
    }
}

/// Where one event is among its user's events, stable while other events are added: events are kept in time
/// order and a new event goes after those of the same time, so the `rank`-th event of time `ts` stays the
/// same event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPosition {
    /// Index into [`Snapshot::Events::users`].
    user: u32,
    ts: Timestamp,
    rank: u32,
}

/// A query's result, fixed when it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    /// The matching users' CleverTap IDs, in the order of the result.
    Profiles(Vec<String>),
    /// The matching events: their users' CleverTap IDs, and each event's position.
    Events { users: Vec<String>, positions: Vec<EventPosition> },
}

impl Snapshot {
    /// The snapshot of `events` (in the order of the result, each user's events together, oldest first).
    pub fn of_events(store: &MemoryStore, events: &[(&Profile, &Event)]) -> Self {
        let mut users: Vec<String> = Vec::new();
        let mut positions = Vec::with_capacity(events.len());
        for (user, event) in events {
            if users.last() != Some(&user.object_id) {
                users.push(user.object_id.clone());
            }
            let all = store.events_of(&user.object_id);
            let first = all.partition_point(|e| e.ts < event.ts);
            let rank = all[first..].iter().position(|e| std::ptr::eq(e, *event)).unwrap_or_default();
            positions.push(EventPosition {
                user: u32::try_from(users.len() - 1).unwrap_or(u32::MAX),
                ts: event.ts,
                rank: u32::try_from(rank).unwrap_or(u32::MAX),
            });
        }
        Snapshot::Events { users, positions }
    }

    pub fn len(&self) -> usize {
        match self {
            Snapshot::Profiles(ids) => ids.len(),
            Snapshot::Events { positions, .. } => positions.len(),
        }
    }

    /// The users in `range` (profiles), as they are now: deleted ones are left out.
    pub fn profiles_in<'s>(&self, store: &'s MemoryStore, range: std::ops::Range<usize>) -> Vec<&'s Profile> {
        let Snapshot::Profiles(ids) = self else { return Vec::new() };
        ids[range].iter().filter_map(|id| store.find(IdentityKind::ObjectId, id)).collect()
    }

    /// The events in `range` (events) with their users, as they are now: those of deleted users are left out.
    pub fn events_in<'s>(
        &self,
        store: &'s MemoryStore,
        range: std::ops::Range<usize>,
    ) -> Vec<(&'s Profile, &'s Event)> {
        let Snapshot::Events { users, positions } = self else { return Vec::new() };
        positions[range]
            .iter()
            .filter_map(|p| {
                let id = users.get(p.user as usize)?;
                let user = store.find(IdentityKind::ObjectId, id)?;
                let all = store.events_of(id);
                let first = all.partition_point(|e| e.ts < p.ts);
                all.get(first + p.rank as usize).filter(|e| e.ts == p.ts).map(|e| (user, e))
            })
            .collect()
    }
}

/// An open snapshot.
#[derive(Debug)]
pub struct Open {
    pub export: Export,
    pub snapshot: Snapshot,
    /// Records per page unless a page asks for another size.
    pub batch_size: usize,
    /// Warnings of the query (filters given but not evaluated), repeated on each page.
    pub warnings: Vec<String>,
    expires_at: Timestamp,
}

/// Why a cursor cannot be read; the answer is 400 naming `cursor`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("unknown cursor: it was not issued by this server, or it expired (cursors last {0} minutes)")]
    Unknown(u64),
    #[error("this cursor belongs to {0}")]
    OtherExport(&'static str),
}

/// The open snapshots, oldest first.
#[derive(Debug)]
pub struct Cursors {
    /// Random per server run, so cursors of an earlier run are unknown rather than misread.
    prefix: u64,
    next_id: u64,
    open: BTreeMap<u64, Arc<Open>>,
    ttl: Duration,
    max: usize,
}

impl Cursors {
    pub fn new(ttl: Duration, max: usize) -> Self {
        let prefix = std::collections::hash_map::RandomState::new().build_hasher().finish();
        Self { prefix, next_id: 1, open: BTreeMap::new(), ttl, max: max.max(1) }
    }

    /// Keeps a new snapshot; returns the cursor of its first page.
    pub fn open(
        &mut self,
        export: Export,
        snapshot: Snapshot,
        batch_size: usize,
        warnings: Vec<String>,
        now: Timestamp,
    ) -> String {
        self.open.retain(|_, open| open.expires_at > now);
        while self.open.len() >= self.max {
            self.open.pop_first();
        }
        let id = self.next_id;
        self.next_id += 1;
        let expires_at = now.checked_add(self.ttl).unwrap_or(Timestamp::MAX);
        self.open.insert(id, Arc::new(Open { export, snapshot, batch_size, warnings, expires_at }));
        self.cursor(id, 0)
    }

    /// The cursor of the page of snapshot `id` that starts at `offset`.
    pub fn cursor(&self, id: u64, offset: usize) -> String {
        format!("{:016x}{id:016x}{:016x}", self.prefix, offset as u64)
    }

    /// The snapshot and page offset a cursor of `export` points at.
    pub fn resolve(
        &mut self,
        cursor: &str,
        export: Export,
        now: Timestamp,
    ) -> Result<(u64, Arc<Open>, usize), CursorError> {
        let unknown = CursorError::Unknown(self.ttl.as_secs() / 60);
        let field = |at: usize| cursor.get(at..at + 16).and_then(|hex| u64::from_str_radix(hex, 16).ok());
        let (Some(prefix), Some(id), Some(offset)) = (field(0), field(16), field(32)) else { return Err(unknown) };
        if cursor.len() != 48 || prefix != self.prefix {
            return Err(unknown);
        }
        let Some(open) = self.open.get(&id).filter(|o| o.expires_at > now) else {
            self.open.remove(&id);
            return Err(unknown);
        };
        let offset = usize::try_from(offset).map_err(|_| unknown.clone())?;
        if open.export != export {
            return Err(CursorError::OtherExport(open.export.path()));
        }
        if offset > open.snapshot.len() {
            return Err(unknown);
        }
        Ok((id, open.clone(), offset))
    }

    /// How many snapshots are open.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn profiles(n: usize) -> Snapshot {
        Snapshot::Profiles((0..n).map(|i| format!("obj-{i}")).collect())
    }

    #[test]
    fn a_cursor_reads_back_its_snapshot_and_offset_and_is_url_safe() {
        let mut cursors = Cursors::new(Duration::from_secs(3600), 10);
        let first = cursors.open(Export::Profiles, profiles(25), 10, vec![], t(0));
        let (id, open, offset) = cursors.resolve(&first, Export::Profiles, t(1)).unwrap();
        assert_eq!((open.snapshot.len(), offset), (25, 0));
        let next = cursors.cursor(id, 10);
        assert_eq!(cursors.resolve(&next, Export::Profiles, t(1)).unwrap().2, 10);
        assert!(next.chars().all(|c| c.is_ascii_hexdigit()) && next.len() == 48, "{next}");
    }

    #[test]
    fn expired_forged_and_foreign_cursors_are_refused() {
        let mut cursors = Cursors::new(Duration::from_secs(3600), 10);
        let cursor = cursors.open(Export::Events, profiles(3), 10, vec![], t(0));
        assert_eq!(
            cursors.resolve(&cursor, Export::Profiles, t(1)).unwrap_err(),
            CursorError::OtherExport("/1/events.json")
        );
        assert_eq!(cursors.resolve("nonsense", Export::Events, t(1)).unwrap_err(), CursorError::Unknown(60));
        let other_run = Cursors::new(Duration::from_secs(3600), 10).cursor(1, 0);
        assert!(cursors.resolve(&other_run, Export::Events, t(1)).is_err());
        let past_the_end = format!("{}{:016x}", &cursor[..32], 4);
        assert!(cursors.resolve(&past_the_end, Export::Events, t(1)).is_err());
        assert!(cursors.resolve(&cursor, Export::Events, t(3600)).is_err(), "expired after the ttl");
        assert!(cursors.is_empty());
    }

    #[test]
    fn the_oldest_snapshot_is_closed_to_make_room() {
        let mut cursors = Cursors::new(Duration::from_secs(3600), 2);
        let first = cursors.open(Export::Profiles, profiles(1), 10, vec![], t(0));
        let second = cursors.open(Export::Profiles, profiles(1), 10, vec![], t(0));
        let third = cursors.open(Export::Profiles, profiles(1), 10, vec![], t(0));
        assert_eq!(cursors.len(), 2);
        assert!(cursors.resolve(&first, Export::Profiles, t(0)).is_err());
        assert!(cursors.resolve(&second, Export::Profiles, t(0)).is_ok());
        assert!(cursors.resolve(&third, Export::Profiles, t(0)).is_ok());
    }

    #[test]
    fn event_positions_survive_events_added_before_them_and_users_deleted() {
        // arrange
        let mut store = MemoryStore::new();
        let who = (IdentityKind::Identity, "u1");
        let props = |n: i64| json!({"n": n}).as_object().unwrap().clone();
        store.add_event(who, "Charged", props(1), t(10), t(10));
        store.add_event(who, "Charged", props(2), t(10), t(10));
        store.add_event((IdentityKind::Identity, "u2"), "Charged", props(3), t(20), t(20));
        let events: Vec<(&Profile, &Event)> =
            store.profiles_with_events().flat_map(|(p, e)| e.iter().map(move |e| (p, e))).collect();
        let snapshot = Snapshot::of_events(&store, &events);

        // act: an earlier event and one at the same time are added; then u2 is deleted
        store.add_event(who, "Charged", props(0), t(5), t(30));
        store.add_event(who, "Charged", props(9), t(10), t(30));
        let seen: Vec<_> = snapshot.events_in(&store, 0..3).iter().map(|(_, e)| e.properties["n"].clone()).collect();
        let u2 = store.find(IdentityKind::Identity, "u2").unwrap().object_id.clone();
        store.delete_profiles(&[u2]);
        let after_delete = snapshot.events_in(&store, 0..3).len();

        // assert
        assert_eq!(seen, [json!(1), json!(2), json!(3)]);
        assert_eq!(after_delete, 2);
    }
}
