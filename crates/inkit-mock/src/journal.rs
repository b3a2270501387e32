//! The request journal: every request the mock received, rejected ones too, in a bounded ring, and
//! counts by route that are never dropped.
//!
//! Every request writes here, so the journal is split into shards, each with its own lock: request `n`
//! goes to shard `n % SHARDS`, so the server's threads rarely wait for each other. Each shard keeps
//! `ceil(capacity / SHARDS)` entries, which holds every one of its requests among the newest `capacity`;
//! reads return only those newest `capacity`.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use clock::Timestamp;
use foldhash::HashMap;
use http::{HeaderMap, HeaderName, Method};
use serde::Serialize;

/// How much of a request body the journal keeps.
pub const BODY_EXCERPT_BYTES: usize = 2048;

const SHARDS: usize = 8;

#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub seq: u64,
    #[serde(serialize_with = "ser_time")]
    pub received_at: Timestamp,
    #[serde(serialize_with = "ser_method")]
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    /// The route it matched, without the `/v1` prefix and with ids as `{id}`, e.g. `GET /render/{id}`.
    pub route: Cow<'static, str>,
    /// Header lines (`name: value\n`), with the API token shown only by its configured name.
    #[serde(serialize_with = "ser_headers")]
    pub headers: HeaderLines,
    /// The first `BODY_EXCERPT_BYTES` of the body, copied. (Keeping a slice of the request instead would
    /// keep the connection's whole read buffer alive and make hyper allocate a new one for every request.)
    #[serde(serialize_with = "ser_lossy")]
    pub body_excerpt: Bytes,
    pub body_bytes: usize,
    /// 0 when the connection was closed without an answer (an injected fault).
    pub status: u16,
    pub duration_ms: f64,
    /// The injected fault that shaped the answer, if any.
    pub fault: Option<String>,
}

/// Request headers kept as one string, one allocation per request: the journal is written on every
/// request and read rarely.
#[derive(Debug, Clone, Default)]
pub struct HeaderLines(Box<str>);

impl HeaderLines {
    /// Copies `headers`, with `hidden`'s value written by `shown_as` instead.
    pub fn copy(headers: &HeaderMap, hidden: &HeaderName, shown_as: impl Fn(&[u8], &mut String)) -> Self {
        let mut text = String::with_capacity(256);
        for (name, value) in headers {
            text.push_str(name.as_str());
            text.push_str(": ");
            if name == hidden {
                shown_as(value.as_bytes(), &mut text);
            } else {
                text.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
            text.push('\n');
        }
        Self(text.into_boxed_str())
    }

    /// `(name, value)` pairs; a repeated header appears once per value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.lines().filter_map(|line| line.split_once(": "))
    }
}

