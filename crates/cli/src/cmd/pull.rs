//! `pouch pull`: POST /images/create and render the JSON progress stream as lines, the way
//! the docker CLI does when its output is not a terminal.

use std::io::Write;

use anyhow::{bail, Result};
use hyper::Method;
use serde_json::Value;

use crate::client::{enc, next_chunk, Client};
use crate::opts::ImageRef;

/// `quiet` (`pull -q`): only the reference, at the end.
pub async fn cmd(client: &Client, image: &str, quiet: bool) -> Result<i32> {
    let r = ImageRef::parse(image).map_err(anyhow::Error::msg)?;
    if quiet {
        pull(client, &r, &mut std::io::sink()).await?;
    } else {
        pull(client, &r, &mut std::io::stdout()).await?;
    }
    crate::output::print(&format!("{}\n", r.full()))?;
    Ok(0)
}

/// Pulls `r`, writing progress lines to `out`. An error message in the stream is an error.
pub async fn pull(client: &Client, r: &ImageRef, out: &mut dyn Write) -> Result<()> {
    let path = format!(
        "/images/create?fromImage={}&tag={}",
        enc(&r.repo),
        enc(&r.tag)
    );
    let resp = client.send(Method::POST, &path, None).await?;
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await? {
        buf.extend_from_slice(&chunk);
        let consumed = render_available(&buf, out)?;
        buf.drain(..consumed);
    }
    render_available(&buf, out)?;
    Ok(())
}

/// Renders every complete JSON message at the start of `buf`; returns the bytes consumed.
fn render_available(buf: &[u8], out: &mut dyn Write) -> Result<usize> {
    let mut stream = serde_json::Deserializer::from_slice(buf).into_iter::<Value>();
    let mut consumed = 0;
    loop {
        match stream.next() {
            None => break,
            Some(Ok(msg)) => {
                consumed = stream.byte_offset();
                if let Some(line) = render(&msg)? {
                    out.write_all(line.as_bytes())?;
                    out.flush()?;
                }
            }
            Some(Err(e)) if e.is_eof() => break,
            Some(Err(e)) => bail!("invalid progress message from the daemon: {e}"),
        }
    }
    Ok(consumed)
}

/// One message as docker's `jsonmessage.Display` prints it for a non-terminal, or None for
/// progress updates (which only a terminal shows). Error messages become errors.
pub fn render(msg: &Value) -> Result<Option<String>> {
    let s = |k: &str| msg.get(k).and_then(Value::as_str).unwrap_or("");
    if let Some(err) = msg.get("errorDetail").and_then(|d| d.get("message")) {
        bail!("{}", err.as_str().unwrap_or("unknown error"));
    }
    if !s("error").is_empty() {
        bail!("{}", s("error"));
    }
    if msg.get("aux").is_some() {
        return Ok(None);
    }
    let detail = msg.get("progressDetail");
    let n = |k: &str| {
        detail
            .and_then(|d| d.get(k))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    if n("current") > 0 || n("total") > 0 {
        return Ok(None);
    }
    let mut line = String::new();
    if !s("id").is_empty() {
        line.push_str(s("id"));
        line.push_str(": ");
    }
    if !s("stream").is_empty() {
        line.push_str(s("stream"));
        return Ok(Some(line));
    }
    line.push_str(s("status"));
    if !s("progress").is_empty() && s("progress") != s("status") && detail.is_none() {
        line.push(' ');
        line.push_str(s("progress"));
    }
    line.push('\n');
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines() {
        let r = |v: Value| render(&v).unwrap();
        assert_eq!(
            r(json!({"status":"Pulling from busybox","id":"latest"})).unwrap(),
            "latest: Pulling from busybox\n"
        );
        assert_eq!(
            r(json!({"status":"Pulling fs layer","progressDetail":{},"id":"4bcf"})).unwrap(),
            "4bcf: Pulling fs layer\n"
        );
        assert!(r(
            json!({"status":"Downloading","progressDetail":{"current":10,"total":100},
            "progress":"[=> ]","id":"4bcf"})
        )
        .is_none());
        assert_eq!(
            r(json!({"status":"Status: Downloaded newer image for x:latest"})).unwrap(),
            "Status: Downloaded newer image for x:latest\n"
        );
        assert!(render(&json!({"errorDetail":{"message":"boom"},"error":"boom"})).is_err());
    }

    #[test]
    fn stream_split() {
        let data = b"{\"status\":\"a\"}\r\n{\"status\":\"b\"}\r\n{\"sta";
        let mut out = Vec::new();
        let n = render_available(data, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "a\nb\n");
        assert_eq!(&data[n..], b"\r\n{\"sta");
    }
}
