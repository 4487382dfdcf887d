//! Request bodies read under the server's [`Limits`]: size as sent, size
//! after gzip, and time to arrive.
//!
//! Every write route reads its body through [`read_body`], which keeps
//! these invariants:
//! - **Size as sent.** A `Content-Length` over `max_body_bytes` is refused
//!   before a byte is read; a body without one (chunked) is refused as soon
//!   as what arrived passes the limit. Nothing past the limit is buffered.
//! - **Size decompressed.** `Content-Encoding: gzip` is decompressed on
//!   the blocking pool reading at most `max_decompressed_bytes + 1` bytes,
//!   so a gzip bomb costs the limit in memory, never its claimed size.
//!   Encodings a route decodes itself (`snappy` for Prometheus remote
//!   write, which checks the declared length first) pass through untouched;
//!   any other encoding is a 415.
//! - **Time.** The whole body must arrive within `request_timeout` of the
//!   handler starting to read it; a slower client gets a 503 saying so, and
//!   its connection is no longer read.

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures::StreamExt;
use tokio::time::Instant;

use super::error::{ApiError, Kind};
use super::server::Limits;

/// How a body is compressed, from its `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// No encoding (or `identity`).
    Identity,
    /// `gzip` (or `x-gzip`): decompressed here.
    Gzip,
    /// `snappy`: a snappy block the route's parser decompresses.
    Snappy,
}

impl Encoding {
    /// The encoding a request declares; an unknown one is a 415.
    fn of(headers: &HeaderMap) -> Result<Encoding, ApiError> {
        let Some(value) = headers.get(header::CONTENT_ENCODING) else { return Ok(Encoding::Identity) };
        let name = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
        match name.as_str() {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            "snappy" => Ok(Encoding::Snappy),
            _ => Err(ApiError::new(
                Kind::Unsupported,
                format!("Content-Encoding {:?} is not supported; send gzip or no encoding", value),
            )),
        }
    }
}

/// Reads the whole body of a request under `limits`, decompressing gzip.
/// `snappy_passes` says whether the route takes snappy bodies (it then
/// gets them as sent, to decompress with its own length check); otherwise
/// a snappy body is a 415 like any unknown encoding.
pub(crate) async fn read_body(
    limits: &Limits,
    headers: &HeaderMap,
    body: Body,
    snappy_passes: bool,
) -> Result<Vec<u8>, ApiError> {
    let encoding = Encoding::of(headers)?;
    if encoding == Encoding::Snappy && !snappy_passes {
        return Err(ApiError::new(
            Kind::Unsupported,
            "Content-Encoding \"snappy\" is only taken by Prometheus remote write and read; send gzip or no encoding",
        ));
    }
    let sent = read_sent(limits, headers, body).await?;
    match encoding {
        Encoding::Identity | Encoding::Snappy => Ok(sent),
        Encoding::Gzip => {
            let limit = limits.max_decompressed_bytes;
            tokio::task::spawn_blocking(move || gunzip(&sent, limit))
                .await
                .map_err(|e| ApiError::new(Kind::Internal, format!("decompressing the body failed: {e}")))?
        }
    }
}

