//! Inkit render batches: many renders of one template created by one `POST /batch`.

use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::history::{HistoryEntry, Status};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    pub seq: u64,
    pub id: String,
    pub name: Option<String>,
    pub template_id: String,
    pub render_ids: Vec<String>,
    pub created_at: Timestamp,
    pub created_by: String,
}

impl Batch {
    /// The batch as `GET /batch/{id}` shows it, with per-status counts of its renders (`entries` are the
    /// batch's renders that still exist).
    pub fn to_json<'a>(&self, entries: impl Iterator<Item = &'a HistoryEntry>, now: Timestamp) -> Value {
        let (mut completed, mut in_progress, mut deleted) = (0, 0, 0);
        for e in entries {
            match e.status(now) {
                Status::Completed => completed += 1,
                Status::InProgress => in_progress += 1,
                Status::Deleted | Status::Test => deleted += 1,
            }
        }
        let total = self.render_ids.len();
        let status = if in_progress > 0 { "in_progress" } else { "completed" };
        json!({
            "id": self.id,
            "name": self.name,
            "template_id": self.template_id,
            "status": status,
            "total": total,
            "created_at": clock::rfc3339(self.created_at),
            "created_by": {"first_name": null, "last_name": null, "name": self.created_by},
            "destinations": {
                "inkit_storage": {
                    "count": total, "completed": completed, "failed": 0,
                    "in_progress": in_progress, "deleted": deleted,
                }
            },
        })
    }
}
