//! The mock's state and the operations the routes perform on it: templates, History entries and batches
//! indexed in memory, every change written through the store before it is acknowledged.

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use foldhash::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use clock::{Clock, Timestamp};
use serde_json::{Map, Value};

use crate::batch::Batch;
use crate::config::{ApiToken, MockConfig, Storage};
use crate::error::ApiError;
use crate::faults::Faults;
use crate::growth::{ChunkedVec, ShardedMap};
use crate::history::{EntryKind, HistoryEntry};
use crate::history_index::HistoryIndex;
use crate::ids::{IdGenerator, IdKind, SeqIds, stable_id};
use crate::journal::Journal;
use crate::merge_parameters::MergeParameters;
use crate::store::{AfterCommit, Backend, MemoryBackend, Record, SqliteBackend, StoreError, Writer};
use crate::template::{NewTemplate, Template};

/// Why the mock could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot create the data directory {path}")]
    DataDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Templates(#[from] crate::template::TemplateFileError),
    #[error("invalid fault plan: {0}")]
    Faults(#[from] crate::faults::PlanError),
    #[error("no API token is configured; give at least one NAME=TOKEN")]
    NoTokens,
}

/// A render to create, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRender {
    pub template_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub merge_parameters: MergeParameters,
    pub destinations: Option<Value>,
}

/// Who made a request and the headers worth keeping.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Shared with the token's configuration and every History entry the token made.
    pub token_name: Arc<str>,
    /// The route as called, e.g. `POST /v1/generate`.
    pub route: Arc<str>,
    pub headers: BTreeMap<String, String>,
}

impl Caller {
    fn idempotency_key(&self) -> Option<String> {
        self.headers.get("idempotency-key").cloned()
    }
}

/// An `Idempotency-Key` claimed for a request's first entry, before its commit. Dropped without
/// [`Claim::keep`] (the change was never applied), it gives the key back, so that a retry is not marked a
/// duplicate of an entry that was never stored.
struct Claim {
    data: Arc<RwLock<Data>>,
    key: Option<String>,
    id: Arc<str>,
}

impl Claim {
    fn keep(mut self) {
        self.key = None;
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut data = self.data.write().unwrap_or_else(|p| p.into_inner());
        if data.idempotency.get(&key).is_some_and(|id| *id == self.id) {
            data.idempotency.remove(&key);
        }
    }
}

/// Items addressed by id, in insertion order.
#[derive(Debug)]
struct ById<T> {
    items: ChunkedVec<Arc<T>>,
    index: ShardedMap<Arc<str>, usize>,
}

impl<T> Default for ById<T> {
    fn default() -> Self {
        Self { items: ChunkedVec::default(), index: ShardedMap::default() }
    }
}

impl<T> ById<T> {
    fn get(&self, id: &str) -> Option<&Arc<T>> {
        self.index.get(id).map(|&i| &self.items[i])
    }

    fn upsert(&mut self, id: Arc<str>, item: Arc<T>) {
        match self.index.entry(id) {
            Entry::Occupied(at) => self.items[*at.get()] = item,
            Entry::Vacant(at) => {
                at.insert(self.items.len());
                self.items.push(item);
            }
        }
    }
}

/// Templates, apart from History: every request reads them, and a lock of their own means those reads
/// never wait for a History commit, which takes the History's lock for every entry it applies.
type Templates = Arc<RwLock<ById<Template>>>;

#[derive(Debug)]
struct Data {
    entries: HistoryIndex,
    batches: ById<Batch>,
    /// First entry id for each `Idempotency-Key` seen.
    idempotency: ShardedMap<String, Arc<str>>,
}

impl Data {
    fn new(ids: SeqIds) -> Self {
        Self { entries: HistoryIndex::new(ids), batches: ById::default(), idempotency: ShardedMap::default() }
    }

    /// Adds or replaces an entry; gives back a different entry that had its `seq` (a damaged store).
    fn insert_entry(&mut self, entry: Arc<HistoryEntry>) -> Option<Arc<HistoryEntry>> {
        if let Some(key) = &entry.idempotency_key {
            self.idempotency.entry(key.clone()).or_insert_with(|| entry.id.clone());
        }
        self.entries.insert(entry)
    }
}

