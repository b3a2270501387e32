//! How fast one webhook may be sent to: a throttle of N messages per minute, as a pure structure driven by
//! the `now` its caller passes.
//!
//! The window is **sliding**: at most N sends in any 60 seconds. A send at `t` counts against every send in
//! `(t - 60 s, t]` and stops counting at exactly `t + 60 s`. Sliding rather than a token bucket (burst N,
//! refilled at N per minute) because a bucket lets up to 2N - 1 through in one minute (a full burst, then
//! the refill), which would trip a receiver that counts requests per minute, such as inkit-mock's
//! `rate_limit` fault. The cost is a log of recent send instants; sends at the same instant (a burst under
//! the simulated clock) share one entry, so the log holds at most min(N, distinct instants in the minute).
//!
//! CleverTap's throttle unit is per minute in its newer docs ("100 messages/minute"; older ones say per five
//! minutes, reference §5.3); per minute is what we model.
//!
//! The number of requests in flight at once is not limited here: the async client holds a semaphore for
//! that, since it is about open connections, not time.

use std::collections::VecDeque;
use std::time::Duration;

use clock::Timestamp;

/// The span the throttle counts sends over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// A webhook's sending limit: at most `per_minute` sends in any 60 seconds, or unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Throttle {
    /// 0 stands for unlimited; the constructors never make 0 from a person's setting.
    per_minute: u32,
}

impl Throttle {
    /// The highest limit accepted: above about 16,000 a second the throttle would measure nothing but the
    /// machine.
    pub const MAX_PER_MINUTE: u32 = 1_000_000;

    /// No limit.
    pub const fn unlimited() -> Throttle {
        Throttle { per_minute: 0 }
    }

    /// At most `per_minute` sends in any minute.
    ///
    /// 0 is refused rather than read as "unlimited": someone who writes 0 may as well mean "send nothing".
    /// Leave the setting out for no limit ([`Throttle::from_setting`]).
    pub fn per_minute(per_minute: u32) -> Result<Throttle, InvalidThrottle> {
        match per_minute {
            0 => Err(InvalidThrottle::Zero),
            n if n > Throttle::MAX_PER_MINUTE => Err(InvalidThrottle::TooHigh { got: n }),
            n => Ok(Throttle { per_minute: n }),
        }
    }

    /// From a webhook's optional `throttle_per_minute` setting: absent means unlimited.
    pub fn from_setting(per_minute: Option<u32>) -> Result<Throttle, InvalidThrottle> {
        per_minute.map_or(Ok(Throttle::unlimited()), Throttle::per_minute)
    }

    /// The limit per minute, `None` when unlimited.
    pub fn limit(&self) -> Option<u32> {
        (self.per_minute > 0).then_some(self.per_minute)
    }

    /// Whether every send is allowed.
    pub fn is_unlimited(&self) -> bool {
        self.per_minute == 0
    }
}

/// A `throttle_per_minute` setting out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidThrottle {
    #[error("throttle_per_minute must be at least 1 (leave it out for no limit)")]
    Zero,
    #[error("throttle_per_minute must be at most {max}, got {got}", max = Throttle::MAX_PER_MINUTE)]
    TooHigh { got: u32 },
}

impl InvalidThrottle {
    /// The setting at fault, for error reports that name the field.
    pub fn field(&self) -> &'static str {
        "throttle_per_minute"
    }
}

/// One webhook's throttle and the sends it has allowed in the last minute.
#[derive(Debug, Clone, Default)]
pub struct ThrottleState {
    throttle: Throttle,
    /// Send instants, oldest first, with how many sends happened at each; entries older than the window are
    /// dropped on the next `acquire`.
    sends: VecDeque<(Timestamp, u32)>,
    /// The sum of the counts in `sends`.
    logged: u64,
}

impl ThrottleState {
    /// A throttle that has allowed nothing yet.
    pub fn new(throttle: Throttle) -> Self {
        ThrottleState { throttle, sends: VecDeque::new(), logged: 0 }
    }

    /// The limit in force.
    pub fn throttle(&self) -> Throttle {
        self.throttle
    }

    /// Changes the limit (the webhook was edited). Sends already made keep counting against the new limit.
    pub fn set_throttle(&mut self, throttle: Throttle) {
        self.throttle = throttle;
        if throttle.is_unlimited() {
            self.sends.clear();
            self.logged = 0;
        }
    }

