//! OTLP/HTTP metrics: `POST /v1/metrics`.
//!
//! The body is an `ExportMetricsServiceRequest`, binary protobuf
//! (`Content-Type: application/x-protobuf`) or OTLP/JSON
//! (`application/json`), plain or gzip. It is translated to Prometheus-style
//! rows by [`crate::ingest::otlp`] and stored through the one write path
//! ([`write::ingest`]), all or nothing.
//!
//! Answers follow the OTLP/HTTP specification, in the request's encoding:
//! 200 with an empty `ExportMetricsServiceResponse` (every point stored), or
//! the failure's status (400 for bad data, 413, 415, 503 ...) with a
//! `google.rpc.Status` whose message says what and where. A content type
//! that is neither is a 415 answered in protobuf, the protocol's default.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;

use super::auth::{Caller, Scope};
use super::error::{ApiError, Kind};
use super::state::AppState;
use super::write::{self, Store, now_ns, store_rows};
use crate::ingest::otlp;

const PATH: &str = "/v1/metrics";

/// The routes of this module.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(PATH, post(export))
}

/// How a request's body, and so its answer, is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `google.rpc.Status`, the body of an OTLP/HTTP failure.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    code: i32,
    /// What went wrong.
    #[prost(string, tag = "2")]
    message: String,
}

async fn export(State(state): State<AppState>, caller: Caller, headers: HeaderMap, body: Body) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let encoding = match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            let refused = ApiError::new(
                Kind::Unsupported,
                format!("Content-Type {content_type:?} is not OTLP; send application/x-protobuf or application/json"),
            );
            return failure(Encoding::Protobuf, &refused);
        }
    };
    match store(&state, &caller, &headers, body, encoding).await {
        Ok(()) => answer(encoding, StatusCode::OK, success(encoding)),
        Err(e) => failure(encoding, &e),
    }
}

async fn store(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<(), ApiError> {
    caller.require(Scope::ReadWrite)?;
    let now = now_ns();
    let store: Store = match encoding {
        Encoding::Protobuf => Box::new(move |body, db| store_rows(otlp::parse_protobuf(body, now), db)),
        Encoding::Json => Box::new(move |body, db| store_rows(otlp::parse_json(body, now), db)),
    };
    write::ingest(state, PATH, headers, body, false, store).await.map(|_| ())
}

/// The body of a full success: an empty `ExportMetricsServiceResponse`.
fn success(encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => prost::Message::encode_to_vec(&ExportMetricsServiceResponse::default()),
        Encoding::Json => b"{}".to_vec(),
    }
}

/// A failure as OTLP/HTTP answers it: the status the server's error
/// mapping chose, and a `google.rpc.Status` saying why.
fn failure(encoding: Encoding, e: &ApiError) -> Response {
    let status = e.status();
    let code = grpc_code(status);
    let body = match encoding {
        Encoding::Protobuf => prost::Message::encode_to_vec(&Status { code, message: e.message().to_owned() }),
        Encoding::Json => serde_json::json!({ "code": code, "message": e.message() }).to_string().into_bytes(),
    };
    answer(encoding, status, body)
}

fn answer(encoding: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    response
}

/// The gRPC code of an HTTP failure status, as the OTLP specification pairs them.
fn grpc_code(status: StatusCode) -> i32 {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => 3, // INVALID_ARGUMENT
        StatusCode::FORBIDDEN => 7,                                        // PERMISSION_DENIED
        StatusCode::PAYLOAD_TOO_LARGE => 8,                                // RESOURCE_EXHAUSTED
        StatusCode::SERVICE_UNAVAILABLE => 14,                             // UNAVAILABLE
        StatusCode::UNAUTHORIZED => 16,                                    // UNAUTHENTICATED
        _ => 13,                                                           // INTERNAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_a_status_in_the_request_encoding() {
        let e = ApiError::bad_data("resourceMetrics[0].scopeMetrics[0].metrics[0]: empty name");
        let response = failure(Encoding::Json, &e);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let e = ApiError::new(Kind::TooLarge, "over");
        let response = failure(Encoding::Protobuf, &e);
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/x-protobuf");
        assert!(success(Encoding::Protobuf).is_empty(), "an empty response message encodes to no bytes");
    }
}
