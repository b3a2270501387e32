//! The scenario format: what a scenario holds once read and validated (see `docs/scenarios.md`): its set-up
//! (account, Inkit, templates, dispatcher, webhooks, uploads, campaigns), its timeline of steps, and its
//! expectations. `parse` reads it from TOML.

use std::path::PathBuf;
use std::time::Duration;

use campaign_engine::runner::Account;
use clock::Timestamp;
use inkit_mock::{ApiToken, FaultPlan};
use serde_json::{Map, Value};
use webhook_dispatcher::dispatcher::SuccessRule;
use webhook_dispatcher::retry::RetryPolicy;
use webhook_dispatcher::webhook::WebhookSpec;

use super::source::Loc;

/// A scenario, loaded and validated: what to set up, what to do when, and what to expect.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// The file, or the folder of a folder scenario.
    pub origin: PathBuf,
    pub start: Timestamp,
    /// The clock runs until here before the final expectations are checked.
    pub end: Timestamp,
    pub account: Account,
    pub inkit: InkitSettings,
    pub templates: Vec<TemplateDef>,
    pub dispatcher: DispatcherSettings,
    pub webhooks: Vec<WebhookDef>,
    /// Uploaded at the start, before the campaigns are saved.
    pub uploads: Vec<UploadDef>,
    pub campaigns: Vec<CampaignDef>,
    /// In time order (steps at the same instant in the order written), expectations with an `at` included.
    pub timeline: Vec<Step>,
    /// Checked at the end.
    pub expectations: Vec<Expectation>,
}

#[derive(Debug, Clone)]
pub struct InkitSettings {
    pub processing_delay: Duration,
    pub tokens: Vec<ApiToken>,
    pub faults: FaultPlan,
}

#[derive(Debug, Clone)]
pub struct TemplateDef {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub html: String,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    pub timeout: Duration,
    pub success: SuccessRule,
    /// For webhooks that name none.
    pub retry: RetryPolicy,
}

#[derive(Debug, Clone)]
pub struct WebhookDef {
    /// The dispatcher's `WebhookSpec` fields; `{{inkit}}` in them is still to be replaced.
    pub spec: Map<String, Value>,
    /// Send CleverTap's test request first, and save the webhook only on HTTP 200.
    pub check: bool,
    pub retry: Option<RetryPolicy>,
    pub throttle_per_minute: Option<u32>,
    pub concurrency: Option<usize>,
    pub loc: Loc,
}

impl WebhookDef {
    /// The spec with `{{inkit}}` replaced by the mock's base URL.
    pub fn spec_for(&self, inkit_url: &str) -> Result<WebhookSpec, String> {
        let text = Value::Object(self.spec.clone()).to_string().replace("{{inkit}}", inkit_url);
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}

/// Profiles and events in CleverTap's upload format (`{"d": [...]}`).
#[derive(Debug, Clone)]
pub struct UploadDef {
    pub body: Value,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct CampaignDef {
    /// What steps and expectations call it: `ref`, else its name.
    pub key: String,
    /// The campaign JSON (CleverTap's targets fields and ours), with `body_file` read into `content.body`.
    pub json: Value,
    /// Saved when the scenario starts; otherwise a `save` step saves it.
    pub saved_at_start: bool,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub at: Timestamp,
    pub name: String,
    pub action: Action,
    /// The step must fail with a message containing this.
    pub expect_error: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// Only run the clock to `at`.
    Advance,
    Upload(Value),
    Save(String),
    Publish(String),
    Stop(String),
    /// Render the campaign's request for a profile (CleverTap's Preview) and compare the body.
    Preview {
        campaign: String,
        profile: ProfileRef,
        event: Option<Map<String, Value>>,
        expect_body: Option<Value>,
    },
    /// Render and send it once (CleverTap's Send Test); the answer's status must be `expect_status`.
    Test {
        campaign: String,
        profile: ProfileRef,
        event: Option<Map<String, Value>>,
        expect_status: u16,
    },
    /// Replace inkit-mock's fault plan.
    Faults(FaultPlan),
    /// Check an expectation now (one with an `at`).
    Check(Box<Expectation>),
}

/// Whose profile a preview or test renders.
#[derive(Debug, Clone)]
pub enum ProfileRef {
    Inline(Map<String, Value>),
    /// An uploaded profile, by identity.
    Identity(String),
}

#[derive(Debug, Clone)]
pub struct Expectation {
    pub name: String,
    pub kind: ExpectKind,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub enum ExpectKind {
    History(HistoryExpect),
    Report { campaign: String, run: Option<u32>, figures: Map<String, Value> },
    Attempts(AttemptsExpect),
    Counts(Map<String, Value>),
}

#[derive(Debug, Clone)]
pub struct HistoryExpect {
    /// `render` (default), `test` or `any`.
    pub kind: String,
    /// Entries whose field (`template_id`, `merge_parameters.email`, `duplicate`, …) has this value.
    pub filter: Vec<(String, Value)>,
    pub count: Option<u64>,
    pub duplicates: Option<u64>,
    /// Every matched entry's merge parameters, exactly.
    pub merge_parameters: Option<Map<String, Value>>,
    /// Fields every matched entry has with these values.
    pub fields: Option<Map<String, Value>>,
}

#[derive(Debug, Clone)]
pub struct AttemptsExpect {
    pub campaign: String,
    pub identity: String,
    pub run: Option<u32>,
    pub nth: Option<usize>,
    pub count: Option<u64>,
    pub times: Option<Vec<Timestamp>>,
    /// Per attempt: the HTTP status, or the error (`"timed out"`).
    pub statuses: Option<Vec<Value>>,
    /// `delivered`, `dead_letter`, `not_sent` or `pending`.
    pub state: Option<String>,
}

/// The report figures an expectation may name.
pub const REPORT_FIGURES: &[&str] = &[
    "qualified",
    "control_group",
    "dropped",
    "handed",
    "delivered",
    "failed",
    "not_sent",
    "conversions",
    "control_conversions",
    "dropped_total",
    "failed_total",
    "not_sent_total",
    "in_flight",
    "runs",
    "status",
];

/// The pipeline-wide counts an expectation may name.
pub const COUNTS: &[&str] = &[
    "delivered",
    "failed",
    "not_sent",
    "retried",
    "pending",
    "dead_letters",
    "requests",
    "requests_by_status",
    "history",
    "tests",
    "duplicates",
];

/// `+1h30m` for messages.
pub fn offset(start: Timestamp, at: Timestamp) -> String {
    let ms = at.duration_since(start).as_millis();
    let sign = if ms < 0 { "-" } else { "+" };
    let mut ms = ms.unsigned_abs();
    if ms == 0 {
        return "+0s".into();
    }
    let mut out = sign.to_owned();
    for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}
