//! The messages of the control socket: one JSON [`Request`] per line in, one JSON
//! [`Reply`] per line out; after `watch`, a [`WatchLine`] per line until either side closes.

use serde::{Deserialize, Serialize};
use ssenotify_sse::ApplyReport;
use ts_rs::TS;

use crate::status::{DaemonEvent, StatusReport};

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Is anyone there? Replies with the daemon's pid and version.
    Ping,
    /// The live state of the subscriptions, and the daemon's own. `{"cmd":"status"}` asks
    /// for every subscription; `since` and `ids` narrow it down (both at once: the changes of
    /// those ids).
    Status {
        /// Only what changed after this version (the [`StatusReport::version`] of an earlier
        /// reply of the same daemon): a delta. A version the daemon cannot answer for (from
        /// before its start, or too old) gets every subscription, with `full` set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// Only these subscriptions; an empty list asks for the daemon's own report alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ids: Option<Vec<String>>,
    },
    /// Re-read the subscriptions file and apply it now.
    Reload,
    /// Stream every status change and event as [`WatchLine`]s until either side closes.
    Watch {
        /// Answer with the status of every subscription first ([`Done::Watching`]'s
        /// `snapshot`): the stream then carries only what changes after it.
        #[serde(default, skip_serializing_if = "is_false")]
        snapshot: bool,
    },
    /// Stop the daemon (as SIGTERM does): `ssenotify quit`, and the app's Quit when no tray
    /// icon offers one.
    Quit,
    /// Reconnect one subscription now, from any state but paused (`ssenotify reconnect`,
    /// the app's "Retry now"): a subscription CLOSED for good tries again.
    Reconnect {
        /// The subscription's id.
        id: String,
    },
    /// Mark subscriptions read (`ssenotify read`, the app's Mark read): their unread counts
    /// go to zero, and stay there across restarts until new events ask for attention.
    MarkRead {
        /// The subscriptions' ids; absent: every subscription.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ids: Option<Vec<String>>,
    },
    /// Delete the history and resume points of subscriptions the user removed (`remove`,
    /// `import --replace`, the app's Remove), after the file no longer has them. Ids still
    /// in the file are refused: history is never deleted because of what the file says.
    Forget {
        /// The removed subscriptions' ids.
        ids: Vec<String>,
    },
}

/// The daemon's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Answer to [`Request::Ping`].
    Pong {
        /// The daemon's process id.
        pid: u32,
        /// The daemon's version.
        version: String,
    },
    /// Answer to [`Request::Status`].
    Status(StatusReport),
    /// The request was carried out; `detail` says what happened.
    Done {
        /// What happened.
        detail: Done,
    },
    /// The request failed.
    Error {
        /// Why.
        message: String,
    },
}

/// What a carried-out request did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(untagged)]
pub enum Done {
    /// `watch`: the stream of [`WatchLine`]s follows.
    Watching {
        /// Always true.
        watching: bool,
        /// With `{"cmd":"watch","snapshot":true}`: every subscription's status when the
        /// stream started; every line after it is a change since.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<Box<StatusReport>>,
    },
    /// `quit`: the daemon is stopping.
    Quitting {
        /// Always true.
        quitting: bool,
    },
    /// `reconnect`: the subscription is reconnecting.
    Reconnecting {
        /// Its id.
        reconnecting: String,
    },
    /// `mark_read`: the subscriptions now read.
    MarkedRead {
        /// Their ids.
        marked_read: Vec<String>,
    },
    /// `forget`: the subscriptions whose history and resume point are gone.
    Forgotten {
        /// Their ids.
        forgotten: Vec<String>,
    },
    /// `reload`: what applying the file did, id by id.
    Applied(ApplyReport),
}

fn is_false(value: &bool) -> bool {
    !value
}

/// One line of a `watch` stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(untagged)]
// A line is read, handled and dropped one at a time: boxing the common variant to save
// the rare notice's bytes would cost an allocation per line instead.
#[allow(clippy::large_enum_variant)]
pub enum WatchLine {
    /// About the stream itself.
    Notice(WatchNotice),
    /// What the daemon published.
    Update(DaemonEvent),
}

