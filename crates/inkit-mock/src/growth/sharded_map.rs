//! A hash map split into shards by the key's hash, so that growing rehashes one small shard at a time.

use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, Hash};

use foldhash::HashMap;
use foldhash::fast::FixedState;

/// Shards: a million keys make shards of about 4,000, each rehashed in well under a millisecond.
const SHARDS: usize = 256;

/// A `HashMap` in [`SHARDS`] parts. A key's shard is chosen by a fixed hash of it; each shard is an
/// ordinary map, which doubles on its own when it is full.
#[derive(Debug)]
pub struct ShardedMap<K, V> {
    shards: Box<[HashMap<K, V>]>,
    choose: FixedState,
}

impl<K, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        Self { shards: (0..SHARDS).map(|_| HashMap::default()).collect(), choose: FixedState::with_seed(0x7a91) }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    fn shard_of<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        (self.choose.hash_one(key) >> 56) as usize % SHARDS
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shards[self.shard_of(key)].get(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let shard = self.shard_of(&key);
        self.shards[shard].insert(key, value)
    }

    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let shard = self.shard_of(&key);
        self.shards[shard].entry(key)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let shard = self.shard_of(key);
        self.shards[shard].remove(key)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards.iter().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn it_behaves_as_a_map_whatever_the_shard_of_each_key() {
        let mut map: ShardedMap<Arc<str>, usize> = ShardedMap::default();
        for i in 0..10_000 {
            assert_eq!(map.insert(format!("rend_{i}").into(), i), None);
        }
        assert_eq!(map.len(), 10_000);
        assert_eq!(map.get("rend_4321"), Some(&4321), "found through a borrowed &str");
        assert_eq!(map.insert("rend_4321".into(), 1), Some(4321));
        assert!(matches!(map.entry("rend_1".into()), Entry::Occupied(_)));
        assert!(matches!(map.entry("rend_x".into()), Entry::Vacant(_)));
        assert_eq!(map.remove("rend_9999"), Some(9999));
        assert_eq!(map.get("rend_9999"), None);
        assert_eq!(map.len(), 9_999);
    }

    #[test]
    fn keys_spread_over_every_shard() {
        let mut map: ShardedMap<String, ()> = ShardedMap::default();
        for i in 0..100_000 {
            map.insert(format!("doc_{i}"), ());
        }
        let sizes: Vec<usize> = map.shards.iter().map(HashMap::len).collect();
        let (least, most) = (sizes.iter().min().copied(), sizes.iter().max().copied());
        assert!(least > Some(250) && most < Some(550), "shard sizes from {least:?} to {most:?} for 100,000 keys");
    }
}
