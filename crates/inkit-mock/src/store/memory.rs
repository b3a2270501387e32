//! The memory backend: keeps nothing beyond the in-memory index (`--in-memory`, and most tests).

use super::{Appender, Backend, ClearNow, Record, Snapshot, StoreError};

#[derive(Debug, Default)]
pub struct MemoryBackend;

impl Backend for MemoryBackend {
    fn is_durable(&self) -> bool {
        false
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    fn appender(&self) -> Result<Box<dyn Appender>, StoreError> {
        Ok(Box::new(MemoryBackend))
    }

    fn clear(&self) -> Result<ClearNow<'_>, StoreError> {
        Ok(Box::new(|| Ok(())))
    }
}

impl Appender for MemoryBackend {
    fn write(&mut self, _records: &[Record]) -> Result<(), StoreError> {
        Ok(())
    }
}