/// The mock's shared state.
pub struct Inkit {
    pub config: MockConfig,
    pub clock: Arc<dyn Clock>,
    pub journal: Journal,
    pub faults: Faults,
    ids: IdGenerator,
    /// Makes History entries' ids, which carry their `seq`.
    entry_ids: SeqIds,
    next_seq: AtomicU64,
    /// Tokens by value, to their names.
    tokens: HashMap<String, Arc<str>>,
    default_folder: Arc<str>,
    /// Shared with the History commits (`store::Writer`), which apply each change here once it is durable.
    data: Arc<RwLock<Data>>,
    /// Likewise.
    templates: Templates,
    pub(crate) writer: Writer,
}

impl std::fmt::Debug for Inkit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inkit").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Inkit {
    /// Opens the store, loads what it holds and the template files, and is ready to serve.
    pub fn open(config: MockConfig, clock: Arc<dyn Clock>) -> Result<Arc<Self>, StartError> {
        if config.tokens.is_empty() {
            return Err(StartError::NoTokens);
        }
        let backend: Box<dyn Backend> = match &config.storage {
            Storage::Memory => Box::new(MemoryBackend),
            Storage::DataDir(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|source| StartError::DataDir { path: dir.display().to_string(), source })?;
                Box::new(SqliteBackend::open(dir, config.history_sync)?)
            }
        };
        Self::open_on(config, clock, backend)
    }

    /// [`Inkit::open`] on a backend of the caller's choosing.
    fn open_on(config: MockConfig, clock: Arc<dyn Clock>, backend: Box<dyn Backend>) -> Result<Arc<Self>, StartError> {
        let snapshot = backend.load()?;
        let entry_ids = SeqIds::from_entropy();
        let mut data = Data::new(entry_ids);
        let mut templates = ById::default();
        let mut next_seq = 0;
        for mut t in snapshot.templates {
            t.prepare();
            templates.upsert(t.id.as_str().into(), Arc::new(t));
        }
        let mut entries = snapshot.entries;
        entries.sort_by_key(|e| e.seq);
        for e in entries {
            next_seq = next_seq.max(e.seq.saturating_add(1));
            let (id, seq) = (e.id.clone(), e.seq);
            if let Some(hidden) = data.insert_entry(Arc::new(e)) {
                eprintln!(
                    "inkit-mock: warning: History entries {} and {id} were stored with the same number {seq}; only \
                     the later, {id}, is shown",
                    hidden.id
                );
            }
        }
        for b in snapshot.batches {
            next_seq = next_seq.max(b.seq.saturating_add(1));
            data.batches.upsert(b.id.as_str().into(), Arc::new(b));
        }
        if let Some(dir) = &config.templates_dir {
            for t in crate::template::load_dir(dir, clock.now())? {
                templates.upsert(t.id.as_str().into(), Arc::new(t));
            }
        }
        let faults = Faults::new(config.faults.clone())?;
        let tokens =
            config.tokens.iter().map(|ApiToken { name, token }| (token.clone(), name.as_str().into())).collect();
        Ok(Arc::new(Self {
            journal: Journal::new(config.journal_capacity),
            faults,
            ids: IdGenerator::from_entropy(),
            entry_ids,
            next_seq: AtomicU64::new(next_seq),
            tokens,
            default_folder: stable_id(IdKind::Folder, "inkit-storage").into(),
            data: Arc::new(RwLock::new(data)),
            templates: Arc::new(RwLock::new(templates)),
            writer: Writer::start(backend),
            config,
            clock,
        }))
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The name of the token, if it is one we know.
    pub fn token_name(&self, token: &str) -> Option<&Arc<str>> {
        self.tokens.get(token)
    }

    pub fn default_folder(&self) -> &str {
        &self.default_folder
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Data> {
        self.data.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Data> {
        self.data.write().unwrap_or_else(|p| p.into_inner())
    }

    fn seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes the records `make` builds, then applies `apply` to the in-memory state, and returns once
    /// both are done. The change is visible only once it is durable, and it is applied even if the request
    /// is dropped while waiting. With the memory backend the records are not even built.
    async fn persist(
        &self,
        make: impl FnOnce() -> Vec<Record>,
        apply: impl FnOnce(&mut Data) + Send + 'static,
    ) -> Result<(), ApiError> {
        let data = self.data.clone();
        self.persist_then(make, Box::new(move || apply(&mut data.write().unwrap_or_else(|p| p.into_inner())))).await
    }

    /// [`Self::persist`], with `after` run once the records are written.
    async fn persist_then(&self, make: impl FnOnce() -> Vec<Record>, after: AfterCommit) -> Result<(), ApiError> {
        let records = if self.writer.is_durable() { make() } else { Vec::new() };
        self.writer.write(records, after).await.map_err(|e| ApiError::internal(format!("{e}; nothing was stored")))
    }

    // --- templates ---

    pub async fn create_template(&self, fields: NewTemplate, caller: &Caller) -> Result<Arc<Template>, ApiError> {
        let t =
            Arc::new(Template::new(fields, self.ids.next(IdKind::Template), self.now(), caller.token_name.to_string()));
        let (stored, templates) = (t.clone(), self.templates.clone());
        let after = Box::new(move || {
            templates.write().unwrap_or_else(|p| p.into_inner()).upsert(stored.id.as_str().into(), stored);
        });
        self.persist_then(|| vec![Record::template(&t)], after).await?;
        Ok(t)
    }

    pub fn template(&self, id: &str) -> Option<Arc<Template>> {
        self.templates.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    pub fn templates(&self) -> Vec<Arc<Template>> {
        self.templates.read().unwrap_or_else(|p| p.into_inner()).items.to_vec()
    }

    // --- renders and History ---

    /// Records renders (one for generate/render, many for a batch) in History, all or none.
    pub async fn accept_renders(
        &self,
        renders: Vec<NewRender>,
        batch_name: Option<Option<String>>,
        caller: &Caller,
    ) -> Result<(Vec<Arc<HistoryEntry>>, Option<Arc<Batch>>), ApiError> {
        let now = self.now();
        let ready_at = now + self.config.processing_delay;
        let mut entries = Vec::with_capacity(renders.len());
        let mut batch = batch_name.map(|name| Batch {
            seq: self.seq(),
            id: self.ids.next(IdKind::Batch),
            name,
            template_id: renders.first().map(|r| r.template_id.clone()).unwrap_or_default(),
            render_ids: Vec::with_capacity(renders.len()),
            created_at: now,
            created_by: caller.token_name.to_string(),
        });
        for r in renders {
            let template = self.template(&r.template_id).ok_or_else(|| {
                let mut e = ApiError::unknown("template", &r.template_id);
                e.field = Some("template_id".into());
                e
            })?;
            let warnings = template.merge_template().warnings(&r.merge_parameters);
            let folder_id = match r
                .destinations
                .as_ref()
                .and_then(|d| d.get("inkit_storage"))
                .and_then(|s| s.get("folder_id"))
                .and_then(Value::as_str)
            {
                Some(folder) => folder.into(),
                None => self.default_folder.clone(),
            };
            let seq = self.seq();
            let id = self.entry_ids.id(IdKind::Render, seq);
            if let Some(b) = &mut batch {
                b.render_ids.push(id.to_string());
            }
            let (template_id, template_name) = template.shared_id_and_name();
            entries.push(HistoryEntry {
                seq,
                id,
                document_id: Some(self.entry_ids.id(IdKind::Document, seq)),
                kind: EntryKind::Render,
                route: caller.route.clone(),
                batch_id: batch.as_ref().map(|b| b.id.clone()),
                template_id: Some(template_id),
                template_name: Some(template_name),
                name: r.name,
                description: r.description,
                merge_parameters: r.merge_parameters,
                destinations: r.destinations,
                folder_id,
                warnings,
                created_at: now,
                ready_at,
                created_by: caller.token_name.clone(),
                request_headers: caller.headers.clone(),
                idempotency_key: caller.idempotency_key(),
                duplicate_of: None,
                test_body: None,
                deleted_at: None,
            });
        }
        self.commit_entries(entries, batch).await
    }

    /// Records a CleverTap webhook test request.
    pub async fn accept_test(&self, body: Map<String, Value>, caller: &Caller) -> Result<Arc<HistoryEntry>, ApiError> {
        let now = self.now();
        let seq = self.seq();
        let entry = HistoryEntry {
            seq,
            id: self.entry_ids.id(IdKind::Test, seq),
            document_id: None,
            kind: EntryKind::Test,
            route: caller.route.clone(),
            batch_id: None,
            template_id: None,
            template_name: None,
            name: Some("CleverTap webhook test request".into()),
            description: None,
            merge_parameters: MergeParameters::default(),
            destinations: None,
            folder_id: self.default_folder.clone(),
            warnings: Vec::new(),
            created_at: now,
            ready_at: now,
            created_by: caller.token_name.clone(),
            request_headers: caller.headers.clone(),
            idempotency_key: caller.idempotency_key(),
            duplicate_of: None,
            test_body: Some(Value::Object(body)),
            deleted_at: None,
        };
        let (mut entries, _) = self.commit_entries(vec![entry], None).await?;
        Ok(entries.remove(0))
    }

    async fn commit_entries(
        &self,
        mut entries: Vec<HistoryEntry>,
        batch: Option<Batch>,
    ) -> Result<(Vec<Arc<HistoryEntry>>, Option<Arc<Batch>>), ApiError> {
        // Mark retries: an entry whose key an earlier request carried. The items of one request (a batch)
        // share its key but are different documents, not retries of each other. Keys are claimed before the
        // write so that of two concurrent requests with one key, exactly one is first.
        let mut claim = None;
        if let Some(key) = entries.first().and_then(|e| e.idempotency_key.clone()) {
            let mut data = self.write();
            match data.idempotency.get(&key) {
                Some(first) => {
                    let first = first.clone();
                    for e in &mut entries {
                        e.duplicate_of = Some(first.to_string());
                    }
                }
                None => {
                    data.idempotency.insert(key.clone(), entries[0].id.clone());
                    claim = Some(Claim { data: self.data.clone(), key: Some(key), id: entries[0].id.clone() });
                }
            }
        }
        let entries: Vec<Arc<HistoryEntry>> = entries.into_iter().map(Arc::new).collect();
        let batch = batch.map(Arc::new);
        let records = || {
            let mut records: Vec<Record> = entries.iter().map(|e| Record::entry(e)).collect();
            records.extend(batch.as_deref().map(Record::batch));
            records
        };
        let (new_entries, new_batch) = (entries.clone(), batch.clone());
        // The claim goes with the change: kept if the change is applied (it was stored), given back if the
        // change is dropped unapplied, even when the request itself was dropped before its commit failed.
        let apply = move |data: &mut Data| {
            if let Some(claim) = claim {
                claim.keep();
            }
            for e in new_entries {
                data.insert_entry(e);
            }
            if let Some(b) = new_batch {
                data.batches.upsert(b.id.as_str().into(), b);
            }
        };
        self.persist(records, apply).await?;
        Ok((entries, batch))
    }

    /// Any History entry by id (render or test), deleted ones included.
    pub fn entry(&self, id: &str) -> Option<Arc<HistoryEntry>> {
        self.read().entries.get(id).cloned()
    }

    /// A render that has not been deleted.
    pub fn live_render(&self, id: &str) -> Result<Arc<HistoryEntry>, ApiError> {
        self.entry(id).filter(|e| e.is_live_render()).ok_or_else(|| ApiError::unknown("render", id))
    }

    /// The render behind a document that has not been deleted.
    pub fn live_document(&self, document_id: &str) -> Result<Arc<HistoryEntry>, ApiError> {
        let data = self.read();
        data.entries
            .by_document(document_id)
            .filter(|e| e.is_live_render())
            .cloned()
            .ok_or_else(|| ApiError::unknown("document", document_id))
    }

    /// Deletes a render's document and PDF. The entry stays in History, marked deleted, so the record of
    /// what was generated is not lost.
    pub async fn delete(&self, entry: &HistoryEntry) -> Result<(), ApiError> {
        let mut deleted = entry.clone();
        deleted.deleted_at = Some(self.now());
        let deleted = Arc::new(deleted);
        let stored = deleted.clone();
        self.persist(
            || vec![Record::entry(&deleted)],
            move |data| {
                data.insert_entry(stored);
            },
        )
        .await
    }

    /// Entries matching `keep`, in order of acceptance.
    pub fn entries_where(&self, keep: impl Fn(&HistoryEntry) -> bool) -> Vec<Arc<HistoryEntry>> {
        self.read().entries.iter().filter(|e| keep(e)).cloned().collect()
    }

    /// The entries stored after the first `from` in the order they were stored (which is not quite the order
    /// of acceptance: requests on two server threads commit in either order), and the count to pass next time.
    /// A reset starts the count again.
    pub fn entries_stored_since(&self, from: usize) -> (Vec<Arc<HistoryEntry>>, usize) {
        let data = self.read();
        let entries: Vec<Arc<HistoryEntry>> = data.entries.applied_since(from).cloned().collect();
        (entries, data.entries.applied_count())
    }

    pub fn entry_count(&self) -> usize {
        self.read().entries.len()
    }

    pub fn batch(&self, id: &str) -> Option<Arc<Batch>> {
        self.read().batches.get(id).cloned()
    }

    pub fn batches(&self) -> Vec<Arc<Batch>> {
        self.read().batches.items.to_vec()
    }

    /// A batch as the API shows it, counting its renders' statuses now.
    pub fn batch_json(&self, batch: &Batch) -> Value {
        let data = self.read();
        let now = self.now();
        batch.to_json(batch.render_ids.iter().filter_map(|id| data.entries.get(id).map(|e| &**e)), now)
    }

    /// Folder ids in use: the default folder and every `inkit_storage.folder_id` given.
    pub fn folder_ids(&self) -> Vec<String> {
        let data = self.read();
        let mut ids: Vec<&Arc<str>> = vec![&self.default_folder];
        for e in data.entries.iter() {
            if !ids.contains(&&e.folder_id) {
                ids.push(&e.folder_id);
            }
        }
        ids.into_iter().map(|id| id.to_string()).collect()
    }

    /// Forgets all History entries and batches (templates stay): the admin reset.
    pub async fn clear_history(&self) -> Result<(), ApiError> {
        let data = self.data.clone();
        let forget = Box::new(move || {
            let mut data = data.write().unwrap_or_else(|p| p.into_inner());
            *data = Data::new(data.entries.ids());
        });
        self.writer.clear(forget).await.map_err(|e| ApiError::internal(e.to_string()))?;
        // The backend forgot templates too; write API-created ones back so they survive a restart.
        let templates = self.templates();
        let records = || templates.iter().filter(|t| !t.from_file).map(|t| Record::template(t)).collect();
        self.persist_then(records, Box::new(|| {})).await
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::store::test_backend::TestBackend;

    fn caller_with_key(key: &str) -> Caller {
        Caller {
            token_name: "default".into(),
            route: "POST /generate".into(),
            headers: BTreeMap::from([("idempotency-key".to_owned(), key.to_owned())]),
        }
    }

    #[tokio::test]
    async fn a_key_whose_first_request_was_not_stored_marks_its_retry_no_duplicate() {
        // arrange
        let inkit =
            Inkit::open_on(MockConfig::default(), clock::system(), Box::new(TestBackend::failing_first())).unwrap();
        let caller = caller_with_key("key-1");

        // act
        let first = inkit.accept_test(Map::new(), &caller).await;
        let retry = inkit.accept_test(Map::new(), &caller).await.expect("stored");
        let again = inkit.accept_test(Map::new(), &caller).await.expect("stored");

        // assert
        assert!(first.is_err(), "the first write failed");
        assert_eq!(retry.duplicate_of, None, "the failed request's claim was given back");
        assert_eq!(again.duplicate_of.as_deref(), Some(&*retry.id), "the stored one is the first now");
    }

    #[tokio::test]
    async fn a_key_whose_request_was_dropped_before_its_commit_failed_is_given_back() {
        // arrange: this thread commits its own writes, as a server thread does; the first commit fails
        let inkit =
            Inkit::open_on(MockConfig::default(), clock::system(), Box::new(TestBackend::failing_first())).unwrap();
        tokio::spawn(inkit.writer.commit_on_this_thread());
        let caller = caller_with_key("key-2");

        // act: the request gives up while its commit waits (its client hung up), then the commit fails
        {
            let mut request = std::pin::pin!(inkit.accept_test(Map::new(), &caller));
            let first = std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
            assert!(first.is_pending(), "the write waits for the thread's commit");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let retry = inkit.accept_test(Map::new(), &caller).await.expect("stored");

        // assert
        assert_eq!(retry.duplicate_of, None, "the dropped request's claim was given back when its commit failed");
        assert_eq!(inkit.entry_count(), 1, "only the retry is in History");
    }
}