    /// Takes a send slot at `now`, or says the next instant a send is allowed (always later than `now`).
    ///
    /// A refused call records nothing: the caller reschedules the send for the instant returned and asks again.
    pub fn acquire(&mut self, now: Timestamp) -> Result<(), Timestamp> {
        if self.throttle.is_unlimited() {
            return Ok(());
        }
        if let Some(next) = self.next_free(now) {
            return Err(next);
        }
        let cutoff = window_start(now);
        while let Some(&(at, count)) = self.sends.front()
            && at <= cutoff
        {
            self.sends.pop_front();
            self.logged -= u64::from(count);
        }
        // A clock that stepped back (wall clock only) records the send at the newest instant seen, which keeps
        // the log ordered and can only make the throttle stricter.
        match self.sends.back_mut() {
            Some((at, count)) if *at >= now => *count = count.saturating_add(1),
            _ => self.sends.push_back((now, 1)),
        }
        self.logged += 1;
        Ok(())
    }

    /// The next instant a send is allowed, or `None` when one is allowed at `now`; for the scheduler, which
    /// steps the clock to the earliest instant any component is waiting for.
    pub fn next_free(&self, now: Timestamp) -> Option<Timestamp> {
        let limit = u64::from(self.throttle.limit()?);
        let first_live = self.sends.partition_point(|&(at, _)| at <= window_start(now));
        let expired: u64 = self.sends.range(..first_live).map(|&(_, count)| u64::from(count)).sum();
        let mut live = self.logged - expired;
        // Walk the live sends oldest first until enough have left the window to free a slot.
        for &(at, count) in self.sends.range(first_live..) {
            if live < limit {
                break;
            }
            live -= u64::from(count);
            if live < limit {
                return Some(at.checked_add(WINDOW).unwrap_or(Timestamp::MAX));
            }
        }
        None
    }
}

impl From<Throttle> for ThrottleState {
    fn from(throttle: Throttle) -> Self {
        ThrottleState::new(throttle)
    }
}

