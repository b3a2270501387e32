//! Reading a scenario: its TOML files (one, or a folder's, merged) turned into a validated [`Scenario`].
//! Unknown keys are refused, naming the file, the line and the field; so is every value the engine, the
//! dispatcher or inkit-mock would refuse later, where it can be checked before running.
//!
//! Top-level keys: `name`, `description`, `start`, `end`, `[account]`, `[inkit]`, `[[template]]`,
//! `[dispatcher]`, `[[webhook]]`, `[[upload]]` (or `upload = [...]`), `[[campaign]]`, `[[step]]`, `[[expect]]`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use campaign_engine::campaign::limits::FrequencyCap;
use campaign_engine::campaign::spec::parse_campaign;
use campaign_engine::runner::Account;
use campaign_engine::schedule::DndWindow;
use campaign_engine::segment::SavedSegments;
use clock::Timestamp;
use inkit_mock::{ApiToken, FaultPlan};
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use webhook_dispatcher::dispatcher::SuccessRule;
use webhook_dispatcher::retry::RetryPolicy;
use webhook_dispatcher::webhook::Webhook;

use super::format::{
    Action, AttemptsExpect, COUNTS, CampaignDef, DispatcherSettings, ExpectKind, Expectation, HistoryExpect,
    InkitSettings, ProfileRef, REPORT_FIGURES, Scenario, Step, TemplateDef, UploadDef, WebhookDef, offset,
};
use super::source::{LoadError, Loc, SourceFile, quote, read_toml};

const TOP: &[&str] = &[
    "name",
    "description",
    "start",
    "end",
    "account",
    "inkit",
    "template",
    "dispatcher",
    "webhook",
    "upload",
    "campaign",
    "step",
    "expect",
];
const SINGLE: &[&str] = &["name", "description", "start", "end", "account", "inkit", "dispatcher"];
const WEBHOOK_SPEC: &[&str] = &["name", "method", "url", "content_type", "headers", "auth"];
const WEBHOOK_OURS: &[&str] = &["check", "retry", "throttle_per_minute", "concurrency"];
const STEP_ACTIONS: &[&str] = &["upload", "save", "publish", "stop", "preview", "test", "faults"];
const EXPECT_KINDS: &[&str] = &["history", "report", "attempts", "counts"];

/// How long after the last step the clock runs when the scenario gives no `end`.
pub const DEFAULT_TAIL: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------------------------

/// Loads a scenario: a `.toml` file, or a folder holding `scenario.toml` (its other `*.toml` files are merged in).
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let files = if path.is_dir() {
        let main = path.join("scenario.toml");
        if !main.is_file() {
            return Err(LoadError::file(path, "a folder scenario needs a scenario.toml"));
        }
        let mut others: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| LoadError::file(path, format!("cannot list it: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml") && *p != main)
            .collect();
        others.sort();
        std::iter::once(main).chain(others).collect()
    } else {
        vec![path.to_owned()]
    };
    let mut parts = Vec::new();
    for file in &files {
        let (json, source) = read_toml(file)?;
        parts.push((json, source));
    }
    let default_name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    build(path, &default_name, &parts)
}

/// The scenarios a path names: a scenario file or folder, or a folder of them (its `*.toml` files and its
/// sub-folders that hold a `scenario.toml`), in name order.
pub fn discover(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !path.exists() {
        return Err(LoadError::file(path, "no such file or folder"));
    }
    if !path.is_dir() || path.join("scenario.toml").is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| LoadError::file(path, format!("cannot list it: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| (p.is_file() && p.extension().is_some_and(|x| x == "toml")) || p.join("scenario.toml").is_file())
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(LoadError::file(path, "no scenario here: no *.toml file and no folder with a scenario.toml"));
    }
    Ok(found)
}

/// Reads one object of the file: its keys checked against `known`.
struct Table<'a> {
    map: &'a Map<String, Value>,
    loc: Loc,
}

impl<'a> Table<'a> {
    fn new(value: &'a Value, loc: Loc, known: &[&str]) -> Result<Self, LoadError> {
        let Value::Object(map) = value else {
            return Err(loc.error(format!("must be a table, not {}", kind(value))));
        };
        Self::of(map, loc, known)
    }

    fn of(map: &'a Map<String, Value>, loc: Loc, known: &[&str]) -> Result<Self, LoadError> {
        if let Some(key) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(loc.join(&quote(key)).error(format!("unknown field; the fields are {}", known.join(", "))));
        }
        Ok(Table { map, loc })
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    fn at(&self, key: &str) -> Loc {
        self.loc.join(&quote(key))
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.at(key).error(format!("must be a string, not {}", kind(other)))),
        }
    }

    fn required_str(&self, key: &str) -> Result<&'a str, LoadError> {
        self.str(key)?.ok_or_else(|| self.loc.join(key).error("is required"))
    }

    fn u64(&self, key: &str) -> Result<Option<u64>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.at(key).error(format!("must be a whole number, not {}", show(v)))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.at(key).error(format!("must be true or false, not {}", show(other)))),
        }
    }

    fn table(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, LoadError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(other) => Err(self.at(key).error(format!("must be a table, not {}", kind(other)))),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// A value for a message: short.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 { format!("{}…", text.chars().take(60).collect::<String>()) } else { text }
}

