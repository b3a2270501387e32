//! A schedule's runs as pure functions of the instant asked about: which run is next, when it opens, when each
//! user receives it.
//!
//! How an engine drives a campaign with these, publishing it at `p`:
//! 1. `next_run(p)` is the first run anyone can still receive; it is published at `max(opens(run), p)`.
//! 2. Each user receives it at `receive_at(run, their zone, published)` (or not at all).
//! 3. The next run is `run(index + 1)`, published at its `opens`; and so on until `run` answers `None`.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::Schedule;
use super::recurrence::End;
use super::when::{Run, When};
use super::zone::{DeliveryZone, EARLIEST_OFFSET, LATEST_OFFSET, Passed, instant};

impl Schedule {
    /// Every run, in order, with stable indices (see [`Run`]). Empty for [`When::Now`], whose one run exists
    /// only once an instant is given ([`Schedule::next_run`]).
    ///
    /// Runs are the schedule's wall times that fall in the campaign window, up to the recurrence's end; for a
    /// recurrence that never ends, they go on to the year 9998.
    pub fn runs(&self) -> impl Iterator<Item = Run> + '_ {
        let (walls, end): (Box<dyn Iterator<Item = DateTime> + '_>, End) = match &self.when {
            When::Now => (Box::new(std::iter::empty()), End::Never),
            When::Later(wall) => (Box::new(std::iter::once(*wall)), End::Never),
            When::Dates(walls) => (Box::new(walls.iter().copied()), End::Never),
            When::Recurring(r) => (Box::new(r.occurrences(self.window.start.map(|b| b.date))), r.end),
        };
        let window = self.window;
        let limit = match end {
            End::After(n) => usize::try_from(n.get()).unwrap_or(usize::MAX),
            End::Never | End::On(_) => usize::MAX,
        };
        walls
            .take_while(move |&wall| !window.is_after(wall))
            .filter(move |&wall| !window.is_before(wall))
            .take_while(move |wall| !matches!(end, End::On(last) if wall.date() > last))
            .take(limit)
            .zip(0u32..)
            .map(|(wall, index)| Run { index, wall })
    }

    /// Run `index`, if the schedule has one (never for [`When::Now`]).
    pub fn run(&self, index: u32) -> Option<Run> {
        self.runs().nth(usize::try_from(index).ok()?)
    }

    /// The first run that some user can still receive **at or after** `at`: the first run whose
    /// [`closes`](Schedule::closes) is not before `at`. With the account's zone that is the first run at or after
    /// `at`; with users' zones it may be a run that has already opened, as long as some zone's wall time (or, with
    /// "deliver the next day", the next day's) has not passed yet.
    ///
    /// For [`When::Now`] it is run 0, at `at` itself, if `at` is in the campaign window.
    pub fn next_run(&self, at: Timestamp, account: &TimeZone) -> Option<Run> {
        if self.when == When::Now {
            let wall = account.to_datetime(at);
            return self.window.contains(wall).then_some(Run { index: 0, wall });
        }
        self.runs().find(|run| self.closes(run, account) >= at)
    }

    /// The first instant any user could receive `run`: with the account's zone, its wall time there; with users'
    /// zones, its wall time at UTC+14 ([`EARLIEST_OFFSET`]), the first place it arrives. A simulation steps to it.
    pub fn opens(&self, run: &Run, account: &TimeZone) -> Timestamp {
        match self.delivery() {
            DeliveryZone::Account => instant(run.wall, account),
            DeliveryZone::User(_) => instant(run.wall, &TimeZone::fixed(EARLIEST_OFFSET)),
        }
    }

    /// The last instant any user could receive `run` when it is published in time: with the account's zone, the
    /// same as [`opens`](Schedule::opens); with users' zones, its wall time at UTC−12 ([`LATEST_OFFSET`]), or the
    /// next day's with "deliver the next day".
    pub fn closes(&self, run: &Run, account: &TimeZone) -> Timestamp {
        match self.delivery() {
            DeliveryZone::Account => instant(run.wall, account),
            DeliveryZone::User(Passed::Drop) => instant(run.wall, &TimeZone::fixed(LATEST_OFFSET)),
            DeliveryZone::User(Passed::DeliverNextDay) => instant(next_day(run.wall), &TimeZone::fixed(LATEST_OFFSET)),
        }
    }

    /// The instant a user in zone `user` receives `run`, published at `published`; `None` when it is dropped for
    /// them. Caps, DND and the cut-off come after this and are not applied here.
    ///
    /// - Account zone (and [`When::Now`]): everyone at the run's instant, or at `published` if that is later.
    /// - Users' zones: the run's wall time in `user`. If that instant is before `published` (CleverTap: "the zone's
    ///   time has passed"), [`Passed::Drop`] drops the user and [`Passed::DeliverNextDay`] sends at the same wall
    ///   time the next day, unless that has passed too.
    ///
    /// Wall times in DST gaps and folds are read with jiff's compatible disambiguation (see the module docs).
    pub fn receive_at(
        &self,
        run: &Run,
        user: &TimeZone,
        account: &TimeZone,
        published: Timestamp,
    ) -> Option<Timestamp> {
        match self.delivery() {
            DeliveryZone::Account => Some(self.opens(run, account).max(published)),
            DeliveryZone::User(passed) => {
                let on_the_day = instant(run.wall, user);
                if on_the_day >= published {
                    return Some(on_the_day);
                }
                match passed {
                    Passed::Drop => None,
                    Passed::DeliverNextDay => Some(instant(next_day(run.wall), user)).filter(|&t| t >= published),
                }
            }
        }
    }

    /// The zone a user's delivery is read in, for the cut-off: the user's zone for user-time-zone delivery, the
    /// account's otherwise.
    pub fn delivery_zone<'z>(&self, user: &'z TimeZone, account: &'z TimeZone) -> &'z TimeZone {
        match self.delivery() {
            DeliveryZone::Account => account,
            DeliveryZone::User(_) => user,
        }
    }

    /// The delivery zone in effect: "now" is the same instant for everyone.
    fn delivery(&self) -> DeliveryZone {
        if self.when == When::Now { DeliveryZone::Account } else { self.zone }
    }
}

/// The same wall time on the next day.
fn next_day(wall: DateTime) -> DateTime {
    wall.date().tomorrow().map_or(wall, |d| d.to_datetime(wall.time()))
}
