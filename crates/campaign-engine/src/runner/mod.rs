//! Running campaigns: scheduled runs open, live triggers fire on events, each qualified user goes through
//! CleverTap's checks in order (control group, targeting cap, limits, frequency cap, DND, throttle) and
//! comes out as a [`Delivery`]; outcomes reported back fill the campaign's report. All of it is a pure
//! function of the store, the campaigns and the instants it is given: the runner never reads a clock.

mod agenda;
mod checks;
mod live;
mod scheduled;
#[cfg(test)]
mod tests;

use clock::Timestamp;
use foldhash::HashMap;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;

use crate::campaign::limits::{FrequencyCap, SendLog};
use crate::campaign::{Campaign, When, lifecycle::Status};
use crate::delivery::Delivery;
use crate::event::Event;
use crate::report::{CampaignReport, DropReason};
use crate::store::MemoryStore;
use agenda::{Agenda, Item};

/// Account-wide settings that campaigns obey.
#[derive(Debug, Clone)]
pub struct Account {
    /// The account time zone: schedules, days of live reports and date properties are read in it.
    pub time_zone: TimeZone,
    /// The account's DND hours, for campaigns whose DND gives none.
    pub dnd_window: Option<crate::schedule::DndWindow>,
    /// The global frequency cap for webhooks, if the account sets one.
    pub frequency_cap: Option<FrequencyCap>,
    /// Whether a delivered webhook raises the system event `Webhook Delivered` on the user.
    pub webhook_delivered_event: bool,
}

impl Default for Account {
    fn default() -> Self {
        Account { time_zone: TimeZone::UTC, dnd_window: None, frequency_cap: None, webhook_delivered_event: true }
    }
}

/// What became of a delivery, as the dispatcher reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Given up after retries ("Webhook Dispatch Failed: …").
    Failed(String),
    /// Not sent by the body's decision or because it could not be rendered (`LiquidLogicAborted`).
    NotSent(String),
}

/// A delivery's final outcome as the dispatcher recorded it, and when: what [`crate::Engine::open_with_account`]
/// settles again while it replays the journal, so that reports after a restart count what was settled
/// before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledOutcome {
    pub delivery_id: String,
    pub outcome: Outcome,
    pub at: Timestamp,
}

/// A user who got a message or was held in the control group, for conversions (of campaigns with a goal).
#[derive(Debug, Clone)]
struct Exposure {
    campaign: u64,
    report_run: u32,
    at: Timestamp,
    control: bool,
    converted: bool,
}

/// A delivery handed on and not yet settled.
#[derive(Debug, Clone)]
struct Handed {
    campaign: u64,
    report_run: u32,
    object_id: String,
}

#[derive(Debug, Default)]
struct Progress {
    /// The last run opened (scheduled campaigns).
    last_run: Option<u32>,
    throttle: crate::campaign::throttle::ThrottleState,
    report: CampaignReport,
}

#[derive(Debug, Default)]
pub struct Runner {
    pub account: Account,
    /// Saved segments, which campaign targets may include or exclude.
    pub saved: crate::segment::SavedSegments,
    campaigns: BTreeMap<u64, (Campaign, Progress)>,
    agenda: Agenda,
    sends: HashMap<String, SendLog>,
    exposures: HashMap<String, Vec<Exposure>>,
    handed: HashMap<String, Handed>,
    /// Live campaigns (action and inaction) by the key ([`Event::key`]) of the event that starts them, in id
    /// order: an incoming event looks only at the campaigns that listen to its name.
    listening: HashMap<String, Vec<u64>>,
}

impl Runner {
    pub fn new(account: Account) -> Self {
        Runner { account, ..Runner::default() }
    }

    /// Adds a campaign (a draft, or already published); a published one is put on the agenda.
    pub fn add(&mut self, campaign: Campaign) {
        let id = campaign.id;
        let published = campaign.published_at;
        live::listen(&mut self.listening, &campaign);
        self.campaigns.insert(id, (campaign, Progress::default()));
        if let Some(at) = published {
            self.schedule_first(id, at);
        }
    }

    pub fn campaign(&self, id: u64) -> Option<&Campaign> {
        self.campaigns.get(&id).map(|(c, _)| c)
    }

    pub fn campaigns(&self) -> impl Iterator<Item = &Campaign> {
        self.campaigns.values().map(|(c, _)| c)
    }

    /// Replaces a campaign's definition at `at` (the caller checked the edit rules); its progress stays. A
    /// published campaign whose schedule changed (it has not run yet: the rules allow no other) is put on the
    /// agenda again from `at`.
    pub fn replace(&mut self, campaign: Campaign, at: Timestamp) {
        let id = campaign.id;
        let Some((old, _)) = self.campaigns.get_mut(&id) else { return };
        let rescheduled = old.when != campaign.when && old.published_at.is_some() && old.stopped_at.is_none();
        live::unlisten(&mut self.listening, old);
        live::listen(&mut self.listening, &campaign);
        *old = campaign;
        if rescheduled {
            self.agenda.remove_campaign(id);
            self.schedule_first(id, at);
        }
    }

    /// Publishes a draft at `at`: scheduled campaigns queue their first run, live ones start listening.
    pub fn publish(&mut self, id: u64, at: Timestamp) {
        let Some((campaign, _)) = self.campaigns.get_mut(&id) else { return };
        // A stopped draft stays stopped, also when an older journal publishes it after its stop.
        if campaign.published_at.is_some() || campaign.stopped_at.is_some() {
            return;
        }
        campaign.published_at = Some(at);
        self.schedule_first(id, at);
    }

