//! Collections that grow without stopping the world: History keeps every entry, and a `Vec` or `HashMap`
//! of a million entries that doubles copies or rehashes all of them at once, while every request waits
//! (300 ms at a million entries: wrk's p99 jumped from 5 ms to 280 ms in the seconds History crossed a
//! power of two; docs/benchmarks.md). These grow a small piece at a time.

mod chunked_vec;
mod seq_slots;
mod sharded_map;

pub use chunked_vec::ChunkedVec;
pub use seq_slots::SeqSlots;
pub use sharded_map::ShardedMap;