/// Sends at or before this instant no longer count at `now`.
fn window_start(now: Timestamp) -> Timestamp {
    now.checked_sub(WINDOW).unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
mod tests {
    use clock::{Clock, ManualClock};

    use super::*;

    fn t0() -> Timestamp {
        "2026-03-01T09:00:00Z".parse().unwrap()
    }

    fn at_ms(ms: u64) -> Timestamp {
        t0().checked_add(Duration::from_millis(ms)).unwrap()
    }

    fn at(secs: u64) -> Timestamp {
        at_ms(secs * 1000)
    }

    /// Plays `steps` (send at this many ms after t0 → allowed, or the instant in ms it is told to wait for)
    /// on a manual clock, checking `next_free` agrees with `acquire` at every step.
    fn play(per_minute: u32, steps: &[(u64, Result<(), u64>)]) {
        let clock = ManualClock::new(t0());
        let mut state = ThrottleState::new(Throttle::per_minute(per_minute).unwrap());
        for (i, &(send_ms, expected)) in steps.iter().enumerate() {
            clock.set(at_ms(send_ms));
            let now = clock.now();
            let peek = state.next_free(now);
            let got = state.acquire(now);
            assert_eq!(got, expected.map_err(at_ms), "{per_minute}/min, step {i}: send at +{send_ms} ms");
            assert_eq!(peek, got.err(), "next_free agrees with acquire at step {i}");
            if let Err(next) = got {
                assert!(next > now);
                assert_eq!(state.next_free(next), None, "the instant returned is free (step {i})");
            }
        }
    }

    #[test]
    fn n_sends_within_a_minute_pass_and_the_next_is_told_exactly_when() {
        play(
            3,
            &[
                (0, Ok(())),
                (10_000, Ok(())),
                (20_000, Ok(())),
                (30_000, Err(60_000)), // the first send leaves the window at +60 s
                (59_999, Err(60_000)), // still inside
                (60_000, Ok(())),      // exactly 60 s later it no longer counts
                (60_000, Err(70_000)), // the window is full again until the second send leaves it
                (70_000, Ok(())),
                (80_000, Ok(())),
                (80_001, Err(120_000)), // the sends at +60, +70, +80 s are the window now
            ],
        );
    }

    #[test]
    fn after_the_window_sends_pass_again() {
        play(
            2,
            &[(0, Ok(())), (0, Ok(())), (0, Err(60_000)), (60_000, Ok(())), (60_000, Ok(())), (61_000, Err(120_000))],
        );
        play(1, &[(0, Ok(())), (1, Err(60_000)), (60_000, Ok(())), (180_000, Ok(())), (239_999, Err(240_000))]);
    }

    #[test]
    fn a_burst_after_idling_is_capped_at_per_minute() {
        let mut state = ThrottleState::new(Throttle::per_minute(5).unwrap());
        for _ in 0..5 {
            state.acquire(t0()).unwrap();
        }
        let later = at(3600);
        let results: Vec<_> = (0..12).map(|_| state.acquire(later)).collect();
        let allowed = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(allowed, 5, "an hour of idling does not save up sends: {results:?}");
        assert!(results[5..].iter().all(|r| *r == Err(at(3660))), "{results:?}");
    }

    #[test]
    fn any_sixty_seconds_holds_at_most_per_minute_sends() {
        // Offer a send every 700 ms for ten minutes; count what went through in every 60 s span.
        let per_minute = 7;
        let mut state = ThrottleState::new(Throttle::per_minute(per_minute).unwrap());
        let sent: Vec<u64> = (0..857u64).map(|i| i * 700).filter(|&ms| state.acquire(at_ms(ms)).is_ok()).collect();
        for (i, &start) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|&&ms| ms < start + 60_000).count();
            assert!(in_window <= per_minute as usize, "{in_window} sends in the minute from +{start} ms");
        }
        assert!(sent.len() >= 7 * 10, "the throttle still lets the full rate through: {}", sent.len());
    }

    #[test]
    fn the_same_sequence_of_instants_gives_the_same_answers() {
        let instants = [0, 0, 5, 5, 5, 30, 61, 61, 62, 125, 125, 125, 125];
        let answers = || {
            let mut state = ThrottleState::new(Throttle::per_minute(3).unwrap());
            instants.map(|s| state.acquire(at(s)))
        };
        assert_eq!(answers(), answers());
    }

    #[test]
    fn unlimited_never_waits() {
        for throttle in [Throttle::unlimited(), Throttle::from_setting(None).unwrap(), Throttle::default()] {
            let mut state = ThrottleState::new(throttle);
            assert!((0..10_000).all(|_| state.acquire(t0()).is_ok()));
            assert_eq!(state.next_free(t0()), None);
            assert_eq!(throttle.limit(), None);
        }
    }

    #[test]
    fn changing_the_limit_keeps_counting_recent_sends() {
        let mut state = ThrottleState::new(Throttle::per_minute(10).unwrap());
        for s in [0, 1, 2, 3] {
            state.acquire(at(s)).unwrap();
        }
        state.set_throttle(Throttle::per_minute(2).unwrap());
        // Four sends in the window, limit two: a slot frees when the send at +2 s leaves, leaving only +3 s.
        assert_eq!(state.acquire(at(10)), Err(at(62)));
        state.set_throttle(Throttle::unlimited());
        assert_eq!(state.acquire(at(10)), Ok(()));
    }

    #[test]
    fn a_clock_stepping_back_does_not_break_the_log() {
        let mut state = ThrottleState::new(Throttle::per_minute(2).unwrap());
        state.acquire(at(30)).unwrap();
        state.acquire(at(10)).unwrap(); // recorded at +30 s, the newest instant seen
        assert_eq!(state.acquire(at(40)), Err(at(90)));
    }

    #[test]
    fn settings_out_of_range_are_refused_naming_the_field() {
        let cases = [
            (None, Ok(None)),
            (Some(1), Ok(Some(1))),
            (Some(100), Ok(Some(100))),
            (Some(1_000_000), Ok(Some(1_000_000))),
            (Some(0), Err("throttle_per_minute must be at least 1 (leave it out for no limit)")),
            (Some(1_000_001), Err("throttle_per_minute must be at most 1000000, got 1000001")),
        ];
        for (setting, expected) in cases {
            let got = Throttle::from_setting(setting);
            assert_eq!(got.map(|t| t.limit()).map_err(|e| e.to_string()), expected.map_err(str::to_owned));
            if let Err(e) = got {
                assert_eq!(e.field(), "throttle_per_minute");
            }
        }
    }
}
