//! Fault injection: latency, error statuses, 429 with `Retry-After`, dropped connections, scripted
//! sequences and per-token rate limits, per route, reproducible from a seed.
//!
//! A plan comes from a TOML file at start-up (`--faults FILE`) or as JSON through `PUT /__admin/faults`:
//!
//! ```toml
//! seed = 42
//!
//! [[fault]]
//! route = "POST /generate"   # a route as the journal names it, "POST *", or "*"
//! kind = "status"            # latency | slow_answer | status | too_many_requests | close | sequence | every | rate_limit
//! status = 500
//! probability = 0.3
//! ```
//!
//! Rules are tried in order for each API request. `latency` adds its delay and goes on to the next rule;
//! the first other rule that fires decides the answer. Admin routes are never faulted.
//!
//! `slow_answer` also adds a delay and goes on, but after the request has been handled: what it stores is
//! stored at once and only the answer is held back. A client that times out meanwhile loses an answer to a
//! request that succeeded, which is how a retry becomes a duplicate. (`latency` delays before handling, and
//! a client that hangs up during it leaves nothing stored.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clock::Timestamp;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A fault plan as written by a person.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Seeds the random choices, so a run with the same requests in the same order fails the same way.
    #[serde(default)]
    pub seed: u64,
    #[serde(default, rename = "fault", alias = "faults")]
    pub faults: Vec<FaultRule>,
}

/// One rule. Which keys apply depends on `kind`; `validate` says which are missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    pub route: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// For `sequence`: outcomes in order, each `ok`, `close` or a status such as `500`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<String>>,
    /// For `sequence`: what follows the steps, `ok` (the default) or `repeat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<String>,
    /// For `every`: every n-th matching request gets `outcome`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// For `rate_limit`: at most `limit` requests per token every `per_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_seconds: Option<u64>,
}

/// Why a fault plan was refused; `field` is like `fault[2].status`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PlanError {
    pub field: String,
    pub message: String,
}

impl PlanError {
    pub fn into_api_error(self) -> ApiError {
        ApiError::invalid(self.field.clone(), self.to_string())
    }
}

/// What a matched rule makes the answer.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Pass,
    Respond(StatusCode),
    Close,
}

fn parse_outcome(s: &str) -> Option<Outcome> {
    match s.trim() {
        "ok" => Some(Outcome::Pass),
        "close" => Some(Outcome::Close),
        n => n.parse::<u16>().ok().and_then(|c| StatusCode::from_u16(c).ok()).map(Outcome::Respond),
    }
}

#[derive(Debug, Clone)]
enum Action {
    Latency { min: u64, max: u64 },
    SlowAnswer { min: u64, max: u64 },
    Respond(StatusCode),
    Close,
    Sequence { steps: Vec<Outcome>, repeat: bool },
    Every { n: u64, outcome: Outcome },
    RateLimit { limit: u32, per: Duration },
}

#[derive(Debug, Clone)]
struct Compiled {
    route: String,
    probability: f64,
    retry_after_s: u64,
    action: Action,
}

impl FaultPlan {
    /// Parses a TOML plan, naming the line of any error.
    pub fn from_toml(text: &str) -> Result<Self, PlanError> {
        let plan: FaultPlan =
            toml::from_str(text).map_err(|e| PlanError { field: "faults file".into(), message: e.to_string() })?;
        plan.compile()?;
        Ok(plan)
    }

    /// Checks every rule, naming the first bad one and key (`fault[2].status`), as loading a plan does.
    pub fn validate(&self) -> Result<(), PlanError> {
        self.compile().map(drop)
    }

    fn compile(&self) -> Result<Vec<Compiled>, PlanError> {
        self.faults.iter().enumerate().map(|(i, r)| r.compile(&format!("fault[{i}]"))).collect()
    }
}

