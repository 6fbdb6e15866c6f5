//! A small Docker Engine API client over a unix socket (hyper 1 client connections), plus
//! the attach hijack (HTTP upgrade to a raw bidirectional stream).

use std::fmt;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

/// The API version prefix every request carries.
pub const API_PREFIX: &str = "/v1.41";

/// An error status returned by the daemon.
#[derive(Debug, Clone)]
pub struct DaemonError {
    pub status: u16,
    pub message: String,
}

impl fmt::Display for DaemonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)
    }
}

impl std::error::Error for DaemonError {}

/// The daemon could not be reached at all.
#[derive(Debug)]
pub struct ConnectError {
    pub host: String,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cannot connect to the pouch daemon at {}. Is the pouch daemon running?",
            self.host
        )
    }
}

impl std::error::Error for ConnectError {}

/// Returns the daemon error when `err` is a daemon response with this HTTP status.
pub fn is_status(err: &anyhow::Error, status: u16) -> bool {
    err.downcast_ref::<DaemonError>()
        .map(|e| e.status == status)
        .unwrap_or(false)
}

#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    socket: PathBuf,
}

/// A hijacked attach stream: the raw socket plus bytes hyper had already read past the
/// 101 response headers.
pub struct Hijacked {
    pub stream: UnixStream,
    pub leftover: Bytes,
}

impl Client {
    /// `host` is `unix:///path` (or a bare absolute path).
    pub fn new(host: &str) -> Result<Self> {
        let socket = if let Some(p) = host.strip_prefix("unix://") {
            p
        } else if host.starts_with('/') {
            host
        } else {
            bail!("unsupported host {host:?}: only unix:// sockets are supported");
        };
        if socket.is_empty() {
            bail!("invalid host {host:?}: empty socket path");
        }
        Ok(Client {
            host: host.to_string(),
            socket: PathBuf::from(socket),
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .map_err(|_| ConnectError {
                host: self.host.clone(),
            })?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake with the daemon")?;
        tokio::spawn(async move {
            // Errors surface through the request future; nothing to report here.
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }

    fn build(method: Method, path: &str, body: Option<&Value>) -> Result<Request<Full<Bytes>>> {
        let builder = Request::builder()
            .method(method)
            .uri(format!("{API_PREFIX}{path}"))
            .header(hyper::header::HOST, "pouch")
            .header(hyper::header::USER_AGENT, "pouch-cli");
        let req = match body {
            Some(v) => builder
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(serde_json::to_vec(v)?)))?,
            None => builder.body(Full::new(Bytes::new()))?,
        };
        Ok(req)
    }

    /// Sends a request and returns the response once its headers arrived; error statuses
    /// are turned into [`DaemonError`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response<Incoming>> {
        let mut sender = self.connect().await?;
        let resp = sender
            .send_request(Self::build(method, path, body)?)
            .await
            .context("request to the daemon failed")?;
        check(resp).await
    }

    /// Sends a request and collects the whole response body.
    pub async fn bytes(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Bytes> {
        let resp = self.send(method, path, body).await?;
        Ok(resp
            .into_body()
            .collect()
            .await
            .context("reading the daemon's response")?
            .to_bytes())
    }

    /// Sends a request and decodes a JSON response (Null for an empty body).
    pub async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let b = self.bytes(method, path, body).await?;
        if b.iter().all(|c| c.is_ascii_whitespace()) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&b).context("decoding the daemon's JSON response")
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.json(Method::GET, path, None).await
    }

    /// POST /containers/{id}/attach (or any upgradeable endpoint): expects 101 and returns
    /// the raw stream.
    pub async fn hijack(&self, path: &str) -> Result<Hijacked> {
        let mut sender = self.connect().await?;
        let mut req = Self::build(Method::POST, path, None)?;
        let headers = req.headers_mut();
        headers.insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("Upgrade"),
        );
        headers.insert(
            hyper::header::UPGRADE,
            hyper::header::HeaderValue::from_static("tcp"),
        );
        let resp = sender
            .send_request(req)
            .await
            .context("attach request failed")?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            let resp = check(resp).await?;
            bail!(
                "attach: daemon answered {} instead of 101 Switching Protocols",
                resp.status()
            );
        }
        let upgraded = hyper::upgrade::on(resp)
            .await
            .context("upgrading the attach connection")?;
        let parts = upgraded
            .downcast::<TokioIo<UnixStream>>()
            .map_err(|_| anyhow!("attach: unexpected upgraded stream type"))?;
        Ok(Hijacked {
            stream: parts.io.into_inner(),
            leftover: parts.read_buf,
        })
    }
}

/// Turns an error status into a [`DaemonError`], reading the message from the body.
pub async fn check(resp: Response<Incoming>) -> Result<Response<Incoming>> {
    let status = resp.status();
    if status.is_success() || status.is_informational() || status.is_redirection() {
        return Ok(resp);
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Err(DaemonError {
        status: status.as_u16(),
        message: error_message(status, &body),
    }
    .into())
}

/// The daemon's `{"message": "..."}`, or the raw body text, or the status reason.
pub fn error_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            return m.to_string();
        }
    }
    let text = String::from_utf8_lossy(body).trim().to_string();
    if !text.is_empty() {
        return text;
    }
    status
        .canonical_reason()
        .unwrap_or("unknown error")
        .to_string()
}

/// Reads the next data chunk of a streaming body (None at the end).
pub async fn next_chunk(body: &mut Incoming) -> Result<Option<Bytes>> {
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(anyhow!("reading from the daemon: {e}")),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Percent-encodes a query or path component.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(Client::new("unix:///run/x.sock").is_ok());
        assert!(Client::new("/run/x.sock").is_ok());
        assert!(Client::new("tcp://1.2.3.4:2375").is_err());
        assert!(Client::new("unix://").is_err());
    }

    #[test]
    fn messages() {
        assert_eq!(
            error_message(
                StatusCode::NOT_FOUND,
                br#"{"message":"No such container: x"}"#
            ),
            "No such container: x"
        );
        assert_eq!(
            error_message(StatusCode::INTERNAL_SERVER_ERROR, b"boom\n"),
            "boom"
        );
        assert_eq!(error_message(StatusCode::CONFLICT, b""), "Conflict");
    }

    #[test]
    fn encoding() {
        assert_eq!(enc("127.0.0.1:5000/busybox"), "127.0.0.1%3A5000%2Fbusybox");
        assert_eq!(enc("a b"), "a%20b");
    }
}