/// The elements of a list key (`[[step]]`), each with its place.
fn elements<'a>(table: &Table<'a>, key: &str) -> Result<Vec<(&'a Value, Loc)>, LoadError> {
    match table.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            Ok(items.iter().enumerate().map(|(i, v)| (v, table.loc.join(&format!("{key}[{i}]")))).collect())
        }
        Some(other) => Err(table.at(key).error(format!(
            "must be a list ([[{key}]] tables{}), not {}",
            if key == "upload" { ", or upload = [\"users.json\"]" } else { "" },
            kind(other)
        ))),
    }
}

/// Collects the scenario from its files' JSON.
fn build(
    origin: &Path,
    default_name: &str,
    parts: &[(Map<String, Value>, Arc<SourceFile>)],
) -> Result<Scenario, LoadError> {
    // Keys that may be given once, in any one file of a folder.
    let mut single: Map<String, Value> = Map::new();
    let mut single_loc: std::collections::HashMap<String, Loc> = std::collections::HashMap::new();
    let mut tables = Vec::new();
    for (json, source) in parts {
        let table = Table::of(json, Loc::new(source, ""), TOP)?;
        for key in SINGLE {
            if let Some(v) = table.get(key) {
                if let Some(first) = single_loc.get(*key) {
                    return Err(table.at(key).error(format!("is given twice: also at {first}")));
                }
                single.insert((*key).to_owned(), v.clone());
                single_loc.insert((*key).to_owned(), table.at(key));
            }
        }
        tables.push(table);
    }
    let top_loc = |key: &str| single_loc.get(key).cloned().unwrap_or_else(|| Loc::new(&parts[0].1, key));

    let start_loc = top_loc("start");
    let start = match single.get("start") {
        Some(v) => absolute_time(v, &start_loc)?,
        None => return Err(start_loc.error("is required: the instant the scenario starts, like 2026-12-01T09:00:00Z")),
    };
    let account = match single.get("account") {
        Some(v) => account(v, &top_loc("account"))?,
        None => Account::default(),
    };
    let inkit = match single.get("inkit") {
        Some(v) => inkit(v, &top_loc("inkit"))?,
        None => InkitSettings {
            processing_delay: Duration::from_millis(200),
            tokens: inkit_mock::MockConfig::default().tokens,
            faults: FaultPlan::default(),
        },
    };
    let dispatcher = match single.get("dispatcher") {
        Some(v) => dispatcher(v, &top_loc("dispatcher"))?,
        None => DispatcherSettings {
            timeout: webhook_dispatcher::client::DEFAULT_TIMEOUT,
            success: SuccessRule::Http200,
            retry: RetryPolicy::clevertap(),
        },
    };
    let name = match single.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => n.clone(),
        Some(other) => return Err(top_loc("name").error(format!("must be a non-empty string, not {}", show(other)))),
        None => default_name.to_owned(),
    };
    let description = match single.get("description") {
        Some(Value::String(d)) => Some(d.clone()),
        Some(other) => return Err(top_loc("description").error(format!("must be a string, not {}", kind(other)))),
        None => None,
    };

    let mut templates = Vec::new();
    let mut webhooks = Vec::new();
    let mut uploads = Vec::new();
    let mut campaign_parts = Vec::new();
    let mut step_parts = Vec::new();
    let mut expect_parts = Vec::new();
    for table in &tables {
        for (v, loc) in elements(table, "template")? {
            templates.push(template(v, &loc)?);
        }
        for (v, loc) in elements(table, "webhook")? {
            webhooks.push(webhook(v, loc)?);
        }
        for (v, loc) in elements(table, "upload")? {
            uploads.push(UploadDef { body: upload(v, &loc)?, loc });
        }
        campaign_parts.extend(elements(table, "campaign")?);
        step_parts.extend(elements(table, "step")?);
        expect_parts.extend(elements(table, "expect")?);
    }
    for (i, t) in templates.iter().enumerate() {
        if templates[..i].iter().any(|o| o.id == t.id) {
            return Err(LoadError::file(origin, format!("template id {} is given twice", t.id)));
        }
    }

    let mut campaigns: Vec<CampaignDef> = Vec::new();
    for (v, loc) in campaign_parts {
        let c = campaign(v, loc)?;
        if let Some(other) = campaigns.iter().find(|o| o.key == c.key) {
            return Err(c.loc.error(format!(
                "two campaigns are called {:?}: give one a `ref` (the other is at {})",
                c.key, other.loc
            )));
        }
        campaigns.push(c);
    }
    let keys: Vec<String> = campaigns.iter().map(|c| c.key.clone()).collect();

    let mut steps = Vec::new();
    let mut previous = start;
    for (v, loc) in step_parts {
        let s = step(v, loc, start, previous, &keys)?;
        previous = s.at;
        steps.push(s);
    }
    // A campaign a step saves is not saved at the start; a save step whose error is expected leaves the
    // campaign unvalidated here, since its error is the point.
    let mut unchecked = Vec::new();
    for s in &steps {
        if let Action::Save(key) = &s.action {
            let c = campaigns.iter_mut().find(|c| &c.key == key).expect("refs were checked");
            if !c.saved_at_start {
                return Err(s.loc.error(format!("campaign {key:?} is already saved by an earlier step")));
            }
            c.saved_at_start = false;
            if s.expect_error.is_some() {
                unchecked.push(key.clone());
            }
        }
    }
    for c in campaigns.iter().filter(|c| !unchecked.contains(&c.key)) {
        // Scenarios save no segments, so a campaign can name none.
        parse_campaign(&c.json, 1, start, &account.time_zone, &SavedSegments::new()).map_err(|e| {
            let mut message = e.message;
            if message.starts_with("unknown field; the fields are ") {
                message.push_str(", and the scenario's own ref and body_file");
            }
            c.loc.join(&e.path).error(message)
        })?;
    }

    let mut timeline = steps;
    let mut expectations = Vec::new();
    for (v, loc) in expect_parts {
        let (at, e) = expectation(v, loc, start, &keys)?;
        match at {
            Some(at) => timeline.push(Step {
                at,
                name: format!("check {}", e.name),
                action: Action::Check(Box::new(e.clone())),
                expect_error: None,
                loc: e.loc.clone(),
            }),
            None => expectations.push(e),
        }
    }
    // Stable: steps at one instant stay in the order written, checks after them.
    timeline.sort_by_key(|s| (s.at, matches!(s.action, Action::Check(_))));

    let last = timeline.iter().map(|s| s.at).max().unwrap_or(start);
    let end = match single.get("end") {
        Some(v) => {
            let loc = top_loc("end");
            let end = time(v, &loc, start)?;
            if end < last {
                return Err(loc.error(format!("is before the last step ({})", clock::rfc3339(last))));
            }
            end
        }
        None => add(last, DEFAULT_TAIL),
    };
    Ok(Scenario {
        name,
        description,
        origin: origin.to_owned(),
        start,
        end,
        account,
        inkit,
        templates,
        dispatcher,
        webhooks,
        uploads,
        campaigns,
        timeline,
        expectations,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------------------------

fn absolute_time(value: &Value, loc: &Loc) -> Result<Timestamp, LoadError> {
    let text = value
        .as_str()
        .ok_or_else(|| loc.error(format!("must be an instant like 2026-12-01T09:00:00Z, not {}", show(value))))?;
    text.parse::<Timestamp>().map_err(|_| {
        loc.error(format!(
            "{text:?} is not an instant: write it in RFC 3339 with its offset, like 2026-12-01T09:00:00Z"
        ))
    })
}

/// The longest a scenario may span: a runaway `+1000w` is a typo, not a test.
pub const MAX_SPAN: Duration = Duration::from_secs(5 * 366 * 86_400);

/// An instant from the start to [`MAX_SPAN`] after it: RFC 3339, or `+DURATION` after `start`.
pub(crate) fn time(value: &Value, loc: &Loc, start: Timestamp) -> Result<Timestamp, LoadError> {
    let at = any_time(value, loc, start)?;
    if at < start {
        return Err(loc.error(format!("{} is before the scenario's start ({})", show(value), clock::rfc3339(start))));
    }
    if at > add(start, MAX_SPAN) {
        return Err(loc.error(format!("{} is more than five years after the start", show(value))));
    }
    Ok(at)
}

fn any_time(value: &Value, loc: &Loc, start: Timestamp) -> Result<Timestamp, LoadError> {
    match value.as_str().and_then(|s| s.strip_prefix('+')) {
        Some(rest) => {
            let d = duration(rest).ok_or_else(|| {
                loc.error(format!(
                    "{} is not a time after the start: write +10m, +1h30m, +2d, +500ms (units ms, s, m, h, d, w)",
                    show(value)
                ))
            })?;
            Ok(add(start, d))
        }
        None => absolute_time(value, loc).map_err(|_| {
            loc.error(format!(
                "{} is not a time: write +10m (after the start) or an instant like 2026-12-01T09:00:00Z",
                show(value)
            ))
        }),
    }
}

/// `1h30m`, `45s`, `500ms`, `2d`, `1w`: a sum of whole numbers with units.
pub(crate) fn duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            let ms = match rest.chars().next()? {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                'w' => 604_800_000,
                _ => return None,
            };
            (ms, 1)
        };
        total = total.checked_add(Duration::from_millis(n.checked_mul(unit_ms)?))?;
        rest = &rest[len..];
    }
    Some(total)
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

