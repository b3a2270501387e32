//! A campaign's throttle: at most N messages a minute. Messages over the limit wait for the next minute with
//! room; those that would wait past the cut-off (CleverTap: messages stop delivering after the third day)
//! are dropped.

use std::time::Duration;

use clock::Timestamp;
use serde::{Deserialize, Serialize};

/// How long after a run starts throttled messages may still go out.
pub const CUT_OFF: Duration = Duration::from_secs(3 * 86_400);

/// At most `per_minute` messages in each clock minute. CleverTap's UI asks for more than 100; any limit of 1
/// or more is accepted here so small scenarios can show throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub per_minute: u32,
}

/// The minutes already handed out, for one campaign.
#[derive(Debug, Clone, Default)]
pub struct ThrottleState {
    /// The latest minute with messages in it (epoch seconds of its start) and how many it has.
    minute: i64,
    used: u32,
}

impl ThrottleState {
    /// When a message that is ready at `ready` may go: `ready` itself if its minute has room, else the start
    /// of the first minute after the last one handed out that has room. Messages must be asked for in the
    /// order they become ready.
    pub fn slot(&mut self, throttle: Throttle, ready: Timestamp) -> Timestamp {
        let minute = ready.as_second().div_euclid(60) * 60;
        if minute > self.minute {
            self.minute = minute;
            self.used = 0;
        }
        if self.used < throttle.per_minute {
            self.used += 1;
            return if minute == self.minute { ready } else { at(self.minute) };
        }
        self.minute += 60;
        self.used = 1;
        at(self.minute)
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_over_the_limit_wait_for_the_next_minutes() {
        let start = Timestamp::from_second(1_800_000_000 / 60 * 60 + 5).unwrap();
        let mut state = ThrottleState::default();
        let throttle = Throttle { per_minute: 2 };
        let slots: Vec<i64> =
            (0..5).map(|_| state.slot(throttle, start).as_second() - (start.as_second() - 5)).collect();
        assert_eq!(slots, [5, 5, 60, 60, 120]);
    }

    #[test]
    fn a_message_ready_after_the_backlog_goes_at_once() {
        let start = Timestamp::from_second(1_800_000_000 / 60 * 60).unwrap();
        let mut state = ThrottleState::default();
        let throttle = Throttle { per_minute: 1 };
        state.slot(throttle, start);
        let later = Timestamp::from_second(start.as_second() + 600 + 7).unwrap();
        assert_eq!(state.slot(throttle, later), later);
    }
}