impl FaultRule {
    fn compile(&self, at: &str) -> Result<Compiled, PlanError> {
        let err = |key: &str, message: String| PlanError { field: format!("{at}.{key}"), message };
        let need = |key: &str, v: Option<u64>| v.ok_or_else(|| err(key, format!("kind {:?} needs {key}", self.kind)));
        let route = self.route.trim().to_owned();
        let method_wildcard = route.strip_suffix(" *").is_some_and(|m| ["GET", "POST", "PUT", "DELETE"].contains(&m));
        if route != "*" && !method_wildcard && !crate::routes::API_ROUTES.contains(&route.as_str()) {
            return Err(err(
                "route",
                format!(
                    "{route:?} is not a route: use \"*\", \"POST *\" (any method), or one of {}",
                    crate::routes::API_ROUTES.join(", ")
                ),
            ));
        }
        let probability = self.probability.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&probability) {
            return Err(err("probability", format!("probability must be between 0 and 1, not {probability}")));
        }
        let status = |default: Option<u16>| -> Result<StatusCode, PlanError> {
            let code =
                self.status.or(default).ok_or_else(|| err("status", format!("kind {:?} needs status", self.kind)))?;
            StatusCode::from_u16(code)
                .ok()
                .filter(|s| s.as_u16() >= 200)
                .ok_or_else(|| err("status", format!("status must be an HTTP status from 200 to 599, not {code}")))
        };
        let outcome = |key: &str, s: &str| {
            parse_outcome(s)
                .ok_or_else(|| err(key, format!("{s:?} is not an outcome: use ok, close or a status like 500")))
        };
        let range = || match (self.ms, self.min_ms, self.max_ms) {
            (Some(ms), None, None) => Ok((ms, ms)),
            (None, Some(a), Some(b)) if a <= b => Ok((a, b)),
            (None, Some(_), Some(_)) => Err(err("min_ms", "min_ms must not exceed max_ms".into())),
            _ => Err(err("ms", format!("{} needs ms, or min_ms and max_ms", self.kind))),
        };
        let action = match self.kind.as_str() {
            "latency" => {
                let (min, max) = range()?;
                Action::Latency { min, max }
            }
            "slow_answer" => {
                let (min, max) = range()?;
                Action::SlowAnswer { min, max }
            }
            "status" => Action::Respond(status(None)?),
            "too_many_requests" => Action::Respond(StatusCode::TOO_MANY_REQUESTS),
            "close" => Action::Close,
            "sequence" => {
                let steps = self
                    .steps
                    .as_ref()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| err("steps", "sequence needs steps, e.g. [\"500\", \"500\", \"ok\"]".into()))?;
                let steps = steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| outcome(&format!("steps[{i}]"), s))
                    .collect::<Result<_, _>>()?;
                let repeat = match self.then.as_deref().unwrap_or("ok") {
                    "ok" => false,
                    "repeat" => true,
                    other => return Err(err("then", format!("then must be ok or repeat, not {other:?}"))),
                };
                Action::Sequence { steps, repeat }
            }
            "every" => {
                let n = need("n", self.n)?;
                if n == 0 {
                    return Err(err("n", "n must be at least 1".into()));
                }
                let o = self
                    .outcome
                    .as_deref()
                    .ok_or_else(|| err("outcome", "every needs outcome, e.g. \"500\"".into()))?;
                Action::Every { n, outcome: outcome("outcome", o)? }
            }
            "rate_limit" => {
                let limit = self.limit.ok_or_else(|| err("limit", "rate_limit needs limit".into()))?;
                let per = need("per_seconds", self.per_seconds)?;
                if per == 0 {
                    return Err(err("per_seconds", "per_seconds must be at least 1".into()));
                }
                Action::RateLimit { limit, per: Duration::from_secs(per) }
            }
            other => {
                return Err(err(
                    "kind",
                    format!(
                        "unknown kind {other:?}: use latency, slow_answer, status, too_many_requests, close, sequence, every or rate_limit"
                    ),
                ));
            }
        };
        Ok(Compiled { route, probability, retry_after_s: self.retry_after_s.unwrap_or(1), action })
    }
}

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// How long to wait before handling the request (`latency`).
    pub delay: Duration,
    /// How long to hold the answer back once the request has been handled (`slow_answer`).
    pub answer_delay: Duration,
    pub verdict: Verdict,
    /// A short description for the journal, e.g. `fault[0] status 500`.
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Respond(ApiError),
    Close,
}

#[derive(Debug)]
struct State {
    plan: FaultPlan,
    rules: Vec<Compiled>,
    rng: u64,
    /// Matching requests seen per rule, for `sequence` and `every`.
    seen: Vec<u64>,
    /// Per rule, per token: window start and count.
    windows: Vec<HashMap<String, (Timestamp, u32)>>,
}

#[derive(Debug)]
pub struct Faults {
    /// Whether any rule is set; lets the common case (no faults) skip the lock.
    active: AtomicBool,
    state: Mutex<State>,
}

impl Faults {
    pub fn new(plan: FaultPlan) -> Result<Self, PlanError> {
        let state = State::new(plan)?;
        Ok(Self { active: AtomicBool::new(!state.rules.is_empty()), state: Mutex::new(state) })
    }

    pub fn plan(&self) -> FaultPlan {
        self.lock().plan.clone()
    }

