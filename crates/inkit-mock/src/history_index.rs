//! History's entries in memory, in order of acceptance, found by id or by document id.

use std::sync::Arc;

use crate::growth::{ChunkedVec, SeqSlots, ShardedMap};
use crate::history::{EntryKind, HistoryEntry};
use crate::ids::{IdKind, SeqIds};

/// Every entry sits in the slot of its `seq`. Ids that [`SeqIds`] made carry that `seq`, so a lookup by id or
/// document id decodes it and reads the slot; only entries whose ids it did not make (loaded from a store an
/// earlier run wrote, with that run's key) are found through a map.
#[derive(Debug)]
pub struct HistoryIndex {
    ids: SeqIds,
    slots: SeqSlots<Arc<HistoryEntry>>,
    /// The `seq` of each entry in the order entries were first applied. That is not the order of `seq`: the
    /// server threads commit on their own, so a lower `seq` can be applied after a higher one. A reader that
    /// follows History as it grows keeps its place here ([`Self::applied_since`]).
    applied: ChunkedVec<u64>,
    /// `seq` by id, for entries whose id does not carry it.
    other_ids: ShardedMap<Arc<str>, u64>,
    /// `seq` by document id, likewise.
    other_documents: ShardedMap<Arc<str>, u64>,
}

impl HistoryIndex {
    pub fn new(ids: SeqIds) -> Self {
        Self {
            ids,
            slots: SeqSlots::default(),
            applied: ChunkedVec::default(),
            other_ids: ShardedMap::default(),
            other_documents: ShardedMap::default(),
        }
    }

    /// Adds an entry, or replaces the one with its `seq` (a changed version of it). Gives back a different
    /// entry that held the same `seq`, which only a damaged store can have.
    pub fn insert(&mut self, entry: Arc<HistoryEntry>) -> Option<Arc<HistoryEntry>> {
        let seq = entry.seq;
        if self.ids.seq(id_kind(&entry), &entry.id) != Some(seq) {
            self.other_ids.insert(entry.id.clone(), seq);
        }
        if let Some(document) = &entry.document_id
            && self.ids.seq(IdKind::Document, document) != Some(seq)
        {
            self.other_documents.insert(document.clone(), seq);
        }
        let id = entry.id.clone();
        let old = self.slots.set(seq, entry);
        if old.is_none() {
            self.applied.push(seq);
        }
        old.filter(|old| old.id != id)
    }

    /// The entry with id `id` (a render's or a test's), deleted ones included.
    pub fn get(&self, id: &str) -> Option<&Arc<HistoryEntry>> {
        let kind = if id.starts_with(IdKind::Test.prefix()) { IdKind::Test } else { IdKind::Render };
        let seq = self.ids.seq(kind, id).or_else(|| self.other_ids.get(id).copied())?;
        self.slots.get(seq).filter(|e| &*e.id == id)
    }

    /// The render whose document is `document_id`, deleted ones included.
    pub fn by_document(&self, document_id: &str) -> Option<&Arc<HistoryEntry>> {
        let seq =
            self.ids.seq(IdKind::Document, document_id).or_else(|| self.other_documents.get(document_id).copied())?;
        self.slots.get(seq).filter(|e| e.document_id.as_deref() == Some(document_id))
    }

    /// The entries in order of acceptance.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<HistoryEntry>> {
        self.slots.iter()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The entries applied after the first `from`, in the order they were applied (their current versions).
    pub fn applied_since(&self, from: usize) -> impl Iterator<Item = &Arc<HistoryEntry>> {
        (from..self.applied.len()).filter_map(|i| self.slots.get(self.applied[i]))
    }

    /// How many entries were applied: where [`Self::applied_since`] goes on from next time.
    pub fn applied_count(&self) -> usize {
        self.applied.len()
    }

    /// The key new entries' ids are made with.
    pub fn ids(&self) -> SeqIds {
        self.ids
    }
}

