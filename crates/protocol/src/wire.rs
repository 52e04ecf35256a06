//! The framing both ends share: one JSON value per line, and the limits of a line.

use std::io;

use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

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
