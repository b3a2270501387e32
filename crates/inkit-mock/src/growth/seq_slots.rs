//! Items numbered by a `u64` sequence number, found by it without hashing, kept in the order of the numbers.

use std::collections::BTreeMap;

/// Slots per chunk: a chunk of `Option<Arc<_>>` is 32 KiB.
const CHUNK: u64 = 4096;

/// A sparse array indexed by sequence number. Numbers come from a counter, so they are dense: each chunk of
/// [`CHUNK`] numbers is allocated when the first of them is set, and a gap (numbers used for something else,
/// or numbers before a reset) costs nothing beyond the chunks it leaves out. Setting never moves what is
/// already held.
#[derive(Debug)]
pub struct SeqSlots<T> {
    chunks: BTreeMap<u64, Box<[Option<T>]>>,
    len: usize,
}

impl<T> Default for SeqSlots<T> {
    fn default() -> Self {
        Self { chunks: BTreeMap::new(), len: 0 }
    }
}

impl<T> SeqSlots<T> {
    /// How many slots hold an item.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, seq: u64) -> Option<&T> {
        self.chunks.get(&(seq / CHUNK))?[(seq % CHUNK) as usize].as_ref()
    }

    /// Puts `item` in slot `seq`, giving back what was there.
    pub fn set(&mut self, seq: u64, item: T) -> Option<T> {
        let chunk = self.chunks.entry(seq / CHUNK).or_insert_with(|| (0..CHUNK).map(|_| None).collect());
        let old = chunk[(seq % CHUNK) as usize].replace(item);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The items in the order of their numbers.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.chunks.values().flat_map(|chunk| chunk.iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_found_by_number_and_listed_in_number_order() {
        let mut slots = SeqSlots::default();
        for seq in [5 * CHUNK + 1, 3, 0, CHUNK - 1, CHUNK, u64::MAX] {
            assert_eq!(slots.set(seq, seq), None);
        }
        assert_eq!(slots.len(), 6);
        assert_eq!(slots.get(3), Some(&3));
        assert_eq!(slots.get(CHUNK), Some(&CHUNK));
        assert_eq!(slots.get(u64::MAX), Some(&u64::MAX));
        assert_eq!(slots.get(4), None, "an empty slot in a chunk that exists");
        assert_eq!(slots.get(2 * CHUNK), None, "a chunk that does not exist");
        let all: Vec<u64> = slots.iter().copied().collect();
        assert_eq!(all, [0, 3, CHUNK - 1, CHUNK, 5 * CHUNK + 1, u64::MAX]);
        assert_eq!(slots.iter().next_back(), Some(&u64::MAX));
    }

    #[test]
    fn setting_a_held_number_replaces_the_item_without_counting_it_twice() {
        let mut slots = SeqSlots::default();
        slots.set(7, "first");
        assert_eq!(slots.set(7, "second"), Some("first"));
        assert_eq!(slots.len(), 1);
        assert_eq!(slots.get(7), Some(&"second"));
    }

    #[test]
    fn setting_never_moves_an_item_already_held() {
        let mut slots = SeqSlots::default();
        slots.set(0, String::from("first"));
        let slot = std::ptr::from_ref(slots.get(0).unwrap());
        for seq in 1..10 * CHUNK {
            slots.set(seq, seq.to_string());
        }
        assert_eq!(std::ptr::from_ref(slots.get(0).unwrap()), slot);
    }

    #[test]
    fn an_empty_array_is_empty() {
        let slots: SeqSlots<u8> = SeqSlots::default();
        assert_eq!(slots.len(), 0);
        assert_eq!(slots.iter().count(), 0);
        assert_eq!(slots.get(0), None);
    }
}
