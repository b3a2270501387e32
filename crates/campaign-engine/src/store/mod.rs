//! Where profiles and events live. Today one backend, in memory (`memory.rs`); the SQLite backend that
//! `--data-dir` needs comes with the engine API, behind a trait with the same operations.

mod memory;

pub use memory::MemoryStore;