// ---------------------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------------------

fn account(value: &Value, loc: &Loc) -> Result<Account, LoadError> {
    let t = Table::new(value, loc.clone(), &["time_zone", "frequency_cap", "dnd", "webhook_delivered_event"])?;
    let mut account = Account::default();
    if let Some(zone) = t.str("time_zone")? {
        account.time_zone = TimeZone::get(zone).map_err(|e| {
            t.at("time_zone").error(format!("{zone:?} is not a time zone (an IANA name like Europe/Paris): {e}"))
        })?;
    }
    if let Some(cap) = t.get("frequency_cap") {
        Table::new(cap, t.at("frequency_cap"), &["max", "days"])?;
        let cap = FrequencyCap::parse(cap, "frequency_cap").map_err(|e| loc.join(&e.path).error(e.message))?;
        account.frequency_cap = Some(cap);
    }
    if let Some(dnd) = t.get("dnd") {
        let d = Table::new(dnd, t.at("dnd"), &["from", "to"])?;
        let clock_time = |key: &str| -> Result<jiff::civil::Time, LoadError> {
            let text = d.required_str(key)?;
            jiff::civil::Time::strptime("%H:%M", text)
                .map_err(|_| d.at(key).error(format!("{text:?} is not a time of day \"HH:MM\"")))
        };
        let window = DndWindow::new(clock_time("from")?, clock_time("to")?)
            .ok_or_else(|| d.at("to").error("is the same as from; a window starts and ends at different times"))?;
        account.dnd_window = Some(window);
    }
    if let Some(raise) = t.bool("webhook_delivered_event")? {
        account.webhook_delivered_event = raise;
    }
    Ok(account)
}

