//! A recurring campaign's pattern ("Set as Recurring"): a first date and time of day, a repeat every N days,
//! weeks (on chosen weekdays) or months (on chosen days of the month), and an end.
//!
//! CleverTap (clevertap.md §5.2): "Day (every 1–6 days), Week (every X weeks on chosen weekdays), Month (every X
//! months on chosen dates incl. 'Last day of month' …). End: Never / On a date (account TZ) / After X occurrences."
//! "Daily/weekly repeat may send on launch day if before send time; monthly repeat never sends on launch day." "If
//! you specify a recurring day… e.g. the 7th… the campaign will start for the specified day and ignore the creation
//! date."
//!
//! Here the launch day is the recurrence's `start` date:
//! - **Days**: runs on the start date and every `every` days after it.
//! - **Weeks**: weeks start on Monday; the week of the start date is week 0, then every `every`-th week; in each,
//!   the chosen weekdays, from the start date on (the start date itself when its weekday is chosen).
//! - **Months**: the month of the start date is month 0, then every `every`-th month; in each, the chosen days
//!   strictly **after** the start date (never on the launch day; a start on the 3rd with the 7th chosen runs on the
//!   7th of the same month). A day the month does not have (the 31st in April, the 29th in February 2027) is
//!   **skipped**, not moved to the month's last day: "Last day of month" exists for that. The 30th and "last" in
//!   April are one run.
//! - Every run is at the start's time of day. Whether that time had passed when the campaign was published is
//!   decided by the caller's instant (see `Schedule::next_run`), not here.

use std::num::{NonZeroU16, NonZeroU32};

use jiff::Span;
use jiff::civil::{Date, DateTime, Weekday};

use super::text::YEARS;

/// The last date a run can fall on.
fn last_date() -> Date {
    Date::new(*YEARS.end(), 12, 31).unwrap_or(Date::MAX)
}

/// "Set as Recurring".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    /// The launch day and the time of day of every run (a wall time in the delivery zone).
    pub start: DateTime,
    pub repeat: Repeat,
    pub end: End,
}

/// How often a recurrence runs. CleverTap's UI offers every 1–6 days; the parser accepts up to 366 days, 52 weeks
/// and 12 months, enough for any calendar a campaign plausibly keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Days { every: NonZeroU16 },
    Weeks { every: NonZeroU16, on: Weekdays },
    Months { every: NonZeroU16, on: MonthDays },
}

/// When a recurrence stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Never,
    /// The last date a run may fall on, included (CleverTap: "On a date", in the account's zone; compared with
    /// the run's wall date).
    On(Date),
    /// After this many runs ("After X occurrences"), counting runs inside the campaign window.
    After(NonZeroU32),
}

/// A set of weekdays, iterated Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Weekdays(u8);

impl Weekdays {
    pub fn new(days: impl IntoIterator<Item = Weekday>) -> Self {
        Self(days.into_iter().fold(0, |bits, d| bits | 1 << d.to_monday_zero_offset()))
    }

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & 1 << day.to_monday_zero_offset() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        (0..7).filter_map(|i| Weekday::from_monday_zero_offset(i).ok()).filter(move |&d| self.contains(d))
    }
}

/// A day of the month a monthly recurrence runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthDay {
    /// 1 to 31.
    Day(u8),
    /// "Last day of month".
    Last,
}

/// A set of days of the month, iterated in order with [`MonthDay::Last`] at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonthDays {
    /// Bit `d` for day `d` (1..=31).
    days: u32,
    last: bool,
}

impl MonthDays {
    /// The set of `days`; a `Day` outside 1..=31 is ignored (the parser refuses it).
    pub fn new(days: impl IntoIterator<Item = MonthDay>) -> Self {
        days.into_iter().fold(Self::default(), |mut set, day| {
            match day {
                MonthDay::Day(d @ 1..=31) => set.days |= 1 << d,
                MonthDay::Day(_) => {}
                MonthDay::Last => set.last = true,
            }
            set
        })
    }

    pub fn is_empty(self) -> bool {
        self.days == 0 && !self.last
    }