/// The body as sent, under `max_body_bytes` and `request_timeout`.
async fn read_sent(limits: &Limits, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let max = limits.max_body_bytes;
    let too_large =
        || ApiError::new(Kind::TooLarge, format!("request body is over the limit of {max} bytes (max_body_bytes)"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    let deadline = Instant::now() + limits.request_timeout;
    let mut out = Vec::with_capacity(declared.map_or(0, |len| len as usize));
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err(slow(limits.request_timeout, out.len())),
            Ok(None) => return Ok(out),
            Ok(Some(chunk)) => {
                chunk.map_err(|e| ApiError::bad_data(format!("reading the request body failed: {e}")))?
            }
        };
        if out.len() + chunk.len() > max {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
}

/// The 503 of a body that did not arrive in time.
fn slow(timeout: Duration, received: usize) -> ApiError {
    ApiError::new(
        Kind::Timeout,
        format!(
            "request body did not arrive within the request timeout of {:?} (request_timeout); {received} bytes came",
            timeout
        ),
    )
}

/// Decompresses a gzip body (one or more members) of at most `limit` bytes.
fn gunzip(sent: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    // One byte past the limit tells "at the limit" from "over it" without
    // ever holding more.
    let cap = (limit as u64).saturating_add(1);
    flate2::read::MultiGzDecoder::new(sent)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::bad_data(format!("body is not valid gzip: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::new(
            Kind::TooLarge,
            format!("gzip body decompresses to over the limit of {limit} bytes (max_decompressed_bytes)"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn limits(body: usize, decompressed: usize) -> Limits {
        Limits { max_body_bytes: body, max_decompressed_bytes: decompressed, ..Limits::default() }
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[tokio::test]
    async fn plain_and_gzip_bodies_read_whole() {
        let text = b"cpu v=1 1\ncpu v=2 2\n".to_vec();
        let plain = read_body(&limits(100, 100), &HeaderMap::new(), Body::from(text.clone()), false).await.unwrap();
        assert_eq!(plain, text);
        let h = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        let unzipped = read_body(&limits(100, 100), &h, Body::from(gzip(&text)), false).await.unwrap();
        assert_eq!(unzipped, text);
        // Exactly at the decompressed limit is allowed.
        let at_limit = read_body(&limits(100, text.len()), &h, Body::from(gzip(&text)), false).await.unwrap();
        assert_eq!(at_limit.len(), text.len());
    }

    #[tokio::test]
    async fn each_limit_names_itself() {
        let over = read_body(&limits(4, 100), &HeaderMap::new(), Body::from("12345"), false).await.unwrap_err();
        assert_eq!(over.kind(), Kind::TooLarge);
        assert!(over.message().contains("max_body_bytes"), "{}", over.message());

        let h = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        let bomb = gzip(&vec![0; 1 << 20]);
        let exploded = read_body(&limits(1 << 20, 1000), &h, Body::from(bomb), false).await.unwrap_err();
        assert_eq!(exploded.kind(), Kind::TooLarge);
        assert!(exploded.message().contains("max_decompressed_bytes"), "{}", exploded.message());

        let broken = read_body(&limits(100, 100), &h, Body::from("not gzip"), false).await.unwrap_err();
        assert_eq!(broken.kind(), Kind::BadData);

        let br = headers(&[(header::CONTENT_ENCODING, "br")]);
        let unknown = read_body(&limits(100, 100), &br, Body::from("x"), false).await.unwrap_err();
        assert_eq!(unknown.kind(), Kind::Unsupported);
        assert!(unknown.message().contains("\"br\""), "{}", unknown.message());

        let snappy = headers(&[(header::CONTENT_ENCODING, "snappy")]);
        assert_eq!(
            read_body(&limits(100, 100), &snappy, Body::from("x"), false).await.unwrap_err().kind(),
            Kind::Unsupported
        );
        assert_eq!(read_body(&limits(100, 100), &snappy, Body::from("x"), true).await.unwrap(), b"x");
    }

    #[tokio::test]
    async fn declared_length_over_the_limit_is_refused_unread() {
        let h = headers(&[(header::CONTENT_LENGTH, "1000")]);
        let refused = read_body(&limits(10, 100), &h, Body::from("short"), false).await.unwrap_err();
        assert_eq!(refused.kind(), Kind::TooLarge);
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        tx.send(Ok(b"cpu v=1".to_vec())).await.unwrap();
        let body = Body::from_stream(tokio_stream(rx));
        let limits = Limits { request_timeout: Duration::from_millis(100), ..Limits::default() };
        let slow = read_body(&limits, &HeaderMap::new(), body, false).await.unwrap_err();
        assert_eq!(slow.kind(), Kind::Timeout);
        assert!(slow.message().contains("request_timeout") && slow.message().contains("7 bytes"), "{}", slow.message());
        drop(tx);
    }

    fn tokio_stream(
        mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
    ) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