fn ser_headers<S: serde::Serializer>(headers: &HeaderLines, s: S) -> Result<S::Ok, S::Error> {
    let mut map: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in headers.iter() {
        map.entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    map.serialize(s)
}

fn ser_method<S: serde::Serializer>(method: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(method.as_str())
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
struct Shard {
    entries: VecDeque<JournalEntry>,
    counts: HashMap<String, RouteCounts>,
}

#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    /// Entries kept per shard.
    shard_capacity: usize,
    next_seq: AtomicU64,
    shards: Vec<Mutex<Shard>>,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            shard_capacity: capacity.div_ceil(SHARDS),
            next_seq: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }

    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, mut entry: JournalEntry) {
        entry.seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let evicted = {
            let mut shard = self.lock(entry.seq as usize % SHARDS);
            let counts = match shard.counts.get_mut(entry.route.as_ref()) {
                Some(c) => c,
                None => shard.counts.entry(entry.route.clone().into_owned()).or_default(),
            };
            counts.total += 1;
            *counts.by_status.entry(entry.status).or_default() += 1;
            if self.shard_capacity == 0 {
                Some(entry)
            } else {
                let evicted = if shard.entries.len() >= self.shard_capacity { shard.entries.pop_front() } else { None };
                shard.entries.push_back(entry);
                evicted
            }
        };
        // Freeing an old entry's headers and body happens after the lock is released.
        drop(evicted);
    }

    /// The newest `limit` entries (newest first) that match `route` and `status` when given, with the
    /// number of requests received and the number no longer kept.
    pub fn recent(&self, limit: usize, route: Option<&str>, status: Option<u16>) -> (Vec<JournalEntry>, u64, u64) {
        let mut items: Vec<JournalEntry> = Vec::new();
        let mut kept = 0u64;
        for i in 0..SHARDS {
            let shard = self.lock(i);
            kept += shard.entries.len() as u64;
            items.extend(
                shard
                    .entries
                    .iter()
                    .rev()
                    .filter(|e| route.is_none_or(|r| e.route == r))
                    .filter(|e| status.is_none_or(|s| e.status == s))
                    .take(limit)
                    .cloned(),
            );
        }
        items.sort_unstable_by_key(|e| std::cmp::Reverse(e.seq));
        let received = self.next_seq.load(Ordering::Relaxed);
        // Shards round their share up; what is older than the newest `capacity` counts as dropped.
        let oldest_kept = received.saturating_sub(self.capacity as u64);
        items.retain(|e| e.seq >= oldest_kept);
        items.truncate(limit);
        (items, received, received.saturating_sub(kept.min(self.capacity as u64)))
    }

    /// Requests received, and counts by route and status (never dropped).
    pub fn counts(&self) -> (u64, BTreeMap<String, RouteCounts>) {
        let mut all: BTreeMap<String, RouteCounts> = BTreeMap::new();
        for i in 0..SHARDS {
            for (route, c) in &self.lock(i).counts {
                let total = all.entry(route.clone()).or_default();
                total.total += c.total;
                for (status, n) in &c.by_status {
                    *total.by_status.entry(*status).or_default() += n;
                }
            }
        }
        (self.next_seq.load(Ordering::Relaxed), all)
    }

    pub fn reset(&self) {
        for i in 0..SHARDS {
            *self.lock(i) = Shard::default();
        }
        self.next_seq.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(route: &str, status: u16) -> JournalEntry {
        JournalEntry {
            seq: 0,
            received_at: Timestamp::UNIX_EPOCH,
            method: Method::POST,
            path: "/v1/generate".into(),
            query: None,
            route: route.to_owned().into(),
            headers: HeaderLines::default(),
            body_excerpt: Bytes::new(),
            body_bytes: 0,
            status,
            duration_ms: 0.0,
            fault: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_entries_but_counts_all() {
        let j = Journal::new(16);
        for i in 0..40 {
            j.record(entry("POST /generate", if i % 2 == 0 { 200 } else { 500 }));
        }
        let (items, total, dropped) = j.recent(100, None, None);
        assert_eq!(items.iter().map(|e| e.seq).collect::<Vec<_>>(), (24..40).rev().collect::<Vec<_>>());
        assert_eq!((total, dropped), (40, 24));
        let (_, counts) = j.counts();
        assert_eq!(counts["POST /generate"].total, 40);
        assert_eq!(counts["POST /generate"].by_status[&500], 20);
    }

    #[test]
    fn a_capacity_smaller_than_the_shard_count_keeps_exactly_that_many() {
        let j = Journal::new(5);
        for _ in 0..12 {
            j.record(entry("GET /template", 200));
        }
        let (items, total, dropped) = j.recent(100, None, None);
        assert_eq!(items.iter().map(|e| e.seq).collect::<Vec<_>>(), [11, 10, 9, 8, 7]);
        assert_eq!((total, dropped), (12, 7));
    }

    #[test]
    fn filters_and_limit_apply_across_shards() {
        let j = Journal::new(100);
        for i in 0..30 {
            j.record(entry(if i % 3 == 0 { "GET /render" } else { "POST /generate" }, 200));
        }
        let (items, _, _) = j.recent(4, Some("GET /render"), None);
        assert_eq!(items.iter().map(|e| e.seq).collect::<Vec<_>>(), [27, 24, 21, 18]);
    }
}
