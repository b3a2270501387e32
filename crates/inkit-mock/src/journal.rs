//! The request journal: every request the mock received, rejected ones too, in a bounded ring, and
//! counts by route that are never dropped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;
use clock::Timestamp;
use http::HeaderMap;
use serde::Serialize;

/// How much of a request body the journal keeps.
pub const BODY_EXCERPT_BYTES: usize = 2048;

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub seq: u64,
    #[serde(serialize_with = "ser_time")]
    pub received_at: Timestamp,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The route it matched, without the `/v1` prefix and with ids as `{id}`, e.g. `GET /render/{id}`.
    pub route: String,
    /// Header values, with the API token shown only by its configured name. Kept as received (cheap
    /// reference-counted copies) and turned into text only when someone reads the journal.
    #[serde(serialize_with = "ser_headers")]
    pub headers: HeaderMap,
    #[serde(serialize_with = "ser_lossy")]
    pub body_excerpt: Bytes,
    pub body_bytes: usize,
    /// 0 when the connection was closed without an answer (an injected fault).
    pub status: u16,
    pub duration_ms: f64,
    /// The injected fault that shaped the answer, if any.
    pub fault: Option<String>,
}

fn ser_headers<S: serde::Serializer>(headers: &HeaderMap, s: S) -> Result<S::Ok, S::Error> {
    let map: BTreeMap<&str, std::borrow::Cow<'_, str>> =
        headers.iter().map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v.as_bytes()))).collect();
    map.serialize(s)
}

fn ser_lossy<S: serde::Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(bytes))
}

fn ser_time<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&clock::rfc3339(*t))
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct RouteCounts {
    pub total: u64,
    pub by_status: BTreeMap<u16, u64>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: VecDeque<JournalEntry>,
    next_seq: u64,
    dropped: u64,
    counts: HashMap<String, RouteCounts>,
}

#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, inner: Mutex::new(Inner::default()) }
    }

    pub fn record(&self, mut entry: JournalEntry) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let counts = inner.counts.entry(entry.route.clone()).or_default();
        counts.total += 1;
        *counts.by_status.entry(entry.status).or_default() += 1;
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        if self.capacity == 0 {
            inner.dropped += 1;
            return;
        }
        if inner.entries.len() == self.capacity {
            inner.entries.pop_front();
            inner.dropped += 1;
        }
        inner.entries.push_back(entry);
    }

    /// The newest `limit` entries (newest first) that match `route` and `status` when given.
    pub fn recent(&self, limit: usize, route: Option<&str>, status: Option<u16>) -> (Vec<JournalEntry>, u64, u64) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let items = inner
            .entries
            .iter()
            .rev()
            .filter(|e| route.is_none_or(|r| e.route == r))
            .filter(|e| status.is_none_or(|s| e.status == s))
            .take(limit)
            .cloned()
            .collect();
        (items, inner.next_seq, inner.dropped)
    }

    pub fn counts(&self) -> (u64, BTreeMap<String, RouteCounts>) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.next_seq, inner.counts.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    pub fn reset(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = Inner::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(route: &str, status: u16) -> JournalEntry {
        JournalEntry {
            seq: 0,
            received_at: Timestamp::UNIX_EPOCH,
            method: "POST".into(),
            path: "/v1/generate".into(),
            query: None,
            route: route.into(),
            headers: HeaderMap::new(),
            body_excerpt: Bytes::new(),
            body_bytes: 0,
            status,
            duration_ms: 0.0,
            fault: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_entries_but_counts_all() {
        let j = Journal::new(3);
        for i in 0..5 {
            j.record(entry("POST /generate", if i % 2 == 0 { 200 } else { 500 }));
        }
        let (items, total, dropped) = j.recent(10, None, None);
        assert_eq!(items.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 3, 2]);
        assert_eq!((total, dropped), (5, 2));
        let (_, counts) = j.counts();
        assert_eq!(counts["POST /generate"].total, 5);
        assert_eq!(counts["POST /generate"].by_status[&500], 2);
    }
}
