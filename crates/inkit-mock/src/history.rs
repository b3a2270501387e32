//! A History entry: one accepted generate, render, batch item or CleverTap test request, and the ways the
//! API shows it (as a render, as a document, as a History row).

use std::collections::BTreeMap;
use std::sync::Arc;

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::merge::Warning;
use crate::merge_parameters::MergeParameters;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A document generated from a template.
    Render,
    /// A CleverTap webhook test request (`{"is_test": true, …}`), recorded so a webhook can be saved.
    Test,
}

/// The status a person sees. It is derived from times, never stored, so it is always current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InProgress,
    Completed,
    Deleted,
    Test,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Deleted => "deleted",
            Status::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s.to_ascii_lowercase().as_str() {
            "in_progress" | "in progress" | "processing" => Some(Status::InProgress),
            "completed" => Some(Status::Completed),
            "deleted" => Some(Status::Deleted),
            "test" => Some(Status::Test),
            _ => None,
        }
    }
}

/// Stored as JSON (see `store/`); empty fields are left out of the stored form, which halves a typical
/// entry and the bytes each History commit writes. Ids and the names many entries share (route,
/// template, folder, token) are `Arc<str>`: the in-memory indexes and the entries of one template share one
/// copy rather than allocating their own on every request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Order of acceptance; ties in `created_at` sort by it.
    pub seq: u64,
    /// `rend_…` for renders, `test_…` for test requests.
    pub id: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<Arc<str>>,
    pub kind: EntryKind,
    /// The route as called, e.g. `POST /v1/generate` or `POST /render`.
    pub route: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "MergeParameters::is_empty")]
    pub merge_parameters: MergeParameters,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Value>,
    pub folder_id: Arc<str>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    #[serde(serialize_with = "crate::store::time::serialize")]
    pub created_at: Timestamp,
    /// When processing finishes; before it the PDF routes answer 404, as the SDKs expect.
    #[serde(serialize_with = "crate::store::time::serialize")]
    pub ready_at: Timestamp,
    /// The name of the API token that made the request.
    pub created_by: Arc<str>,
    /// The request headers of interest (idempotency key, request and trace ids), lower-cased names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Set when an earlier entry had the same `Idempotency-Key`: this entry is a retry's copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// The whole body of a test request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "crate::store::time::serialize_opt")]
    pub deleted_at: Option<Timestamp>,
}

#[cfg(test)]
impl HistoryEntry {
    /// An entry with its required fields only, every optional one empty, for tests.
    pub fn required_only(seq: u64, id: &str, kind: EntryKind, at: Timestamp) -> Self {
        Self {
            seq,
            id: id.into(),
            document_id: None,
            kind,
            route: "POST /v1/generate".into(),
            batch_id: None,
            template_id: None,
            template_name: None,
            name: None,
            description: None,
            merge_parameters: MergeParameters::default(),
            destinations: None,
            folder_id: "fold_x".into(),
            warnings: Vec::new(),
            created_at: at,
            ready_at: at,
            created_by: "default".into(),
            request_headers: BTreeMap::new(),
            idempotency_key: None,
            duplicate_of: None,
            test_body: None,
            deleted_at: None,
        }
    }
}

impl HistoryEntry {
    pub fn status(&self, now: Timestamp) -> Status {
        if self.deleted_at.is_some() {
            Status::Deleted
        } else if self.kind == EntryKind::Test {
            Status::Test
        } else if now >= self.ready_at {
            Status::Completed
        } else {
            Status::InProgress
        }
    }

    pub fn is_live_render(&self) -> bool {
        self.kind == EntryKind::Render && self.deleted_at.is_none()
    }

    /// The name its document shows: `destinations.inkit_storage.name` when given, else the render's name.
    pub fn document_name(&self) -> Option<&str> {
        self.destinations
            .as_ref()
            .and_then(|d| d.get("inkit_storage"))
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .or(self.name.as_deref())
    }