fn inkit(value: &Value, loc: &Loc) -> Result<InkitSettings, LoadError> {
    let t = Table::new(value, loc.clone(), &["processing_delay_ms", "tokens", "faults"])?;
    let processing_delay = Duration::from_millis(t.u64("processing_delay_ms")?.unwrap_or(200));
    let tokens = match t.table("tokens")? {
        None => inkit_mock::MockConfig::default().tokens,
        Some(tokens) => {
            if tokens.is_empty() {
                return Err(t.at("tokens").error("needs at least one name = \"token\""));
            }
            tokens
                .iter()
                .map(|(name, token)| match token {
                    Value::String(token) if !token.trim().is_empty() => {
                        Ok(ApiToken { name: name.clone(), token: token.clone() })
                    }
                    other => Err(t
                        .at("tokens")
                        .join(&quote(name))
                        .error(format!("must be a token string, not {}", show(other)))),
                })
                .collect::<Result<_, _>>()?
        }
    };
    let faults = match t.get("faults") {
        None => FaultPlan::default(),
        Some(v) => fault_plan(v, &t.at("faults"))?,
    };
    Ok(InkitSettings { processing_delay, tokens, faults })
}

const FAULT_RULE_KEYS: &[&str] = &[
    "route",
    "kind",
    "probability",
    "status",
    "ms",
    "min_ms",
    "max_ms",
    "retry_after_s",
    "steps",
    "then",
    "n",
    "outcome",
    "limit",
    "per_seconds",
];

/// A fault plan as inkit-mock reads it (`seed` and `[[fault]]` rules), inline or from a TOML file.
pub(crate) fn fault_plan(value: &Value, loc: &Loc) -> Result<FaultPlan, LoadError> {
    if let Value::String(file) = value {
        let (path, text) = loc.source.read_relative(&loc.field, file)?;
        return FaultPlan::from_toml(&text).map_err(|e| LoadError {
            file: path,
            line: None,
            field: Some(e.field.clone()),
            message: e.message,
        });
    }
    let t = Table::new(value, loc.clone(), &["seed", "fault", "faults"])?;
    let key = if t.get("faults").is_some() { "faults" } else { "fault" };
    for (rule, rule_loc) in elements(&t, key)? {
        Table::new(rule, rule_loc, FAULT_RULE_KEYS)?;
    }
    let plan: FaultPlan = serde_json::from_value(value.clone()).map_err(|e| loc.error(e.to_string()))?;
    plan.validate().map_err(|e| {
        // inkit-mock names the rule `fault[i]`; the file may have written `faults`.
        let field = e.field.replacen("fault[", &format!("{key}["), 1);
        loc.join(&field).error(e.message)
    })?;
    Ok(plan)
}

fn retry_policy(value: &Value, loc: &Loc) -> Result<RetryPolicy, LoadError> {
    let policy: RetryPolicy = serde_json::from_value(value.clone()).map_err(|e| loc.error(e.to_string()))?;
    policy.validate().map_err(|e| loc.join(e.field).error(e.problem))?;
    Ok(policy)
}

fn dispatcher(value: &Value, loc: &Loc) -> Result<DispatcherSettings, LoadError> {
    let t = Table::new(value, loc.clone(), &["timeout_ms", "retry", "success"])?;
    let timeout = match t.u64("timeout_ms")? {
        Some(0) => return Err(t.at("timeout_ms").error("must be at least 1")),
        Some(ms) => Duration::from_millis(ms),
        None => webhook_dispatcher::client::DEFAULT_TIMEOUT,
    };
    let success = match t.str("success")? {
        None | Some("http200") => SuccessRule::Http200,
        Some("any2xx") => SuccessRule::Any2xx,
        Some(other) => return Err(t.at("success").error(format!("must be \"http200\" or \"any2xx\", not {other:?}"))),
    };
    let retry = match t.get("retry") {
        Some(v) => retry_policy(v, &t.at("retry"))?,
        None => RetryPolicy::clevertap(),
    };
    Ok(DispatcherSettings { timeout, success, retry })
}

