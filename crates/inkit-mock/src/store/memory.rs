//! The memory backend: keeps nothing beyond the in-memory index (`--in-memory`, and most tests).

use super::{Backend, Record, Snapshot, StoreError};

#[derive(Debug, Default)]
pub struct MemoryBackend;

impl Backend for MemoryBackend {
    fn is_durable(&self) -> bool {
        false
    }

    fn load(&mut self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    fn write(&mut self, _records: &[Record]) -> Result<(), StoreError> {
        Ok(())
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
