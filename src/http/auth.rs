//! Who is calling: credentials resolved once per request into a [`Caller`]
//! that every handler receives.
//!
//! Auth is off unless [`AuthConfig::tokens`] holds a token; then every
//! route but the health checks and `/ping` needs one. A token is read from,
//! in order: `Authorization: Bearer <t>`, InfluxDB's `Authorization: Token
//! <t>`, HTTP basic auth (the password is the token; InfluxDB 1.x clients
//! send `username:token`), or InfluxDB 1.x's `p` query parameter (`u` is
//! ignored). Tokens are compared in constant time (all of them, whichever
//! matches) and never logged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use super::error::{ApiError, Kind};
use super::state::AppState;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Queries and metadata.
    Read,
    /// Queries, metadata and writes.
    ReadWrite,
}

/// A bearer token and what it allows.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Token {
    /// A name for logs and metrics; never the secret.
    pub name: String,
    /// The secret the client sends.
    pub secret: String,
    /// What it allows.
    pub scope: Scope,
}

impl Token {
    /// A token called `name` with `secret` allowing `scope`.
    pub fn new(name: impl Into<String>, secret: impl Into<String>, scope: Scope) -> Self {
        Self { name: name.into(), secret: secret.into(), scope }
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("name", &self.name).field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// The server's credentials: none (the default) turns auth off.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The accepted tokens.
    pub tokens: Vec<Token>,
}

impl AuthConfig {
    /// Whether requests need a token.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The token whose secret is `presented`, comparing against every token.
    pub(crate) fn find(&self, presented: &[u8]) -> Option<&Token> {
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.secret.as_bytes().ct_eq(presented)) {
                found = Some(token);
            }
        }
        found
    }
}

/// The resolved caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The token's name; `None` when auth is off.
    pub name: Option<String>,
    /// What the caller may do.
    pub scope: Scope,
}

impl Caller {
    /// Refuses the request (403) unless the caller's scope covers `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.scope >= needed {
            Ok(())
        } else {
            let who = self.name.as_deref().unwrap_or("anonymous");
            Err(ApiError::new(Kind::Forbidden, format!("token {who:?} is read-only; this request writes")))
        }
    }
}

/// The token a request presents, if any.
fn presented(headers: &HeaderMap, query: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value =
            value.to_str().map_err(|_| ApiError::new(Kind::Unauthorized, "Authorization header is not text"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "bearer" | "token" => Ok(Some(rest.as_bytes().to_vec())),
            "basic" => {
                let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, rest)
                    .map_err(|_| ApiError::new(Kind::Unauthorized, "basic credentials are not base64"))?;
                let password = match decoded.iter().position(|&b| b == b':') {
                    Some(at) => decoded[at + 1..].to_vec(),
                    None => decoded,
                };
                Ok(Some(password))
            }
            _ => Err(ApiError::new(
                Kind::Unauthorized,
                format!("unknown Authorization scheme {scheme:?}; use Bearer or Token"),
            )),
        };
    }
    let password = query.into_iter().flat_map(|q| q.split('&')).find_map(|pair| pair.strip_prefix("p="));
    match password {
        Some(p) => {
            let decoded = percent_decode(p)
                .ok_or_else(|| ApiError::new(Kind::Unauthorized, "parameter p is not valid percent-encoding"))?;
            Ok(Some(decoded))
        }
        None => Ok(None),
    }
}

/// `%XX` and `+` decoding of a query parameter value.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = &state.config.auth;
        if !auth.enabled() {
            return Ok(Caller { name: None, scope: Scope::ReadWrite });
        }
        let path = parts.uri.path().to_owned();
        let secret = presented(&parts.headers, parts.uri.query()).map_err(|e| e.for_path(&path))?;
        let Some(secret) = secret else {
            return Err(ApiError::new(
                Kind::Unauthorized,
                "this server needs a token: send Authorization: Bearer <token>",
            )
            .for_path(&path));
        };
        match auth.find(&secret) {
            Some(token) => Ok(Caller { name: Some(token.name.clone()), scope: token.scope }),
            None => Err(ApiError::new(Kind::Unauthorized, "the token is not valid").for_path(&path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn every_way_influx_and_prometheus_clients_send_a_token() {
        let none = HeaderMap::new();
        assert_eq!(presented(&headers("Bearer s3cret"), None).unwrap(), Some(b"s3cret".to_vec()));
        assert_eq!(presented(&headers("Token s3cret"), None).unwrap(), Some(b"s3cret".to_vec()));
        // "admin:s3cret" in base64.
        assert_eq!(presented(&headers("Basic YWRtaW46czNjcmV0"), None).unwrap(), Some(b"s3cret".to_vec()));
        assert_eq!(presented(&none, Some("db=x&u=admin&p=s3%2Fcret")).unwrap(), Some(b"s3/cret".to_vec()));
        assert_eq!(presented(&none, Some("db=x")).unwrap(), None);
        assert!(presented(&headers("Digest abc"), None).is_err());
        assert!(presented(&none, Some("p=%zz")).is_err());
    }

    #[test]
    fn tokens_match_whole_and_scope_orders() {
        let auth = AuthConfig {
            tokens: vec![
                Token::new("reader", "r-token", Scope::Read),
                Token::new("writer", "w-token", Scope::ReadWrite),
            ],
        };
        assert_eq!(auth.find(b"w-token").map(|t| t.name.as_str()), Some("writer"));
        assert!(auth.find(b"w-toke").is_none() && auth.find(b"w-token2").is_none() && auth.find(b"").is_none());
        let reader = Caller { name: Some("reader".into()), scope: Scope::Read };
        assert!(reader.require(Scope::Read).is_ok());
        assert_eq!(reader.require(Scope::ReadWrite).unwrap_err().kind(), Kind::Forbidden);
        assert!(!format!("{:?}", auth.tokens[0]).contains("r-token"), "Debug never shows a secret");
    }
}
