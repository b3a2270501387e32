//! Webhook campaigns: who (a segment, control group, targeting cap), what (the content), when (a schedule
//! or a live trigger) and how often (limits, caps, DND, throttle), with their lifecycle.

pub mod audience;
pub mod content;
pub mod edit;
pub mod goal;
pub mod lifecycle;
pub mod limits;
pub mod live;
pub mod spec;
pub mod target;
pub mod throttle;

use clock::Timestamp;

use crate::schedule::{Dnd, Schedule};
use audience::{ControlGroup, TargetingCap};
use content::Content;
use goal::Goal;
use lifecycle::Status;
use limits::UserLimit;
use live::LiveTrigger;
use target::Target;
use throttle::Throttle;

/// One webhook campaign, as saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// A positive integer; CleverTap's are "typically 10-digit epoch-based".
    pub id: u64,
    pub name: String,
    pub labels: Vec<String>,
    /// The webhook's name (Settings > Channels > Webhook): `webhook_endpoint_name`.
    pub webhook: String,
    pub content: Content,
    pub target: Target,
    pub control_group: Option<ControlGroup>,
    pub targeting_cap: Option<TargetingCap>,
    pub when: When,
    pub limit: UserLimit,
    /// Whether the account's global frequency cap applies (CleverTap: on by default).
    pub respect_frequency_caps: bool,
    pub throttle: Option<Throttle>,
    pub goal: Option<Goal>,
    pub created_at: Timestamp,
    /// Set by publishing; a campaign without it is a draft.
    pub published_at: Option<Timestamp>,
    /// Set by stopping, for good.
    pub stopped_at: Option<Timestamp>,
}

/// Past behaviour on a schedule, or live behaviour on a trigger.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    Scheduled(Schedule),
    /// A live trigger between `start` and `end`, under its own DND (a schedule's DND is in its `when`).
    Live {
        trigger: LiveTrigger,
        start: Option<Timestamp>,
        end: Option<Timestamp>,
        dnd: Option<Dnd>,
    },
}

impl Campaign {
    /// Whether a live campaign takes triggers at `at`: published, not stopped, within its start and end.
    pub fn live_at(&self, at: Timestamp) -> bool {
        let When::Live { start, end, .. } = &self.when else { return false };
        self.published_at.is_some()
            && self.stopped_at.is_none()
            && start.is_none_or(|s| at >= s)
            && end.is_none_or(|e| at < e)
    }

    /// When the campaign is scheduled to start, as the targets list shows it: a scheduled campaign's first run
    /// (or its publication, for "now"), a live campaign's start (or its publication); none for a draft.
    pub fn scheduled_start(&self, account: &jiff::tz::TimeZone) -> Option<Timestamp> {
        let published = self.published_at?;
        Some(match &self.when {
            When::Scheduled(schedule) => schedule
                .next_run(published, account)
                .map_or(published, |run| schedule.opens(&run, account).max(published)),
            When::Live { start, .. } => start.map_or(published, |s| s.max(published)),
        })
    }

    /// The status before the runner's progress is known: draft, stopped, or (published) scheduled.
    pub fn base_status(&self) -> Status {
        match (self.published_at, self.stopped_at) {
            (_, Some(_)) => Status::Stopped,
            (None, None) => Status::Draft,
            (Some(_), None) => Status::Scheduled,
        }
    }
}