    /// Stops a campaign for good at `at`: nothing more is sent; users waiting are dropped as "stopped".
    /// Stopping a stopped campaign does nothing.
    pub fn stop(&mut self, id: u64, at: Timestamp) {
        let Some((campaign, progress)) = self.campaigns.get_mut(&id) else { return };
        if campaign.stopped_at.is_some() {
            return;
        }
        campaign.stopped_at = Some(at);
        live::unlisten(&mut self.listening, campaign);
        for item in self.agenda.remove_campaign(id) {
            if let Item::Candidate(c) | Item::Send(c) = item {
                progress.report.run(c.report_run).drop(DropReason::Stopped);
            }
        }
    }

    /// The campaign's status at `now`.
    pub fn status(&self, id: u64, now: Timestamp) -> Option<Status> {
        let (campaign, progress) = self.campaigns.get(&id)?;
        let base = campaign.base_status();
        if base != Status::Scheduled {
            return Some(base);
        }
        let waiting = self.agenda.waiting(id) > 0;
        Some(match &campaign.when {
            When::Scheduled(schedule) => match progress.last_run {
                None if waiting || self.agenda.has_run(id) => Status::Scheduled,
                None => Status::Completed,
                Some(_) if waiting => Status::Running,
                Some(last) if schedule.run(last + 1).is_some() => Status::AwaitingNextRun,
                Some(_) => Status::Completed,
            },
            When::Live { start, end, .. } => {
                if start.is_some_and(|s| now < s) {
                    Status::Scheduled
                } else if end.is_some_and(|e| now >= e) && !waiting {
                    Status::Completed
                } else {
                    Status::Running
                }
            }
        })
    }

    pub fn report(&self, id: u64) -> Option<&CampaignReport> {
        self.campaigns.get(&id).map(|(_, p)| &p.report)
    }

    /// When the next thing is due.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.agenda.next_due()
    }

    /// Does everything due at or before `now`, in time order, each at its own instant; returns the deliveries.
    pub fn run_due(&mut self, store: &MemoryStore, now: Timestamp) -> Vec<Delivery> {
        let mut out = Vec::new();
        while let Some((at, item)) = self.agenda.pop_due(now) {
            match item {
                Item::RunOpens { campaign, run } => self.open_run(store, campaign, run, at),
                Item::DayOpens { campaign, day } => self.open_day(store, campaign, day, at),
                Item::Candidate(candidate) => self.check(store, candidate, at, &mut out),
                Item::Send(candidate) => self.send(store, candidate, at, &mut out),
                Item::InactionCheck { campaign, object_id, since, event, n } => {
                    self.check_inaction(store, campaign, object_id, since, event, n, at)
                }
            }
        }
        out
    }

    /// A new event of a user (already in `store`), arrived at `now`: live campaigns it triggers are queued,
    /// conversion goals it meets are counted.
    pub fn on_event(&mut self, store: &MemoryStore, object_id: &str, event: &Event, now: Timestamp) {
        self.count_conversion(object_id, event);
        self.trigger_live(store, object_id, event, now);
    }

    /// Whether the delivery `delivery_id` was handed on and has no outcome yet.
    pub fn awaits_outcome(&self, delivery_id: &str) -> bool {
        self.handed.contains_key(delivery_id)
    }

    /// The dispatcher's word on a delivery. Returns the `Webhook Delivered` event to record on the user,
    /// when the account raises it. An unknown or already settled id is ignored.
    pub fn settle(&mut self, delivery_id: &str, outcome: &Outcome) -> Option<(String, u64)> {
        let handed = self.handed.remove(delivery_id)?;
        let (_, progress) = self.campaigns.get_mut(&handed.campaign)?;
        let run = progress.report.run(handed.report_run);
        match outcome {
            Outcome::Delivered => run.delivered += 1,
            Outcome::Failed(reason) => *run.failed.entry(reason.clone()).or_default() += 1,
            Outcome::NotSent(reason) => *run.not_sent.entry(reason.clone()).or_default() += 1,
        }
        (*outcome == Outcome::Delivered && self.account.webhook_delivered_event)
            .then_some((handed.object_id, handed.campaign))
    }

    /// Notes a user held in the control group, whose goal events count as control-group conversions.
    fn expose_control(&mut self, object_id: &str, campaign: u64, report_run: u32, at: Timestamp) {
        if self.campaigns.get(&campaign).is_none_or(|(c, _)| c.goal.is_none()) {
            return;
        }
        let exposure = Exposure { campaign, report_run, at, control: true, converted: false };
        self.exposures.entry(object_id.to_owned()).or_default().push(exposure);
    }

    fn count_conversion(&mut self, object_id: &str, event: &Event) {
        let Some(exposures) = self.exposures.get_mut(object_id) else { return };
        for exposure in exposures.iter_mut().filter(|e| !e.converted && event.ts >= e.at) {
            let Some((campaign, progress)) = self.campaigns.get_mut(&exposure.campaign) else { continue };
            let Some(goal) = &campaign.goal else { continue };
            let within = event.ts.duration_since(exposure.at).as_secs_f64() <= goal.within.as_secs_f64();
            if within && goal.event.matches(event) {
                exposure.converted = true;
                let run = progress.report.run(exposure.report_run);
                if exposure.control { run.control_conversions += 1 } else { run.conversions += 1 }
            }
        }
    }
}
