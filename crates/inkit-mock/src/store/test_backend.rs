//! A durable backend for tests that keeps nothing: it counts what it is given, and can take its time, fail
//! as a full disk would, and wait at a gate before its first write.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Appender, Backend, ClearNow, Record, Snapshot, StoreError};

#[derive(Clone, Default)]
pub(crate) struct TestBackend {
    /// Records written.
    pub written: Arc<AtomicUsize>,
    /// Writes that succeeded.
    pub commits: Arc<AtomicUsize>,
    delay: Duration,
    /// Writes still to fail; `usize::MAX` fails them all.
    failures: Arc<AtomicUsize>,
    gate: Arc<Mutex<Option<Receiver<()>>>>,
    /// Where a reset's preparation waits, as the SQLite backend's waits for the ingest thread's pass.
    clear_gate: Arc<Mutex<Option<Receiver<()>>>>,
}

impl TestBackend {
    /// Each write takes 20 ms, so that requests gather while it commits.
    pub fn slow() -> Self {
        Self { delay: Duration::from_millis(20), ..Self::default() }
    }

    /// Every write fails.
    pub fn failing() -> Self {
        Self { failures: Arc::new(AtomicUsize::new(usize::MAX)), ..Self::default() }
    }

    /// The first write fails, later ones succeed.
    pub fn failing_first() -> Self {
        Self { failures: Arc::new(AtomicUsize::new(1)), ..Self::default() }
    }

    /// The first write waits until `gate` receives (or closes).
    pub fn gated(self, gate: Receiver<()>) -> Self {
        Self { gate: Arc::new(Mutex::new(Some(gate))), ..self }
    }

    /// A reset's preparation waits until `gate` receives (or closes).
    pub fn clear_gated(self, gate: Receiver<()>) -> Self {
        Self { clear_gate: Arc::new(Mutex::new(Some(gate))), ..self }
    }

    /// Whether a write has reached the gate (and waits there, until it opens).
    pub fn gate_taken(&self) -> bool {
        self.gate.lock().unwrap_or_else(|p| p.into_inner()).is_none()
    }
}

impl Backend for TestBackend {
    fn is_durable(&self) -> bool {
        true
    }

    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    fn appender(&self) -> Result<Box<dyn Appender>, StoreError> {
        Ok(Box::new(self.clone()))
    }

    fn clear(&self) -> Result<ClearNow<'_>, StoreError> {
        let gate = self.clear_gate.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(gate) = gate {
            let _ = gate.recv();
        }
        Ok(Box::new(|| Ok(())))
    }
}

impl Appender for TestBackend {
    fn write(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(gate) = gate {
            let _ = gate.recv();
        }
        std::thread::sleep(self.delay);
        let fails = self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
            0 => None,
            usize::MAX => Some(usize::MAX),
            n => Some(n - 1),
        });
        if fails.is_ok() {
            return Err(StoreError::Write("disk full".into()));
        }
        self.written.fetch_add(records.len(), Ordering::SeqCst);
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
