//! Running a scenario: the pipeline started in simulated time with storage in memory, set up as the scenario
//! says (templates, webhooks, profiles, campaigns), its timeline walked step by step with the clock stepped
//! between them, and its expectations checked at the end.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use campaign_engine::delivery::{Delivery, RunKey};
use campaign_engine::profile::IdentityKind;
use inkit_mock::MockConfig;
use serde_json::{Map, Value, json};
use webhook_dispatcher::client::{Answer, HttpClient, OutgoingRequest};
use webhook_dispatcher::dispatcher::{DispatcherConfig, PreparedRequest, WebhookSettings};
use webhook_dispatcher::throttle::Throttle;

use super::expect::{self, Check, Context};
use super::format::{Action, ProfileRef, Scenario, Step, TemplateDef};
use super::source::Loc;
use crate::bridge::{dispatcher_delivery, lock};
use crate::config::{PipelineConfig, Storage, TimeMode};
use crate::pipeline::{Pipeline, PipelineError};
use crate::setup::CampaignSetupError;

/// What a scenario's run found: a check per expectation (and per step that compares or fails).
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    pub name: String,
    pub origin: PathBuf,
    pub checks: Vec<Check>,
    /// Real time the run took.
    pub elapsed: Duration,
}

impl ScenarioOutcome {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// Why a scenario could not be run to the end (as opposed to running and failing an expectation).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start the pipeline: {0}")]
    Start(#[from] PipelineError),
    #[error("cannot write the scenario's templates to {path}: {source}")]
    Templates { path: String, source: std::io::Error },
    /// A set-up step the rest depends on failed: a webhook or an upload made at the start.
    #[error("{at}: {message}")]
    Setup { at: String, message: String },
}

/// Runs a scenario from its start to its end and checks its expectations.
pub async fn run(scenario: &Scenario) -> Result<ScenarioOutcome, RunError> {
    let started = Instant::now();
    let templates = TemplateDir::write(&scenario.templates)?;
    let inkit = MockConfig {
        tokens: scenario.inkit.tokens.clone(),
        processing_delay: scenario.inkit.processing_delay,
        faults: scenario.inkit.faults.clone(),
        templates_dir: templates.path.clone(),
        // A scenario's requests come one attempt at a time: one server thread is plenty, and keeps many
        // scenarios in one test binary light.
        server_threads: 1,
        drain_timeout: Duration::from_secs(5),
        ..MockConfig::default()
    };
    let config = PipelineConfig {
        time: TimeMode::Simulated { start: scenario.start },
        storage: Storage::Memory,
        inkit,
        dispatcher: DispatcherConfig {
            timeout: scenario.dispatcher.timeout,
            success: scenario.dispatcher.success,
            ..DispatcherConfig::default()
        },
        account: scenario.account.clone(),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(config).await?;
    drop(templates);
    let result = walk(scenario, &pipeline).await;
    pipeline.shutdown().await;
    let checks = result?;
    Ok(ScenarioOutcome {
        name: scenario.name.clone(),
        origin: scenario.origin.clone(),
        checks,
        elapsed: started.elapsed(),
    })
}

async fn walk(scenario: &Scenario, pipeline: &Pipeline) -> Result<Vec<Check>, RunError> {
    let mut checks = Vec::new();
    let inkit_url = pipeline.inkit_url();
    for def in &scenario.webhooks {
        let setup = |message: String| RunError::Setup { at: def.loc.to_string(), message };
        let spec = def.spec_for(&inkit_url).map_err(setup)?;
        let throttle = Throttle::from_setting(def.throttle_per_minute).map_err(|e| setup(e.to_string()))?;
        let tune = |settings: &mut WebhookSettings| {
            settings.retry = def.retry.clone().unwrap_or_else(|| scenario.dispatcher.retry.clone());
            settings.throttle = throttle;
            if let Some(n) = def.concurrency {
                settings.concurrency = n;
            }
        };
        pipeline.create_webhook_with(spec, def.check, tune).await.map_err(|e| setup(e.to_string()))?;
    }
    for up in &scenario.uploads {
        upload(pipeline, &up.body).map_err(|message| RunError::Setup { at: up.loc.to_string(), message })?;
    }
    let mut ids: HashMap<String, u64> = HashMap::new();
    for c in scenario.campaigns.iter().filter(|c| c.saved_at_start) {
        if let Err((message, loc)) = save(pipeline, c, &mut ids) {
            let why = format!("saving it failed: {message}");
            checks.push(Check::failed(format!("save {}", c.key), &loc, json!("saved"), json!(message), why));
        }
    }
    for step in &scenario.timeline {
        pipeline.run_until(step.at).await?;
        checks.extend(do_step(scenario, pipeline, step, &mut ids).await);
    }
    pipeline.run_until(scenario.end).await?;
    let cx = Context { start: scenario.start, campaign_ids: &ids };
    checks.extend(scenario.expectations.iter().map(|e| expect::check(e, pipeline, &cx)));
    Ok(checks)
}

/// A step's checks: its own comparison (preview, test, check), and whether it failed as expected.
async fn do_step(scenario: &Scenario, pipeline: &Pipeline, step: &Step, ids: &mut HashMap<String, u64>) -> Vec<Check> {
    let result: Result<Option<Check>, (String, Loc)> = match &step.action {
        Action::Advance => Ok(None),
        Action::Upload(body) => upload(pipeline, body).map(|()| None).map_err(|m| (m, step.loc.clone())),
        Action::Save(key) => {
            let c = scenario.campaigns.iter().find(|c| &c.key == key).expect("refs were checked when loading");
            save(pipeline, c, ids).map(|_| None)
        }
        Action::Publish(key) => with_id(ids, key, step)
            .and_then(|id| lock(&pipeline.engine).publish(id).map_err(|e| (e.to_string(), step.loc.clone())))
            .map(|()| None),
        Action::Stop(key) => with_id(ids, key, step)
            .and_then(|id| lock(&pipeline.engine).stop(id).map_err(|e| (e.to_string(), step.loc.clone())))
            .map(|()| None),
        Action::Preview { campaign, profile, event, expect_body } => with_id(ids, campaign, step).and_then(|id| {
            let prepared = prepare(pipeline, id, profile, event.as_ref()).map_err(|m| (m, step.loc.clone()))?;
            Ok(Some(preview_check(step, &prepared, expect_body.as_ref())))
        }),
        Action::Test { campaign, profile, event, expect_status } => match with_id(ids, campaign, step) {
            Err(e) => Err(e),
            Ok(id) => match prepare(pipeline, id, profile, event.as_ref()) {
                Err(m) => Err((m, step.loc.clone())),
                Ok(prepared) => Ok(Some(send_test(scenario, step, prepared, *expect_status).await)),
            },
        },
        Action::Faults(plan) => {
            pipeline.inkit.faults.replace(plan.clone()).map(|()| None).map_err(|e| (e.to_string(), step.loc.clone()))
        }
        Action::Check(e) => {
            let cx = Context { start: scenario.start, campaign_ids: ids };
            Ok(Some(expect::check(e, pipeline, &cx)))
        }
    };
    match (&step.expect_error, result) {
        (None, Ok(check)) => check.into_iter().collect(),
        (None, Err((message, loc))) => {
            vec![Check::failed(
                &step.name,
                &loc,
                json!("the step succeeds"),
                json!(message),
                format!("the step failed: {message}"),
            )]
        }
        (Some(text), Ok(_)) => {
            let expected = json!({"error containing": text});
            vec![Check::failed(
                &step.name,
                &step.loc,
                expected,
                json!("succeeded"),
                "the step succeeded, but an error was expected".into(),
            )]
        }
        (Some(text), Err((message, _))) => {
            let expected = json!({"error containing": text});
            if message.contains(text.as_str()) {
                vec![Check::compare(&step.name, &step.loc, expected.clone(), expected)]
            } else {
                let why = format!("the error does not contain {text:?}: {message}");
                vec![Check::failed(&step.name, &step.loc, expected, json!(message), why)]
            }
        }
    }
}

fn with_id(ids: &HashMap<String, u64>, key: &str, step: &Step) -> Result<u64, (String, Loc)> {
    ids.get(key).copied().ok_or_else(|| (format!("campaign {key:?} has not been saved"), step.loc.clone()))
}

/// Uploads records; any refused record fails the upload, with CleverTap's message for it.
fn upload(pipeline: &Pipeline, body: &Value) -> Result<(), String> {
    let outcome = lock(&pipeline.engine).upload(body).map_err(|e| e.to_string())?;
    if outcome.unprocessed.is_empty() {
        return Ok(());
    }
    let errors: Vec<String> = outcome.unprocessed.iter().map(|u| u.error.clone()).collect();
    Err(format!("{} of the records were refused: {}", errors.len(), errors.join("; ")))
}

/// Saves a campaign, remembering its id; an error names where in the file the bad field is.
fn save(
    pipeline: &Pipeline,
    c: &super::format::CampaignDef,
    ids: &mut HashMap<String, u64>,
) -> Result<u64, (String, Loc)> {
    match pipeline.save_campaign(&c.json) {
        Ok(spec) => {
            ids.insert(c.key.clone(), spec.campaign.id);
            Ok(spec.campaign.id)
        }
        Err(CampaignSetupError::Spec(e)) => Err((e.to_string(), c.loc.join(&e.path))),
        Err(e) => Err((e.to_string(), c.loc.clone())),
    }
}

/// The request a campaign would make for a profile, as Preview shows it.
fn prepare(
    pipeline: &Pipeline,
    campaign_id: u64,
    profile: &ProfileRef,
    event: Option<&Map<String, Value>>,
) -> Result<PreparedRequest, String> {
    let (properties, object_id, identity) = {
        let engine = lock(&pipeline.engine);
        match profile {
            ProfileRef::Inline(p) => (p.clone(), "__preview".to_owned(), None),
            ProfileRef::Identity(i) => {
                let found = engine
                    .store()
                    .find(IdentityKind::Identity, i)
                    .ok_or_else(|| format!("no profile with identity {i:?} has been uploaded"))?;
                (found.properties.to_map(), found.object_id.clone(), found.identity.clone())
            }
        }
    };
    let campaign = lock(&pipeline.engine).campaign(campaign_id).cloned().ok_or("the campaign is gone")?;
    let delivery = Delivery {
        id: format!("{campaign_id}-preview-{object_id}"),
        trace_id: "preview".into(),
        campaign_id,
        campaign_name: campaign.name.clone(),
        webhook: campaign.webhook.clone(),
        run: RunKey::Scheduled(0),
        object_id,
        identity,
        profile: properties,
        event: event.cloned(),
        created_at: pipeline.now(),
    };
    pipeline.dispatcher.prepare(&dispatcher_delivery(delivery), 1).map_err(|e| e.to_string())
}

/// Preview compares the rendered body: as JSON when the expected body is not a string, else as text.
fn preview_check(step: &Step, prepared: &PreparedRequest, expect_body: Option<&Value>) -> Check {
    let as_json = serde_json::from_str::<Value>(&prepared.body).ok();
    match expect_body {
        None => {
            let shown = as_json.unwrap_or_else(|| Value::String(prepared.body.clone()));
            Check::compare(&step.name, &step.loc, json!("renders"), json!("renders")).with_actual(shown)
        }
        Some(Value::String(text)) => Check::compare(&step.name, &step.loc, json!(text), json!(prepared.body)),
        Some(expected) => match as_json {
            Some(actual) => Check::compare(&step.name, &step.loc, expected.clone(), actual),
            None => Check::failed(
                &step.name,
                &step.loc,
                expected.clone(),
                json!(prepared.body),
                "the rendered body is not JSON".into(),
            ),
        },
    }
}

impl Check {
    fn with_actual(mut self, actual: Value) -> Check {
        self.actual = actual;
        self
    }
}

/// Send Test: the rendered request sent once; its answer must have the expected status.
async fn send_test(scenario: &Scenario, step: &Step, prepared: PreparedRequest, expect_status: u16) -> Check {
    let Ok(method) = prepared.method.as_str().parse() else {
        let why = format!("{} is not an HTTP method", prepared.method);
        return Check::failed(&step.name, &step.loc, json!({"status": expect_status}), Value::Null, why);
    };
    let request = OutgoingRequest { method, url: prepared.url, headers: prepared.headers, body: prepared.body.into() };
    let answer = HttpClient::new().send(request, scenario.dispatcher.timeout).await.answer;
    let actual = match answer {
        Answer::Response { status, body, .. } => {
            let body = serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body));
            return Check::compare(&step.name, &step.loc, json!({"status": expect_status}), json!({"status": status}))
                .with_actual(json!({"status": status, "body": body}))
                .keep_failure_if(status != expect_status);
        }
        Answer::TimedOut => json!("no answer in time"),
        Answer::ConnectionFailed { error } => json!(error),
    };
    let why = format!("the test request got no answer: {}", actual.as_str().unwrap_or_default());
    Check::failed(&step.name, &step.loc, json!({"status": expect_status}), actual, why)
}

