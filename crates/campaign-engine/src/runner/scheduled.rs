//! Scheduled runs: when a run opens, the campaign's target is evaluated at that instant, the control group
//! held out, the targeting cap applied, and each user queued for the instant they receive the run (in the
//! account's zone, or in their own with "drop" or "deliver the next day" when their time has passed).

use clock::Timestamp;

use super::Runner;
use super::agenda::{Candidate, Item};
use crate::campaign::When;
use crate::campaign::live::LiveTrigger;
use crate::delivery::RunKey;
use crate::report::DropReason;
use crate::schedule::{Run, user_zone};
use crate::store::MemoryStore;

impl Runner {
    /// Puts a just-published campaign on the agenda: its first run still reachable, or its first date-property
    /// day.
    pub(super) fn schedule_first(&mut self, id: u64, published: Timestamp) {
        let Some((campaign, _)) = self.campaigns.get(&id) else { return };
        let zone = &self.account.time_zone;
        match &campaign.when {
            When::Scheduled(schedule) => {
                if let Some(run) = schedule.next_run(published, zone) {
                    let opens = schedule.opens(&run, zone).max(published);
                    self.agenda.push(opens, Item::RunOpens { campaign: id, run });
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

    pub(super) fn open_run(&mut self, store: &MemoryStore, id: u64, run: Run, at: Timestamp) {
        let account = self.account.time_zone.clone();
        let Some((campaign, progress)) = self.campaigns.get_mut(&id) else { return };
        let When::Scheduled(schedule) = &campaign.when else { return };
        let k = run.index;
        progress.last_run = Some(k);
        let published = campaign.published_at.unwrap_or(at);
        let mut reached = 0u64;
        let mut queued = Vec::new();
        let mut held_out = Vec::new();
        let report = progress.report.run(k);
        for profile in campaign.target.profiles(store, &self.saved, at) {
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
            let user = user_zone(profile.properties.get("Tz").and_then(|v| v.as_str()), &account);
            match schedule.receive_at(&run, &user, &account, published) {
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
        let next = schedule.run(k + 1).map(|next| (schedule.opens(&next, &account).max(at), next));
        // Users are queued in the order of their send time (ties: the order first seen), which the throttle needs.
        queued.sort_by_key(|(t, _)| *t);
        for (t, candidate) in queued {
            self.agenda.push(t, Item::Candidate(candidate));
        }
        for object_id in held_out {
            self.expose_control(&object_id, id, k, at);
        }
        if let Some((opens, next)) = next {
            self.agenda.push(opens, Item::RunOpens { campaign: id, run: next });
        }
    }
}
