//! A list that grows by fixed-size chunks, so that appending never moves what it already holds.

use std::ops::{Index, IndexMut};

/// Items per chunk: a chunk of `Arc`s is 32 KiB.
const CHUNK: usize = 4096;

/// A list indexed like a `Vec`, whose `push` never copies earlier items: it starts a new chunk instead.
#[derive(Debug, Clone)]
pub struct ChunkedVec<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        Self { chunks: Vec::new(), len: 0 }
    }
}

impl<T> ChunkedVec<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, item: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        // A chunk was just started if the last one was full, so there is a last one.
        if let Some(last) = self.chunks.last_mut() {
            last.push(item);
            self.len += 1;
        }
    }
}

impl<T: Clone> ChunkedVec<T> {
    pub fn to_vec(&self) -> Vec<T> {
        let mut all = Vec::with_capacity(self.len);
        for chunk in &self.chunks {
            all.extend_from_slice(chunk);
        }
        all
    }
}

impl<T> Index<usize> for ChunkedVec<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl<T> IndexMut<usize> for ChunkedVec<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_their_index_and_order_across_chunks() {
        let mut list = ChunkedVec::default();
        for i in 0..3 * CHUNK + 5 {
            list.push(i);
        }
        assert_eq!(list.len(), 3 * CHUNK + 5);
        assert_eq!(list[0], 0);
        assert_eq!(list[CHUNK - 1], CHUNK - 1);
        assert_eq!(list[CHUNK], CHUNK);
        assert_eq!(list[3 * CHUNK + 4], 3 * CHUNK + 4);
        list[CHUNK] = 7;
        assert_eq!(list[CHUNK], 7);
        let all = list.to_vec();
        assert_eq!(all.len(), list.len());
        assert_eq!(all[CHUNK], 7);
        assert_eq!(all.last(), Some(&(3 * CHUNK + 4)));
    }

    #[test]
    fn pushing_never_moves_an_item_already_held() {
        let mut list = ChunkedVec::default();
        list.push(String::from("first"));
        let first = list[0].as_ptr();
        let chunk = std::ptr::from_ref(&list[0]);
        for i in 0..10 * CHUNK {
            list.push(i.to_string());
        }
        assert_eq!(std::ptr::from_ref(&list[0]), chunk, "the first item's slot stayed where it was");
        assert_eq!(list[0].as_ptr(), first);
    }

    #[test]
    fn an_empty_list_is_empty() {
        let list: ChunkedVec<u8> = ChunkedVec::default();
        assert_eq!(list.len(), 0);
        assert!(list.to_vec().is_empty());
    }
}
