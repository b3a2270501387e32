//! Reading a request body under a size limit, as tapink's servers (inkit-mock and the engine API) do: a body
//! declared or found to be over the limit is refused, after what is left of it has been read and dropped.
//!
//! Why drain: a client that writes its whole body before reading the answer reads the 413 only if the server
//! reads its bytes; answering at once and closing with them unread resets the connection under the client,
//! which then sees a broken pipe instead of the answer. The drain is bounded ([`DRAIN_BYTES`], [`DRAIN_TIME`]).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

/// The most of a refused body that is read and dropped before answering, and for how long.
pub const DRAIN_BYTES: usize = 16 * 1024 * 1024;
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Over the limit, by its `Content-Length` or while reading; what was left of it has been drained.
    TooLarge,
    /// The connection failed while the body was read (the client went away, or sent a broken chunk).
    Unreadable(String),
}

/// The whole body, or [`BodyError::TooLarge`] as soon as it is known to be over `limit` bytes (from
/// `Content-Length`, or while reading).
pub async fn read(headers: &HeaderMap, mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body).await;
        return Err(BodyError::TooLarge);
    }
    match Limited::new(&mut body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            drain(body).await;
            Err(BodyError::TooLarge)
        }
        Err(e) => Err(BodyError::Unreadable(e.to_string())),
    }
}

/// Reads and drops what is left of `body`: at most [`DRAIN_BYTES`], for at most [`DRAIN_TIME`].
async fn drain(mut body: Incoming) {
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    let mut left = DRAIN_BYTES;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, body.frame()).await {
        let n = frame.data_ref().map_or(0, Bytes::len);
        if n >= left {
            break;
        }
        left -= n;
    }
}
