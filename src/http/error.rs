//! The one mapping from typed errors to HTTP: status code, `errorType` and
//! body shape.
//!
//! Two shapes, chosen by route (see [`Shape::for_path`]):
//! - Prometheus's, everywhere by default:
//!   `{"status":"error","errorType":"bad_data","error":"line 3, column 7: ..."}`;
//! - InfluxDB's on the InfluxDB-compatible routes (`/write`,
//!   `/api/v2/write`, `/query`), which its clients parse: `{"error":"..."}`.
//!
//! Handlers return `Result<_, ApiError>` and convert with `?`; nowhere else
//! picks a status code for a failure.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Error;

/// The kind of a failure, as the Prometheus API names it in `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The request is malformed or refers to something invalid: 400.
    BadData,
    /// No credentials, or credentials that do not allow the request: 401.
    Unauthorized,
    /// The credentials are valid but lack the scope: 403.
    Forbidden,
    /// No such route or object: 404.
    NotFound,
    /// A body over a size limit: 413.
    TooLarge,
    /// A body in an encoding the route does not take: 415.
    Unsupported,
    /// A query or request ran past its time limit, or too many queries run: 503.
    Timeout,
    /// The server cannot take the request now (too many queries, shutting down): 503.
    Unavailable,
    /// The request cannot be executed (a query that fails while running): 422.
    Execution,
    /// A failure of the server or the storage: 500.
    Internal,
}

impl Kind {
    fn status(self) -> StatusCode {
        match self {
            Kind::BadData => StatusCode::BAD_REQUEST,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::Timeout | Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::BadData => "bad_data",
            Kind::Unauthorized => "unauthorized",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not_found",
            Kind::TooLarge => "too_large",
            Kind::Unsupported => "unsupported_media_type",
            Kind::Timeout => "timeout",
            Kind::Unavailable => "unavailable",
            Kind::Execution => "execution",
            Kind::Internal => "internal",
        }
    }
}

/// The body shape clients of a route parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `{"status":"error","errorType":...,"error":...}`.
    Prometheus,
    /// `{"error":...}`.
    Influx,
}

impl Shape {
    /// The shape of the route at `path`: InfluxDB's on the routes its
    /// clients call, Prometheus's elsewhere.
    pub fn for_path(path: &str) -> Shape {
        match path {
            "/write" | "/api/v2/write" | "/query" => Shape::Influx,
            _ => Shape::Prometheus,
        }
    }
}

/// A failed request: what went wrong, its kind and the shape to say it in.
#[derive(Debug)]
pub(crate) struct ApiError {
    kind: Kind,
    message: String,
    shape: Shape,
}

impl ApiError {
    /// A failure of `kind` saying `message`, in the Prometheus shape.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), shape: Shape::Prometheus }
    }

    /// A malformed request (400).
    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(Kind::BadData, message)
    }

    /// The same failure in `shape`.
    pub fn with_shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// The same failure in the shape of the route at `path`.
    pub fn for_path(self, path: &str) -> Self {
        self.with_shape(Shape::for_path(path))
    }

    /// The kind of failure.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The HTTP status this failure is answered with (for routes whose
    /// protocol prescribes its own body, as OTLP does).
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::InvalidRow { .. } | Error::InvalidArgument(_) | Error::Dialect { .. } => Kind::BadData,
            Error::Query(_) => Kind::Execution,
            Error::Closed => Kind::Unavailable,
            _ => Kind::Internal,
        };
        if kind == Kind::Internal {
            tracing::error!(error = %e, "request failed in the database");
        }
        Self::new(kind, e.to_string())
    }
}

impl From<crate::ingest::Error> for ApiError {
    fn from(e: crate::ingest::Error) -> Self {
        let kind = match e {
            crate::ingest::Error::TooLarge { .. } => Kind::TooLarge,
            _ => Kind::BadData,
        };
        Self::new(kind, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.shape {
            Shape::Prometheus => serde_json::json!({
                "status": "error",
                "errorType": self.kind.name(),
                "error": self.message,
            }),
            Shape::Influx => serde_json::json!({ "error": self.message }),
        };
        let mut response = (self.kind.status(), axum::Json(body)).into_response();
        if self.kind == Kind::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"chronicle\""));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ApiError) -> (StatusCode, serde_json::Value, Option<HeaderValue>) {
        let response = e.into_response();
        let status = response.status();
        let auth = response.headers().get(header::WWW_AUTHENTICATE).cloned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), auth)
    }

    #[tokio::test]
    async fn shapes_follow_the_route() {
        let (status, body, _) =
            body_of(ApiError::bad_data("line 2, column 5: no fields").for_path("/api/v1/write")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            serde_json::json!({"status":"error","errorType":"bad_data","error":"line 2, column 5: no fields"})
        );
        let (status, body, _) = body_of(ApiError::new(Kind::TooLarge, "body over 10 bytes").for_path("/write")).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body, serde_json::json!({"error":"body over 10 bytes"}));
    }

    #[tokio::test]
    async fn unauthorized_says_how_to_authenticate() {
        let (status, _, auth) = body_of(ApiError::new(Kind::Unauthorized, "no token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(auth.unwrap().to_str().unwrap().starts_with("Bearer"));
    }

    #[test]
    fn database_errors_map_by_kind() {
        let refused = ApiError::from(Error::InvalidArgument("empty measurement".into()));
        assert_eq!(refused.kind(), Kind::BadData);
        assert_eq!(ApiError::from(Error::Closed).kind(), Kind::Unavailable);
        let broken = ApiError::from(Error::Poisoned("fsync failed".into()));
        assert_eq!(
            (broken.kind(), broken.message()),
            (Kind::Internal, "database is poisoned by an earlier failure (fsync failed); reopen it")
        );
    }
}
