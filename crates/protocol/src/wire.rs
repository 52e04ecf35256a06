//! The framing both ends share: one JSON value per line, and the limits of a line.

use std::io;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::message::{Done, Reply};
use crate::status::StatusReport;

/// The longest request line the daemon accepts; a request is a few dozen bytes.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Appends `value` as one JSON line to `buf`.
pub fn push_line(buf: &mut Vec<u8>, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *buf, value).map_err(io::Error::other)?;
    buf.push(b'\n');
    Ok(())
}

/// Writes `value` as one JSON line.
pub async fn write_line(
    write: &mut (impl AsyncWrite + Unpin),
    value: &impl Serialize,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(256);
    push_line(&mut buf, value)?;
    write.write_all(&buf).await
}

/// Reads one reply line. A status reply and a watch snapshot are read straight into their
/// types: serde reads a tagged enum by buffering the whole value first, which for 10,000
/// statuses doubles the work. Anything else (or the same written with another key order)
/// goes the general way.
pub fn parse_reply(line: &str) -> serde_json::Result<Reply> {
    /// `{"reply":"done","detail":{"watching":true,"snapshot":{...}}}`, as the daemon writes it.
    #[derive(Deserialize)]
    struct Watching {
        detail: WatchingDetail,
    }
    #[derive(Deserialize)]
    struct WatchingDetail {
        watching: bool,
        snapshot: Option<Box<StatusReport>>,
    }
    if line.starts_with(r#"{"reply":"status","#) {
        return serde_json::from_str::<StatusReport>(line).map(Reply::Status);
    }
    if line.starts_with(r#"{"reply":"done","detail":{"watching":"#) {
        let Watching { detail } = serde_json::from_str(line)?;
        return Ok(Reply::Done {
            detail: Done::Watching {
                watching: detail.watching,
                snapshot: detail.snapshot,
            },
        });
    }
    serde_json::from_str(line)
}
