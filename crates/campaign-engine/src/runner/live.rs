//! Live campaigns: an arriving event qualifies its user for action campaigns (after their delay) and starts
//! the clock of inaction campaigns; date-property campaigns open once a day. For live campaigns each day
//! (account time zone) is a run of the report.

use clock::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde_json::{Map, Value};

use foldhash::HashMap;

use super::Runner;
use super::agenda::{Candidate, Item};
use crate::campaign::live::{EventMatch, LiveTrigger};
use crate::campaign::{Campaign, When};
use crate::delivery::RunKey;
use crate::event::Event;
use crate::profile::{IdentityKind, date_value};
use crate::store::MemoryStore;

/// A day as `YYYYMMDD`.
pub(crate) fn yyyymmdd(date: Date) -> u32 {
    let y = u32::try_from(date.year()).unwrap_or(0);
    y * 10_000 + u32::from(date.month().unsigned_abs()) * 100 + u32::from(date.day().unsigned_abs())
}

fn day_of(at: Timestamp, zone: &TimeZone) -> Date {
    at.to_zoned(zone.clone()).date()
}

/// Adds a campaign to the index of live campaigns by starting event (if it has one), keeping ids in order.
pub(super) fn listen(listening: &mut HashMap<String, Vec<u64>>, campaign: &Campaign) {
    if let Some(starting) = starting_event(campaign) {
        let ids = listening.entry(starting.key.clone()).or_default();
        if let Err(at) = ids.binary_search(&campaign.id) {
            ids.insert(at, campaign.id);
        }
    }
}

/// Takes a campaign out of the index of live campaigns (stopped, or its trigger edited).
pub(super) fn unlisten(listening: &mut HashMap<String, Vec<u64>>, campaign: &Campaign) {
    let Some(starting) = starting_event(campaign) else { return };
    if let Some(ids) = listening.get_mut(&starting.key) {
        ids.retain(|id| *id != campaign.id);
        if ids.is_empty() {
            listening.remove(&starting.key);
        }
    }
}

fn starting_event(campaign: &Campaign) -> Option<&EventMatch> {
    match &campaign.when {
        When::Live { trigger, .. } => trigger.starting_event(),
        When::Scheduled(_) => None,
    }
}

/// How many of the user's events share this event's instant and came before it (0 for most events): tells
/// apart two triggers of one user at one instant. The user's events are in time order, the event among them.
fn same_instant_before(store: &MemoryStore, object_id: &str, event: &Event) -> u32 {
    let events = store.events_of(object_id);
    let same = events.partition_point(|e| e.ts <= event.ts) - events.partition_point(|e| e.ts < event.ts);
    u32::try_from(same.saturating_sub(1)).unwrap_or(u32::MAX)
}

impl Runner {
    /// Queues the user of `event` for the live campaigns it starts: only those listening to its name are
    /// looked at, in id order.
    pub(super) fn trigger_live(&mut self, store: &MemoryStore, object_id: &str, event: &Event, now: Timestamp) {
        let Some(ids) = self.listening.get(event.name.key()) else { return };
        let Some(profile) = store.find(IdentityKind::ObjectId, object_id) else { return };
        let events = store.events_of(object_id);
        let mut report_run = None;
        let mut n = None;
        let mut queue = Vec::new();
        let mut held_out = Vec::new();
        for id in ids {
            let Some((campaign, progress)) = self.campaigns.get_mut(id) else { continue };
            if !campaign.live_at(now) {
                continue;
            }
            let When::Live { trigger, .. } = &campaign.when else { continue };
            let Some(starting) = trigger.starting_event() else { continue };
            if !starting.filters_hold(event) || !campaign.target.holds(profile, events, &self.saved, now) {
                continue;
            }
            let report_run = *report_run.get_or_insert_with(|| yyyymmdd(day_of(now, &self.account.time_zone)));
            let n = *n.get_or_insert_with(|| same_instant_before(store, object_id, event));
            match trigger {
                LiveTrigger::Action { delay, .. } => {
                    let report = progress.report.run(report_run);
                    report.qualified += 1;
                    if campaign.control_group.is_some_and(|g| g.holds_out(campaign.id, object_id)) {
                        report.control_group += 1;
                        held_out.push((campaign.id, report_run));
                        continue;
                    }
                    let candidate = Candidate {
                        campaign: campaign.id,
                        run: RunKey::Live { at_nanos: event.ts.as_nanosecond(), n },
                        report_run,
                        object_id: object_id.to_owned(),
                        event: Some(event.properties.to_map()),
                        opened: now,
                    };
                    queue.push((delay.after(now), Item::Candidate(candidate)));
                }
                LiveTrigger::Inaction { within, .. } => {
                    let check = Item::InactionCheck {
                        campaign: campaign.id,
                        object_id: object_id.to_owned(),
                        since: event.ts,
                        event: event.properties.to_map(),
                        n,
                    };
                    queue.push((now + *within, check));
                }
                LiveTrigger::DateProperty { .. } => {}
            }
        }
        for (at, item) in queue {
            self.agenda.push(at, item);
        }
        for (campaign, report_run) in held_out {
            self.expose_control(object_id, campaign, report_run, now);
        }
    }