fn id_kind(entry: &HistoryEntry) -> IdKind {
    match entry.kind {
        EntryKind::Render => IdKind::Render,
        EntryKind::Test => IdKind::Test,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::IdGenerator;

    fn entry(seq: u64, id: &str, document_id: Option<&str>) -> Arc<HistoryEntry> {
        let kind = if id.starts_with("test_") { EntryKind::Test } else { EntryKind::Render };
        let at = "2026-11-27T09:54:46Z".parse().unwrap();
        Arc::new(HistoryEntry {
            document_id: document_id.map(Into::into),
            ..HistoryEntry::required_only(seq, id, kind, at)
        })
    }

    fn render(ids: SeqIds, seq: u64) -> Arc<HistoryEntry> {
        entry(seq, &ids.id(IdKind::Render, seq), Some(&ids.id(IdKind::Document, seq)))
    }

    #[test]
    fn entries_with_ids_it_made_are_found_without_the_maps() {
        let ids = SeqIds::new(1);
        let mut index = HistoryIndex::new(ids);
        index.insert(render(ids, 4));
        index.insert(entry(5, &ids.id(IdKind::Test, 5), None));

        assert_eq!(index.get(&ids.id(IdKind::Render, 4)).map(|e| e.seq), Some(4));
        assert_eq!(index.by_document(&ids.id(IdKind::Document, 4)).map(|e| e.seq), Some(4));
        assert_eq!(index.get(&ids.id(IdKind::Test, 5)).map(|e| e.seq), Some(5));
        assert_eq!((index.other_ids.len(), index.other_documents.len()), (0, 0));
    }

    #[test]
    fn entries_with_ids_an_earlier_run_made_are_found_through_the_maps() {
        let (ids, earlier) = (SeqIds::new(1), SeqIds::new(2));
        let random = IdGenerator::new(3);
        let mut index = HistoryIndex::new(ids);
        index.insert(render(earlier, 0));
        index.insert(entry(1, &random.next(IdKind::Render), Some(&random.next(IdKind::Document))));
        let from_random = index.iter().nth(1).unwrap().clone();

        assert_eq!(index.get(&earlier.id(IdKind::Render, 0)).map(|e| e.seq), Some(0));
        assert_eq!(index.by_document(&earlier.id(IdKind::Document, 0)).map(|e| e.seq), Some(0));
        assert_eq!(index.get(&from_random.id).map(|e| e.seq), Some(1));
        assert_eq!(index.by_document(from_random.document_id.as_deref().unwrap()).map(|e| e.seq), Some(1));
        assert_eq!((index.other_ids.len(), index.other_documents.len()), (2, 2));
    }

    #[test]
    fn an_id_that_names_a_slot_holding_another_entry_finds_nothing() {
        let (ids, earlier) = (SeqIds::new(1), SeqIds::new(2));
        let mut index = HistoryIndex::new(ids);
        index.insert(render(earlier, 7));

        assert!(index.get(&ids.id(IdKind::Render, 7)).is_none(), "this key's id for 7 is not the entry's id");
        assert!(index.by_document(&ids.id(IdKind::Document, 7)).is_none());
        assert!(index.get(&ids.id(IdKind::Test, 7)).is_none());
        assert!(index.get(&ids.id(IdKind::Render, 8)).is_none(), "an empty slot");
        assert!(index.get("rend_nothing").is_none());
        assert!(index.by_document("").is_none());
        assert!(index.get(&earlier.id(IdKind::Document, 7)).is_none(), "a document id is no render id");
    }

    #[test]
    fn a_changed_version_replaces_the_entry_and_iteration_follows_seq() {
        let ids = SeqIds::new(1);
        let mut index = HistoryIndex::new(ids);
        for seq in [9, 2, 5] {
            assert!(index.insert(render(ids, seq)).is_none());
        }
        let mut deleted = (*render(ids, 5)).clone();
        deleted.deleted_at = Some(deleted.created_at);

        assert!(index.insert(Arc::new(deleted)).is_none(), "the same entry, not another one");
        assert_eq!(index.len(), 3);
        assert_eq!(index.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 5, 9]);
        assert!(index.get(&ids.id(IdKind::Render, 5)).unwrap().deleted_at.is_some());
    }

    #[test]
    fn entries_applied_out_of_seq_order_are_followed_in_the_order_applied() {
        let ids = SeqIds::new(1);
        let mut index = HistoryIndex::new(ids);
        index.insert(render(ids, 1));
        let seen: Vec<u64> = index.applied_since(0).map(|e| e.seq).collect();
        index.insert(render(ids, 0)); // committed late, by another thread
        index.insert(render(ids, 2));
        let mut deleted = (*render(ids, 1)).clone();
        deleted.deleted_at = Some(deleted.created_at);
        index.insert(Arc::new(deleted)); // a new version is no new entry

        let later: Vec<u64> = index.applied_since(seen.len()).map(|e| e.seq).collect();

        assert_eq!((seen, later), (vec![1], vec![0, 2]));
        assert_eq!(index.applied_count(), 3);
        assert_eq!(index.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2], "iteration is by seq");
        assert!(index.applied_since(0).any(|e| e.deleted_at.is_some()), "current versions");
    }

    #[test]
    fn a_different_entry_with_a_held_seq_is_given_back() {
        let ids = SeqIds::new(1);
        let mut index = HistoryIndex::new(ids);
        index.insert(render(ids, 3));

        let hidden = index.insert(entry(3, "rend_other", None));

        assert_eq!(hidden.map(|e| e.id.clone()), Some(ids.id(IdKind::Render, 3)));
        assert_eq!(index.get("rend_other").map(|e| e.seq), Some(3));
    }
}
