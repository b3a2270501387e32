//! Inkit-style resource ids: a prefix such as `rend_` followed by 22 base62 characters.

use std::sync::Arc;
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
/// The longest prefix, `fold_` or `test_`.
const MAX_PREFIX: usize = 5;
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
        Self::new(entropy())
    }

    pub fn next(&self, kind: IdKind) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let hi = splitmix64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let lo = splitmix64(hi ^ n);
        format_id(kind, hi, lo)
    }
}

/// Ids that carry a number: each History entry's id, and its document's, is its `seq` run through a
/// permutation keyed per process, so finding an entry by id is arithmetic instead of a hash map. The map it
/// replaced cost about a twelfth of the mock's CPU under load: every request inserted two 27-byte keys into
/// tables of millions, a cache miss each (docs/benchmarks.md, inkit-mock, "Fifth round").
///
/// The digits are those of [`IdGenerator`]'s ids (two 64-bit halves of 11 digits); the halves are the `seq`
/// and a check word, mixed by a four-round Feistel network whose round keys depend on the kind. So a render id
/// and its document id look unrelated, like random ids, and an id that this key did not make (a typo, an id
/// from an earlier run) fails the check word instead of naming some other entry.
#[derive(Debug, Clone, Copy)]
pub struct SeqIds {
    round_keys: [u64; 4],
    check: u64,
}

impl SeqIds {
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut next = || {
            state = splitmix64(state);
            state
        };
        Self { round_keys: [next(), next(), next(), next()], check: next() }
    }

    /// Keys from the wall clock and process id, so that ids differ between runs.
    pub fn from_entropy() -> Self {
        Self::new(entropy())
    }

    /// The id of kind `kind` for `seq`, made straight into the shared string a History entry keeps.
    pub fn id(&self, kind: IdKind, seq: u64) -> Arc<str> {
        let (mut left, mut right) = (seq, self.check);
        for key in self.keys(kind) {
            (left, right) = (right, left ^ splitmix64(right ^ key));
        }
        let mut id = [0u8; MAX_PREFIX + ID_DIGITS];
        let prefix = kind.prefix().as_bytes();
        id[..prefix.len()].copy_from_slice(prefix);
        id[prefix.len()..prefix.len() + ID_DIGITS].copy_from_slice(&digits(left, right));
        Arc::from(std::str::from_utf8(&id[..prefix.len() + ID_DIGITS]).expect("a prefix and base62 digits are ASCII"))
    }

    /// The `seq` that [`Self::id`] made `id` from, if it did make it (same kind, same key).
    pub fn seq(&self, kind: IdKind, id: &str) -> Option<u64> {
        let digits = id.strip_prefix(kind.prefix())?.as_bytes();
        if digits.len() != ID_DIGITS {
            return None;
        }
        let (mut left, mut right) = (parse_half(&digits[..HALF_DIGITS])?, parse_half(&digits[HALF_DIGITS..])?);
        for key in self.keys(kind).into_iter().rev() {
            (left, right) = (right ^ splitmix64(left ^ key), left);
        }
        (right == self.check).then_some(left)
    }

    fn keys(&self, kind: IdKind) -> [u64; 4] {
        let salt = splitmix64(kind as u64);
        self.round_keys.map(|k| k ^ salt)
    }
}

/// 11 base62 digits as a number, if they are digits and the number fits in 64 bits.
fn parse_half(digits: &[u8]) -> Option<u64> {
    // The first 10 digits cannot overflow (62^10 < 2^64); only the last step is checked.
    let (last, first) = digits.split_last()?;
    let mut value = 0u64;
    for &d in first {
        value = value * 62 + u64::from(digit_value(d)?);
    }
    value.checked_mul(62)?.checked_add(u64::from(digit_value(*last)?))
}

