//! Who is calling: the credentials of a request, checked by the embedder's
//! [`Authenticator`] before any work is done.
//!
//! Flight's two ways of presenting credentials are both accepted: the
//! `Handshake` call with HTTP basic credentials (in the `authorization`
//! header, as the Go, Rust and C++ clients send them, or as a `BasicAuth`
//! message in the payload), answered with a bearer token in the
//! `authorization` response header; and `authorization: Bearer <token>` (or
//! `Basic`) on every later call. The crate only parses; whether credentials
//! are valid and what they allow is the [`Authenticator`]'s to say, so an
//! embedder keeps one list of tokens for all its protocols. Secrets are
//! never logged nor echoed in a message.

use arrow_flight::BasicAuth;
use base64::Engine as _;
use prost::Message;
use tonic::metadata::MetadataMap;

use crate::error::{Error, Result};

/// What a request does, so the authenticator can check the caller's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Queries and metadata.
    Read,
    /// Bulk ingest.
    Write,
}

/// Credentials presented with a call.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Nothing was presented.
    None,
    /// `authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP basic credentials.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Bearer(_) => f.write_str("Bearer(..)"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username:?}, ..)"),
        }
    }
}

/// The resolved caller of a request, handed to the session provider and
/// the ingest sink so they can scope what it sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The credentials' name for logs; `None` when auth is off.
    pub name: Option<String>,
}

/// The embedder's credential check.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller presenting `credentials` for a request doing `access`;
    /// [`Error::Unauthenticated`] for missing or invalid credentials,
    /// [`Error::PermissionDenied`] when they do not allow `access`.
    fn authorize(&self, credentials: &Credentials, access: Access) -> Result<Caller>;

    /// The bearer token to hand back to a client that logged in with basic
    /// credentials (already accepted by [`Authenticator::authorize`]), or
    /// `None` when no token is needed.
    fn bearer_token(&self, username: &str, password: &str) -> Option<String>;
}

/// Auth off: every caller may do everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

impl Authenticator for NoAuth {
    fn authorize(&self, _: &Credentials, _: Access) -> Result<Caller> {
        Ok(Caller::default())
    }

    fn bearer_token(&self, _: &str, _: &str) -> Option<String> {
        None
    }
}

/// The credentials in a call's `authorization` header.
pub fn credentials(metadata: &MetadataMap) -> Result<Credentials> {
    let Some(value) = metadata.get("authorization") else {
        return Ok(Credentials::None);
    };
    let value = value.to_str().map_err(|_| Error::Unauthenticated("the authorization header is not text".into()))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Ok(Credentials::Bearer(rest.to_owned())),
        "basic" => basic(rest),
        _ => Err(Error::Unauthenticated(format!("unknown authorization scheme {scheme:?}; use Bearer or Basic"))),
    }
}

/// `user:password` in base64, padded or not (Go's Flight client sends it
/// unpadded); the password may hold colons.
fn basic(encoded: &str) -> Result<Credentials> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const EITHER_PADDING: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = EITHER_PADDING
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Error::Unauthenticated("basic credentials are not base64 of UTF-8 text".into()))?;
    let (username, password) = decoded.split_once(':').unwrap_or(("", decoded.as_str()));
    Ok(Credentials::Basic { username: username.to_owned(), password: password.to_owned() })
}

/// The basic credentials of a handshake: the header, else a `BasicAuth`
/// message in the first request's payload (older Java and C++ clients).
pub fn handshake_credentials(metadata: &MetadataMap, payload: &[u8]) -> Result<Credentials> {
    match credentials(metadata)? {
        Credentials::None if !payload.is_empty() => {
            let auth = BasicAuth::decode(payload)
                .map_err(|_| Error::Unauthenticated("the handshake payload is not a BasicAuth message".into()))?;
            Ok(Credentials::Basic { username: auth.username, password: auth.password })
        }
        found => Ok(found),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    fn with(value: &str) -> MetadataMap {
        let mut m = MetadataMap::new();
        m.insert("authorization", value.parse().unwrap());
        m
    }

    #[test]
    fn bearer_basic_and_payload_credentials() {
        assert_eq!(credentials(&MetadataMap::new()).unwrap(), Credentials::None);
        assert_eq!(credentials(&with("Bearer abc")).unwrap(), Credentials::Bearer("abc".into()));
        // "admin:s3:cret" in base64: the password keeps its colon.
        assert_eq!(
            credentials(&with("Basic YWRtaW46czM6Y3JldA==")).unwrap(),
            Credentials::Basic { username: "admin".into(), password: "s3:cret".into() }
        );
        // "u:p-0" unpadded, as Go's client sends it.
        assert_eq!(
            credentials(&with("Basic dTpwLTA")).unwrap(),
            Credentials::Basic { username: "u".into(), password: "p-0".into() }
        );
        assert!(matches!(credentials(&with("Digest x")), Err(Error::Unauthenticated(_))));
        assert!(matches!(credentials(&with("Basic !!!")), Err(Error::Unauthenticated(_))));
        let payload = BasicAuth { username: "u".into(), password: "p".into() }.encode_to_vec();
        assert_eq!(
            handshake_credentials(&MetadataMap::new(), &payload).unwrap(),
            Credentials::Basic { username: "u".into(), password: "p".into() }
        );
        assert!(!format!("{:?}", credentials(&with("Bearer topsecret")).unwrap()).contains("topsecret"));
    }
}
