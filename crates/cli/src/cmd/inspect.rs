//! `pouch inspect`: each name as a container, else as an image; the daemon's raw JSON is
//! printed as an indented array, as the docker CLI does.

use anyhow::Result;
use bytes::Bytes;
use hyper::Method;

use crate::client::{enc, is_status, Client};
use crate::jsonfmt;
use crate::output;
use crate::template::Template;
use serde_json::Value;

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Only inspect objects of this type (container or image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Format output using a Go template ('json' for the default JSON)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// The object's raw JSON, or the line to report when there is none: docker's "No such
/// object" when every type was tried, the daemon's own message with `--type`.
async fn lookup(
    client: &Client,
    kind: Option<&str>,
    name: &str,
    size: bool,
) -> Result<Result<Bytes, String>> {
    let n = enc(name);
    let container = format!("/containers/{n}/json{}", if size { "?size=1" } else { "" });
    let paths: Vec<String> = match kind {
        Some("container") => vec![container],
        Some("image") => vec![format!("/images/{n}/json")],
        Some(other) => {
            anyhow::bail!("unknown type: \"{other}\": must be one of \"container\", \"image\"")
        }
        None => vec![container, format!("/images/{n}/json")],
    };
    for p in paths {
        match client.bytes(Method::GET, &p, None).await {
            Ok(b) => return Ok(Ok(b)),
            Err(e) if is_status(&e, 404) && kind.is_some() => return Ok(Err(e.to_string())),
            Err(e) if is_status(&e, 404) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Err(format!("Error: No such object: {name}")))
}

pub async fn cmd(client: &Client, a: InspectArgs) -> Result<i32> {
    let mut found: Vec<Bytes> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let template = match a.format.as_deref() {
        None | Some("") | Some("json") => None,
        Some(f) => {
            Some(Template::parse(f).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?)
        }
    };
    for name in &a.names {
        match lookup(client, a.kind.as_deref(), name, a.size).await? {
            Ok(b) => found.push(b),
            Err(line) => errors.push(line),
        }
    }
    match &template {
        None => output::print(&format!("{}\n", render(&found)))?,
        Some(t) => {
            // One line per object, as docker: the template's output and a newline.
            for raw in &found {
                let v: Value = serde_json::from_slice(raw)
                    .map_err(|e| anyhow::anyhow!("decoding the daemon's JSON: {e}"))?;
                let text = t
                    .execute(&v)
                    .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
                output::print(&format!("{text}\n"))?;
            }
        }
    }
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
