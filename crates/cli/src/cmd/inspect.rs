//! `pouch inspect`: each name as a container, else as an image; the daemon's raw JSON is
//! printed as an indented array, as the docker CLI does.

use anyhow::Result;
use bytes::Bytes;
use hyper::Method;

use crate::client::{enc, is_status, Client};
use crate::jsonfmt;

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Only inspect objects of this type (container or image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

async fn lookup(client: &Client, kind: Option<&str>, name: &str) -> Result<Option<Bytes>> {
    let n = enc(name);
    let paths: Vec<String> = match kind {
        Some("container") => vec![format!("/containers/{n}/json")],
        Some("image") => vec![format!("/images/{n}/json")],
        Some(other) => anyhow::bail!("\"{other}\" is not a valid value for --type"),
        None => vec![format!("/containers/{n}/json"), format!("/images/{n}/json")],
    };
    for p in paths {
        match client.bytes(Method::GET, &p, None).await {
            Ok(b) => return Ok(Some(b)),
            Err(e) if is_status(&e, 404) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

pub async fn cmd(client: &Client, a: InspectArgs) -> Result<i32> {
    let mut found: Vec<Bytes> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for name in &a.names {
        match lookup(client, a.kind.as_deref(), name).await? {
            Some(b) => found.push(b),
            None => errors.push(format!("Error: No such object: {name}")),
        }
    }
    println!("{}", render(&found));
    for e in &errors {
        eprintln!("{e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}

/// `[` raw, raw, ... `]` indented like Go's json.Indent; `[]` when nothing was found.
pub fn render(raw: &[Bytes]) -> String {
    if raw.is_empty() {
        return "[]".to_string();
    }
    let mut joined = Vec::new();
    joined.push(b'[');
    for (i, r) in raw.iter().enumerate() {
        if i > 0 {
            joined.push(b',');
        }
        joined.extend_from_slice(r.trim_ascii());
    }
    joined.push(b']');
    String::from_utf8_lossy(&jsonfmt::indent(&joined)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays() {
        assert_eq!(render(&[]), "[]");
        let r = render(&[
            Bytes::from_static(b"{\"Id\":\"a\"}\n"),
            Bytes::from_static(b"{\"Id\":\"b\"}"),
        ]);
        assert_eq!(
            r,
            "[\n    {\n        \"Id\": \"a\"\n    },\n    {\n        \"Id\": \"b\"\n    }\n]"
        );
    }
}
