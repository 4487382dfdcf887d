//! A client of a running Chronicle server (`--server URL`): blocking HTTP
//! with the caller's token, and error answers turned into messages that
//! quote the server's own.

use std::time::Duration;

use super::CliError;

/// A server at a base URL such as `http://127.0.0.1:8086`.
pub struct Remote {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Remote {
    /// A client of `base` sending `token` (if any) as a bearer token.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, CliError> {
        if !base.starts_with("http://") {
            return Err(CliError::Usage(format!(
                "--server {base:?} must be an http:// URL (e.g. http://127.0.0.1:8086)"
            )));
        }
        let config = ureq::Agent::config_builder()
            // Error answers carry the server's message: read it, not ureq's.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build();
        Ok(Remote { base: base.trim_end_matches('/').to_owned(), token, agent: ureq::Agent::new_with_config(config) })
    }

    /// POSTs `body` to `path_and_query`; a 2xx answer's body is returned,
    /// any other is an error quoting the server's message.
    pub fn post(
        &self,
        path_and_query: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<ureq::http::Response<ureq::Body>, CliError> {
        let url = format!("{}{path_and_query}", self.base);
        let mut request = self.agent.post(&url).header("content-type", content_type);
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut response = request.send(body).map_err(|e| CliError::Failed(format!("POST {url}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.body_mut().read_to_string().unwrap_or_default();
        // Both of the server's error shapes carry the message in "error".
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or(text);
        Err(CliError::Failed(format!("POST {url}: the server answered {status}: {}", message.trim())))
    }
}