fn template(value: &Value, loc: &Loc) -> Result<TemplateDef, LoadError> {
    let t = Table::new(value, loc.clone(), &["id", "name", "description", "html", "file", "width", "height", "unit"])?;
    let id = t.required_str("id")?;
    if !id.starts_with("tmpl_") || id.len() < 6 || !id[5..].bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(t.at("id").error(format!("must look like tmpl_ followed by letters and digits, not {id:?}")));
    }
    let html = match (t.str("html")?, t.str("file")?) {
        (Some(html), None) => html.to_owned(),
        (None, Some(file)) => loc.source.read_relative(&t.at("file").field, file)?.1,
        _ => return Err(loc.error("give the template's HTML as html = \"…\" or file = \"letter.html\" (one of them)")),
    };
    let number = |key: &str| -> Result<Option<f64>, LoadError> {
        match t.get(key) {
            None => Ok(None),
            Some(v) => {
                v.as_f64().filter(|n| *n > 0.0).map(Some).ok_or_else(|| t.at(key).error("must be a positive number"))
            }
        }
    };
    let unit = t.str("unit")?.map(str::to_owned);
    if let Some(u) = &unit
        && u != "in"
        && u != "cm"
    {
        return Err(t.at("unit").error(format!("must be in or cm, not {u:?}")));
    }
    Ok(TemplateDef {
        id: id.to_owned(),
        name: t.str("name")?.unwrap_or(id).to_owned(),
        description: t.str("description")?.map(str::to_owned),
        html,
        width: number("width")?,
        height: number("height")?,
        unit,
    })
}