impl Check {
    /// After [`Check::with_actual`] widened the actual value, keeps the verdict of the narrower comparison.
    fn keep_failure_if(mut self, failed: bool) -> Check {
        self.passed = !failed;
        if !failed {
            self.diff.clear();
        }
        self
    }
}

/// The scenario's templates as files inkit-mock loads at start (the way it gives templates fixed ids), in a
/// fresh temporary folder removed once the mock has read them.
struct TemplateDir {
    path: Option<PathBuf>,
}

impl TemplateDir {
    fn write(templates: &[TemplateDef]) -> Result<TemplateDir, RunError> {
        if templates.is_empty() {
            return Ok(TemplateDir { path: None });
        }
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tapink-scenario-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let io = |source| RunError::Templates { path: dir.display().to_string(), source };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let made = TemplateDir { path: Some(dir.clone()) };
        for (i, t) in templates.iter().enumerate() {
            let mut options = Map::new();
            options.insert("id".into(), json!(t.id));
            options.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                options.insert("description".into(), json!(d));
            }
            for (key, value) in [("width", t.width), ("height", t.height)] {
                if let Some(v) = value {
                    options.insert(key.into(), json!(v));
                }
            }
            if let Some(u) = &t.unit {
                options.insert("unit".into(), json!(u));
            }
            let toml = toml::to_string(&Value::Object(options)).map_err(|e| io(std::io::Error::other(e)))?;
            std::fs::write(dir.join(format!("t{i:03}.html")), &t.html).map_err(io)?;
            std::fs::write(dir.join(format!("t{i:03}.toml")), toml).map_err(io)?;
        }
        Ok(made)
    }
}

impl Drop for TemplateDir {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}
