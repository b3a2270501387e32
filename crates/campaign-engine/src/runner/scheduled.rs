//! Scheduled runs: when a run opens, the campaign's target is evaluated at that instant, the control group
//! held out, the targeting cap applied, and each user queued for their send time.

use clock::Timestamp;

use super::Runner;
use super::agenda::{Candidate, Item};
use crate::campaign::When;
use crate::campaign::live::LiveTrigger;
use crate::delivery::RunKey;
use crate::report::DropReason;
use crate::store::MemoryStore;

impl Runner {
    /// Puts a just-published campaign on the agenda: its first run, or its first date-property day.
    pub(super) fn schedule_first(&mut self, id: u64, published: Timestamp) {
        let Some((campaign, _)) = self.campaigns.get(&id) else { return };
        match &campaign.when {
            When::Scheduled(schedule) => {
                if let Some(at) = schedule.run_open(0, published) {
                    self.agenda.push(at.max(published), Item::RunOpens { campaign: id, k: 0 });
                }
            }
            When::Live { trigger: LiveTrigger::DateProperty { at, .. }, start, .. } => {
                let from = start.map_or(published, |s| s.max(published));
                if let Some((day, opens)) = self.first_day_at_or_after(from, *at) {
                    self.agenda.push(opens, Item::DayOpens { campaign: id, day });
                }
            }
            When::Live { .. } => {}
        }
    }

    pub(super) fn open_run(&mut self, store: &MemoryStore, id: u64, k: u32, at: Timestamp) {
        let Some((campaign, progress)) = self.campaigns.get_mut(&id) else { return };
        let When::Scheduled(schedule) = &campaign.when else { return };
        progress.runs_opened = k + 1;
        let published = campaign.published_at.unwrap_or(at);
        let mut reached = 0u64;
        let mut queued = Vec::new();
        let mut held_out = Vec::new();
        let report = progress.report.run(k);
        for profile in campaign.target.profiles(store, at) {
            report.qualified += 1;
            if campaign.control_group.is_some_and(|g| g.holds_out(id, &profile.object_id)) {
                report.control_group += 1;
                held_out.push(profile.object_id.clone());
                continue;
            }
            if campaign.targeting_cap.is_some_and(|cap| reached >= cap.max) {
                report.drop(DropReason::TargetingCap);
                continue;
            }
            reached += 1;
            match schedule.send_at(k, at, &profile.properties) {
                None => report.drop(DropReason::TimePassed),
                Some(send_at) => queued.push((
                    send_at.max(at),
                    Candidate {
                        campaign: id,
                        run: RunKey::Scheduled(k),
                        report_run: k,
                        object_id: profile.object_id.clone(),
                        event: None,
                        opened: at,
                    },
                )),
            }
        }
        let next = schedule.run_open(k + 1, published);
        // Users are queued in the order of their send time (ties: the order first seen), which the throttle needs.
        queued.sort_by_key(|(t, _)| *t);
        for (t, candidate) in queued {
            self.agenda.push(t, Item::Candidate(candidate));
        }
        for object_id in held_out {
            self.expose_control(&object_id, id, k, at);
        }
        if let Some(next) = next {
            self.agenda.push(next.max(at), Item::RunOpens { campaign: id, k: k + 1 });
        }
    }
}