fn webhook(value: &Value, loc: Loc) -> Result<WebhookDef, LoadError> {
    let known: Vec<&str> = WEBHOOK_SPEC.iter().chain(WEBHOOK_OURS).copied().collect();
    let t = Table::new(value, loc.clone(), &known)?;
    let spec: Map<String, Value> =
        t.map.iter().filter(|(k, _)| WEBHOOK_SPEC.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    let def = WebhookDef {
        check: t.bool("check")?.unwrap_or(true),
        retry: t.get("retry").map(|v| retry_policy(v, &t.at("retry"))).transpose()?,
        throttle_per_minute: match t.u64("throttle_per_minute")? {
            Some(n @ 1..=1_000_000) => Some(n as u32),
            Some(_) => return Err(t.at("throttle_per_minute").error("must be from 1 to 1000000")),
            None => None,
        },
        concurrency: match t.u64("concurrency")? {
            Some(n @ 1..=4096) => Some(n as usize),
            Some(_) => return Err(t.at("concurrency").error("must be from 1 to 4096")),
            None => None,
        },
        spec,
        loc,
    };
    // Check it now, as it will be with the mock's address.
    let spec = def.spec_for("http://127.0.0.1:8025").map_err(|e| def.loc.error(e))?;
    if let Err(e) = Webhook::from_spec(spec) {
        let message = e.to_string();
        let field = e.field();
        let message = message.strip_prefix(&format!("{field}: ")).unwrap_or(&message).to_owned();
        let field = match &e {
            webhook_dispatcher::webhook::WebhookError::Header { name, .. } => format!("headers.{}", quote(name)),
            _ => field,
        };
        return Err(def.loc.join(&field).error(message));
    }
    Ok(def)
}

/// An upload: `"file.json"`, `{file = "file.json"}` or `{d = [...]}` (CleverTap's upload body).
fn upload(value: &Value, loc: &Loc) -> Result<Value, LoadError> {
    let file = match value {
        Value::String(file) => Some((file.as_str(), loc.clone())),
        Value::Object(_) => {
            let t = Table::new(value, loc.clone(), &["d", "file"])?;
            match (t.get("d"), t.str("file")?) {
                (Some(Value::Array(_)), None) => return Ok(serde_json::json!({"d": t.get("d")})),
                (Some(other), None) => {
                    return Err(t.at("d").error(format!("must be a list of records, not {}", kind(other))));
                }
                (None, Some(file)) => Some((file, t.at("file"))),
                _ => return Err(loc.error("give the records as d = [...] or a file = \"users.json\" (one of them)")),
            }
        }
        other => return Err(loc.error(format!("must be a file name or a table with d = [...], not {}", kind(other)))),
    };
    let (name, at) = file.expect("set above");
    let (path, text) = loc.source.read_relative(&at.field, name)?;
    let body: Value = serde_json::from_str(&text).map_err(|e| LoadError {
        file: path.clone(),
        line: Some(e.line()),
        field: None,
        message: format!("not valid JSON (column {}): {e}", e.column()),
    })?;
    match body.get("d") {
        Some(Value::Array(_)) => Ok(body),
        _ => Err(LoadError::file(&path, "an upload file holds CleverTap's upload body: {\"d\": [records]}")),
    }
}

fn campaign(value: &Value, loc: Loc) -> Result<CampaignDef, LoadError> {
    let Value::Object(map) = value else {
        return Err(loc.error(format!("must be a table of campaign fields, not {}", kind(value))));
    };
    let mut json = map.clone();
    let t = Table { map, loc: loc.clone() };
    let key = match (t.str("ref")?, t.str("name")?) {
        (Some(r), _) if !r.trim().is_empty() => r.to_owned(),
        (None, Some(n)) if !n.trim().is_empty() => n.to_owned(),
        _ => return Err(loc.join("name").error("is required")),
    };
    json.remove("ref");
    if let Some(file) = t.str("body_file")? {
        let (_, body) = loc.source.read_relative(&t.at("body_file").field, file)?;
        json.remove("body_file");
        let content = json.entry("content").or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(content) = content else {
            return Err(t.at("content").error("must be a table when body_file is given"));
        };
        if content.contains_key("body") {
            return Err(t.at("body_file").error("give content.body or body_file, not both"));
        }
        content.insert("body".into(), Value::String(body));
    }
    Ok(CampaignDef { key, json: Value::Object(json), saved_at_start: true, loc })
}

fn campaign_ref(t: &Table<'_>, key: &str, keys: &[String]) -> Result<String, LoadError> {
    let name = t.required_str(key)?;
    if keys.iter().any(|k| k == name) {
        Ok(name.to_owned())
    } else {
        Err(t.at(key).error(format!("no campaign called {name:?}; the campaigns are {}", list(keys))))
    }
}

fn list(keys: &[String]) -> String {
    if keys.is_empty() { "none".into() } else { keys.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ") }
}

fn step(value: &Value, loc: Loc, start: Timestamp, previous: Timestamp, keys: &[String]) -> Result<Step, LoadError> {
    let mut known = vec!["at", "name", "expect_error", "profile", "identity", "event", "expect_body", "expect_status"];
    known.extend(STEP_ACTIONS);
    let t = Table::new(value, loc.clone(), &known)?;
    let at = match t.get("at") {
        Some(v) => time(v, &t.at("at"), start)?,
        None => previous,
    };
    let actions: Vec<&str> = STEP_ACTIONS.iter().copied().filter(|a| t.get(a).is_some()).collect();
    if actions.len() > 1 {
        return Err(t
            .at(actions[1])
            .error(format!("a step does one thing: {} and {} are both given", actions[0], actions[1])));
    }
    let action_name = actions.first().copied();
    let allowed_extra: &[&str] = match action_name {
        Some("preview") => &["profile", "identity", "event", "expect_body"],
        Some("test") => &["profile", "identity", "event", "expect_status"],
        _ => &[],
    };
    for extra in ["profile", "identity", "event", "expect_body", "expect_status"] {
        if t.get(extra).is_some() && !allowed_extra.contains(&extra) {
            let owner = if extra == "expect_body" {
                "preview"
            } else if extra == "expect_status" {
                "test"
            } else {
                "preview and test"
            };
            return Err(t.at(extra).error(format!("only {owner} steps take {extra}")));
        }
    }
    let profile = || -> Result<ProfileRef, LoadError> {
        match (t.table("profile")?, t.str("identity")?) {
            (Some(p), None) => Ok(ProfileRef::Inline(p.clone())),
            (None, Some(i)) => Ok(ProfileRef::Identity(i.to_owned())),
            _ => Err(loc.error(
                "give the profile to render for: profile = { Name = \"Ada\" } or identity = \"ada\" (one of them)",
            )),
        }
    };
    let action = match action_name {
        None => Action::Advance,
        Some("upload") => Action::Upload(upload(t.get("upload").expect("present"), &t.at("upload"))?),
        Some("save") => Action::Save(campaign_ref(&t, "save", keys)?),
        Some("publish") => Action::Publish(campaign_ref(&t, "publish", keys)?),
        Some("stop") => Action::Stop(campaign_ref(&t, "stop", keys)?),
        Some("preview") => Action::Preview {
            campaign: campaign_ref(&t, "preview", keys)?,
            profile: profile()?,
            event: t.table("event")?.cloned(),
            expect_body: t.get("expect_body").cloned(),
        },
        Some("test") => Action::Test {
            campaign: campaign_ref(&t, "test", keys)?,
            profile: profile()?,
            event: t.table("event")?.cloned(),
            expect_status: match t.u64("expect_status")? {
                None => 200,
                Some(s @ 100..=599) => s as u16,
                Some(s) => return Err(t.at("expect_status").error(format!("{s} is not an HTTP status"))),
            },
        },
        Some("faults") => Action::Faults(fault_plan(t.get("faults").expect("present"), &t.at("faults"))?),
        Some(other) => unreachable!("{other} is one of STEP_ACTIONS"),
    };
    let name = match t.str("name")? {
        Some(n) => n.to_owned(),
        None => {
            let what = match &action {
                Action::Advance => "advance the clock".to_owned(),
                Action::Upload(body) => {
                    format!("upload {} records", body["d"].as_array().map_or(0, Vec::len))
                }
                Action::Save(c) => format!("save {c}"),
                Action::Publish(c) => format!("publish {c}"),
                Action::Stop(c) => format!("stop {c}"),
                Action::Preview { campaign, .. } => format!("preview {campaign}"),
                Action::Test { campaign, .. } => format!("send a test of {campaign}"),
                Action::Faults(plan) => format!("set {} fault rules", plan.faults.len()),
                Action::Check(_) => "check".to_owned(),
            };
            format!("{what} at {}", offset(start, at))
        }
    };
    Ok(Step { at, name, action, expect_error: t.str("expect_error")?.map(str::to_owned), loc })
}

fn expectation(
    value: &Value,
    loc: Loc,
    start: Timestamp,
    keys: &[String],
) -> Result<(Option<Timestamp>, Expectation), LoadError> {
    let mut known = vec!["name", "at"];
    known.extend(EXPECT_KINDS);
    let t = Table::new(value, loc.clone(), &known)?;
    let at = t.get("at").map(|v| time(v, &t.at("at"), start)).transpose()?;
    let kinds: Vec<&str> = EXPECT_KINDS.iter().copied().filter(|k| t.get(k).is_some()).collect();
    let (kind, auto_name) = match kinds.as_slice() {
        [one] => {
            let v = t.get(one).expect("present");
            let l = t.at(one);
            match *one {
                "history" => history_expect(v, l)?,
                "report" => report_expect(v, l, keys)?,
                "attempts" => attempts_expect(v, l, start, keys)?,
                "counts" => counts_expect(v, l)?,
                other => unreachable!("{other} is one of EXPECT_KINDS"),
            }
        }
        [] => return Err(loc.error(format!("say what to expect: one of {}", EXPECT_KINDS.join(", ")))),
        [first, second, ..] => {
            return Err(t
                .at(second)
                .error(format!("an expectation checks one thing: {first} and {second} are both given")));
        }
    };
    let name = match t.str("name")? {
        Some(n) => n.to_owned(),
        None => match at {
            Some(at) => format!("{auto_name} at {}", offset(start, at)),
            None => auto_name,
        },
    };
    Ok((at, Expectation { name, kind, loc }))
}

fn history_expect(value: &Value, loc: Loc) -> Result<(ExpectKind, String), LoadError> {
    let t = Table::new(value, loc, &["kind", "where", "count", "duplicates", "merge_parameters", "fields"])?;
    let kind = t.str("kind")?.unwrap_or("render").to_owned();
    if !["render", "test", "any"].contains(&kind.as_str()) {
        return Err(t.at("kind").error(format!("must be render, test or any, not {kind:?}")));
    }
    let filter: Vec<(String, Value)> =
        t.table("where")?.map(|w| w.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    let e = HistoryExpect {
        kind,
        count: t.u64("count")?,
        duplicates: t.u64("duplicates")?,
        merge_parameters: t.table("merge_parameters")?.cloned(),
        fields: t.table("fields")?.cloned(),
        filter,
    };
    if e.count.is_none() && e.duplicates.is_none() && e.merge_parameters.is_none() && e.fields.is_none() {
        return Err(t.loc.error("say what to check: count, duplicates, merge_parameters or fields"));
    }
    let mut name = format!("History ({} entries", e.kind);
    for (k, v) in &e.filter {
        name.push_str(&format!(", {k} = {}", show(v)));
    }
    name.push(')');
    Ok((ExpectKind::History(e), name))
}

fn report_expect(value: &Value, loc: Loc, keys: &[String]) -> Result<(ExpectKind, String), LoadError> {
    let mut known = vec!["campaign", "run"];
    known.extend(REPORT_FIGURES);
    let t = Table::new(value, loc, &known)?;
    let campaign = campaign_ref(&t, "campaign", keys)?;
    let run = t.u64("run")?.map(|r| u32::try_from(r).unwrap_or(u32::MAX));
    let figures: Map<String, Value> = t
        .map
        .iter()
        .filter(|(k, _)| REPORT_FIGURES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if figures.is_empty() {
        return Err(t.loc.error(format!("name the figures to check: {}", REPORT_FIGURES.join(", "))));
    }
    let name = match run {
        Some(r) => format!("report of {campaign}, run {r}"),
        None => format!("report of {campaign}"),
    };
    Ok((ExpectKind::Report { campaign, run, figures }, name))
}

fn attempts_expect(
    value: &Value,
    loc: Loc,
    start: Timestamp,
    keys: &[String],
) -> Result<(ExpectKind, String), LoadError> {
    let t = Table::new(value, loc, &["campaign", "identity", "run", "nth", "count", "times", "statuses", "state"])?;
    let times = match t.get("times") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| time(v, &t.at("times").join(&format!("[{i}]")), start))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => {
            return Err(t.at("times").error(format!("must be a list of times like \"+15s\", not {}", kind(other))));
        }
    };
    let statuses = match t.get("statuses") {
        None => None,
        Some(Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                if !(v.is_u64() || v.is_string()) {
                    return Err(t
                        .at("statuses")
                        .join(&format!("[{i}]"))
                        .error("must be an HTTP status (200) or an error (\"timed out\")"));
                }
            }
            Some(items.clone())
        }
        Some(other) => return Err(t.at("statuses").error(format!("must be a list, not {}", kind(other)))),
    };
    let state = t.str("state")?.map(str::to_owned);
    if let Some(s) = &state
        && !["delivered", "dead_letter", "not_sent", "pending"].contains(&s.as_str())
    {
        return Err(t.at("state").error(format!("must be delivered, dead_letter, not_sent or pending, not {s:?}")));
    }
    let e = AttemptsExpect {
        campaign: campaign_ref(&t, "campaign", keys)?,
        identity: t.required_str("identity")?.to_owned(),
        run: t.u64("run")?.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
        nth: t.u64("nth")?.map(|n| n as usize),
        count: t.u64("count")?,
        times,
        statuses,
        state,
    };
    if e.nth == Some(0) {
        return Err(t.at("nth").error("counts from 1"));
    }
    if e.count.is_none() && e.times.is_none() && e.statuses.is_none() && e.state.is_none() {
        return Err(t.loc.error("say what to check: count, times, statuses or state"));
    }
    let name = format!("attempts to {} in {}", e.identity, e.campaign);
    Ok((ExpectKind::Attempts(e), name))
}

fn counts_expect(value: &Value, loc: Loc) -> Result<(ExpectKind, String), LoadError> {
    let t = Table::new(value, loc, COUNTS)?;
    if t.map.is_empty() {
        return Err(t.loc.error(format!("name the counts to check: {}", COUNTS.join(", "))));
    }
    let names: Vec<&str> = t.map.keys().map(String::as_str).collect();
    Ok((ExpectKind::Counts(t.map.clone()), format!("counts ({})", names.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::source::parse_toml;

    fn load_text(text: &str) -> Result<Scenario, LoadError> {
        let (json, source) = parse_toml(Path::new("t.toml"), text)?;
        build(Path::new("t.toml"), "t", &[(json, source)])
    }

    const BASE: &str = "start = 2026-12-01T09:00:00Z\n[[webhook]]\nname = \"Inkit\"\nmethod = \"POST\"\nurl = \"{{inkit}}/v1/generate\"\n";

    #[test]
    fn durations_and_offsets_read_and_print_alike() {
        assert_eq!(duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(duration("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(duration("1w"), Some(Duration::from_secs(604_800)));
        assert_eq!(duration("15"), None);
        assert_eq!(duration("m"), None);
        assert_eq!(duration(""), None);
        let start: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        assert_eq!(offset(start, add(start, Duration::from_millis(93_784_005))), "+1d2h3m4s5ms");
        assert_eq!(offset(start, start), "+0s");
    }

    #[test]
    fn steps_sort_by_time_and_default_to_the_previous_steps_time() {
        let s = load_text(&format!(
            "{BASE}[[campaign]]\nname = \"c\"\nwebhook_endpoint_name = \"Inkit\"\nwhere = {{}}\ndraft = true\n\
             [[step]]\nat = \"+1h\"\npublish = \"c\"\n[[step]]\nstop = \"c\"\n[[step]]\nat = \"+10m\"\n\
             [[expect]]\nat = \"+10m\"\ncounts = {{ delivered = 0 }}\n"
        ))
        .unwrap();
        let at: Vec<String> = s.timeline.iter().map(|st| offset(s.start, st.at)).collect();
        assert_eq!(at, ["+10m", "+10m", "+1h", "+1h"]);
        assert!(matches!(s.timeline[1].action, Action::Check(_)), "checks come after steps at the same time");
        assert!(matches!(s.timeline[3].action, Action::Stop(_)));
        assert_eq!(offset(s.start, s.end), "+2h", "an hour after the last step by default");
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let err = |text: &str| load_text(text).unwrap_err().to_string();
        assert_eq!(
            err("colour = 1\nstart = 2026-12-01T09:00:00Z"),
            format!("t.toml:1: colour: unknown field; the fields are {}", TOP.join(", "))
        );
        assert_eq!(
            err("name = \"x\""),
            "t.toml: start: is required: the instant the scenario starts, like 2026-12-01T09:00:00Z"
        );
        assert!(
            err(&format!("{BASE}[[step]]\nat = \"+1x\"\n"))
                .starts_with("t.toml:7: step[0].at: \"+1x\" is not a time after the start")
        );
        assert_eq!(
            err(&format!("{BASE}[[step]]\nat = 2026-11-30T09:00:00Z\n")),
            "t.toml:7: step[0].at: \"2026-11-30T09:00:00Z\" is before the scenario's start (2026-12-01T09:00:00.000Z)"
        );
        assert_eq!(
            err(&format!("{BASE}[[step]]\nat = \"+300w\"\n")),
            "t.toml:7: step[0].at: \"+300w\" is more than five years after the start"
        );
        assert_eq!(
            err(&format!("{BASE}[[step]]\npublish = \"nope\"\n")),
            "t.toml:7: step[0].publish: no campaign called \"nope\"; the campaigns are none"
        );
        assert_eq!(
            err(&format!(
                "{BASE}[[campaign]]\nname = \"c\"\nwebhook_endpoint_name = \"Inkit\"\nwhere = {{}}\n\n[campaign.when]\ntype = \"later\"\ndelivery_date_time = [\"2026-12-01\"]\n"
            )),
            "t.toml:13: campaign[0].when.delivery_date_time[0]: \"2026-12-01\" is not a date and time \"YYYYMMDD HH:MM\""
        );
        assert_eq!(
            err(&format!("{BASE}headers = {{ \"Bad Header\" = \"x\" }}\n")),
            "t.toml:6: webhook[0].headers.\"Bad Header\": ' ' is not allowed in a header name (letters, digits and !#$%&'*+-.^_`|~ only)"
        );
        assert_eq!(
            err(&format!("{BASE}[[expect]]\nhistory = {{ count = 1, colour = 2 }}\n")),
            "t.toml:7: expect[0].history.colour: unknown field; the fields are kind, where, count, duplicates, merge_parameters, fields"
        );
        assert_eq!(
            err(&format!(
                "{BASE}[inkit.faults]\n[[inkit.faults.fault]]\nroute = \"POST /generate\"\nkind = \"status\"\nstatus = 99\n"
            )),
            "t.toml:10: inkit.faults.fault[0].status: status must be an HTTP status from 200 to 599, not 99"
        );
        assert_eq!(
            err("start = 2026-12-01T09:00:00Z\n[account]\ntime_zone = \"Mars/Olympus\"\n")
                .split(':')
                .take(3)
                .collect::<Vec<_>>(),
            ["t.toml", "3", " account.time_zone"]
        );
    }
}