/// The value of a base62 digit, if `d` is one.
fn digit_value(d: u8) -> Option<u8> {
    const VALUES: [u8; 256] = {
        let mut values = [u8::MAX; 256];
        let mut i = 0;
        while i < BASE62.len() {
            values[BASE62[i] as usize] = i as u8;
            i += 1;
        }
        values
    };
    let v = VALUES[usize::from(d)];
    (v != u8::MAX).then_some(v)
}

fn entropy() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    nanos ^ (u64::from(std::process::id()) << 32)
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
    let mut id = String::with_capacity(kind.prefix().len() + ID_DIGITS);
    id.push_str(kind.prefix());
    // One copy of the digits, rather than a char at a time: ids are made on every request.
    id.push_str(std::str::from_utf8(&digits(hi, lo)).expect("base62 digits are ASCII"));
    id
}

/// The 22 digits of an id: 11 for each half.
fn digits(hi: u64, lo: u64) -> [u8; ID_DIGITS] {
    let mut digits = [b'0'; ID_DIGITS];
    let (first, second) = digits.split_at_mut(HALF_DIGITS);
    for (half, mut value) in [(first, hi), (second, lo)] {
        for d in half.iter_mut().rev() {
            *d = BASE62[(value % 62) as usize];
            value /= 62;
        }
    }
    digits
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
    fn a_seq_id_gives_back_its_seq() {
        let ids = SeqIds::new(9);
        for seq in [0, 1, 2, 1_000_000, u64::MAX] {
            for kind in [IdKind::Render, IdKind::Document, IdKind::Test] {
                let id = ids.id(kind, seq);
                let digits = id.strip_prefix(kind.prefix()).unwrap();
                assert_eq!(digits.len(), 22, "{id}");
                assert!(digits.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
                assert_eq!(ids.seq(kind, &id), Some(seq), "{id}");
            }
        }
    }

    #[test]
    fn a_seq_id_is_not_read_as_another_kind_or_under_another_key() {
        let (ids, other) = (SeqIds::new(9), SeqIds::new(10));
        let render = ids.id(IdKind::Render, 5);
        let document = ids.id(IdKind::Document, 5);
        assert_eq!(
            ids.seq(IdKind::Render, &document.replace("doc_", "rend_")),
            None,
            "a document's digits are no render's"
        );
        assert_eq!(ids.seq(IdKind::Document, &render), None, "wrong prefix");
        assert_eq!(other.seq(IdKind::Render, &render), None, "another run's key");
        assert_eq!(ids.seq(IdKind::Render, &IdGenerator::new(1).next(IdKind::Render)), None, "a random id");
    }

    #[test]
    fn malformed_ids_have_no_seq() {
        let ids = SeqIds::new(9);
        let good = ids.id(IdKind::Render, 77);
        for bad in [
            "",
            "rend_",
            "rend_short",
            &good[..good.len() - 1],
            &format!("{good}x"),
            &format!("rend_-{}", &good[6..]),
            "rend_zzzzzzzzzzzzzzzzzzzzzz", // both halves overflow 64 bits
            "rend_ééééééééééé",
        ] {
            assert_eq!(ids.seq(IdKind::Render, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn neighbouring_seqs_make_unrelated_ids() {
        let ids = SeqIds::new(3);
        let (a, b) = (ids.id(IdKind::Render, 1000), ids.id(IdKind::Render, 1001));
        let same = a.bytes().zip(b.bytes()).skip(5).filter(|(x, y)| x == y).count();
        assert!(same <= 4, "{a} and {b} share {same} of 22 digits");
        assert_ne!(ids.id(IdKind::Render, 1000)[5..], ids.id(IdKind::Document, 1000)[4..]);
    }

    #[test]
    fn stable_ids_depend_only_on_the_name() {
        assert_eq!(stable_id(IdKind::Template, "welcome"), stable_id(IdKind::Template, "welcome"));
        assert_ne!(stable_id(IdKind::Template, "welcome"), stable_id(IdKind::Template, "welcome2"));
    }
}