/// What a `watch` stream says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchNotice {
    /// The watcher read too slowly and `count` updates were skipped; the daemon never waits
    /// for a watcher, so a slow window cannot hold events back.
    Lagged {
        /// Updates skipped.
        count: u64,
    },
    /// The daemon is stopping on purpose (Quit, SIGTERM); the stream ends after this line.
    /// A stream that ends without it means the daemon died.
    Shutdown,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SubscriptionStatus;
    use ssenotify_sse::ReadyState;

    fn round_trip<T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug>(
        value: T,
    ) -> String {
        let text = serde_json::to_string(&value).unwrap();
        let back: T = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
        text
    }

    /// A reply read back by the client's reader, fast path or not, as serde reads it.
    fn reply_round_trip(reply: Reply) -> String {
        let text = round_trip(reply.clone());
        assert_eq!(crate::parse_reply(&text).unwrap(), reply, "{text}");
        text
    }

    #[test]
    fn watch_lines_round_trip_through_json() {
        for line in [
            WatchLine::Notice(WatchNotice::Shutdown),
            WatchLine::Notice(WatchNotice::Lagged { count: 3 }),
            WatchLine::Update(DaemonEvent::Status(SubscriptionStatus::new(
                "a",
                ReadyState::Connecting,
                "started",
            ))),
        ] {
            round_trip(line);
        }
        assert_eq!(
            round_trip(WatchLine::Notice(WatchNotice::Shutdown)),
            r#"{"kind":"shutdown"}"#
        );
    }

    #[test]
    fn a_status_reply_is_whole_unless_it_says_it_is_a_delta() {
        // A daemon from before versions answers without `version` and `full`: all of it.
        let old = r#"{"reply":"status","subscriptions":[],"daemon":{"pid":1,
            "notifier":{"state":"up"},"config_error":null,"tray":false,"tray_host":false}}"#;
        match serde_json::from_str::<Reply>(old).unwrap() {
            Reply::Status(report) => assert!(report.full && report.version == 0),
            other => panic!("{other:?}"),
        }
        let delta = reply_round_trip(Reply::Status(StatusReport {
            version: 9,
            full: false,
            subscriptions: vec![SubscriptionStatus::new("a", ReadyState::Open, "x")],
            removed: vec!["b".into()],
            daemon: crate::DaemonInfo {
                pid: 1,
                notifier: Default::default(),
                config_error: None,
                tray: false,
                tray_host: false,
                quiet: None,
            },
        }));
        assert!(
            delta.starts_with(
                r#"{"reply":"status","version":9,"full":false,"subscriptions":[{"id":"a""#
            ),
            "{delta}"
        );
        assert!(delta.contains(r#""removed":["b"],"daemon":"#), "{delta}");
        assert_eq!(
            round_trip(WatchLine::Update(DaemonEvent::Removed {
                ids: vec!["a".into()]
            })),
            r#"{"kind":"removed","ids":["a"]}"#
        );
    }

    /// The lines docs/ipc.md and docs/cli.md show, byte for byte.
    #[test]
    fn the_documented_wire_shapes_hold() {
        assert_eq!(
            round_trip(Request::Watch { snapshot: false }),
            r#"{"cmd":"watch"}"#
        );
        assert_eq!(
            round_trip(Request::Watch { snapshot: true }),
            r#"{"cmd":"watch","snapshot":true}"#
        );
        assert_eq!(
            round_trip(Request::Status {
                since: None,
                ids: None
            }),
            r#"{"cmd":"status"}"#
        );
        assert_eq!(
            round_trip(Request::Status {
                since: Some(7),
                ids: Some(vec!["a".into()])
            }),
            r#"{"cmd":"status","since":7,"ids":["a"]}"#
        );
        assert_eq!(round_trip(Request::Reload), r#"{"cmd":"reload"}"#);
        assert_eq!(
            reply_round_trip(Reply::Done {
                detail: Done::Watching {
                    watching: true,
                    snapshot: None
                }
            }),
            r#"{"reply":"done","detail":{"watching":true}}"#
        );
        reply_round_trip(Reply::Done {
            detail: Done::Watching {
                watching: true,
                snapshot: Some(Box::new(StatusReport {
                    version: 3,
                    full: true,
                    subscriptions: vec![SubscriptionStatus::new("a", ReadyState::Open, "x")],
                    removed: Vec::new(),
                    daemon: crate::DaemonInfo {
                        pid: 1,
                        notifier: Default::default(),
                        config_error: None,
                        tray: true,
                        tray_host: false,
                        quiet: None,
                    },
                })),
            },
        });
        assert_eq!(
            round_trip(Reply::Done {
                detail: Done::Quitting { quitting: true }
            }),
            r#"{"reply":"done","detail":{"quitting":true}}"#
        );
        // An apply report is told apart from the other details when read back.
        let mut report = ApplyReport::default();
        report.started.push("a".into());
        report.failed.insert("b".into(), "bad".into());
        round_trip(Reply::Done {
            detail: Done::Applied(report),
        });
        round_trip(Reply::Done {
            detail: Done::Applied(ApplyReport::default()),
        });
        assert_eq!(
            round_trip(Reply::Error {
                message: "no".into()
            }),
            r#"{"reply":"error","message":"no"}"#
        );
    }
}
