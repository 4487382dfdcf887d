//! Flight SQL credentials checked against the HTTP server's tokens, so one
//! list of tokens and scopes serves every protocol.

use chronicle_flight::{Access, Authenticator, Caller, Credentials, Error};

use crate::http::{AuthConfig, Scope};

/// Checks bearer tokens (or basic logins whose password is a token)
/// against an [`AuthConfig`]; without tokens, everyone may do everything.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    config: AuthConfig,
}

impl TokenAuth {
    /// Auth by the tokens of `config`.
    pub fn new(config: AuthConfig) -> Self {
        Self { config }
    }
}

impl Authenticator for TokenAuth {
    fn authorize(&self, credentials: &Credentials, access: Access) -> chronicle_flight::Result<Caller> {
        if !self.config.enabled() {
            return Ok(Caller::default());
        }
        let secret = match credentials {
            Credentials::Bearer(secret) | Credentials::Basic { password: secret, .. } => secret,
            Credentials::None => {
                return Err(Error::Unauthenticated(
                    "this server needs a token: send authorization: Bearer <token>, or log in with the token \
                     as password"
                        .into(),
                ));
            }
        };
        let token = self
            .config
            .find(secret.as_bytes())
            .ok_or_else(|| Error::Unauthenticated("the token is not valid".into()))?;
        if access == Access::Write && token.scope == Scope::Read {
            return Err(Error::PermissionDenied(format!(
                "token {:?} is read-only; ingest needs a read-write token",
                token.name
            )));
        }
        Ok(Caller { name: Some(token.name.clone()) })
    }

    fn bearer_token(&self, _username: &str, password: &str) -> Option<String> {
        // The token itself: nothing is kept on the server.
        self.config.enabled().then(|| password.to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;
    use crate::http::Token;

    #[test]
    fn scopes_of_the_http_tokens_apply() {
        let config = AuthConfig {
            tokens: vec![
                Token::new("grafana", "r-secret", Scope::Read),
                Token::new("ci", "w-secret", Scope::ReadWrite),
            ],
        };
        let auth = TokenAuth::new(config);
        let read = Credentials::Bearer("r-secret".into());
        assert_eq!(auth.authorize(&read, Access::Read).unwrap().name.as_deref(), Some("grafana"));
        let e = auth.authorize(&read, Access::Write).unwrap_err();
        assert!(matches!(e, Error::PermissionDenied(ref m) if m.contains("grafana")), "{e}");
        let login = Credentials::Basic { username: "anyone".into(), password: "w-secret".into() };
        assert_eq!(auth.authorize(&login, Access::Write).unwrap().name.as_deref(), Some("ci"));
        assert!(matches!(auth.authorize(&Credentials::None, Access::Read), Err(Error::Unauthenticated(_))));
        assert!(matches!(
            auth.authorize(&Credentials::Bearer("r-secre".into()), Access::Read),
            Err(Error::Unauthenticated(_))
        ));
        assert_eq!(auth.bearer_token("anyone", "w-secret").as_deref(), Some("w-secret"));
        assert!(TokenAuth::new(AuthConfig::default()).authorize(&Credentials::None, Access::Write).is_ok());
    }
}