    /// Replaces the plan and resets counters; a bad plan leaves the old one in force.
    pub fn replace(&self, plan: FaultPlan) -> Result<(), PlanError> {
        let new = State::new(plan)?;
        let mut state = self.lock();
        self.active.store(!new.rules.is_empty(), Ordering::Release);
        *state = new;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decides the fate of one request to `route` (as the journal names it) made with `token`.
    pub fn decide(&self, method_and_route: &str, token: Option<&str>, now: Timestamp) -> Decision {
        let mut decision =
            Decision { delay: Duration::ZERO, answer_delay: Duration::ZERO, verdict: Verdict::Pass, label: None };
        if !self.active.load(Ordering::Acquire) {
            return decision;
        }
        let mut s = self.lock();
        if s.rules.is_empty() {
            return decision;
        }
        let method = method_and_route.split(' ').next().unwrap_or("");
        for i in 0..s.rules.len() {
            let rule = s.rules[i].clone();
            let matches = rule.route == "*"
                || rule.route == method_and_route
                || rule.route.strip_suffix(" *").is_some_and(|m| m.eq_ignore_ascii_case(method));
            if !matches {
                continue;
            }
            s.seen[i] += 1;
            let nth = s.seen[i];
            if rule.probability < 1.0 && s.next_f64() >= rule.probability {
                continue;
            }
            let outcome = match &rule.action {
                Action::Latency { min, max } => {
                    let ms = if min == max { *min } else { min + s.next_u64() % (max - min + 1) };
                    decision.delay += Duration::from_millis(ms);
                    continue;
                }
                Action::SlowAnswer { min, max } => {
                    let ms = if min == max { *min } else { min + s.next_u64() % (max - min + 1) };
                    decision.answer_delay += Duration::from_millis(ms);
                    continue;
                }
                Action::Respond(status) => Outcome::Respond(*status),
                Action::Close => Outcome::Close,
                Action::Sequence { steps, repeat } => {
                    let k = (nth - 1) as usize;
                    match steps.get(if *repeat { k % steps.len() } else { k }) {
                        Some(o) => o.clone(),
                        None => Outcome::Pass,
                    }
                }
                Action::Every { n, outcome } => {
                    if nth.is_multiple_of(*n) {
                        outcome.clone()
                    } else {
                        Outcome::Pass
                    }
                }
                Action::RateLimit { limit, per } => {
                    let key = token.unwrap_or("").to_owned();
                    let per_span = jiff::SignedDuration::try_from(*per).unwrap_or(jiff::SignedDuration::MAX);
                    let window = s.windows[i].entry(key).or_insert((now, 0));
                    if now.duration_since(window.0) >= per_span {
                        *window = (now, 0);
                    }
                    window.1 += 1;
                    if window.1 <= *limit {
                        Outcome::Pass
                    } else {
                        let left = per_span - now.duration_since(window.0);
                        let secs = left.as_secs().max(0) as u64 + u64::from(left.subsec_nanos() > 0);
                        decision.label = Some(format!("fault[{i}] rate_limit {limit}/{}s", per.as_secs()));
                        decision.verdict = Verdict::Respond(ApiError::rate_limited(
                            format!("rate limit of {limit} requests per {} s exceeded for this token", per.as_secs()),
                            secs.max(1),
                        ));
                        return decision;
                    }
                }
            };
            match outcome {
                Outcome::Pass => continue,
                Outcome::Close => {
                    decision.label = Some(format!("fault[{i}] close"));
                    decision.verdict = Verdict::Close;
                }
                Outcome::Respond(status) => {
                    decision.label = Some(format!("fault[{i}] status {}", status.as_u16()));
                    let retry_after = matches!(status.as_u16(), 429 | 503).then_some(rule.retry_after_s);
                    decision.verdict = Verdict::Respond(ApiError::injected(status, retry_after));
                }
            }
            return decision;
        }
        let delays = [("latency", decision.delay), ("slow answer", decision.answer_delay)];
        let label: Vec<String> = delays
            .iter()
            .filter(|(_, d)| !d.is_zero())
            .map(|(what, d)| format!("{what} {} ms", d.as_millis()))
            .collect();
        if !label.is_empty() {
            decision.label = Some(label.join(", "));
        }
        decision
    }
}

impl State {
    fn new(plan: FaultPlan) -> Result<Self, PlanError> {
        let rules = plan.compile()?;
        let n = rules.len();
        Ok(Self {
            rng: plan.seed ^ 0x5DEE_CE66_D1CE_4E5B,
            plan,
            rules,
            seen: vec![0; n],
            windows: vec![HashMap::new(); n],
        })
    }

    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(toml: &str) -> Faults {
        Faults::new(FaultPlan::from_toml(toml).unwrap()).unwrap()
    }

