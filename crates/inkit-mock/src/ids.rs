//! Inkit-style resource ids: a prefix such as `rend_` followed by 22 base62 characters.

use std::sync::atomic::{AtomicU64, Ordering};

/// The resource kinds that have ids, with Inkit's documented prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Render,
    Document,
    Template,
    Batch,
    Folder,
    /// A CleverTap webhook test request recorded in History (our own prefix: Inkit has no such thing).
    Test,
}

impl IdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Render => "rend_",
            IdKind::Document => "doc_",
            IdKind::Template => "tmpl_",
            IdKind::Batch => "rb_",
            IdKind::Folder => "fold_",
            IdKind::Test => "test_",
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Inkit's ids carry 22 base62 digits after the prefix. We fill them from two 64-bit halves of 11 digits
/// each (62^11 > 2^64), which avoids slow 128-bit division.
const ID_DIGITS: usize = 22;
const HALF_DIGITS: usize = ID_DIGITS / 2;

/// Makes unique ids without locks: a counter mixed through SplitMix64 from a per-process seed.
#[derive(Debug)]
pub struct IdGenerator {
    seed: u64,
    counter: AtomicU64,
}

impl IdGenerator {
    pub fn new(seed: u64) -> Self {
        Self { seed, counter: AtomicU64::new(0) }
    }

    /// Seeds from the wall clock and process id, so ids differ between runs that share a data directory.
    pub fn from_entropy() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self::new(nanos ^ (u64::from(std::process::id()) << 32))
    }

    pub fn next(&self, kind: IdKind) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = splitmix64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let lo = splitmix64(hi ^ n);
        format_id(kind, hi, lo)
    }
}

/// A stable id for a named thing, such as a template loaded from `fixtures/`, so that campaigns can refer
/// to it across runs.
pub fn stable_id(kind: IdKind, name: &str) -> String {
    // FNV-1a, then mixed: stable across platforms and Rust versions, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let hi = splitmix64(h);
    let lo = splitmix64(hi ^ h);
    format_id(kind, hi, lo)
}

fn format_id(kind: IdKind, hi: u64, lo: u64) -> String {
    let mut digits = [b'0'; ID_DIGITS];
    let (first, second) = digits.split_at_mut(HALF_DIGITS);
    for (half, mut value) in [(first, hi), (second, lo)] {
        for d in half.iter_mut().rev() {
            *d = BASE62[(value % 62) as usize];
            value /= 62;
        }
    }
    let mut id = String::with_capacity(kind.prefix().len() + ID_DIGITS);
    id.push_str(kind.prefix());
    // One copy of the digits, rather than a char at a time: ids are made on every request.
    id.push_str(std::str::from_utf8(&digits).expect("base62 digits are ASCII"));
    id
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_prefix_and_22_base62_characters() {
        let ids = IdGenerator::new(7);
        for kind in [IdKind::Render, IdKind::Document, IdKind::Template, IdKind::Batch] {
            let id = ids.next(kind);
            let rest = id.strip_prefix(kind.prefix()).unwrap();
            assert_eq!(rest.len(), 22, "{id}");
            assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
    }

    #[test]
    fn ids_do_not_repeat() {
        let ids = IdGenerator::new(1);
        let set: std::collections::HashSet<_> = (0..100_000).map(|_| ids.next(IdKind::Render)).collect();
        assert_eq!(set.len(), 100_000);
    }

    #[test]
    fn ids_are_what_they_have_always_been() {
        // Template ids derived from file names must not change between versions.
        assert_eq!(stable_id(IdKind::Template, "seed-letter"), "tmpl_0OaihhBefZNJmveeMyS3CD");
        assert_eq!(IdGenerator::new(42).next(IdKind::Render), "rend_GIW3l3UFuMP7XnSR9CdmPE");
    }

    #[test]
    fn stable_ids_depend_only_on_the_name() {
        assert_eq!(stable_id(IdKind::Template, "welcome"), stable_id(IdKind::Template, "welcome"));
        assert_ne!(stable_id(IdKind::Template, "welcome"), stable_id(IdKind::Template, "welcome2"));
    }
}
