//! Quiet hours as a function of the local wall-clock time (injected, never read here).
//!
//! Local time is naive on purpose: quiet hours are written in the user's local time, and
//! the caller passes whatever local time its clock shows (a DST jump simply moves the
//! answer with it; the next `tick` re-checks).

use chrono::{Datelike, Days, NaiveDateTime, NaiveTime};

use super::spec::{NotificationSettings, QuietHoursSpec};

/// The compiled `quiet_hours` list, and do not disturb.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct QuietHours {
    periods: Vec<Period>,
    /// Do not disturb: quiet whatever the time, until the settings change.
    always: bool,
    /// "Show anyway": the periods hold nothing before this local time.
    skipped_until: Option<NaiveDateTime>,
}

/// Whether notifications are held right now, and until when: what the window's header and
/// the tray say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietNow {
    /// Notifications show.
    No,
    /// Do not disturb is on (until it is turned off).
    DoNotDisturb,
    /// A quiet-hours period is in force; it ends at this local time (`None`: quiet
    /// periods chain around the clock).
    QuietHours(Option<NaiveDateTime>),
}

impl QuietNow {
    /// Whether `settings` hold notifications at local time `now`, and until when.
    pub fn of(settings: &NotificationSettings, now: NaiveDateTime) -> Self {
        if settings.do_not_disturb {
            return Self::DoNotDisturb;
        }
        match QuietHours::new(settings).end(now) {
            QuietEnd::NotQuiet => Self::No,
            QuietEnd::At(end) => Self::QuietHours(Some(end)),
            QuietEnd::Never => Self::QuietHours(None),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Period {
    /// Bit `n` set: the period starts on the day `n` days from Monday.
    days: u8,
    from: NaiveTime,
    /// Minutes from `from` to the end (1 ..= 1440).
    length_minutes: u32,
}

impl Period {
    // A period that starts on `t`'s day or the day before is the only kind that can
    // contain `t`, since none lasts longer than 24 hours.
    fn end_if_contains(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        [0u64, 1].into_iter().find_map(|back| {
            let day = t.date().checked_sub_days(Days::new(back))?;
            if self.days & (1 << day.weekday().num_days_from_monday()) == 0 {
                return None;
            }
            let start = day.and_time(self.from);
            let end = start + chrono::Duration::minutes(i64::from(self.length_minutes));
            (start <= t && t < end).then_some(end)
        })
    }
}

/// The answer to "when does this quiet end?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuietEnd {
    /// It is not quiet now.
    NotQuiet,
    /// Quiet ends at this local time.
    At(NaiveDateTime),
    /// Quiet around the clock (every period chains into the next).
    Never,
}

// Chained periods (Friday 22:00-00:00 then Saturday 00:00-07:00) are followed to their
// common end; a week of them means the quiet never ends.
const MAX_CHAIN: usize = 8;

impl QuietHours {
    /// Compiles the settings' `quiet_hours` and do not disturb.
    pub(crate) fn new(settings: &NotificationSettings) -> Self {
        let mut quiet = Self::periods(&settings.quiet_hours);
        quiet.always = settings.do_not_disturb;
        quiet.skipped_until = settings.show_anyway_until;
        quiet
    }

    /// Compiles a `quiet_hours` list.
    fn periods(specs: &[QuietHoursSpec]) -> Self {
        let periods = specs
            .iter()
            .map(|s| {
                let days = if s.days.is_empty() {
                    0x7f
                } else {
                    s.days
                        .iter()
                        .fold(0u8, |m, d| m | 1 << d.num_days_from_monday())
                };
                let (from, to) = (s.from.minutes(), s.to.minutes());
                let length_minutes = if to > from {
                    to - from
                } else {
                    to + 1440 - from
                };
                Period {
                    days,
                    from: NaiveTime::from_num_seconds_from_midnight_opt(from * 60, 0)
                        .expect("TimeOfDay is below 24:00"),
                    length_minutes,
                }
            })
            .collect();
        Self {
            periods,
            always: false,
            skipped_until: None,
        }
    }

    /// Whether `t` falls inside any quiet period (always, while do not disturb is on).
    pub(crate) fn contains(&self, t: NaiveDateTime) -> bool {
        self.always
            || (!self.skipped(t) && self.periods.iter().any(|p| p.end_if_contains(t).is_some()))
    }

    /// Whether "Show anyway" lifts the periods at `t`.
    fn skipped(&self, t: NaiveDateTime) -> bool {
        self.skipped_until.is_some_and(|until| t < until)
    }

    /// When the quiet that contains `t` ends.
    pub(crate) fn end(&self, t: NaiveDateTime) -> QuietEnd {
        if self.always {
            return QuietEnd::Never;
        }
        if self.skipped(t) {
            return QuietEnd::NotQuiet;
        }
        let mut at = t;
        for _ in 0..MAX_CHAIN {
            match self
                .periods
                .iter()
                .filter_map(|p| p.end_if_contains(at))
                .max()
            {
                Some(end) => at = end,
                None if at == t => return QuietEnd::NotQuiet,
                None => return QuietEnd::At(at),
            }
        }
        QuietEnd::Never
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Weekday};

    use super::*;
    use crate::spec::TimeOfDay;

    // 2026-11-23 is a Monday.
    pub(crate) fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    fn spec(days: &[Weekday], from: (u32, u32), to: (u32, u32)) -> QuietHoursSpec {
        QuietHoursSpec {
            days: days.to_vec(),
            from: TimeOfDay::new(from.0, from.1).unwrap(),
            to: TimeOfDay::new(to.0, to.1).unwrap(),
        }
    }

    #[test]
    fn same_day_range() {
        let q = QuietHours::periods(&[spec(&[], (12, 0), (13, 30))]);
        assert!(!q.contains(at(23, 11, 59)));
        assert!(q.contains(at(23, 12, 0)));
        assert!(q.contains(at(23, 13, 29)));
        assert!(!q.contains(at(23, 13, 30)), "the end is exclusive");
        assert_eq!(q.end(at(23, 12, 10)), QuietEnd::At(at(23, 13, 30)));
        assert_eq!(q.end(at(23, 14, 0)), QuietEnd::NotQuiet);
    }

    #[test]
    fn crossing_midnight_belongs_to_the_start_day() {
        // Friday 22:00 to Saturday 07:00 only.
        let q = QuietHours::periods(&[spec(&[Weekday::Fri], (22, 0), (7, 0))]);
        assert!(!q.contains(at(27, 21, 59))); // Fri
        assert!(q.contains(at(27, 22, 0))); // Fri
        assert!(q.contains(at(28, 3, 0))); // Sat early morning
        assert!(!q.contains(at(28, 7, 0)));
        assert!(!q.contains(at(28, 23, 0)), "Saturday night is not quiet");
        assert!(
            !q.contains(at(27, 3, 0)),
            "Friday early morning belongs to Thursday"
        );
        assert_eq!(q.end(at(27, 23, 0)), QuietEnd::At(at(28, 7, 0)));
    }

    #[test]
    fn weekday_nights_and_weekends() {
        let q = QuietHours::periods(&[
            spec(
                &[
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ],
                (22, 0),
                (7, 0),
            ),
            spec(&[Weekday::Sat, Weekday::Sun], (0, 0), (0, 0)),
        ]);
        assert!(q.contains(at(24, 6, 59))); // Tue morning (Mon night)
        assert!(!q.contains(at(24, 12, 0))); // Tue noon
        assert!(q.contains(at(28, 12, 0))); // Sat noon (whole day)
        // Friday 23:00 chains into the whole weekend, ending Monday 00:00... which is
        // not quiet (Sunday's whole day ends at Monday 00:00, no Sunday night range).
        assert_eq!(q.end(at(27, 23, 0)), QuietEnd::At(at(30, 0, 0)));
    }

    #[test]
    fn around_the_clock_never_ends() {
        let q = QuietHours::periods(&[spec(&[], (9, 0), (9, 0))]);
        assert!(q.contains(at(25, 8, 0)));
        assert_eq!(q.end(at(25, 8, 0)), QuietEnd::Never);
    }

    #[test]
    fn no_periods_is_never_quiet() {
        let q = QuietHours::periods(&[]);
        assert!(!q.contains(at(25, 3, 0)));
        assert_eq!(q.end(at(25, 3, 0)), QuietEnd::NotQuiet);
    }
}
