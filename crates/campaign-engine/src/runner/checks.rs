//! One qualified user's way to a message, in CleverTap's order (clevertap.md 7.5): the campaign's own limit,
//! the global frequency cap, the DND window, then the throttle; then the delivery is made.

use clock::Timestamp;

use super::agenda::{Candidate, Item};
use super::{Exposure, Handed, Runner};
use crate::campaign::When;
use crate::campaign::throttle::CUT_OFF;
use crate::delivery::Delivery;
use crate::profile::IdentityKind;
use crate::report::DropReason;
use crate::schedule::{DndVerdict, user_zone};
use crate::store::MemoryStore;

impl Runner {
    /// Checks a user who is due at `at`; passes them to the throttle, or drops or delays them.
    pub(super) fn check(&mut self, store: &MemoryStore, candidate: Candidate, at: Timestamp, out: &mut Vec<Delivery>) {
        let Some((campaign, progress)) = self.campaigns.get_mut(&candidate.campaign) else { return };
        let report = progress.report.run(candidate.report_run);
        let Some(profile) = store.find(IdentityKind::ObjectId, &candidate.object_id) else { return };
        let log = self.sends.entry(candidate.object_id.clone()).or_default();
        if !log.limit_allows(campaign.limit, campaign.id, at) {
            report.drop(DropReason::UserLimit);
            return;
        }
        if campaign.respect_frequency_caps
            && let Some(cap) = self.account.frequency_cap
            && !log.cap_allows(cap, at)
        {
            report.drop(DropReason::FrequencyCap);
            return;
        }
        let account = &self.account.time_zone;
        let user = user_zone(profile.properties.get("Tz").and_then(|v| v.as_str()), account);
        let (dnd, cutoff) = match &campaign.when {
            When::Scheduled(schedule) => {
                let cutoff = schedule.cutoff.map(|c| c.next_allowed(at, schedule.delivery_zone(&user, account)));
                (schedule.dnd.as_ref(), cutoff)
            }
            When::Live { dnd, .. } => (dnd.as_ref(), None),
        };
        if let Some(allowed) = cutoff.filter(|t| *t > at) {
            // After the day's cut-off: the user waits for the next day's delivery hours.
            self.agenda.push(allowed, Item::Candidate(candidate));
            return;
        }
        let verdict = dnd.map_or(DndVerdict::Send, |d| d.verdict(at, &user, account, self.account.dnd_window));
        match verdict {
            DndVerdict::Send => {}
            DndVerdict::Discard => {
                report.drop(DropReason::DndDiscard);
                return;
            }
            DndVerdict::DelayUntil(release) => {
                self.agenda.push(release.max(at), Item::Candidate(candidate));
                return;
            }
        }
        // The message counts against the user's limits from here, so two campaigns cannot both take the
        // last place under the cap while one waits for the throttle.
        log.record(at, campaign.id);
        let slot = match campaign.throttle {
            Some(throttle) => progress.throttle.slot(throttle, at),
            None => at,
        };
        if slot.duration_since(candidate.opened).as_secs_f64() > CUT_OFF.as_secs_f64() {
            progress.report.run(candidate.report_run).drop(DropReason::ThrottleCutOff);
        } else if slot > at {
            self.agenda.push(slot, Item::Send(candidate));
        } else {
            self.send(store, candidate, at, out);
        }
    }

    /// Makes the delivery of a user who passed every check, with their profile as it is at `at`.
    pub(super) fn send(&mut self, store: &MemoryStore, candidate: Candidate, at: Timestamp, out: &mut Vec<Delivery>) {
        let Some((campaign, progress)) = self.campaigns.get_mut(&candidate.campaign) else { return };
        let Some(profile) = store.find(IdentityKind::ObjectId, &candidate.object_id) else { return };
        let id = Delivery::id_for(campaign.id, candidate.run, &candidate.object_id);
        progress.report.run(candidate.report_run).handed += 1;
        // Exposures are for conversions: a campaign without a goal needs none (its goal cannot be added once
        // it has sent: the edit rules allow that only before its first run).
        if campaign.goal.is_some() {
            let exposure = Exposure {
                campaign: campaign.id,
                report_run: candidate.report_run,
                at,
                control: false,
                converted: false,
            };
            self.exposures.entry(candidate.object_id.clone()).or_default().push(exposure);
        }
        let handed =
            Handed { campaign: campaign.id, report_run: candidate.report_run, object_id: candidate.object_id.clone() };
        self.handed.insert(id.clone(), handed);
        out.push(Delivery {
            trace_id: Delivery::trace_for(&id),
            id,
            campaign_id: campaign.id,
            campaign_name: campaign.name.clone(),
            webhook: campaign.webhook.clone(),
            run: candidate.run,
            object_id: candidate.object_id,
            identity: profile.identity.clone(),
            profile: profile.properties.to_map(),
            event: candidate.event,
            created_at: at,
        });
    }
}
