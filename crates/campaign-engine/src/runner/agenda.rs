//! The runner's timed to-do list: what is due when (runs opening, users waiting for their time, DND,
//! delay or throttle, inaction checks), taken in time order, with how many items each campaign has waiting.

use std::collections::BTreeMap;

use clock::Timestamp;
use foldhash::HashMap;
use serde_json::{Map, Value};

use crate::delivery::RunKey;

/// One user of one run on the way to a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub campaign: u64,
    pub run: RunKey,
    /// The report entry the user counts in (run index, or `YYYYMMDD` for live campaigns).
    pub report_run: u32,
    pub object_id: String,
    /// The triggering event's properties (live campaigns).
    pub event: Option<Map<String, Value>>,
    /// When the run opened (or the user qualified): the throttle's cut-off counts from here.
    pub opened: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// A run of a scheduled campaign opens.
    RunOpens { campaign: u64, run: crate::schedule::Run },
    /// A date-property campaign's day opens (`YYYYMMDD` in the account's zone).
    DayOpens { campaign: u64, day: jiff::civil::Date },
    /// A user is due: limits, caps, DND and throttle are checked now.
    Candidate(Candidate),
    /// A user passed every check and waited for the throttle: send now.
    Send(Candidate),
    /// Did the user do the inaction campaign's `not` event since `since`?
    InactionCheck { campaign: u64, object_id: String, since: Timestamp, event: Map<String, Value>, n: u32 },
}

impl Item {
    pub fn campaign(&self) -> u64 {
        match self {
            Item::RunOpens { campaign, .. }
            | Item::DayOpens { campaign, .. }
            | Item::InactionCheck { campaign, .. }
            | Item::Candidate(Candidate { campaign, .. })
            | Item::Send(Candidate { campaign, .. }) => *campaign,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Agenda {
    items: BTreeMap<(Timestamp, u64), Item>,
    /// Items added so far: ties at one instant are taken in the order added.
    seq: u64,
    /// Per campaign, how many users are waiting (candidates, sends, inaction checks).
    waiting: HashMap<u64, u64>,
    /// Per campaign, how many runs or days are still to open.
    opening: HashMap<u64, u64>,
}

impl Agenda {
    pub fn push(&mut self, at: Timestamp, item: Item) {
        *self.counts(&item).entry(item.campaign()).or_default() += 1;
        self.seq += 1;
        self.items.insert((at, self.seq), item);
    }

    /// The first item due at or before `now`.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, Item)> {
        let entry = self.items.first_entry().filter(|e| e.key().0 <= now)?;
        let ((at, _), item) = entry.remove_entry();
        self.forget(&item);
        Some((at, item))
    }

    /// The count an item is in: runs to open, or users waiting.
    fn counts(&mut self, item: &Item) -> &mut HashMap<u64, u64> {
        match item {
            Item::RunOpens { .. } | Item::DayOpens { .. } => &mut self.opening,
            _ => &mut self.waiting,
        }
    }

    fn forget(&mut self, item: &Item) {
        if let Some(n) = self.counts(item).get_mut(&item.campaign()) {
            *n -= 1;
        }
    }

    pub fn next_due(&self) -> Option<Timestamp> {
        self.items.first_key_value().map(|((at, _), _)| *at)
    }

    /// Whether a run or day of the campaign is still to open.
    pub fn has_run(&self, campaign: u64) -> bool {
        self.opening.get(&campaign).is_some_and(|n| *n > 0)
    }

    /// How many users of the campaign are waiting.
    pub fn waiting(&self, campaign: u64) -> u64 {
        self.waiting.get(&campaign).copied().unwrap_or(0)
    }

    /// Takes every item of a campaign off the agenda (it was stopped), returning them.
    pub fn remove_campaign(&mut self, campaign: u64) -> Vec<Item> {
        let keys: Vec<_> = self.items.iter().filter(|(_, i)| i.campaign() == campaign).map(|(k, _)| *k).collect();
        let removed: Vec<Item> = keys.into_iter().filter_map(|k| self.items.remove(&k)).collect();
        self.waiting.remove(&campaign);
        self.opening.remove(&campaign);
        removed
    }
}
