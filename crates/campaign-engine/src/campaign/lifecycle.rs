//! A campaign's status as CleverTap shows it (Draft, Scheduled, Running, Awaiting Next Run, Completed,
//! Stopped) and what may be edited in each (clevertap.md 5.1).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Saved, not published.
    Draft,
    /// Published; its first run (or its start date) is still ahead.
    Scheduled,
    /// A run is in progress, or a live campaign is between its start and end.
    Running,
    /// A recurring or multiple-date campaign between two runs.
    AwaitingNextRun,
    /// No run left.
    Completed,
    /// Stopped by a person: permanent ("you can stop it but cannot pause it").
    Stopped,
}

/// The parts of a campaign an edit can touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The name and labels.
    Name,
    /// The audience: segment, control group, targeting cap.
    Who,
    /// The content.
    What,
    /// The schedule and trigger, the delivery settings (limits, frequency caps, throttle) and the goal.
    When,
}

impl Status {
    /// As the dashboard writes it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Draft",
            Status::Scheduled => "Scheduled",
            Status::Running => "Running",
            Status::AwaitingNextRun => "Awaiting Next Run",
            Status::Completed => "Completed",
            Status::Stopped => "Stopped",
        }
    }

    /// CleverTap's edit rules: a draft or a campaign scheduled for later may change anything; one awaiting its
    /// next run or running live may change only its name and content; completed and stopped ones nothing.
    pub fn allows(self, part: Part) -> bool {
        match self {
            Status::Draft | Status::Scheduled => true,
            Status::Running | Status::AwaitingNextRun => matches!(part, Part::Name | Part::What),
            Status::Completed | Status::Stopped => false,
        }
    }

    /// What an edit may change in this status, in words, for the error that refuses one.
    pub fn editable(self) -> &'static str {
        match self {
            Status::Draft | Status::Scheduled => "anything may change",
            Status::Running | Status::AwaitingNextRun => "only name, labels and content may change",
            Status::Completed | Status::Stopped => "nothing may change",
        }
    }

    /// Whether the campaign can still send.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Scheduled | Status::Running | Status::AwaitingNextRun)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_name_and_content_change_once_a_campaign_has_run_and_nothing_after_it_ends() {
        assert!(Status::Scheduled.allows(Part::Who) && Status::Scheduled.allows(Part::When));
        assert!(Status::AwaitingNextRun.allows(Part::What) && !Status::AwaitingNextRun.allows(Part::When));
        assert!(Status::Running.allows(Part::Name) && !Status::Running.allows(Part::Who));
        assert!(!Status::Completed.allows(Part::Name) && !Status::Stopped.allows(Part::What));
        assert_eq!(Status::AwaitingNextRun.label(), "Awaiting Next Run");
        assert_eq!(Status::Running.editable(), "only name, labels and content may change");
    }
}