    pub fn iter(self) -> impl Iterator<Item = MonthDay> {
        let days = (1..=31u8).filter(move |d| self.days & 1 << d != 0).map(MonthDay::Day);
        days.chain(self.last.then_some(MonthDay::Last))
    }

    /// The dates of the set in the month of `first` (its first day), in order, once each; days the month does
    /// not have are skipped.
    fn dates_in(self, first: Date) -> Vec<Date> {
        let last = first.last_of_month();
        let mut dates: Vec<Date> = (1..=last.day())
            .filter(|&d| self.days & 1 << d != 0)
            .filter_map(|d| Date::new(first.year(), first.month(), d).ok())
            .collect();
        if self.last && dates.last() != Some(&last) {
            dates.push(last);
        }
        dates
    }
}

impl Recurrence {
    /// The wall times of the pattern in order, ignoring the end, from the first period that can hold a date on or
    /// after `from` (earlier dates may still come out; the caller filters them).
    pub(super) fn occurrences(&self, from: Option<Date>) -> Occurrences<'_> {
        let period = from.map_or(0, |date| self.period_of(date));
        Occurrences { recurrence: self, period, pending: Vec::new().into_iter() }
    }

    /// The period (day, week or month step) holding `date`, or 0 before the start.
    fn period_of(&self, date: Date) -> i64 {
        let start = self.start.date();
        let (steps, every) = match self.repeat {
            Repeat::Days { every } => (days_between(start, date), every),
            Repeat::Weeks { every, .. } => (days_between(monday_of(start), date).div_euclid(7), every),
            Repeat::Months { every, .. } => {
                let months = |d: Date| i64::from(d.year()) * 12 + i64::from(d.month());
                (months(date) - months(start), every)
            }
        };
        steps.max(0) / i64::from(every.get())
    }

    /// The dates of period `p`, in order; `None` once the period is past the last date a run can fall on.
    fn period_dates(&self, p: i64) -> Option<Vec<Date>> {
        let start = self.start.date();
        let step = |every: NonZeroU16| p.checked_mul(i64::from(every.get()));
        let dates = match self.repeat {
            Repeat::Days { every } => vec![add_days(start, step(every)?)?],
            Repeat::Weeks { every, on } => {
                let monday = add_days(monday_of(start), step(every)?.checked_mul(7)?)?;
                if monday > last_date() {
                    return None;
                }
                let days = on.iter().filter_map(|d| add_days(monday, i64::from(d.to_monday_zero_offset())));
                days.filter(|&d| d >= start).collect()
            }
            Repeat::Months { every, on } => {
                let first = start.first_of_month().checked_add(Span::new().try_months(step(every)?).ok()?).ok()?;
                if first > last_date() {
                    return None;
                }
                on.dates_in(first).into_iter().filter(|&d| d > start).collect()
            }
        };
        if dates.first().is_some_and(|&d| d > last_date()) {
            return None;
        }
        Some(dates.into_iter().filter(|&d| d <= last_date()).collect())
    }
}

/// The wall times of a recurrence's pattern, in order.
#[derive(Debug)]
pub(super) struct Occurrences<'a> {
    recurrence: &'a Recurrence,
    period: i64,
    pending: std::vec::IntoIter<Date>,
}

impl Iterator for Occurrences<'_> {
    type Item = DateTime;

    fn next(&mut self) -> Option<DateTime> {
        loop {
            if let Some(date) = self.pending.next() {
                return Some(date.to_datetime(self.recurrence.start.time()));
            }
            self.pending = self.recurrence.period_dates(self.period)?.into_iter();
            self.period = self.period.checked_add(1)?;
        }
    }
}

fn monday_of(date: Date) -> Date {
    add_days(date, -i64::from(date.weekday().to_monday_zero_offset())).unwrap_or(date)
}

fn add_days(date: Date, days: i64) -> Option<Date> {
    date.checked_add(Span::new().try_days(days).ok()?).ok()
}

/// Whole days from `a` to `b` (negative when `b` is earlier).
fn days_between(a: Date, b: Date) -> i64 {
    a.until(b).map_or(0, |span| i64::from(span.get_days()))
}