    /// At the end of an inaction window: the user qualifies if they did not do the `not` event since the
    /// `did` event (at `since`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_inaction(
        &mut self,
        store: &MemoryStore,
        id: u64,
        object_id: String,
        since: Timestamp,
        event: Map<String, Value>,
        n: u32,
        at: Timestamp,
    ) {
        let Some((campaign, progress)) = self.campaigns.get_mut(&id) else { return };
        if campaign.stopped_at.is_some() {
            return;
        }
        let When::Live { trigger: LiveTrigger::Inaction { not, .. }, .. } = &campaign.when else { return };
        let events = store.events_of(&object_id);
        let first = events.partition_point(|e| e.ts < since);
        if events[first..].iter().take_while(|e| e.ts <= at).any(|e| not.matches(e)) {
            return;
        }
        let report_run = yyyymmdd(day_of(at, &self.account.time_zone));
        let report = progress.report.run(report_run);
        report.qualified += 1;
        if campaign.control_group.is_some_and(|g| g.holds_out(id, &object_id)) {
            report.control_group += 1;
            self.expose_control(&object_id, id, report_run, at);
            return;
        }
        let candidate = Candidate {
            campaign: id,
            run: RunKey::Live { at_nanos: since.as_nanosecond(), n },
            report_run,
            object_id,
            event: Some(event),
            opened: at,
        };
        self.agenda.push(at, Item::Candidate(candidate));
    }

    /// The first day whose time `at` (account zone) is at or after `from`, and that instant.
    pub(super) fn first_day_at_or_after(&self, from: Timestamp, at: Time) -> Option<(Date, Timestamp)> {
        let zone = &self.account.time_zone;
        let mut day = day_of(from, zone);
        for _ in 0..2 {
            let opens = day.to_datetime(at).to_zoned(zone.clone()).ok()?.timestamp();
            if opens >= from {
                return Some((day, opens));
            }
            day = day.tomorrow().ok()?;
        }
        None
    }

    /// A date-property campaign's day: the users whose date, moved by the campaign's days, is this day.
    pub(super) fn open_day(&mut self, store: &MemoryStore, id: u64, day: Date, at: Timestamp) {
        let zone = self.account.time_zone.clone();
        let Some((campaign, progress)) = self.campaigns.get_mut(&id) else { return };
        let When::Live { trigger: LiveTrigger::DateProperty { property, days, at: time, anniversary }, end, .. } =
            &campaign.when
        else {
            return;
        };
        let report_run = yyyymmdd(day);
        let mut queued = Vec::new();
        let mut held_out = Vec::new();
        for profile in campaign.target.profiles(store, &self.saved, at) {
            let Some(date) = profile.properties.get(property).and_then(date_value) else { continue };
            let Ok(moved) = day_of(date, &zone).checked_add(jiff::Span::new().days(i64::from(*days))) else { continue };
            let hit =
                if *anniversary { (moved.month(), moved.day()) == (day.month(), day.day()) } else { moved == day };
            if !hit {
                continue;
            }
            let report = progress.report.run(report_run);
            report.qualified += 1;
            if campaign.control_group.is_some_and(|g| g.holds_out(id, &profile.object_id)) {
                report.control_group += 1;
                held_out.push(profile.object_id.clone());
                continue;
            }
            queued.push(Candidate {
                campaign: id,
                run: RunKey::Day(report_run),
                report_run,
                object_id: profile.object_id.clone(),
                event: None,
                opened: at,
            });
        }
        let next = day
            .tomorrow()
            .ok()
            .and_then(|d| Some((d, d.to_datetime(*time).to_zoned(zone.clone()).ok()?.timestamp())))
            .filter(|(_, opens)| end.is_none_or(|e| *opens < e));
        for candidate in queued {
            self.agenda.push(at, Item::Candidate(candidate));
        }
        for object_id in held_out {
            self.expose_control(&object_id, id, report_run, at);
        }
        if let Some((next_day, opens)) = next {
            self.agenda.push(opens, Item::DayOpens { campaign: id, day: next_day });
        }
    }
}
