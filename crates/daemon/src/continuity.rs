//! Continuity: what the first events after an outage prove about the events sent during
//! it. Pure: ids and sequence numbers in, a verdict out (the rules are README's "Gap
//! accounting").

use ssenotify_history::GapClass;

/// What was known when the outage began.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Before {
    /// The resume point: the last event ID in force (empty for none).
    pub last_id: String,
    /// The last event's sequence number, when the subscription declares `sequence`.
    pub seq: Option<i64>,
}

/// One event after the reconnect, as far as continuity is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct After<'a> {
    /// The event's own `id:`, when its block had one.
    pub id: Option<&'a str>,
    /// Its sequence number, when the subscription declares `sequence` and the data has one.
    pub seq: Option<i64>,
}

/// What the events so far prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing yet: the server is replaying the last stored event; wait for the next one.
    Wait,
    /// Continuity is proven: nothing was missed.
    Complete,
    /// A possible gap, with why in words.
    Possible(GapClass, String),
}

/// Classifies the outage on `after`, the first event after the reconnect not yet decided
/// on; `replayed` says that an earlier one was the stored resume point itself.
///
/// The rules, first that applies:
/// 1. a sequence on both sides: the next number is complete, a higher one a gap, the same
///    one a replay (wait), a lower one unknown (the sequence started again); an event
///    without the number after one with it does not decide (wait: a server's own `open`
///    or keep-alive event);
/// 2. no resume point before, or no id now: unknown;
/// 3. the id is the resume point itself: the server replays from it (wait);
/// 4. numeric ids on both sides: the next number is complete, a higher one a gap, a lower
///    or equal one unknown (the server ignored `Last-Event-ID` and numbers again);
/// 5. after the resume point was replayed: complete (the server sends in its own order
///    from the point it was given);
/// 6. otherwise unknown (ids that cannot be ordered).
pub(crate) fn classify(before: &Before, after: After<'_>, replayed: bool) -> Verdict {
    use GapClass::{Gap, Unknown};
    if let Some(last) = before.seq {
        let Some(next) = after.seq else {
            return Verdict::Wait;
        };
        return match next.checked_sub(last) {
            Some(1) => Verdict::Complete,
            Some(0) => Verdict::Wait,
            Some(step) if step > 1 => Verdict::Possible(
                Gap,
                format!(
                    "sequence jumped from {last} to {next}: {} missing",
                    step - 1
                ),
            ),
            _ => Verdict::Possible(
                Unknown,
                format!("sequence started again at {next} after {last}"),
            ),
        };
    }
    if before.last_id.is_empty() {
        return Verdict::Possible(Unknown, "reconnected without a resume point".into());
    }
    let Some(id) = after.id.filter(|id| !id.is_empty()) else {
        return Verdict::Possible(Unknown, "the server sent an event without an id".into());
    };
    if id == before.last_id {
        return Verdict::Wait;
    }
    if let (Ok(last), Ok(next)) = (before.last_id.parse::<u64>(), id.parse::<u64>()) {
        return match next.checked_sub(last) {
            Some(1) => Verdict::Complete,
            Some(step) if step > 1 => Verdict::Possible(
                Gap,
                format!("ids jumped from {last} to {next}: {} missing", step - 1),
            ),
            _ => Verdict::Possible(
                Unknown,
                format!("ids started again at {next} after {last}: Last-Event-ID ignored"),
            ),
        };
    }
    if replayed {
        return Verdict::Complete;
    }
    Verdict::Possible(
        Unknown,
        format!("id {id:?} after {:?} proves nothing", before.last_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn before(last_id: &str, seq: Option<i64>) -> Before {
        Before {
            last_id: last_id.into(),
            seq,
        }
    }

    fn id(id: &str) -> After<'_> {
        After {
            id: Some(id),
            seq: None,
        }
    }

    fn class(verdict: Verdict) -> Option<GapClass> {
        match verdict {
            Verdict::Possible(class, _) => Some(class),
            _ => None,
        }
    }

    #[test]
    fn numeric_ids_that_continue_are_complete_and_a_jump_is_a_gap() {
        assert_eq!(
            classify(&before("41", None), id("42"), false),
            Verdict::Complete
        );
        assert_eq!(
            classify(&before("41", None), id("57"), false),
            Verdict::Possible(GapClass::Gap, "ids jumped from 41 to 57: 15 missing".into())
        );
    }

    #[test]
    fn ids_that_start_again_are_unknown() {
        assert_eq!(
            class(classify(&before("41", None), id("1"), false)),
            Some(GapClass::Unknown)
        );
        assert_eq!(
            class(classify(&before("41", None), id("40"), false)),
            Some(GapClass::Unknown)
        );
    }

    #[test]
    fn no_resume_point_or_no_id_is_unknown() {
        assert_eq!(
            classify(
                &before("", None),
                After {
                    id: None,
                    seq: None
                },
                false
            ),
            Verdict::Possible(
                GapClass::Unknown,
                "reconnected without a resume point".into()
            )
        );
        assert_eq!(
            class(classify(
                &before("7", None),
                After {
                    id: None,
                    seq: None
                },
                false
            )),
            Some(GapClass::Unknown)
        );
    }

    #[test]
    fn a_replay_of_the_resume_point_waits_then_proves_continuity() {
        assert_eq!(
            classify(&before("b7f", None), id("b7f"), false),
            Verdict::Wait
        );
        assert_eq!(
            classify(&before("b7f", None), id("c01"), true),
            Verdict::Complete
        );
        assert_eq!(
            class(classify(&before("b7f", None), id("c01"), false)),
            Some(GapClass::Unknown),
            "an opaque id without the replay proves nothing"
        );
        assert_eq!(
            class(classify(&before("5", None), id("9"), true)),
            Some(GapClass::Gap),
            "numbers still count after a replay"
        );
    }

    #[test]
    fn a_sequence_decides_before_ids() {
        let seq = |n| After {
            id: Some("x"),
            seq: Some(n),
        };
        assert_eq!(
            classify(&before("", Some(9)), seq(10), false),
            Verdict::Complete
        );
        assert_eq!(classify(&before("", Some(9)), seq(9), false), Verdict::Wait);
        assert_eq!(
            classify(&before("41", Some(9)), id("42"), false),
            Verdict::Wait,
            "an event without the number does not decide"
        );
        assert_eq!(
            classify(&before("41", Some(9)), seq(12), false),
            Verdict::Possible(
                GapClass::Gap,
                "sequence jumped from 9 to 12: 2 missing".into()
            )
        );
        assert_eq!(
            class(classify(&before("", Some(9)), seq(1), false)),
            Some(GapClass::Unknown)
        );
        assert_eq!(
            classify(&before("41", None), seq(1), false),
            Verdict::Possible(
                GapClass::Unknown,
                "id \"x\" after \"41\" proves nothing".into()
            ),
            "without a stored number the ids decide"
        );
    }
}