    /// Whether the entry contains `needle` (already lower-cased) in an id, a name, the template name or a
    /// merge parameter.
    pub fn matches_text(&self, needle: &str) -> bool {
        let has = |s: &str| s.to_lowercase().contains(needle);
        has(&self.id)
            || self.document_id.as_deref().is_some_and(has)
            || self.name.as_deref().is_some_and(has)
            || self.document_name().is_some_and(has)
            || self.description.as_deref().is_some_and(has)
            || self.template_id.as_deref().is_some_and(has)
            || self.template_name.as_deref().is_some_and(has)
            || self.duplicate_of.as_deref().is_some_and(has)
            || self.request_headers.values().any(|v| has(v))
            || self.merge_parameters.to_map().iter().any(|(k, v)| {
                has(k)
                    || match v {
                        Value::String(s) => has(s),
                        other => has(&other.to_string()),
                    }
            })
    }

    fn created_by_json(&self) -> Value {
        json!({"first_name": null, "last_name": null, "name": self.created_by})
    }

    fn storage_option(&self, key: &str) -> Value {
        self.destinations
            .as_ref()
            .and_then(|d| d.get("inkit_storage"))
            .and_then(|s| s.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// The render as `GET /render/{id}` shows it (the fields of the Go SDK's render schema, and more).
    pub fn render_json(&self, now: Timestamp) -> Value {
        let created_at = clock::rfc3339(self.created_at);
        let status = self.status(now);
        let updated_at = if status == Status::Completed { clock::rfc3339(self.ready_at) } else { created_at.clone() };
        json!({
            "id": self.id,
            "document_id": self.document_id,
            "name": self.name.clone().unwrap_or_default(),
            "description": self.description,
            "html": "",
            "template_id": self.template_id,
            "folder_id": self.folder_id,
            "batch_id": self.batch_id,
            "status": status.as_str(),
            "width": 8.5, "height": 11.0, "unit": "in",
            "merge_parameters": self.merge_parameters,
            "destinations": self.destinations,
            "pdf_url": format!("/v1/render/{}/pdf", self.id),
            "html_url": "",
            "expire_after_n_views": self.storage_option("expire_after_n_views"),
            "expire_at": null,
            "created_at": created_at,
            "updated_at": updated_at,
            "created_by": self.created_by_json(),
        })
    }

    /// The document as `GET /document/{id}` shows it.
    pub fn document_json(&self, now: Timestamp) -> Value {
        let created_at = clock::rfc3339(self.created_at);
        json!({
            "id": self.document_id,
            "name": self.document_name().unwrap_or_default(),
            "description": self.description,
            "render_id": self.id,
            "folder_id": self.folder_id,
            "status": self.status(now).as_str(),
            "created_at": created_at,
            "modified_at": created_at,
            "created_by": self.created_by_json(),
            "expire_after_n_views": self.storage_option("expire_after_n_views"),
            "expire_at": null,
            "expire_views_left": null,
            "overridden_fields": null,
        })
    }

    /// The full History row, as the admin API and dashboard show it.
    pub fn history_json(&self, now: Timestamp) -> Value {
        let status = self.status(now);
        json!({
            "id": self.id,
            "document_id": self.document_id,
            "kind": self.kind,
            "route": self.route,
            "batch_id": self.batch_id,
            "template_id": self.template_id,
            "template_name": self.template_name,
            "name": self.name,
            "description": self.description,
            "merge_parameters": self.merge_parameters,
            "destinations": self.destinations,
            "folder_id": self.folder_id,
            "status": status.as_str(),
            "warnings": self.warnings,
            "created_at": clock::rfc3339(self.created_at),
            "completed_at": (status == Status::Completed).then(|| clock::rfc3339(self.ready_at)),
            "deleted_at": self.deleted_at.map(clock::rfc3339),
            "created_by": {"name": self.created_by},
            "request_headers": self.request_headers,
            "duplicate_of": self.duplicate_of,
            "test_body": self.test_body,
            "links": {
                "pdf": format!("/__admin/history/{}/pdf", self.id),
                "html": format!("/__admin/history/{}/html", self.id),
            },
        })
    }
}
