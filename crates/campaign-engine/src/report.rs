//! Campaign reports: per run, how many users qualified, how many were held in the control group, how many
//! were dropped and why, how many were handed to dispatch, and what became of them (delivered, failed by
//! reason, not sent), with conversions.

use std::collections::BTreeMap;

use serde::Serialize;

/// Why a qualified user got no message in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Over the account's global frequency cap ("Frequency Caps Exceeded").
    FrequencyCap,
    /// Over the campaign's own limit (at most N times, minimum gap).
    UserLimit,
    /// Inside the DND window, with "discard".
    DndDiscard,
    /// Still waiting behind the throttle at the cut-off.
    ThrottleCutOff,
    /// The user's send time had passed when the run started, with "drop" (user time zone).
    TimePassed,
    /// Beyond the targeting cap.
    TargetingCap,
    /// The campaign was stopped before the message went.
    Stopped,
}

impl DropReason {
    /// As a report's error table writes it.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::FrequencyCap => "Frequency Caps Exceeded",
            DropReason::UserLimit => "Campaign limit per user reached",
            DropReason::DndDiscard => "Discarded in DND window",
            DropReason::ThrottleCutOff => "Throttle cut-off reached",
            DropReason::TimePassed => "Send time had passed in the user's time zone",
            DropReason::TargetingCap => "Targeting cap reached",
            DropReason::Stopped => "Campaign stopped",
        }
    }
}

/// The figures of one run (a scheduled run, or one day of a live campaign).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    pub qualified: u64,
    pub control_group: u64,
    pub dropped: BTreeMap<DropReason, u64>,
    /// Handed to the dispatcher ("Webhooks streamed").
    pub handed: u64,
    /// Answered with success.
    pub delivered: u64,
    /// Given up after retries, by reason ("Webhook Dispatch Failed: …").
    pub failed: BTreeMap<String, u64>,
    /// Not sent by the body's decision (`LiquidLogicAborted`) or because it could not be rendered.
    pub not_sent: BTreeMap<String, u64>,
    /// Users sent to who did the goal event within the conversion window.
    pub conversions: u64,
    /// Users in the control group who did the goal event within the window.
    pub control_conversions: u64,
}

impl RunReport {
    pub fn drop(&mut self, reason: DropReason) {
        *self.dropped.entry(reason).or_default() += 1;
    }

    /// Adds another report's figures to this one.
    pub fn add(&mut self, other: &RunReport) {
        self.qualified += other.qualified;
        self.control_group += other.control_group;
        self.handed += other.handed;
        self.delivered += other.delivered;
        self.conversions += other.conversions;
        self.control_conversions += other.control_conversions;
        for (reason, n) in &other.dropped {
            *self.dropped.entry(*reason).or_default() += n;
        }
        for (mine, theirs) in [(&mut self.failed, &other.failed), (&mut self.not_sent, &other.not_sent)] {
            for (reason, n) in theirs {
                *mine.entry(reason.clone()).or_default() += n;
            }
        }
    }

    /// Users still on their way: handed over, no outcome yet.
    pub fn in_flight(&self) -> u64 {
        let settled = self.delivered + self.failed.values().sum::<u64>() + self.not_sent.values().sum::<u64>();
        self.handed.saturating_sub(settled)
    }
}

/// A campaign's report: one entry per run, keyed by run number (scheduled runs: 0, 1, …; live and
/// date-property campaigns: the day as `YYYYMMDD`, since for them each day is a run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CampaignReport {
    pub runs: BTreeMap<u32, RunReport>,
}

impl CampaignReport {
    pub fn run(&mut self, run: u32) -> &mut RunReport {
        self.runs.entry(run).or_default()
    }

    /// Every run added up.
    pub fn total(&self) -> RunReport {
        let mut total = RunReport::default();
        for run in self.runs.values() {
            total.add(run);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_adds_every_run_and_in_flight_is_what_has_no_outcome() {
        let mut report = CampaignReport::default();
        let first = report.run(0);
        first.qualified = 10;
        first.handed = 8;
        first.delivered = 6;
        first.drop(DropReason::FrequencyCap);
        *first.failed.entry("Webhook Dispatch Failed: HTTP 500".into()).or_default() += 1;
        let second = report.run(1);
        second.qualified = 5;
        second.handed = 5;
        second.drop(DropReason::FrequencyCap);
        let total = report.total();
        assert_eq!((total.qualified, total.handed, total.delivered), (15, 13, 6));
        assert_eq!(total.dropped[&DropReason::FrequencyCap], 2);
        assert_eq!(total.in_flight(), 6);
    }
}