    fn verdicts(f: &Faults, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| match f.decide("POST /generate", Some("t"), Timestamp::UNIX_EPOCH).verdict {
                Verdict::Pass => "ok".to_owned(),
                Verdict::Close => "close".to_owned(),
                Verdict::Respond(e) => e.status.as_u16().to_string(),
            })
            .collect()
    }

    #[test]
    fn a_sequence_fails_three_times_then_succeeds() {
        let f =
            faults("[[fault]]\nroute = \"POST /generate\"\nkind = \"sequence\"\nsteps = [\"500\", \"500\", \"close\"]");
        assert_eq!(verdicts(&f, 5), ["500", "500", "close", "ok", "ok"]);
    }

    #[test]
    fn every_fifth_request_fails() {
        let f = faults("[[fault]]\nroute = \"*\"\nkind = \"every\"\nn = 5\noutcome = \"503\"");
        let v = verdicts(&f, 10);
        assert_eq!(v.iter().filter(|s| *s == "503").count(), 2);
        assert_eq!(v[4], "503");
    }

    #[test]
    fn probabilities_are_reproducible_from_the_seed() {
        let plan = "seed = 7\n[[fault]]\nroute = \"POST *\"\nkind = \"status\"\nstatus = 500\nprobability = 0.3";
        let (a, b) = (verdicts(&faults(plan), 1000), verdicts(&faults(plan), 1000));
        assert_eq!(a, b);
        let failures = a.iter().filter(|s| *s == "500").count();
        assert!((230..370).contains(&failures), "{failures}");
    }

    #[test]
    fn rate_limit_answers_429_with_the_seconds_left() {
        let f = faults("[[fault]]\nroute = \"*\"\nkind = \"rate_limit\"\nlimit = 2\nper_seconds = 60");
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let later = now + jiff::SignedDuration::from_secs(15);
        assert_eq!(f.decide("POST /generate", Some("a"), now).verdict, Verdict::Pass);
        assert_eq!(f.decide("POST /generate", Some("a"), now).verdict, Verdict::Pass);
        assert_eq!(f.decide("POST /generate", Some("b"), now).verdict, Verdict::Pass, "limits are per token");
        match f.decide("POST /generate", Some("a"), later).verdict {
            Verdict::Respond(e) => assert_eq!((e.status.as_u16(), e.retry_after), (429, Some(45))),
            other => panic!("expected 429, got {other:?}"),
        }
    }

    #[test]
    fn latency_adds_up_and_lets_the_request_through() {
        let f = faults(
            "[[fault]]\nroute = \"*\"\nkind = \"latency\"\nms = 20\n[[fault]]\nroute = \"*\"\nkind = \"latency\"\nmin_ms = 5\nmax_ms = 5",
        );
        let d = f.decide("GET /render/{id}", None, Timestamp::UNIX_EPOCH);
        assert_eq!((d.delay, d.verdict), (Duration::from_millis(25), Verdict::Pass));
    }

    #[test]
    fn a_slow_answer_delays_the_answer_not_the_handling() {
        let f = faults(
            "[[fault]]\nroute = \"POST /generate\"\nkind = \"slow_answer\"\nms = 400\n[[fault]]\nroute = \"*\"\nkind = \"latency\"\nms = 10",
        );
        let d = f.decide("POST /generate", None, Timestamp::UNIX_EPOCH);
        assert_eq!(
            (d.delay, d.answer_delay, d.verdict),
            (Duration::from_millis(10), Duration::from_millis(400), Verdict::Pass)
        );
        assert_eq!(d.label.as_deref(), Some("latency 10 ms, slow answer 400 ms"));
        let e = FaultPlan::from_toml("[[fault]]\nroute = \"*\"\nkind = \"slow_answer\"").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("fault[0].ms", "slow_answer needs ms, or min_ms and max_ms")
        );
    }

    #[test]
    fn a_bad_plan_names_the_rule_and_key() {
        let e = FaultPlan::from_toml("[[fault]]\nroute = \"*\"\nkind = \"status\"\nstatus = 99").unwrap_err();
        assert_eq!(e.field, "fault[0].status");
        let e = FaultPlan::from_toml("[[fault]]\nroute = \"*\"\nkind = \"explode\"").unwrap_err();
        assert_eq!(e.field, "fault[0].kind");
        let e = FaultPlan::from_toml("[[fault]]\nroute = \"*\"\nkind = \"status\"\nstatuss = 500").unwrap_err();
        assert!(e.message.contains("statuss"), "{e}");
        let e = FaultPlan::from_toml("[[fault]]\nroute = \"POST /generat\"\nkind = \"close\"").unwrap_err();
        assert_eq!(e.field, "fault[0].route");
        assert!(e.message.contains("POST /generate"), "the message lists the routes: {e}");
    }
}
